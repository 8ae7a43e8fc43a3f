"""The RFR update block (spec §3.5) and the error attention on the initial flow (§3.2.3).

All maps are at 1/8 resolution, BCHW. Concatenation orders follow the released code: the
checkpoint's weights depend on them.
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import RFRConfig


class MotionEncoder(nn.Module):
    """Encodes the correlation lookup and the current flow into motion features.

    Output: ``motion_dim`` channels = (motion_dim − 2) learned features, then the raw flow
    (x, y), so the GRU always sees the flow itself.
    """

    def __init__(self, config: RFRConfig) -> None:
        super().__init__()
        c1, c2 = config.corr_encoder_dims
        f1, f2 = config.flow_encoder_dims
        self.convc1 = nn.Conv2d(config.corr_channels, c1, 1)
        self.convc2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.convf1 = nn.Conv2d(2, f1, 7, padding=3)
        self.convf2 = nn.Conv2d(f1, f2, 3, padding=1)
        self.conv = nn.Conv2d(c2 + f2, config.motion_dim - 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        c = self.relu(self.convc2(self.relu(self.convc1(corr))))
        f = self.relu(self.convf2(self.relu(self.convf1(flow))))
        features = self.relu(self.conv(torch.cat((c, f), dim=1)))
        return torch.cat((features, flow.to(features.dtype)), dim=1)


class SepConvGRU(nn.Module):
    """Convolutional GRU run twice: a horizontal (1×5) pass, then a vertical (5×1) pass.

    Each pass: z = σ(Wz[h, x]), r = σ(Wr[h, x]), q = tanh(Wq[r⊙h, x]), h = (1−z)⊙h + z⊙q.
    """

    def __init__(self, hidden_dim: int, input_dim: int) -> None:
        super().__init__()
        both = hidden_dim + input_dim
        self.convz1 = nn.Conv2d(both, hidden_dim, (1, 5), padding=(0, 2))
        self.convr1 = nn.Conv2d(both, hidden_dim, (1, 5), padding=(0, 2))
        self.convq1 = nn.Conv2d(both, hidden_dim, (1, 5), padding=(0, 2))
        self.convz2 = nn.Conv2d(both, hidden_dim, (5, 1), padding=(2, 0))
        self.convr2 = nn.Conv2d(both, hidden_dim, (5, 1), padding=(2, 0))
        self.convq2 = nn.Conv2d(both, hidden_dim, (5, 1), padding=(2, 0))

    @staticmethod
    def _step(h, x, convz, convr, convq):
        hx = torch.cat((h, x), dim=1)
        z = torch.sigmoid(convz(hx))
        r = torch.sigmoid(convr(hx))
        q = torch.tanh(convq(torch.cat((r * h, x), dim=1)))
        return (1 - z) * h + z * q

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self._step(h, x, self.convz1, self.convr1, self.convq1)
        return self._step(h, x, self.convz2, self.convr2, self.convq2)


class FlowHead(nn.Module):
    """Hidden state → flow update Δ (2 channels, 1/8-grid pixels)."""

    def __init__(self, hidden_dim: int, head_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(hidden_dim, head_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(head_dim, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(h)))


class UpdateBlock(nn.Module):
    """One refinement step: motion encoder → GRU → (flow update, convex-upsampling mask).

    The mask has 9·8·8 channels (softmax weights of the 3×3 neighbours for each of the 8×8
    sub-pixels) and is scaled by 0.25, as RAFT does, to balance its gradients.
    """

    MASK_SCALE = 0.25

    def __init__(self, config: RFRConfig) -> None:
        super().__init__()
        self.encoder = MotionEncoder(config)
        self.gru = SepConvGRU(config.hidden_dim, config.context_dim + config.motion_dim)
        self.flow_head = FlowHead(config.hidden_dim, config.head_dim)
        self.mask = nn.Sequential(
            nn.Conv2d(config.hidden_dim, config.head_dim, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(config.head_dim, 9 * 8 * 8, 1),
        )

    def forward(self, hidden, context, corr, flow, with_mask: bool = True):
        """Returns (new hidden state, upsampling mask or None, flow update).

        ``with_mask=False`` skips the mask head: only the last step's mask is ever used, and
        computing it every step (as the released code does) cost ~8 % of the RFR at 540p.
        """
        motion = self.encoder(flow, corr)
        hidden = self.gru(hidden, torch.cat((context, motion), dim=1))
        mask = self.MASK_SCALE * self.mask(hidden) if with_mask else None
        return hidden, mask, self.flow_head(hidden)


class ErrorAttention(nn.Module):
    """The paper's confidence mask on the initial flow: m from (image1, warp error, flow).

    Input: 6 channels = cat(image1 [3], per-pixel L1 error of image2 warped by the flow [1],
    flow [2]) at 1/8 resolution. The released model computes this and discards it; it is
    applied only with ``RFRConfig.use_error_attention``. Output: (B, 1, h, w) logits m, the
    mask being exp(−m²).
    """

    def __init__(self, hidden_dim: int = 32, in_dim: int = 6) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, hidden_dim, 5, padding=2)
        self.conv2 = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1)
        self.conv3 = nn.Conv2d(hidden_dim + in_dim, 1, 3, padding=1)
        self.prelu1 = nn.PReLU()
        self.prelu2 = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.prelu1(self.conv1(x)))
        return self.conv3(self.prelu2(torch.cat((y, x), dim=1)))
