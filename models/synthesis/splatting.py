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


def photometric_importance(source: torch.Tensor, other: torch.Tensor, flow: torch.Tensor, scale) -> torch.Tensor:
    """Softmax-splatting importance of each source pixel: m = −scale·e, where e is the mean
    absolute colour difference between the source frame and the other frame backward-warped
    by the source's flow (brightness constancy: pixels that are occluded at the other end
    match badly and lose where several sources collide). Images (B, 3, H, W) in [0, 1], flow
    (B, 2, H, W) from source to other; ``scale`` a number or a (1,) tensor. Returns (B, 1, H, W) fp32."""
    error = (source.float() - backward_warp(other.float(), flow.float())).abs().mean(dim=1, keepdim=True)
    return -scale * error


class ImportanceMetric(nn.Module):
    """:func:`photometric_importance` with a learnable scale α (``scale`` at init)."""

    def __init__(self, scale: float = 20.0) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor([float(scale)]))

    def forward(self, source: torch.Tensor, other: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return photometric_importance(source, other, flow, self.alpha)


def splat_frames(img0, img1, flow01, flow10, metric0, metric1, t, riders0=None, riders1=None) -> dict[str, torch.Tensor]:
    """Softmax-splat both frames to time ``t`` (B, 1, 1, 1): frame 0 along t·F01, frame 1
    along (1 − t)·F10, with importances ``metric0``/``metric1`` (B, 1, H, W).

    Returns "warped0", "warped1" (B, 3, H, W) and their coverages "cover0", "cover1"
    (B, 1, H, W: the plain bilinear weight that reached each pixel, 0 in holes), all fp32.
    ``riders0``/``riders1``: optional maps of the frames' size (e.g. full-resolution features)
    splatted in the same pass, returned as "riders0"/"riders1"; the frames' results do not
    depend on them (each channel is normalised on its own).
    """
    out = {}
    for i, (image, flow, scale, metric, riders) in enumerate(
        ((img0, flow01, t, metric0, riders0), (img1, flow10, 1 - t, metric1, riders1))
    ):
        values = image.float() if riders is None else torch.cat((image.float(), riders.float()), dim=1)
        splatted, out[f"cover{i}"] = forward_splat(values, flow.float() * scale, "soft", metric, return_weight=True)
        out[f"warped{i}"] = splatted[:, :3]
        if riders is not None:
            out[f"riders{i}"] = splatted[:, 3:]
    return out


def disagreement(splats: dict[str, torch.Tensor], threshold: float, window: int = 5) -> torch.Tensor:
    """How much the two splatted frames disagree, in [0, 1] (B, 1, H, W): their mean absolute
    RGB difference over ``threshold``, saturated at 1, the maximum over a ``window``² neighbourhood
    (so that a ghost's edges count), and 1 wherever either frame left a hole (coverage < ½)."""
    difference = (splats["warped0"] - splats["warped1"]).abs().mean(dim=1, keepdim=True) / threshold
    hole = (splats["cover0"] < 0.5) | (splats["cover1"] < 0.5)
    gate = torch.where(hole, torch.ones_like(difference), difference.clamp(max=1))
    # the maximum over a square is the maximum of its rows' maxima: two 1-D passes, the same values
    rows = F.max_pool2d(gate, (1, window), stride=1, padding=(0, window // 2))
    return F.max_pool2d(rows, (window, 1), stride=1, padding=(window // 2, 0))


def border_ramp(height: int, width: int, fade: int, device: torch.device | None = None) -> torch.Tensor:
    """(1, 1, H, W) fp32 weights that rise linearly from 0 on a frame's outermost pixels to 1
    at ``fade`` pixels in: min(d / fade, 1), d = a pixel's distance in whole pixels to the
    nearest edge (0 for the first row and column); all ones when ``fade`` is 0."""
    if fade == 0:
        return torch.ones(1, 1, height, width, device=device)
    rows = torch.arange(height, device=device, dtype=torch.float32)
    columns = torch.arange(width, device=device, dtype=torch.float32)
    distance = torch.minimum(
        torch.minimum(rows, height - 1 - rows)[:, None], torch.minimum(columns, width - 1 - columns)[None, :]
    )
    return (distance / fade).clamp(max=1)[None, None]


def coverage_blend(img0, img1, splats: dict[str, torch.Tensor], t) -> torch.Tensor:
    """The coverage-aware blend of two splatted frames (the classic method's output, unclamped).

    Weights (1 − t)·c₀ and t·c₁ with the coverages c saturated at 1: a pixel one frame leaves
    uncovered (disocclusion) comes from the other alone; where neither lands, the plain blend
    (1 − t)·img0 + t·img1. ``splats`` as :func:`splat_frames` returns; ``t`` (B, 1, 1, 1).
    """
    weight0 = (1 - t) * splats["cover0"].clamp(max=1)
    weight1 = t * splats["cover1"].clamp(max=1)
    total = weight0 + weight1
    blend = (1 - t) * img0.float() + t * img1.float()
    mixed = (weight0 * splats["warped0"] + weight1 * splats["warped1"]) / total.clamp_min(1e-6)
    return torch.where(total > 0, mixed, blend)


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
        return both[:, :channels], [both[:, channels:], *self.splat_features(features[1:], flow, metric)]

    def splat_features(
        self, features: tuple[torch.Tensor, ...], flow: torch.Tensor, metric: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """Splat each feature map along ``flow`` (and ``metric``) resized to its own size by
        legacy nearest sampling, the vectors scaled to that size."""
        if self.method == "soft" and metric is None:
            raise ValueError("softmax splatting needs the importance metric")
        splatted = []
        for level in features:
            size = (level.shape[-2], level.shape[-1])
            level_metric = None if metric is None else F.interpolate(metric, size=size, mode="nearest")
            splatted.append(forward_splat(level, resize_flow(flow, size, mode="nearest"), self.method, level_metric))
        return splatted
