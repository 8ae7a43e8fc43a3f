"""Forward splatting of a frame and its feature pyramid to time t (spec §2.5, §2.6, §4).

Conventions: BCHW; flows (B, 2, H, W) in full-resolution pixels, channel 0 = x. Each pyramid
level is splatted with the full-resolution flow resized by legacy nearest sampling (every
2nd / 4th pixel) and its vectors scaled to that level, as the released code does.
Accumulation is fp32 (see :func:`models.ops.splat.forward_splat`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import SPLAT_METHODS
from models.ops.grid import resize_flow
from models.ops.splat import forward_splat
from models.ops.warp import backward_warp


class ImportanceMetric(nn.Module):
    """Softmax-splatting importance of each source pixel: m = −α·e, where e is the mean
    absolute colour difference between the source frame and the other frame backward-warped
    by the source's flow (brightness constancy: pixels that are occluded at the other end
    match badly and lose where several sources collide). α is learnable, ``scale`` at init.
    Images in [0, 1]; returns (B, 1, H, W) fp32."""

    def __init__(self, scale: float = 20.0) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor([float(scale)]))

    def forward(self, source: torch.Tensor, other: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        error = (source.float() - backward_warp(other.float(), flow)).abs().mean(dim=1, keepdim=True)
        return -self.alpha * error


class ForwardSplatting(nn.Module):
    """Splats (image, level-1, level-2, level-3 features) along ``flow``.

    ``method`` "avg" is the released code's average splatting (holes stay 0); "soft" is
    softmax splatting and needs the source's importance ``metric`` (B, 1, H, W), resized
    to each level like the flow. No parameters.
    """

    def __init__(self, method: str = "avg") -> None:
        super().__init__()
        if method not in SPLAT_METHODS:
            raise ValueError(f"unknown splatting method {method!r}; choose one of {SPLAT_METHODS}")
        self.method = method

    def forward(
        self,
        image: torch.Tensor,
        features: tuple[torch.Tensor, ...],
        flow: torch.Tensor,
        metric: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns the splatted image (B, 3, H, W) and features, all fp32.

        ``features[0]`` has the image's size: the two share the flow and are splatted together.
        """
        if self.method == "soft" and metric is None:
            raise ValueError("softmax splatting needs the importance metric")
        channels = image.shape[1]
        both = forward_splat(torch.cat((image.float(), features[0].float()), dim=1), flow, self.method, metric)
        splatted = [both[:, channels:]]
        for level in features[1:]:
            size = tuple(level.shape[-2:])
            level_metric = None if metric is None else F.interpolate(metric, size=size, mode="nearest")
            splatted.append(
                forward_splat(level, resize_flow(flow, size, mode="nearest"), self.method, level_metric)
            )
        return both[:, :channels], splatted
