"""Training triplets: the record every source yields, and the data set the trainer reads.

Three sources, all without downloads:

- ``synthetic``: procedurally rendered cartoon triplets with exact flows
  (:func:`animeinterp_cli.training.synthetic.render_synthetic`);
- ``layered``: pieces of real material moving over real backgrounds, exact flows
  (:func:`animeinterp_cli.training.layered.render_layered`, material from ``real_dir``);
- ``folder``: real triplets in the ATD-12K training layout (``atd_dir``), without flows.

Conventions: a :class:`Triplet` holds numpy arrays: images (H, W, 3) uint8 RGB; flows
(2, H, W) float32, channel 0 = x, in pixels, *backward-warping* convention (the flow at pixel
p of frame a is where the scene point at p is in frame b, minus p; warping frame b with it
reproduces frame a where ``valid``). :class:`TripletDataset` turns them into tensors.

The triplets in ``VALIDATION_TRIPLETS`` are for validation only: a data set refuses to read
training data from that folder (or from a folder inside or around it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from animeinterp_cli.benchmark import datasets as atd
from animeinterp_cli.errors import InputError

#: the sample triplets every model is validated on; never training data (see DATA.md)
#: ../shared beside the checkout: the samples (validation only) and the training material
SHARED = Path(__file__).resolve().parents[3] / "shared"
VALIDATION_TRIPLETS = SHARED / "samples" / "triplets"
TRAINING_MATERIAL = SHARED / "training"
KINDS = ("synthetic", "layered", "folder", "mix")
#: share of each source in a "mix" data set (renormalised over the sources that were given)
MIX_WEIGHTS = {"synthetic": 0.5, "layered": 0.3, "folder": 0.2}
#: nominal length of a data set without a folder: procedural samples are rendered on demand
PROCEDURAL_LENGTH = 1_000_000
#: an ATD-12K root holds its training triplets here (its test folders are never read for training)
ATD_TRAIN_FOLDER = "train_10k"
#: share of rendered samples that get the blur or compression of real video (see :func:`degrade`)
DEGRADE_PROBABILITY = 0.3


@dataclass
class Triplet:
    """Two input frames, the true frame at time t between them, and the true flows.

    ``flow_t0``/``flow_t1``: from the middle frame to frame0/frame1; ``flow01``/``flow10``:
    between the inputs, exact wherever defined (a pixel hidden in the other frame still carries
    the motion of its layer). ``valid01``/``valid10``: the pixel is visible in both frames.
    ``source``: "synthetic" | "layered" | "folder".
    """

    frame0: np.ndarray
    frame_t: np.ndarray
    frame1: np.ndarray
    t: float
    flow_t0: np.ndarray
    flow_t1: np.ndarray
    flow01: np.ndarray
    flow10: np.ndarray
    valid01: np.ndarray
    valid10: np.ndarray
    source: str


class TripletDataset(Dataset):
    """Training samples as dicts of tensors; sample ``index`` is the same for a given ``seed``.

    ``kind``: "synthetic", "layered" (needs ``real_dir``), "folder" (needs ``atd_dir``) or
    "mix" (synthetic, plus layered and folder samples when their folders are given).
    ``size``: (H, W) of every sample. A sample is a dict of frame0, frame_t, frame1
    ((3, H, W) float32 in [0, 1]), t (scalar), flow01, flow10, flow_t0, flow_t1 ((2, H, W)) and
    valid01, valid10 ((1, H, W) float 0/1). A share (``DEGRADE_PROBABILITY``) of the rendered
    samples is blurred or JPEG-compressed like real video (:func:`degrade`).
    """

    def __init__(
        self,
        kind: str = "mix",
        size: tuple[int, int] = (256, 256),
        seed: int = 0,
        real_dir: Path | None = None,
        atd_dir: Path | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown data kind {kind!r}; choose one of {KINDS}")
        if len(size) != 2 or min(size) < 16:
            raise ValueError(f"size must be (height, width) of at least 16 pixels each, got {size}")
        if kind == "layered" and real_dir is None:
            raise ValueError("kind 'layered' needs real_dir (a folder of training material)")
        if kind == "folder" and atd_dir is None:
            raise ValueError("kind 'folder' needs atd_dir (a folder of triplets)")
        for folder in (real_dir, atd_dir):
            if folder is not None:
                check_not_validation(Path(folder))
        self.kind = kind
        self.size = (int(size[0]), int(size[1]))
        self.seed = seed
        self.real_dir = Path(real_dir) if real_dir is not None else None
        self.entries = _atd_entries(Path(atd_dir)) if atd_dir is not None else ()
        given = {"synthetic": True, "layered": self.real_dir is not None, "folder": bool(self.entries)}
        sources = [kind] if kind != "mix" else [name for name in MIX_WEIGHTS if given[name]]
        weights = np.array([MIX_WEIGHTS[name] for name in sources])
        self.sources = tuple(sources)
        self.weights = weights / weights.sum()

    def __len__(self) -> int:
        return len(self.entries) if self.kind == "folder" else PROCEDURAL_LENGTH

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return to_tensors(self.triplet(index))

    def triplet(self, index: int) -> Triplet:
        """Sample ``index`` as a :class:`Triplet` (numpy), rendered or loaded and cropped."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a data set of {len(self)} samples")
        rng = np.random.default_rng([self.seed, index])
        source = self.sources[rng.choice(len(self.sources), p=self.weights)]
        if source == "synthetic":
            from animeinterp_cli.training.synthetic import render_synthetic  # imports Triplet from here

            rendered = render_synthetic(rng, self.size)
        elif source == "layered":
            from animeinterp_cli.training.layered import render_layered

            rendered = render_layered(rng, self.size, _material(self.real_dir))
        else:
            entry = self.entries[index if self.kind == "folder" else rng.integers(len(self.entries))]
            return random_crop(rng, _load_atd_triplet(entry), self.size)
        return degrade(rng, rendered) if rng.random() < DEGRADE_PROBABILITY else rendered


def to_tensors(triplet: Triplet) -> dict[str, torch.Tensor]:
    """A :class:`Triplet` as the dict of tensors the trainer reads (see :class:`TripletDataset`)."""

    def image(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).float() / 255

    def flow(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    def mask(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None]

    return {
        "frame0": image(triplet.frame0),
        "frame_t": image(triplet.frame_t),
        "frame1": image(triplet.frame1),
        "t": torch.tensor(triplet.t, dtype=torch.float32),
        "flow01": flow(triplet.flow01),
        "flow10": flow(triplet.flow10),
        "flow_t0": flow(triplet.flow_t0),
        "flow_t1": flow(triplet.flow_t1),
        "valid01": mask(triplet.valid01),
        "valid10": mask(triplet.valid10),
    }


def check_not_validation(folder: Path, validation: Path = VALIDATION_TRIPLETS) -> None:
    """Refuse a training folder that is, holds, or lies inside the validation triplets folder."""
    folder, validation = folder.resolve(), validation.resolve()
    if folder == validation or validation in folder.parents or folder in validation.parents:
        raise InputError(f"{folder} overlaps the validation triplets ({validation}); they are never training data")


def read_atd_folder(root: Path) -> Iterator[tuple[str, Triplet]]:
    """(name, triplet) of each triplet of an ATD-12K-layout folder, sorted by name, without
    flows (zero, valid False).

    ``root`` is the ATD-12K root (its ``train_10k`` folder is read) or any folder of
    ``<clip>/frame1|2|3`` image folders; frame2 is the middle frame (t = 0.5).
    """
    return ((entry.name, _load_atd_triplet(entry)) for entry in _atd_entries(root))


def degrade(rng: np.random.Generator, triplet: Triplet) -> Triplet:
    """The triplet as real video shows it: softened (one blur for all three frames) or JPEG-compressed.

    Rendered frames are perfectly crisp; real anime is often scaled and compressed. Only the
    pictures change; the flows and masks describe the same motion and stay exact.
    """
    frames = [triplet.frame0, triplet.frame_t, triplet.frame1]
    if rng.random() < 0.5:
        sigma = rng.uniform(0.3, 0.9)
        frames = [cv2.GaussianBlur(f, (0, 0), sigma) for f in frames]
    else:
        quality = int(rng.integers(55, 96))
        frames = [_jpeg(f, quality) for f in frames]
    return replace(triplet, frame0=frames[0], frame_t=frames[1], frame1=frames[2])


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """``frame`` (RGB uint8) after a round trip through JPEG at ``quality``."""
    _, encoded = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert decoded is not None  # OpenCV's own JPEG, just encoded
    return decoded[..., ::-1].copy()


def random_crop(rng: np.random.Generator, triplet: Triplet, size: tuple[int, int]) -> Triplet:
    """A random ``size`` crop of a flow-less triplet, at a random scale, maybe mirrored or time-reversed.

    The triplet is scaled down (never below the crop) or up (only as much as the crop needs),
    so that crops see both the whole motion and details. Flows must be absent (all invalid).
    """
    if triplet.valid01.any() or triplet.valid10.any():
        raise ValueError("random_crop only handles triplets without flows")
    h, w = triplet.frame0.shape[:2]
    fit = max(size[0] / h, size[1] / w)
    scale = max(fit, rng.uniform(0.5, 1.0)) if fit < 1 else fit
    frames = [triplet.frame0, triplet.frame_t, triplet.frame1]
    if scale != 1:
        new = (max(size[1], round(w * scale)), max(size[0], round(h * scale)))
        frames = [cv2.resize(f, new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR) for f in frames]
    h, w = frames[0].shape[:2]
    top, left = rng.integers(0, h - size[0] + 1), rng.integers(0, w - size[1] + 1)
    frames = [f[top : top + size[0], left : left + size[1]] for f in frames]
    if rng.random() < 0.5:
        frames = [f[:, ::-1] for f in frames]
    t = triplet.t
    if rng.random() < 0.5:  # time reversal: frame1 → frame_t → frame0
        frames, t = frames[::-1], 1 - t
    return _flowless(*(np.ascontiguousarray(f) for f in frames), t=t)


def _flowless(frame0: np.ndarray, frame_t: np.ndarray, frame1: np.ndarray, t: float = 0.5) -> Triplet:
    """A real triplet: no known flows (zero, nowhere valid)."""
    h, w = frame0.shape[:2]
    zero = np.zeros((2, h, w), np.float32)
    invalid = np.zeros((h, w), bool)
    return Triplet(frame0, frame_t, frame1, t, zero, zero.copy(), zero.copy(), zero.copy(), invalid, invalid.copy(), "folder")


def _atd_entries(root: Path) -> tuple[atd.Triplet, ...]:
    root = Path(root)
    if (root / ATD_TRAIN_FOLDER).is_dir():
        root = root / ATD_TRAIN_FOLDER
    check_not_validation(root)
    return atd.find_dataset(root).triplets


def _load_atd_triplet(entry: atd.Triplet) -> Triplet:
    return _flowless(*atd.load_frames(entry))


@lru_cache(maxsize=2)
def _material(real_dir: Path):
    """The training material of ``real_dir``, loaded once per process."""
    from animeinterp_cli.training.layered import Material

    return Material.load(real_dir)
