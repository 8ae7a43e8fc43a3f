"""Segment-Guided Matching end to end: two frames in, coarse flows in both directions out.

The whole stage is CPU work on numpy arrays (OpenCV image processing); only the optional
VGG-19 descriptor runs on ``config.device``. Frames are resized to ``config.working_size``,
segmented, described, matched, and turned into piece-wise flows, which are resized back to the
input size (nearest, vectors rescaled per axis).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from models.sgm.config import SGMConfig, SGMInputError, VGGWeightsError
from models.sgm.descriptors import (
    SegmentStats,
    color_descriptors,
    find_vgg_weights,
    load_vgg,
    segment_stats,
    vgg_descriptors,
)
from models.sgm.flow import dis_gray, piecewise_flow, valid_matches
from models.sgm.line_map import line_map
from models.sgm.matching import affinity, mutual_match
from models.sgm.segmentation import segment_lines

STAGES = ("line_map", "segmentation", "descriptors", "matching", "flow")


@dataclass
class SGMResult:
    """SGM flows at the input size, in input pixels; channel 0 = x. Zero where invalid."""

    flow01: np.ndarray  # (2, H, W) float32, frame0 → frame1
    flow10: np.ndarray  # (2, H, W) float32, frame1 → frame0
    valid01: np.ndarray  # (H, W) bool
    valid10: np.ndarray  # (H, W) bool
    descriptor: str  # "vgg19" or "color"
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (STAGES)


def _check_frames(frame0, frame1) -> None:
    for name, frame in (("frame0", frame0), ("frame1", frame1)):
        if not isinstance(frame, np.ndarray):
            raise SGMInputError(f"SGM {name} must be a numpy array, got {type(frame).__name__}")
        if frame.dtype != np.uint8:
            raise SGMInputError(f"SGM {name} must be uint8 RGB, got dtype {frame.dtype}")
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
            raise SGMInputError(f"SGM {name} must have shape (H, W, 3), got {frame.shape}")
    if frame0.shape != frame1.shape:
        raise SGMInputError(f"SGM frames differ in size: {frame0.shape} vs {frame1.shape}")


def _to_working(frame: np.ndarray, size: tuple[int, int], resize: str = "area") -> np.ndarray:
    width, height = size
    if frame.shape[1] == width and frame.shape[0] == height:
        return np.ascontiguousarray(frame)
    shrinking = frame.shape[1] >= width and frame.shape[0] >= height
    # area averaging when shrinking (no aliasing on 4K input) unless asked for the original's
    # bilinear; bilinear, as the original, when enlarging
    area = shrinking and resize == "area"
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if area else cv2.INTER_LINEAR)


def _to_input(flow: np.ndarray, valid: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-resize a piece-wise flow and its mask to ``size`` = (h, w), rescaling the vectors.

    Same sampling as ``models.ops.resize_flow(mode="nearest")`` (source index floor(dst·in/out)),
    done with OpenCV on the numpy arrays: torch's threaded kernels cost ~10× more CPU here.
    """
    height, width = size
    if (height, width) == valid.shape:
        return flow, valid
    scale = np.array([width / flow.shape[2], height / flow.shape[1]], np.float32)[:, None, None]
    resized = np.empty((2, height, width), np.float32)
    for channel, source in enumerate(flow * scale):
        cv2.resize(source, (width, height), dst=resized[channel], interpolation=cv2.INTER_NEAREST)
    mask = cv2.resize(valid.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return resized, mask


def resolve_descriptor(config: SGMConfig) -> SGMConfig:
    """``config`` with its descriptor decided, as ``config.descriptor`` asks and the weights
    allow: ``"vgg"`` with the weights file found (VGG-19 is loaded now, so that a bad file fails
    before any pair, and kept for the pairs), or ``"color"``. Raises :class:`VGGWeightsError`."""
    if config.descriptor == "color":
        return config
    path = find_vgg_weights(config)
    if path is None:
        if config.descriptor == "vgg":
            raise VGGWeightsError(
                "VGG-19 weights not found in torchvision's cache; pass vgg_weights=PATH or use descriptor='color'"
            )
        return replace(config, descriptor="color")
    load_vgg(str(path), config.device)
    return replace(config, descriptor="vgg", vgg_weights=str(path))


def _choose_descriptor(config: SGMConfig):
    """("vgg19", model) or ("color", None), as :func:`resolve_descriptor` decides."""
    config = resolve_descriptor(config)
    if config.descriptor == "color":
        return "color", None
    return "vgg19", load_vgg(str(config.vgg_weights), config.device)


def sgm_flows(frame0: np.ndarray, frame1: np.ndarray, config: SGMConfig = SGMConfig()) -> SGMResult:
    """SGM flows between two (H, W, 3) uint8 RGB frames of the same size.

    Odd content (flat or all-line frames, tiny or huge frames, noise, identical or unrelated
    frames) gives valid flows, possibly all zero with an empty mask. Invalid arguments raise
    :class:`SGMInputError`; a bad VGG-19 weights file raises :class:`VGGWeightsError`.
    """
    _check_frames(frame0, frame1)
    timings: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    descriptor_name, vgg = _choose_descriptor(config)

    clock = time.perf_counter()
    frames = [_to_working(frame, config.working_size, config.working_resize) for frame in (frame0, frame1)]
    lines = [line_map(frame, config) for frame in frames]
    timings["line_map"] = time.perf_counter() - clock

    clock = time.perf_counter()
    segmentations = [segment_lines(frame, line, config) for frame, line in zip(frames, lines)]
    timings["segmentation"] = time.perf_counter() - clock

    clock = time.perf_counter()
    stats, descriptors = [], []
    for frame, (labels, areas) in zip(frames, segmentations):
        stat = segment_stats(labels, areas.size)
        stats.append(stat)
        if vgg is None:
            descriptors.append(color_descriptors(frame, labels, stat, config))
        else:
            descriptors.append(vgg_descriptors(vgg, frame, labels, areas.size, config))
    timings["descriptors"] = time.perf_counter() - clock

    clock = time.perf_counter()
    matches = _match_segments(stats, descriptors, config)
    timings["matching"] = time.perf_counter() - clock

    clock = time.perf_counter()
    labels = [labels for labels, _ in segmentations]
    grays = [dis_gray(frame, label, stat.areas.size) for frame, label, stat in zip(frames, labels, stats)]
    (match01, accepted01), (match10, accepted10) = matches
    flow01, valid01 = piecewise_flow(grays[0], grays[1], labels[0], labels[1], stats[0], stats[1], match01, accepted01, config)
    flow10, valid10 = piecewise_flow(grays[1], grays[0], labels[1], labels[0], stats[1], stats[0], match10, accepted10, config)
    size = frame0.shape[:2]
    flow01, valid01 = _to_input(flow01, valid01, size)
    flow10, valid10 = _to_input(flow10, valid10, size)
    timings["flow"] = time.perf_counter() - clock
    return SGMResult(flow01, flow10, valid01, valid10, descriptor_name, timings)


def _match_candidates(areas: np.ndarray, config: SGMConfig) -> np.ndarray:
    """Indices of the segments that enter the affinity: those big enough to take part in a
    valid match (area above min_segment_area / max_size_ratio), at most the largest
    ``max_match_segments``."""
    big_enough = np.flatnonzero(areas > config.min_segment_area / config.max_size_ratio)
    return big_enough[-config.max_match_segments:]  # segments are numbered by ascending area


def _match_segments(stats: list[SegmentStats], descriptors: list[np.ndarray], config: SGMConfig):
    """[(match, valid) for 0 → 1, (match, valid) for 1 → 0], each over all source segments:
    the mutual match of every segment and whether it passes the flow gates."""
    candidates = [_match_candidates(stat.areas, config) for stat in stats]
    scores = affinity(
        descriptors[0][candidates[0]], descriptors[1][candidates[1]],
        stats[0].take(candidates[0]), stats[1].take(candidates[1]),
        config.working_size, config.size_ratio_penalty, config.distance_penalty,
    )
    match01, accepted01, match10, accepted10 = mutual_match(scores)
    directions = []
    for source, match, accepted in ((0, match01, accepted01), (1, match10, accepted10)):
        target = 1 - source
        full_match = np.zeros(stats[source].areas.size, np.int64)
        full_accepted = np.zeros(stats[source].areas.size, bool)
        if candidates[target].size:
            full_match[candidates[source]] = candidates[target][match]
            full_accepted[candidates[source]] = accepted
        valid = valid_matches(full_match, full_accepted, stats[source], stats[target], config.working_size, config)
        directions.append((full_match, valid))
    return directions
