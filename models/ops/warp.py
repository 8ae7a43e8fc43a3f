"""Backward warping (sampling a source image at displaced pixel positions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.ops.grid import coords_grid


def backward_warp(image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Sample ``image`` at ``pixel + flow``: out[y, x] = image[y + flow_y, x + flow_x].

    ``image`` is (B, C, H, W), ``flow`` (B, 2, H, W) in pixels (channel 0 = x). Bilinear
    sampling with pixel centres at integer coordinates (align_corners=True semantics:
    x = 0 is the centre of the first column, x = W−1 the centre of the last). Positions
    outside the image take the nearest border value (``padding_mode="border"``) or zero
    (``"zeros"``). Sampling runs in fp32 whatever the input dtype.
    """
    b, _, h, w = image.shape
    coords = coords_grid(b, h, w, device=flow.device) + flow.float()
    # normalise to [-1, 1] with (size − 1), i.e. align_corners=True
    gx = coords[:, 0] * (2.0 / max(w - 1, 1)) - 1.0
    gy = coords[:, 1] * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    out = F.grid_sample(
        image.float(), grid, mode="bilinear", padding_mode=padding_mode, align_corners=True
    )
    return out.to(image.dtype)
