"""Pixel grids and flow resizing.

Conventions: tensors are BCHW; a flow has 2 channels, channel 0 the horizontal displacement
(towards larger column index) and channel 1 the vertical one (towards larger row index), in
pixels of the resolution the flow lives at.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def coords_grid(
    batch: int, height: int, width: int, *, device=None, dtype=torch.float32
) -> torch.Tensor:
    """Pixel coordinates as a (batch, 2, height, width) tensor: channel 0 = x, channel 1 = y."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack((xs, ys)).unsqueeze(0).expand(batch, 2, height, width)


def resize_flow(flow: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize a (B, 2, H, W) flow to ``size`` = (h, w) and rescale its vectors.

    The x channel is multiplied by w/W and the y channel by h/H, so the result is in pixels of
    the new resolution. ``mode`` is ``"bilinear"`` (align_corners=False) or ``"nearest"``
    (legacy nearest: source index = floor(dst·in/out), as the released AnimeInterp uses).
    """
    h, w = size
    height, width = flow.shape[-2:]
    if (h, w) == (height, width):
        return flow
    if mode == "bilinear":
        resized = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
    elif mode == "nearest":
        resized = F.interpolate(flow, size=(h, w), mode="nearest")
    else:
        raise ValueError(f"unknown resize mode {mode!r}")
    scale = torch.tensor([w / width, h / height], device=flow.device, dtype=flow.dtype)
    return resized * scale.view(1, 2, 1, 1)
