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

import numpy as np
import torch

from models.guidance import DISConfig, dis_flows
from models.interpolator import FrameInterpolator, Motion
from models.synthesis.splatting import coverage_blend, photometric_importance, splat_frames


@dataclass(frozen=True)
class ClassicConfig:
    """Settings of the classic method.

    ``dis``: the DIS guidance (:class:`models.guidance.DISConfig`). ``metric_scale``: how
    sharply a lower brightness-constancy error wins a splat collision (the metric is
    −metric_scale·|error| with images in [0, 1]).
    """

    dis: DISConfig = DISConfig()
    metric_scale: float = 20.0


class ClassicInterpolator(FrameInterpolator):
    """DIS flow both ways + occlusion-aware softmax splatting (see the module docstring)."""

    method_name = "classic"
    size_multiple = 1

    def __init__(self, config: ClassicConfig = ClassicConfig()) -> None:
        super().__init__()
        self.config = config

    def guidance(self, frame0: np.ndarray, frame1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """DIS flows both ways of one (H, W, 3) uint8 RGB pair: the whole motion estimate."""
        return dis_flows(frame0, frame1, self.config.dis)

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
        scale = self.config.metric_scale
        metric0 = photometric_importance(img0, img1, flow01, scale)
        metric1 = photometric_importance(img1, img0, flow10, scale)
        splats = splat_frames(img0, img1, flow01, flow10, metric0, metric1, t)
        return coverage_blend(img0, img1, splats, t).clamp(0, 1)
