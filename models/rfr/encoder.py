"""The RFR feature encoder (spec §3.3): RAFT's basic encoder without normalisation layers.

Input: images (B, 3, H, W) normalised to [−1, 1]; output: (B, feature_dim, H/8, W/8)
features. The same encoder also gives the GRU's initial state and context (no separate
context network in the released model).
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import RFRConfig


class ResidualUnit(nn.Module):
    """relu(skip(x) + relu(conv(relu(conv(x))))); the first conv carries the stride.

    The skip is the identity at stride 1 and a strided 1×1 projection otherwise (key
    ``downsample.0``, as in the checkpoint).
    """

    def __init__(self, in_dim: int, out_dim: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, out_dim, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(out_dim, out_dim, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(in_dim, out_dim, 1, stride=stride))
            if stride != 1 or in_dim != out_dim
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.conv1(x))
        y = self.relu(self.conv2(y))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(skip + y)


class FeatureEncoder(nn.Module):
    """7×7/2 stem, three stages of two residual units (strides 1, 2, 2), 1×1 projection."""

    def __init__(self, config: RFRConfig) -> None:
        super().__init__()
        d1, d2, d3 = config.encoder_dims
        self.conv1 = nn.Conv2d(3, d1, 7, stride=2, padding=3)
        self.relu1 = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(ResidualUnit(d1, d1), ResidualUnit(d1, d1))
        self.layer2 = nn.Sequential(ResidualUnit(d1, d2, stride=2), ResidualUnit(d2, d2))
        self.layer3 = nn.Sequential(ResidualUnit(d2, d3, stride=2), ResidualUnit(d3, d3))
        self.conv2 = nn.Conv2d(d3, config.feature_dim, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(images))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv2(x)
