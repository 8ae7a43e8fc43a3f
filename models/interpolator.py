"""The interface every interpolation method implements.

Images are (B, 3, H, W) float tensors, RGB in [0, 1]; ``t`` is a (B,) float tensor of times in
(0, 1) (0 = ``img0``, 1 = ``img1``). Interpolation runs in two stages so that the expensive
motion estimate of a pair is computed once and reused for every t the plan asks for:

1. ``estimate(img0, img1, init01, init10)`` → a *motion* dict of batch-first tensors (flows,
   features, …); ``init01``/``init10`` are the pair's initial flows when the caller has them
   (:meth:`FrameInterpolator.guidance`, or flows read from a data set), else None;
2. ``synthesize(img0, img1, motion, t)`` → the frames at times ``t``.

Because every motion tensor is batch-first, a caller may ``index_select`` pairs out of a
motion dict (see :func:`select_pairs`) to synthesise several t per pair in one batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

Motion = dict[str, torch.Tensor]


class FrameInterpolator(nn.Module):
    """Base class: subclasses implement :meth:`estimate` and :meth:`synthesize`."""

    #: frame height and width must be multiples of this (the engine pads, then crops back)
    size_multiple: int = 1
    #: short name shown to the user
    method_name: str = "base"

    def guidance(self, frame0: np.ndarray, frame1: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The pair's CPU-side work that needs no network, or None if the method has none.

        ``frame0``/``frame1``: (H, W, 3) uint8 RGB. Returns initial flows (flow01, flow10), each
        (2, H, W) float32 pixels, channel 0 = x. The engine computes them in a worker thread
        ahead of the network and passes them to :meth:`estimate` as ``init01``/``init10``.
        """
        return None

    def guidance_batch(self, img0: torch.Tensor, img1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`guidance` of every pair of a (B, 3, H, W) batch, as (B, 2, H, W) fp32 flows on
        the images' device (for methods whose guidance is never None)."""
        flows = [self.guidance(a, b) for a, b in zip(to_uint8_frames(img0), to_uint8_frames(img1))]
        pairs = [pair for pair in flows if pair is not None]
        if len(pairs) != len(flows):
            raise ValueError(f"{type(self).__name__} has no guidance to batch")
        flow01, flow10 = (np.stack([pair[k] for pair in pairs]) for k in (0, 1))
        return torch.from_numpy(flow01).to(img0.device), torch.from_numpy(flow10).to(img0.device)

    def compile_targets(self) -> list[nn.Module]:
        """The submodules worth ``torch.compile`` (the heavy, shape-stable ones); none by default."""
        return []

    def estimate(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        init01: torch.Tensor | None = None,
        init10: torch.Tensor | None = None,
    ) -> Motion:
        """The motion of a batch of pairs. ``init01``/``init10``: (B, 2, H, W) fp32 initial flows
        in pixels, 0→1 and 1→0 (None: the method finds its own, or starts from rest); methods
        that take no initial flow ignore them."""
        raise NotImplementedError

    def synthesize(
        self, img0: torch.Tensor, img1: torch.Tensor, motion: Motion, t: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.synthesize(img0, img1, self.estimate(img0, img1), t)


def to_uint8_frames(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) RGB in [0, 1] → (B, H, W, 3) uint8 RGB numpy on the CPU (rounded).

    For the stages that run classical image processing (OpenCV) on the CPU.
    """
    return (images.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def select_pairs(motion: Motion, index: torch.Tensor) -> Motion:
    """The motion of the pairs at ``index`` (a 1-D long tensor), batch-first like the input."""
    return {name: value.index_select(0, index.to(value.device)) for name, value in motion.items()}


class LinearBlend(FrameInterpolator):
    """The baseline every method must beat: (1 − t)·img0 + t·img1."""

    method_name = "blend"

    def estimate(self, img0, img1, init01=None, init10=None) -> Motion:
        return {}

    def synthesize(self, img0, img1, motion, t):
        t = t.to(img0.dtype).view(-1, 1, 1, 1)
        return (1 - t) * img0 + t * img1
