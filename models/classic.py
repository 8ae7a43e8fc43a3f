"""The classic, weights-free interpolation method: DIS optical flow + softmax splatting.

It is the tool's fallback when no learned weights are available and the baseline every
learned model is measured against. Per pair:

1. ``estimate``: OpenCV's DIS optical flow (Kroeger et al., ECCV 2016) in both directions on
   the grey-level frames (CPU, numpy; the only device transfer of the method).
2. ``synthesize`` at t: each frame is forward-splatted towards t along its own flow scaled by
   t (frame 0) or 1 − t (frame 1). Where several source pixels land on one target pixel the
   one that matches the other frame best wins (softmax splatting with the negative
   brightness-constancy error as importance metric), so foreground in front of background
   survives. The two warped frames are then blended with weights (1 − t)·c₀ and t·c₁, where c
   is the splat coverage: a pixel that one frame leaves uncovered (disocclusion) comes from the
   other frame alone, and a pixel neither covers falls back to the plain blend.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from models.interpolator import FrameInterpolator, Motion
from models.ops import backward_warp, forward_splat

_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class ClassicConfig:
    """Settings of the classic method.

    ``dis_preset``: OpenCV DIS preset ("ultrafast", "fast", "medium"); medium is the most
    accurate of the three. ``metric_scale``: how sharply a lower brightness-constancy error
    wins a splat collision (the metric is −metric_scale·|error| with images in [0, 1]).
    ``max_flow_side``: DIS runs on frames downscaled so that their longer side is at most this
    (flows are rescaled back), which keeps 1080p and 4K fast and helps with large motion.
    """

    dis_preset: str = "medium"
    metric_scale: float = 20.0
    max_flow_side: int = 1024

    def __post_init__(self) -> None:
        if self.dis_preset not in _DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {self.dis_preset!r}; choose one of {list(_DIS_PRESETS)}")


def to_grey_uint8(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB → (H, W) uint8 luma (BT.601 weights, OpenCV's)."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def dis_flow(grey0: np.ndarray, grey1: np.ndarray, config: ClassicConfig = ClassicConfig()) -> np.ndarray:
    """DIS optical flow from ``grey0`` to ``grey1`` (H, W uint8) → (2, H, W) float32 pixels, x first."""
    height, width = grey0.shape
    scale = min(1.0, config.max_flow_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey0 = cv2.resize(grey0, size, interpolation=cv2.INTER_AREA)
        grey1 = cv2.resize(grey1, size, interpolation=cv2.INTER_AREA)
    dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[config.dis_preset])
    flow = dis.calc(grey0, grey1, None)  # (h, w, 2)
    if scale < 1.0:
        small_h, small_w = flow.shape[:2]
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= width / small_w
        flow[..., 1] *= height / small_h
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)


class ClassicInterpolator(FrameInterpolator):
    """DIS flow both ways + occlusion-aware softmax splatting (see the module docstring)."""

    method_name = "classic"
    size_multiple = 1

    def __init__(self, config: ClassicConfig = ClassicConfig()) -> None:
        super().__init__()
        self.config = config

    def guidance(self, frame0: np.ndarray, frame1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """DIS flows both ways of one (H, W, 3) uint8 RGB pair: the whole motion estimate."""
        grey0, grey1 = to_grey_uint8(frame0), to_grey_uint8(frame1)
        return dis_flow(grey0, grey1, self.config), dis_flow(grey1, grey0, self.config)

    def estimate(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        init01: torch.Tensor | None = None,
        init10: torch.Tensor | None = None,
    ) -> Motion:
        """DIS flows of the batch; ``init01``/``init10`` are those flows when :meth:`guidance`
        already computed them (the engine does, ahead, in a worker thread)."""
        if init01 is None or init10 is None:
            init01, init10 = self.guidance_batch(img0, img1)
        return {"flow01": init01, "flow10": init10}

    def synthesize(self, img0, img1, motion, t):
        img0, img1 = img0.float(), img1.float()
        flow01, flow10 = motion["flow01"].float(), motion["flow10"].float()
        t = t.float().to(img0.device).view(-1, 1, 1, 1)
        # importance: how well each source pixel is explained by the other frame
        error0 = (img0 - backward_warp(img1, flow01)).abs().mean(1, keepdim=True)
        error1 = (img1 - backward_warp(img0, flow10)).abs().mean(1, keepdim=True)
        scale = self.config.metric_scale
        flow0t, flow1t = flow01 * t, flow10 * (1 - t)
        warped0, cover0 = forward_splat(img0, flow0t, "soft", -scale * error0, return_weight=True)
        warped1, cover1 = forward_splat(img1, flow1t, "soft", -scale * error1, return_weight=True)
        # the coverage (plain bilinear weight that reached a pixel) saturates at 1
        weight0 = (1 - t) * cover0.clamp(max=1)
        weight1 = t * cover1.clamp(max=1)
        total = weight0 + weight1
        blend = (1 - t) * img0 + t * img1
        mixed = (weight0 * warped0 + weight1 * warped1) / total.clamp_min(1e-6)
        return torch.where(total > 0, mixed, blend).clamp(0, 1)
