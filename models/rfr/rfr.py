"""Recurrent Flow Refinement (spec §3): RAFT-style refinement of the SGM flow, both directions.

Conventions: images (B, 3, H, W) normalised to [−1, 1] (2·I − 1); flows (B, 2, H, W), channel
0 = x, in pixels of the resolution they live at. The refinement works at 1/8 of a *working
size* (the frames resized, not padded, to a multiple of 8, as the released code does) and
returns full-resolution flows in fp32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.config import RFRConfig
from models.ops.grid import coords_grid, resize_flow
from models.ops.warp import backward_warp
from models.rfr.corr import correlation_pyramid, correlation_volume, lookup_pyramid
from models.rfr.encoder import FeatureEncoder
from models.rfr.update import ErrorAttention, UpdateBlock

#: the encoder's total stride: the recurrent state lives on a 1/8 grid
GRID_STRIDE = 8


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Upsample a (B, 2, h, w) flow to (B, 2, 8h, 8w) by convex combination (RAFT).

    Each fine pixel is a softmax-weighted mix of the 3×3 coarse neighbours (zero padded) of
    its coarse pixel, the vectors scaled by 8. ``mask`` is (B, 9·8·8, h, w) with channel
    tap·64 + sub_row·8 + sub_col (tap = row-major 3×3 position). Computed in fp32.
    """
    b, _, h, w = flow.shape
    s = GRID_STRIDE
    with torch.autocast(flow.device.type, enabled=False):
        weights = torch.softmax(mask.float().reshape(b, 1, 9, s, s, h, w), dim=2)
        taps = F.unfold(s * flow.float(), (3, 3), padding=1).view(b, 2, 9, 1, 1, h, w)
        fine = (weights * taps).sum(dim=2)  # (b, 2, s, s, h, w)
        return fine.permute(0, 1, 4, 2, 5, 3).reshape(b, 2, s * h, s * w)


class RFR(nn.Module):
    """Refines initial flows in both directions (frame 0 → 1 and 1 → 0).

    Equivalent to the released code's two independent passes ``RFR(I0, I1, F01)`` and
    ``RFR(I1, I0, F10)``, with the shared work done once: each frame is encoded once (the
    released code encodes frame 0 three times: features, context, and again in the other
    direction; without normalisation layers those are identical), the 1 → 0 correlation
    volume is the transpose of the 0 → 1 one, and both directions iterate as one batch.
    Submodule names match the official checkpoint (``attention2``, ``fnet``, ``update_block``).
    """

    def __init__(self, config: RFRConfig = RFRConfig()) -> None:
        super().__init__()
        self.config = config
        self.attention2 = ErrorAttention(config.attention_dim)
        self.fnet = FeatureEncoder(config)
        self.update_block = UpdateBlock(config)

    def working_size(self, height: int, width: int, scale: float = 1.0) -> tuple[int, int]:
        """The size the frames are resized to: 8·floor(side·scale / 8), at least the
        correlation pyramid's minimum (8·2^(levels−1)); at scale 1 the released code's size."""
        smallest = GRID_STRIDE * self.config.min_grid_size

        def side(n: int) -> int:
            # the epsilon keeps exact products (1080 × 0.5) from rounding down
            return max(smallest, GRID_STRIDE * math.floor(n * scale / GRID_STRIDE + 1e-6))

        return side(height), side(width)

    def forward(
        self,
        image0: torch.Tensor,
        image1: torch.Tensor,
        init01: torch.Tensor | None = None,
        init10: torch.Tensor | None = None,
        *,
        scale: float = 1.0,
        iters: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows 0 → 1 and 1 → 0, each (B, 2, H, W) fp32 in pixels.

        ``init01``/``init10``: initial flows (B, 2, H', W') in pixels of their own size (the
        SGM flows), ``None`` = zero. ``scale`` shrinks the working size (large frames);
        ``iters`` overrides the configured number of iterations (at least 1).
        """
        config = self.config
        iters = config.iters if iters is None else iters
        if iters < 1:
            raise ValueError(f"RFR needs at least one iteration, got {iters}")
        batch, _, height, width = image0.shape
        work_h, work_w = self.working_size(height, width, scale)
        grid_h, grid_w = work_h // GRID_STRIDE, work_w // GRID_STRIDE

        sources = torch.cat((image0, image1))  # direction 0→1 first, then 1→0
        # the initial flows on the 1/8 grid (legacy nearest, vectors rescaled), fp32
        guide = torch.cat([
            resize_flow(f.float(), (grid_h, grid_w), mode="nearest")
            if f is not None
            else image0.new_zeros(batch, 2, grid_h, grid_w, dtype=torch.float32)
            for f in (init01, init10)
        ])
        if config.use_error_attention:
            guide = self._attend(sources, torch.cat((image1, image0)), guide)

        resized = F.interpolate(sources, size=(work_h, work_w), mode="bilinear", align_corners=False)
        features = self.fnet(resized)  # (2B, D, h, w): frame 0's, then frame 1's
        with torch.autocast(features.device.type, enabled=False):
            # the volume is the largest tensor (260 MB per pair at 540p): both directions are
            # written into one buffer rather than concatenated; the 1→0 half is a second
            # product, not a transposed copy of the 0→1 half (a cache-hostile copy that took
            # 8× as long as the product at 540p)
            fmap0, fmap1 = features[:batch].float(), features[batch:].float()
            corr = fmap0.new_empty((2 * batch, grid_h * grid_w, grid_h, grid_w))
            correlation_volume(fmap0, fmap1, out=corr[:batch])
            correlation_volume(fmap1, fmap0, out=corr[batch:])
            pyramid = correlation_pyramid(corr, config.corr_levels)
            del corr

        # the context comes from the same encoder output as the matching features
        hidden, context = torch.split(features, [config.hidden_dim, config.context_dim], dim=1)
        hidden, context = torch.tanh(hidden), torch.relu(context)

        coords0 = coords_grid(2 * batch, grid_h, grid_w, device=image0.device)
        coords1 = coords0 + guide
        for step in range(iters):
            coords1 = coords1.detach()
            if step == 0 and config.double_add_init:
                coords1 = coords1 + guide  # the released code adds the initial flow twice
            corr_features = lookup_pyramid(pyramid, coords1, config.corr_radius)
            last = step == iters - 1
            hidden, mask, delta = self.update_block(hidden, context, corr_features, coords1 - coords0, with_mask=last)
            coords1 = coords1 + delta.float()

        fine = convex_upsample(coords1 - coords0, mask)
        flows = resize_flow(fine, (height, width), mode="bilinear")
        return flows[:batch], flows[batch:]

    def _attend(self, sources, targets, guide):
        """The error-attention mask exp(−m²) applied to the 1/8-grid initial flow (§3.2.3)."""
        size = guide.shape[-2:]
        small_src = F.interpolate(sources, size=size, mode="bilinear", align_corners=False)
        small_dst = F.interpolate(targets, size=size, mode="bilinear", align_corners=False)
        warped = backward_warp(small_dst, guide, padding_mode="zeros")
        error = (warped - small_src).abs().sum(dim=1, keepdim=True)
        logits = self.attention2(torch.cat((small_src, error, guide.to(small_src.dtype)), dim=1))
        return torch.exp(-logits.float() ** 2) * guide
