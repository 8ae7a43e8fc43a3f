"""GridNet (spec §2.7): fuses the splatted frames and feature pyramids into the output frame.

Three rows (full, 1/2, 1/4 resolution) and four columns: a head column that merges the
inputs, one lateral column, then two upsampling columns. Frame height and width must be
multiples of 4, or the upsampled maps would not line up with the lateral ones. Submodule
names follow the released code so the official checkpoint loads (``residual_model_*`` are
the lateral blocks, which have no skip of their own: the grid adds it).
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import SynthesisConfig


class LateralBlock(nn.Sequential):
    """PReLU → conv 3×3 → PReLU → conv 3×3, same resolution."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(
            nn.PReLU(), nn.Conv2d(in_dim, out_dim, 3, padding=1),
            nn.PReLU(), nn.Conv2d(out_dim, out_dim, 3, padding=1),
        )


class DownBlock(nn.Sequential):
    """PReLU → conv 3×3 stride 2 → PReLU → conv 3×3: half the resolution."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(
            nn.PReLU(), nn.Conv2d(in_dim, out_dim, 3, stride=2, padding=1),
            nn.PReLU(), nn.Conv2d(out_dim, out_dim, 3, padding=1),
        )


class UpBlock(nn.Sequential):
    """Bilinear ×2 (align_corners=False) → PReLU → conv 3×3 → PReLU → conv 3×3."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.PReLU(), nn.Conv2d(in_dim, out_dim, 3, padding=1),
            nn.PReLU(), nn.Conv2d(out_dim, out_dim, 3, padding=1),
        )


#: channels of GridNet's frame input: the splatted pair; with ``residual`` also their
#: coverage-aware blend (3), the two coverages and the two input frames as they are (6);
#: with ``error_inputs`` also the two splatted photometric errors
FRAME_CHANNELS = 6
RESIDUAL_FRAME_CHANNELS = FRAME_CHANNELS + 3 + 2 + 6
ERROR_CHANNELS = 2


def frame_channels(config: SynthesisConfig) -> int:
    """How many channels GridNet's frame input has in ``config``."""
    if not config.residual:
        return FRAME_CHANNELS
    return RESIDUAL_FRAME_CHANNELS + (ERROR_CHANNELS if config.error_inputs else 0)


class GridNet(nn.Module):
    """Inputs: the splatted frame pair (B, 6, H, W; with ``config.residual`` more, see
    :func:`frame_channels`) and the splatted feature pairs at full, 1/2 and 1/4 resolution
    (B, 2·d_ℓ, ·, ·). Output: (B, 3, H, W), no activation; with ``config.residual`` the last
    convolution starts at zero (the output is a correction, 0 before training)."""

    def __init__(self, config: SynthesisConfig = SynthesisConfig(), out_dim: int = 3) -> None:
        super().__init__()
        f1, f2, f3 = (2 * d for d in config.feature_dims)  # a splatted pair per level
        r0, r1, r2 = config.grid_dims
        # declaration order = the checkpoint's key order
        self.residual_model_head = LateralBlock(frame_channels(config), r0)
        self.residual_model_head1 = LateralBlock(f1, r0)
        self.residual_model_head2 = LateralBlock(f2, r1)
        self.residual_model_head3 = LateralBlock(f3, r2)
        self.residual_model_01 = LateralBlock(r0, r0)
        self.residual_model_04 = LateralBlock(r0, r0)
        self.residual_model_05 = LateralBlock(r0, r0)
        self.residual_model_tail = LateralBlock(r0, out_dim)
        self.residual_model_11 = LateralBlock(r1, r1)
        self.residual_model_14 = LateralBlock(r1, r1)
        self.residual_model_15 = LateralBlock(r1, r1)
        self.residual_model_21 = LateralBlock(r2, r2)
        self.residual_model_24 = LateralBlock(r2, r2)
        self.residual_model_25 = LateralBlock(r2, r2)
        self.downsample_model_10 = DownBlock(r0, r1)
        self.downsample_model_20 = DownBlock(r1, r2)
        self.downsample_model_11 = DownBlock(r0, r1)
        self.downsample_model_21 = DownBlock(r1, r2)
        self.upsample_model_04 = UpBlock(r1, r0)
        self.upsample_model_14 = UpBlock(r2, r1)
        self.upsample_model_05 = UpBlock(r1, r0)
        self.upsample_model_15 = UpBlock(r2, r1)
        if config.residual:
            last = self.residual_model_tail[-1]
            assert isinstance(last, nn.Conv2d) and last.bias is not None
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, frames, features1, features2, features3) -> torch.Tensor:
        # node X_rc: row r (resolution 1/2^r), column c; columns 2 and 3 do not exist
        x00 = self.residual_model_head(frames) + self.residual_model_head1(features1)
        x10 = self.downsample_model_10(x00) + self.residual_model_head2(features2)
        x20 = self.downsample_model_20(x10) + self.residual_model_head3(features3)

        x01 = self.residual_model_01(x00) + x00
        x11 = self.residual_model_11(x10) + x10 + self.downsample_model_11(x01)
        x21 = self.residual_model_21(x20) + x20 + self.downsample_model_21(x11)

        x24 = self.residual_model_24(x21) + x21
        x14 = self.upsample_model_14(x24) + self.residual_model_14(x11) + x11
        x04 = self.upsample_model_04(x14) + self.residual_model_04(x01) + x01

        x25 = self.residual_model_25(x24) + x24
        x15 = self.upsample_model_15(x25) + self.residual_model_15(x14) + x14
        x05 = self.upsample_model_05(x15) + self.residual_model_05(x04) + x04
        return self.residual_model_tail(x05)
