"""Configuration and argument errors of Segment-Guided Matching (spec §6).

Every constant is the released ``gen_sgm.py`` value unless its comment says otherwise. Areas
are in working pixels whatever the working size (they are about pixel-scale debris: line
fragments, specks); the one picture-scale length, ``max_shift``, is given at 960×540 and
rescaled with the working size (:attr:`SGMConfig.scale`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

REFERENCE_SIZE = (960, 540)  # (width, height) at which the original computes SGM
DESCRIPTORS = ("auto", "vgg", "color")
DIS_PRESETS = ("ultrafast", "fast", "medium")
FLOW_LAYOUTS = ("aligned", "patches")


class SGMInputError(ValueError):
    """Frames or configuration that SGM cannot run on (wrong dtype, shape, size mismatch)."""


class VGGWeightsError(ValueError):
    """A VGG-19 weights file that is missing, unreadable, or lacks / mis-shapes needed keys."""


@dataclass(frozen=True)
class SGMConfig:
    """One configuration for the whole SGM stage.

    Frames are resized to ``working_size`` (width, height) for everything below, and the flows
    are resized back to the input size at the end.
    """

    working_size: tuple[int, int] = (960, 540)
    # how larger frames are brought down to the working size: "area" averaging (no aliasing on
    # 1080p and 4K), or "bilinear" as the original's cv2.resize; enlarging is always bilinear
    working_resize: str = "area"
    # "auto" (VGG-19 when weights are found, else "color"), "vgg", "color". VGG-19 at 960×540
    # is ~150 GFLOP per frame: fine on a GPU, 10–30 s per pair on a 2-core CPU (bench), so a
    # CPU-only caller wants "color"
    descriptor: str = "auto"
    # torchvision vgg19 ImageNet state dict (vgg19-dcbb9e9d.pth layout); None = look in
    # torch.hub.get_dir()/checkpoints/vgg19-*.pth, never downloading
    vgg_weights: str | None = None
    device: str = "cpu"  # where the VGG-19 runs (the engine decides; SGM itself is CPU work)
    vgg_precision: str = "fp32"  # "fp32", "bf16" or "fp16": autocast dtype of the VGG-19 convolutions

    # §6.1 line map. The original's "Disney" set is (30, 40, 30) for the bilateral filter; a
    # 30-px diameter costs ~0.7 s per 960×540 frame on a 2-core CPU, so the default keeps its
    # colour/space sigmas on a 5-px window (~10 ms). Set 30 for the original.
    bilateral_diameter: int = 5
    bilateral_sigma_color: float = 40.0
    bilateral_sigma_space: float = 30.0
    laplacian_ksize: int = 5
    hysteresis_low: float = 1.0  # "Disney" 1, "Japan" 2 (on the Laplacian scaled to max 255)
    hysteresis_high: float = 20.0
    line_threshold: float = 1.7  # line iff the kept normalised Laplacian exceeds this (uint8 220 cut)

    # §6.2–6.3 segmentation and merging
    ball_radii: tuple[int, ...] = (3, 2, 1)  # the first radius keeps only its largest fill
    merge_rounds: int = 10
    merge_small_area: int = 500  # regions below this area are merge candidates
    merge_histogram_bins: int = 25  # per colour channel
    # §6.4: "nearest" (one distance transform: each line pixel joins the nearest region) or
    # "thinning" (the original's rounds of "first non-line neighbour, W, NW, N, …")
    line_pixels: str = "nearest"

    # §6.6–6.8 descriptors, affinity, matching (mutual nearest neighbours: the released rank-sum threshold 0)
    color_bins: int = 16  # per CIELAB channel for the weights-free descriptor
    size_ratio_penalty: float = 3.0  # affinity −= ratio/20 when the size ratio exceeds this
    distance_penalty: float = 0.14  # affinity −= δ/5 when the centroid distance / diagonal exceeds this
    max_match_segments: int = 1024  # bound on the segments per frame entering the affinity (largest kept)

    # §6.9 piece-wise flow
    max_shift: float = 250.0  # centroid displacement gate, pixels at 960×540 (scaled with working_size)
    min_segment_area: int = 50  # a segment needs more pixels than this to get a flow
    max_segment_fraction: float = 0.12  # ... and less than this fraction of the frame
    max_size_ratio: float = 3.0
    min_overlap: float = 0.8  # DIS consistency gate: warped-mask overlap must exceed this
    flow_layout: str = "aligned"  # "aligned" (one frame-sized DIS) or "patches" (the original's per-pair DIS); see flow.py
    # DIS inside the segments: OpenCV's MEDIUM preset as shipped. The original refines it to
    # finest scale 0 with 25 variational and 50 gradient-descent iterations, which costs 8× the
    # time here for 0.2–0.3 px less EPE on translated cartoon shapes (bench/sgm_bench.py).
    dis_preset: str = "medium"
    dis_finest_scale: int = 1
    dis_variational_iterations: int = 5
    dis_gradient_descent_iterations: int = 25

    def __post_init__(self):
        width, height = self.working_size
        if width < 16 or height < 16:
            raise SGMInputError(f"SGM working size must be at least 16×16, got {width}×{height}")
        if self.descriptor not in DESCRIPTORS:
            raise SGMInputError(f"unknown SGM descriptor {self.descriptor!r}; choose one of {', '.join(DESCRIPTORS)}")
        if self.dis_preset not in DIS_PRESETS:
            raise SGMInputError(f"unknown DIS preset {self.dis_preset!r}; choose one of {', '.join(DIS_PRESETS)}")
        if self.flow_layout not in FLOW_LAYOUTS:
            raise SGMInputError(f"unknown SGM flow layout {self.flow_layout!r}; choose one of {', '.join(FLOW_LAYOUTS)}")
        if self.line_pixels not in ("nearest", "thinning"):
            raise SGMInputError(f"unknown SGM line-pixel rule {self.line_pixels!r}; choose nearest or thinning")
        if self.working_resize not in ("area", "bilinear"):
            raise SGMInputError(f"unknown SGM working resize {self.working_resize!r}; choose area or bilinear")
        if self.vgg_precision not in ("fp32", "bf16", "fp16"):
            raise SGMInputError(f"unknown VGG precision {self.vgg_precision!r}; choose fp32, bf16 or fp16")

    @classmethod
    def faithful(cls, **changes) -> SGMConfig:
        """The released ``gen_sgm.py``'s own settings where this module has a faster default:
        the 30-px bilateral filter of the line map, DIS refined to finest scale 0 with 25
        variational and 50 gradient-descent iterations, one DIS call per matched pair on its
        own canvas (``flow_layout="patches"``), the original's line-pixel rounds
        (``line_pixels="thinning"``), and bilinear resizing to the working size. What remains different is listed in
        ``models/sgm/README.md`` with its measured cost. ``changes`` override fields."""
        settings: dict[str, Any] = dict(
            bilateral_diameter=30,
            dis_finest_scale=0,
            dis_variational_iterations=25,
            dis_gradient_descent_iterations=50,
            flow_layout="patches",
            working_resize="bilinear",
            line_pixels="thinning",
        )
        settings.update(changes)
        return cls(**settings)

    @property
    def scale(self) -> float:
        """Linear scale of the working size relative to 960×540 (geometric mean of both axes)."""
        width, height = self.working_size
        return math.sqrt(width * height / (REFERENCE_SIZE[0] * REFERENCE_SIZE[1]))
