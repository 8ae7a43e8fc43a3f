"""The full AnimeInterp pipeline: SGM guidance computed inline, then the network.

This is where SGM's CPU/numpy world meets the network's device tensors: per pair, the two
frames are brought to the CPU as uint8, SGM matches their colour segments, and its flows
(zero where unmatched) go to the device as the RFR's initial flows.
"""

from __future__ import annotations

import numpy as np
import torch

from models.animeinterp import AnimeInterp
from models.interpolator import FrameInterpolator, Motion
from models.sgm import SGMConfig, sgm_flows


def _to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] → (B, H, W, 3) uint8 RGB on the CPU."""
    return (images.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class AnimeInterpPipeline(FrameInterpolator):
    """SGM (inline, or none) → :class:`AnimeInterp`.

    ``sgm=None`` feeds zero initial flows (a legitimate fast mode: the refined flows depend
    little on the initial ones, spec §6.10). Initial flows passed explicitly to
    :meth:`estimate` (e.g. precomputed ATD-12K SGM files) take precedence over both.
    """

    method_name = "animeinterp"

    def __init__(self, network: AnimeInterp, sgm: SGMConfig | None = SGMConfig()) -> None:
        super().__init__()
        self.network = network
        self.sgm = sgm
        self.size_multiple = network.size_multiple
        #: which SGM descriptor the last pair used ("vgg19", "color"), or None
        self.last_descriptor: str | None = None

    def guidance(self, img0: torch.Tensor, img1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SGM flows (B, 2, H, W) fp32 on the images' device, both directions."""
        flows01, flows10 = [], []
        for frame0, frame1 in zip(_to_uint8_images(img0), _to_uint8_images(img1)):
            result = sgm_flows(frame0, frame1, self.sgm)
            flows01.append(result.flow01)
            flows10.append(result.flow10)
            self.last_descriptor = result.descriptor
        device = img0.device
        return torch.from_numpy(np.stack(flows01)).to(device), torch.from_numpy(np.stack(flows10)).to(device)

    def estimate(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        init01: torch.Tensor | None = None,
        init10: torch.Tensor | None = None,
    ) -> Motion:
        if init01 is None and init10 is None and self.sgm is not None:
            init01, init10 = self.guidance(img0, img1)
        return self.network.estimate(img0, img1, init01, init10)

    def synthesize(self, img0, img1, motion, t):
        return self.network.synthesize(img0, img1, motion, t)
