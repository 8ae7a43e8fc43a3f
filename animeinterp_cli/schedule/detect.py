"""Pair scores for the planner: exact duplicates, held drawings and scene cuts.

Frames are H×W×3 RGB arrays, ``uint8`` or ``uint16``. Everything but exact equality is
measured on a small *thumbnail* (``DetectConfig.thumb_width`` pixels wide, aspect kept, area
averaged, values on the 8-bit scale 0–255 whatever the input depth). Area averaging is the
first defence against compression noise: block noise and grain average out, while a moving
ink line still changes whole thumbnail pixels.

The scores of the pair (previous frame, this frame):

identical
    The full-resolution frames are bit-exact equal (compared through a 128-bit BLAKE2b hash
    of the frame bytes, so only one hash is kept, never the previous frame).

hold_score — the *changed-pixel share*, in [0, 1]
    The share of thumbnail pixels whose largest channel difference exceeds
    ``change_level`` grey levels. Compression noise (and dither, grain) moves thumbnail
    pixels by a few levels at most, so a held drawing scores (almost) 0; a new drawing
    changes every pixel its lines cross. On ``onepiece_demo.mp4`` (96 px thumbnails, 6912
    pixels) the held pairs score at most 0.00014 (one pixel) and the smallest real change,
    a mouth opening in a medium shot, scores 0.0022. ``hold_threshold`` (0.0007, about five
    thumbnail pixels) sits between the two, so a few stray pixels — a compression artefact,
    a speck — do not make a held drawing "new". Generated flat-colour clips stay right
    through libx264 up to crf 40 (crf 35 with film grain); beyond that the encoder redraws
    whole blocks of held frames, which no threshold can tell from a small real change.

cut_score — in [0, 1], min(colour distance, layout distance)
    *Colour distance*: the total-variation distance between the two thumbnails' joint RGB
    histograms (8 bins per channel), 0 = same colours, 1 = no colour in common. Motion
    moves pixels but keeps the palette, so even 300 px motion stays low.
    *Layout distance*: (1 − r) / 2, where r is the normalised cross-correlation of the two
    slightly blurred luma thumbnails; 0 = same picture, 0.5 = unrelated, 1 = inverted. It
    ignores any global brightness or contrast change, so a flash — a frame brightened (or
    darkened) as a whole — keeps a low layout distance.
    A cut has to change both the colours and the layout, hence the minimum: large motion
    keeps the colours, a flash keeps the layout. Flashes are recognised this way, frame by
    frame, with no look-ahead for the flash to end. Where that fails — a flash during fast
    motion, a flash that washes the frame out to flat white (no layout left to compare) —
    the pair counts as a cut, and the planner then holds a frame: the safe failure. A
    frame size change mid-stream is a cut too (frames of two sizes cannot be interpolated).

Defaults tuned on the shared samples (96 px thumbnails): the cut of ``onepiece_demo.mp4``
(frames 99→100, two shots of the same character with similar palettes) scores 0.35; every
other pair of that clip scores at most 0.08 (a fast head turn), of ``bbb_vfi_test_360p.mp4``
at most 0.01; frame1→frame3 of the twelve sample triplets, including 100–360 px motion,
score at most 0.08. The default ``scene_threshold`` of 0.2 sits between them; raise it if
motion is taken for cuts, lower it if a cut between similar-looking shots is missed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

# ITU-R BT.601 luma weights for the layout term
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# below this luma standard deviation (grey levels) a thumbnail is flat: no layout to correlate
_FLAT_STD = 1.0


@dataclass(frozen=True)
class DetectConfig:
    """Thresholds of the detector; the scores are documented in the module docstring."""

    scene_threshold: float = 0.2  # cut when cut_score > this; in [0, 1]
    hold_threshold: float = 0.0007  # held drawing when hold_score <= this; in [0, 1]
    change_level: float = 16.0  # grey levels (8-bit scale) a thumbnail pixel must move to count as changed
    thumb_width: int = 96  # thumbnail width in pixels, aspect kept
    histogram_bins: int = 8  # per channel, for the colour distance
    layout_blur: float = 1.5  # Gaussian sigma (thumbnail pixels) before the layout correlation

    def __post_init__(self) -> None:
        if not 0.0 <= self.scene_threshold <= 1.0:
            raise ValueError(f"scene threshold must be in [0, 1], got {self.scene_threshold}")
        if not 0.0 <= self.hold_threshold <= 1.0:
            raise ValueError(f"hold threshold must be in [0, 1], got {self.hold_threshold}")
        if not 0.0 <= self.change_level < 255.0:
            raise ValueError(f"change level must be in [0, 255), got {self.change_level}")
        if self.thumb_width < 8:
            raise ValueError(f"thumbnail width must be at least 8 pixels, got {self.thumb_width}")
        if not 2 <= self.histogram_bins <= 64:
            raise ValueError(f"histogram bins must be in [2, 64], got {self.histogram_bins}")
        if self.layout_blur < 0:
            raise ValueError(f"layout blur must be >= 0, got {self.layout_blur}")


@dataclass(frozen=True)
class PairScores:
    """Scores of the pair of input frames (i, i + 1)."""

    identical: bool  # bit-exact equal full frames
    hold: bool  # the same drawing (near-identical); includes identical
    cut: bool  # a scene cut between the two frames; never together with hold
    hold_score: float  # changed-pixel share, in [0, 1]
    cut_score: float  # min(colour distance, layout distance), in [0, 1]


def thumbnail(image: np.ndarray, width: int) -> np.ndarray:
    """Area-averaged thumbnail ``width`` pixels wide (aspect kept), float32 on the 0–255 scale."""
    height, full_width = image.shape[:2]
    thumb_height = max(1, round(height * width / full_width))
    small = cv2.resize(image, (width, thumb_height), interpolation=cv2.INTER_AREA)
    scale = 1.0 / 257.0 if image.dtype == np.uint16 else 1.0  # 65535 / 257 = 255
    return small.astype(np.float32) * scale


def changed_share(thumb_a: np.ndarray, thumb_b: np.ndarray, change_level: float) -> float:
    """Share of pixels whose largest channel difference exceeds ``change_level``."""
    difference = np.abs(thumb_a - thumb_b).max(axis=2)
    return float(np.count_nonzero(difference > change_level)) / difference.size


def colour_histogram(thumb: np.ndarray, bins: int) -> np.ndarray:
    """Joint RGB histogram (``bins`` per channel), normalised to sum 1."""
    quantised = np.minimum((thumb * (bins / 256.0)).astype(np.int64), bins - 1)
    index = (quantised[..., 0] * bins + quantised[..., 1]) * bins + quantised[..., 2]
    counts = np.bincount(index.ravel(), minlength=bins**3).astype(np.float64)
    return counts / counts.sum()


def colour_distance(histogram_a: np.ndarray, histogram_b: np.ndarray) -> float:
    """Total-variation distance of two normalised histograms, in [0, 1]."""
    return float(0.5 * np.abs(histogram_a - histogram_b).sum())


def layout_signature(thumb: np.ndarray, blur: float) -> np.ndarray | None:
    """Blurred luma, zero mean, unit norm; None for a flat thumbnail (nothing to correlate)."""
    luma = thumb @ _LUMA_WEIGHTS
    if blur > 0:
        luma = cv2.GaussianBlur(luma, (0, 0), blur)
    centred = luma - luma.mean()
    if centred.std() < _FLAT_STD:
        return None
    return centred / np.linalg.norm(centred)


def layout_distance(signature_a: np.ndarray | None, signature_b: np.ndarray | None) -> float:
    """(1 − normalised cross-correlation) / 2, in [0, 1]; two flat frames: 0, one flat: 0.5."""
    if signature_a is None or signature_b is None:
        return 0.0 if signature_a is None and signature_b is None else 0.5
    correlation = float((signature_a * signature_b).sum())
    return min(1.0, max(0.0, (1.0 - correlation) / 2.0))


@dataclass(frozen=True)
class _FrameSummary:
    """What the detector keeps of the previous frame."""

    shape: tuple[int, ...]
    digest: bytes
    thumb: np.ndarray
    histogram: np.ndarray
    layout: np.ndarray | None


class Detector:
    """Streaming pair scorer: push the frames in order, get the scores of each new pair.

    Keeps only a hash and a thumbnail of the previous frame, so memory does not grow with
    the video.
    """

    def __init__(self, config: DetectConfig = DetectConfig()) -> None:
        self.config = config
        self._previous: _FrameSummary | None = None

    def push(self, image: np.ndarray) -> PairScores | None:
        """Scores of (previous frame, ``image``); None for the first frame."""
        current = self._summarise(image)
        previous, self._previous = self._previous, current
        if previous is None:
            return None
        if previous.shape != current.shape:  # resolution changed mid-stream: nothing to interpolate
            return PairScores(identical=False, hold=False, cut=True, hold_score=1.0, cut_score=1.0)
        config = self.config
        hold_score = changed_share(previous.thumb, current.thumb, config.change_level)
        cut_score = min(
            colour_distance(previous.histogram, current.histogram),
            layout_distance(previous.layout, current.layout),
        )
        identical = previous.digest == current.digest
        cut = not identical and cut_score > config.scene_threshold
        hold = identical or (not cut and hold_score <= config.hold_threshold)
        return PairScores(identical, hold, cut, hold_score, cut_score)

    def _summarise(self, image: np.ndarray) -> _FrameSummary:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype not in (np.uint8, np.uint16):
            raise ValueError(
                f"expected an H×W×3 uint8 or uint16 RGB frame, got shape {image.shape} "
                f"dtype {image.dtype}"
            )
        image = np.ascontiguousarray(image)
        hasher = hashlib.blake2b(digest_size=16)
        hasher.update(repr((image.shape, image.dtype.str)).encode())
        hasher.update(image.data)
        thumb = thumbnail(image, self.config.thumb_width)
        return _FrameSummary(
            shape=image.shape,
            digest=hasher.digest(),
            thumb=thumb,
            histogram=colour_histogram(thumb, self.config.histogram_bins),
            layout=layout_signature(thumb, self.config.layout_blur),
        )
