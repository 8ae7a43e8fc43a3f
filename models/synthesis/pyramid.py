"""The feature extractor (spec §2.2): a 3-level context pyramid that is splatted with the frames.

Input: images (B, 3, H, W) normalised to [−1, 1]; output: features at full, 1/2 and 1/4
resolution (stride-2 sizes floor((n − 1)/2) + 1).
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import SynthesisConfig


class FeatureExtractor(nn.Module):
    """Six 3×3 convs, each followed by its own PReLU; convs 3 and 5 have stride 2."""

    def __init__(self, config: SynthesisConfig = SynthesisConfig()) -> None:
        super().__init__()
        d1, d2, d3 = config.feature_dims
        self.conv1 = nn.Conv2d(3, d1, 3, padding=1)
        self.prelu1 = nn.PReLU()
        self.conv2 = nn.Conv2d(d1, d1, 3, padding=1)
        self.prelu2 = nn.PReLU()
        self.conv3 = nn.Conv2d(d1, d2, 3, stride=2, padding=1)
        self.prelu3 = nn.PReLU()
        self.conv4 = nn.Conv2d(d2, d2, 3, padding=1)
        self.prelu4 = nn.PReLU()
        self.conv5 = nn.Conv2d(d2, d3, 3, stride=2, padding=1)
        self.prelu5 = nn.PReLU()
        self.conv6 = nn.Conv2d(d3, d3, 3, padding=1)
        self.prelu6 = nn.PReLU()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.prelu1(self.conv1(images))
        level1 = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(level1))
        level2 = self.prelu4(self.conv4(x))
        x = self.prelu5(self.conv5(level2))
        level3 = self.prelu6(self.conv6(x))
        return level1, level2, level3
