"""Per-segment descriptors (spec §6.6) and the statistics the matching needs.

Two descriptors, both non-negative with each row summing to 1 so that the same
histogram-intersection affinity applies:

- ``"vgg19"``: the original. torchvision VGG-19 relu1_1/2_1/3_1/4_1 (64+128+256+512 = 960
  channels) averaged over each segment (label maps decimated with ``[1::2, 1::2]`` per scale),
  then minus its own minimum and divided by its sum.
- ``"color"``: weights-free. Soft histograms (linear interpolation between neighbouring bins) of
  CIELAB L, a and b per segment, plus soft-binned shape statistics (log area, elongation) and
  centroid position. The colour part carries most of the mass; the shape and position parts
  break ties between same-coloured pieces (two eyes, two shoes) in favour of similar, nearby ones.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from models.sgm.config import SGMConfig, VGGWeightsError

# share of the colour descriptor's unit mass given to each part
COLOR_WEIGHT, SHAPE_WEIGHT, POSITION_WEIGHT = 0.7, 0.15, 0.15
SHAPE_BINS = 8
POSITION_BINS = 8

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision vgg19 ``features`` indices: convolutions up to conv4_1, and the relus whose
# outputs are pooled (relu1_1, relu2_1, relu3_1, relu4_1)
VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19)
VGG_TAPS = (1, 6, 11, 20)


@dataclass(frozen=True)
class SegmentStats:
    """Geometry of the segments 0..N−1 of a label map, in pixels of that map."""

    areas: np.ndarray  # (N,) pixel counts
    centroids: np.ndarray  # (N, 2) mean x, mean y
    boxes: np.ndarray  # (N, 4) int: x0, y0, x1, y1 inclusive
    covariances: np.ndarray  # (N, 3) var x, var y, cov xy

    def take(self, index: np.ndarray) -> SegmentStats:
        """The statistics of the segments at ``index`` only."""
        return SegmentStats(self.areas[index], self.centroids[index], self.boxes[index], self.covariances[index])


@functools.lru_cache(maxsize=2)
def _pixel_coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat float64 x and y of every pixel of an (height, width) image (cached: reused per frame)."""
    xs = np.tile(np.arange(width, dtype=np.float64), height)
    ys = np.repeat(np.arange(height, dtype=np.float64), width)
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def segment_stats(labels: np.ndarray, count: int) -> SegmentStats:
    """Areas, centroids, inclusive bounding boxes and second moments of labels 0..count−1."""
    flat = labels.ravel()
    xs, ys = _pixel_coordinates(*labels.shape)
    areas = np.bincount(flat, minlength=count)
    safe = np.maximum(areas, 1).astype(np.float64)
    moment = lambda values: np.bincount(flat, weights=values, minlength=count) / safe  # noqa: E731
    mean_x, mean_y = moment(xs), moment(ys)
    var_x = moment(xs * xs) - mean_x**2
    var_y = moment(ys * ys) - mean_y**2
    cov_xy = moment(xs * ys) - mean_x * mean_y

    boxes = np.empty((count, 4), np.int64)
    boxes[:, :2] = np.iinfo(np.int64).max
    boxes[:, 2:] = -1
    for axis, coordinate in enumerate((xs.astype(np.int64), ys.astype(np.int64))):
        np.minimum.at(boxes[:, axis], flat, coordinate)
        np.maximum.at(boxes[:, axis + 2], flat, coordinate)
    return SegmentStats(areas, np.stack([mean_x, mean_y], 1), boxes, np.stack([var_x, var_y, cov_xy], 1))


def _soft_histogram(labels: np.ndarray, values: np.ndarray, count: int, bins: int) -> np.ndarray:
    """(count, bins) per-label histogram of ``values`` in [0, 1], each value split linearly
    between its two nearest bin centres (bin centres at k/(bins−1))."""
    position = np.clip(values, 0.0, 1.0) * (bins - 1)
    lower = np.minimum(position.astype(np.int64), bins - 2)
    upper_weight = position - lower
    base = labels.astype(np.int64) * bins + lower
    histogram = np.bincount(base, weights=1.0 - upper_weight, minlength=count * bins)
    histogram += np.bincount(base + 1, weights=upper_weight, minlength=count * bins)
    return histogram.reshape(count, bins)


def _unit_rows(histogram: np.ndarray, mass: float) -> np.ndarray:
    return histogram * (mass / np.maximum(histogram.sum(1, keepdims=True), 1e-12))


def color_descriptors(image: np.ndarray, labels: np.ndarray, stats: SegmentStats, config: SGMConfig) -> np.ndarray:
    """(N, 3·color_bins + 2·SHAPE_BINS + 2·POSITION_BINS) float32 weights-free descriptors.

    ``image`` is (H, W, 3) uint8 RGB and ``labels`` its (H, W) segments 0..N−1.
    """
    count = stats.areas.size
    height, width = labels.shape
    # colour histograms from every other row and column: a quarter of the work, and segments
    # small enough to be missed there (≲ 4 pixels) never take part in matching anyway
    lab = cv2.cvtColor(image[::2, ::2], cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float32) / 255.0
    flat = labels[::2, ::2].ravel()
    color = np.concatenate(
        [_unit_rows(_soft_histogram(flat, lab[:, c], count, config.color_bins), COLOR_WEIGHT / 3) for c in range(3)], 1
    )

    # shape: log-area over [1, whole frame] and elongation (minor/major axis ratio) in [0, 1]
    log_area = np.log(np.maximum(stats.areas, 1)) / math.log(height * width + 1)
    var_x, var_y, cov_xy = stats.covariances.T
    spread = np.sqrt(np.maximum((var_x - var_y) ** 2 / 4 + cov_xy**2, 0))
    major, minor = (var_x + var_y) / 2 + spread, np.maximum((var_x + var_y) / 2 - spread, 0)
    elongation = np.sqrt(minor / np.maximum(major, 1e-12))
    segments = np.arange(count)
    shape = np.concatenate(
        [
            _unit_rows(_soft_histogram(segments, log_area, count, SHAPE_BINS), SHAPE_WEIGHT / 2),
            _unit_rows(_soft_histogram(segments, elongation, count, SHAPE_BINS), SHAPE_WEIGHT / 2),
        ],
        1,
    )
    centre_x = stats.centroids[:, 0] / max(width - 1, 1)
    centre_y = stats.centroids[:, 1] / max(height - 1, 1)
    position = np.concatenate(
        [
            _unit_rows(_soft_histogram(segments, centre_x, count, POSITION_BINS), POSITION_WEIGHT / 2),
            _unit_rows(_soft_histogram(segments, centre_y, count, POSITION_BINS), POSITION_WEIGHT / 2),
        ],
        1,
    )
    return np.concatenate([color, shape, position], 1).astype(np.float32)


class VGGFeatures(nn.Module):
    """torchvision VGG-19 up to relu4_1; returns [relu1_1, relu2_1, relu3_1, relu4_1].

    Input: (B, 3, H, W) RGB in [0, 1]; ImageNet normalisation happens inside.
    """

    def __init__(self):
        super().__init__()
        from torchvision.models import vgg19

        # built on the meta device: no time spent initialising weights (the classifier alone
        # has 120 M) that load_vgg replaces anyway; to_empty() then gives real, uninitialised storage
        with torch.device("meta"):
            features = nn.Sequential(*list(vgg19(weights=None).features.children())[: VGG_TAPS[-1] + 1])
        self.features = features.to_empty(device="cpu")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    mean: torch.Tensor
    std: torch.Tensor

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.mean) / self.std
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in VGG_TAPS:
                taps.append(x)
        return taps


def find_vgg_weights(config: SGMConfig) -> Path | None:
    """The VGG-19 weights file to use: ``config.vgg_weights`` (must exist), else the first
    ``vgg19-*.pth`` in torchvision's hub cache, else None. Never downloads."""
    if config.vgg_weights is not None:
        path = Path(config.vgg_weights)
        if not path.is_file():
            raise VGGWeightsError(f"VGG-19 weights file not found: {path}")
        return path
    candidates = sorted((Path(torch.hub.get_dir()) / "checkpoints").glob("vgg19-*.pth"))
    return candidates[0] if candidates else None


@functools.lru_cache(maxsize=2)
def load_vgg(path: str, device: str) -> VGGFeatures:
    """VGGFeatures with the ``features.*`` tensors of a torchvision vgg19 state dict at ``path``."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable file is the user's to fix: one line, not a traceback
        raise VGGWeightsError(f"cannot read VGG-19 weights {path}: {type(error).__name__}") from error
    if not isinstance(state, dict):
        raise VGGWeightsError(f"VGG-19 weights {path} is not a state dict")
    model = VGGFeatures()
    expected = {f"features.{key}": value for key, value in model.features.state_dict().items()}
    missing = [key for key in expected if key not in state]
    misshaped = [
        f"{key} {tuple(state[key].shape)}≠{tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and (not isinstance(state[key], torch.Tensor) or state[key].shape != value.shape)
    ]
    if missing or misshaped:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"mis-shaped {', '.join(misshaped)}"] if misshaped else []
        )
        raise VGGWeightsError(f"VGG-19 weights {path} do not fit: {'; '.join(problems)}")
    model.features.load_state_dict({key[len("features."):]: state[key] for key in expected})
    return model.eval().to(device)


_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@torch.inference_mode()
def vgg_descriptors(
    model: VGGFeatures, image: np.ndarray, labels: np.ndarray, count: int, config: SGMConfig
) -> np.ndarray:
    """(N, 960) float32 VGG-19 descriptors of segments 0..N−1 (spec §6.6)."""
    device = next(model.parameters()).device
    tensor = torch.from_numpy(image).to(device).permute(2, 0, 1).unsqueeze(0).float() / 255.0
    with torch.autocast(device.type, _AUTOCAST_DTYPES.get(config.vgg_precision, torch.float32),
                        enabled=config.vgg_precision != "fp32"):
        taps = model(tensor)
    label_map = torch.from_numpy(labels).to(device).long()
    pooled = []
    for scale, feature in enumerate(taps):
        if scale:
            label_map = label_map[1::2, 1::2]
        feature = feature[0].float()
        height = min(feature.shape[1], label_map.shape[0])
        width = min(feature.shape[2], label_map.shape[1])
        index = label_map[:height, :width].reshape(-1)
        values = feature[:, :height, :width].reshape(feature.shape[0], -1).T
        sums = torch.zeros(count, feature.shape[0], device=device).index_add_(0, index, values)
        pixels = torch.bincount(index, minlength=count).clamp_min(1).unsqueeze(1)
        pooled.append(sums / pixels)  # a segment that vanished at this scale stays 0
    descriptor = torch.cat(pooled, 1)
    descriptor = descriptor - descriptor.min(1, keepdim=True).values
    descriptor = descriptor / descriptor.sum(1, keepdim=True).clamp_min(1e-12)
    return descriptor.cpu().numpy().astype(np.float32)
