"""The full AnimeInterp pipeline: the initial-flow guidance computed inline, then the network.

This is where the CPU/numpy guidance meets the network's device tensors: per pair, the two
frames are brought to the CPU as uint8, the guidance flows are computed there and go to the
device as the RFR's initial flows. Guidance modes:

- ``"sgm"``: Segment-Guided Matching (the paper's; zero where no segment matched);
- ``"dis"``: OpenCV DIS optical flow (dense, strong on small and medium motion);
- ``"sgm+dis"``: SGM where it matched, DIS elsewhere;
- ``"zero"``: no guidance (the RFR starts from rest; a legitimate fast mode, spec §6.10).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.animeinterp import AnimeInterp
from models.config import GUIDANCES
from models.guidance import dis_flows
from models.interpolator import FrameInterpolator, Motion
from models.sgm import SGMConfig, sgm_flows

GUIDANCE_MODES = GUIDANCES


def guidance_flows(
    frame0: np.ndarray, frame1: np.ndarray, mode: str, sgm: SGMConfig = SGMConfig()
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Initial flows of one pair ((2, H, W) float32 each, 0→1 and 1→0) for guidance ``mode``.

    ``frame0``/``frame1`` are (H, W, 3) uint8 RGB. Also returns which SGM descriptor was used
    (None when SGM did not run).
    """
    if mode not in GUIDANCE_MODES:
        raise ValueError(f"unknown guidance {mode!r}; choose one of {GUIDANCE_MODES}")
    height, width = frame0.shape[:2]
    if mode == "zero":
        zero = np.zeros((2, height, width), np.float32)
        return zero, zero.copy(), None
    descriptor = None
    if "sgm" in mode:
        result = sgm_flows(frame0, frame1, sgm)
        flow01, flow10, descriptor = result.flow01, result.flow10, result.descriptor
    if "dis" in mode:
        dense01, dense10 = dis_flows(frame0, frame1)
        if mode == "dis":
            return dense01, dense10, None
        flow01 = np.where(result.valid01[None], flow01, dense01)
        flow10 = np.where(result.valid10[None], flow10, dense10)
    return flow01, flow10, descriptor


class AnimeInterpPipeline(FrameInterpolator):
    """Guidance (see the module docstring) → :class:`AnimeInterp`.

    Initial flows passed explicitly to :meth:`estimate` (e.g. precomputed ATD-12K SGM files)
    take precedence over the guidance.
    """

    method_name = "animeinterp"

    def __init__(self, network: AnimeInterp, guidance: str = "sgm", sgm: SGMConfig = SGMConfig()) -> None:
        super().__init__()
        if guidance not in GUIDANCE_MODES:
            raise ValueError(f"unknown guidance {guidance!r}; choose one of {GUIDANCE_MODES}")
        self.network = network
        self.guidance_mode = guidance
        self.sgm = sgm
        self.size_multiple = network.size_multiple

    def guidance(self, frame0: np.ndarray, frame1: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The initial flows of one (H, W, 3) uint8 RGB pair (None for "zero": the RFR starts
        from rest)."""
        if self.guidance_mode == "zero":
            return None
        flow01, flow10, _ = guidance_flows(frame0, frame1, self.guidance_mode, self.sgm)
        return flow01, flow10

    def compile_targets(self) -> list[nn.Module]:
        return self.network.compile_targets()

    def estimate(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        init01: torch.Tensor | None = None,
        init10: torch.Tensor | None = None,
    ) -> Motion:
        if init01 is None and init10 is None and self.guidance_mode != "zero":
            init01, init10 = self.guidance_batch(img0, img1)
        return self.network.estimate(img0, img1, init01, init10)

    def synthesize(self, img0, img1, motion, t):
        return self.network.synthesize(img0, img1, motion, t)
