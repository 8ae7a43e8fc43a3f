"""All-pairs correlation pyramid and its windowed lookup (spec §3.4), as pure functions.

Conventions: feature maps are (B, D, h, w) at 1/8 resolution; ``coords`` are (B, 2, h, w)
positions in that grid's pixels (channel 0 = x, channel 1 = y). Both the volume and the
lookup are fp32 whatever autocast says: the lookup samples at sub-pixel positions and the
update block was trained on fp32 correlations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def correlation_volume(fmap1: torch.Tensor, fmap2: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """corr[b, i, j] = ⟨fmap1[b, :, i], fmap2[b, :, j]⟩ / sqrt(D) for every pixel pair.

    Returns (B, h·w, h, w): for each source pixel i (row-major), a map over target pixels.
    The matrix product may run in autocast's dtype; the result is stored in fp32. ``out``: a
    contiguous fp32 (B, h·w, h, w) buffer to write into (fp32 features then), else a new one.
    """
    b, d, h, w = fmap1.shape
    rows, columns = fmap1.reshape(b, d, h * w).transpose(1, 2), fmap2.reshape(b, d, h * w)
    differentiable = torch.is_grad_enabled() and (fmap1.requires_grad or fmap2.requires_grad)
    if out is None or differentiable:  # autograd cannot record matmul(out=...)
        corr = (torch.matmul(rows, columns).float() / d**0.5).view(b, h * w, h, w)
        return corr if out is None else out.copy_(corr)
    torch.matmul(rows, columns, out=out.view(b, h * w, h * w))
    return out.div_(d**0.5)


def correlation_pyramid(corr: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``levels`` volumes, each a 2×2 average pool of the previous over the *target* dims.

    ``corr`` is (B, h·w, h, w) from :func:`correlation_volume`; level ℓ is (B·h·w, 1, h/2^ℓ,
    w/2^ℓ) (floor), ready for the lookup.
    """
    b, n, h, w = corr.shape
    level = corr.reshape(b * n, 1, h, w)
    pyramid = [level]
    for _ in range(levels - 1):
        level = F.avg_pool2d(level, 2, stride=2)
        pyramid.append(level)
    return pyramid


def window_offsets(radius: int, device=None) -> torch.Tensor:
    """(2r+1, 2r+1, 2) offsets (dx, dy): entry [a, b] is (a − r, b − r).

    The x offset is the *slow* index, as in the released code; the update block's weights
    depend on this channel order (channel a·(2r+1) + b of a level).
    """
    steps = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    dx, dy = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack((dx, dy), dim=-1)


def lookup_pyramid(pyramid: list[torch.Tensor], coords: torch.Tensor, radius: int) -> torch.Tensor:
    """Sample every level in a (2r+1)² window around ``coords`` / 2^ℓ.

    Bilinear, zero outside the volume, pixel centres at integer positions (grid_sample with
    align_corners=True, as the released code runs it). Returns (B, levels·(2r+1)², h, w)
    fp32, levels concatenated from fine to coarse.
    """
    b, _, h, w = coords.shape
    with torch.autocast(coords.device.type, enabled=False):
        centres = coords.float().permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
        offsets = window_offsets(radius, device=coords.device).view(1, 2 * radius + 1, 2 * radius + 1, 2)
        sampled = []
        for index, volume in enumerate(pyramid):
            points = centres / 2**index + offsets
            vh, vw = volume.shape[-2:]
            # normalise with (size − 1): align_corners=True semantics
            scale = torch.tensor([2.0 / max(vw - 1, 1), 2.0 / max(vh - 1, 1)], device=coords.device)
            grid = points * scale - 1.0
            values = F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
            sampled.append(values.view(b, h, w, -1))
        # (B, h, w, C) permuted: a channels-last view, which the convolutions prefer
        return torch.cat(sampled, dim=-1).permute(0, 3, 1, 2)
