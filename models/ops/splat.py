"""Forward splatting in pure PyTorch (any device, fp32 accumulation).

Each source pixel (x, y) of ``values`` moves to (x + u, y + v) where (u, v) = ``flow[:, :, y, x]``
and is spread bilinearly over the four integer pixels around that target: north-west
(x0, y0) gets (1−ax)(1−ay), north-east ax(1−ay), south-west (1−ax)ay, south-east ax·ay, with
x0 = x + floor(u), ax = u − floor(u) (likewise y: the weights come from the flow's own
fractional part, exact at any width). Corners outside the image are dropped and the
remaining weights are *not* renormalised. Non-finite flow vectors move nothing.

Modes:
- ``"sum"``: the plain sums Σ wᵢvᵢ (mass is conserved for flows that stay inside the image).
- ``"avg"``: Σ wᵢvᵢ / Σ wᵢ where Σ wᵢ > 0, exactly 0 in holes, no epsilon. This is the
  "average splatting" of the released AnimeInterp code.
- ``"soft"``: softmax splatting: Σ e^{mᵢ} wᵢ vᵢ / Σ e^{mᵢ} wᵢ with an importance ``metric`` m
  (B, 1, H, W); where several sources land on one pixel the higher metric wins. Holes are 0.

Accumulation is fp32 whatever the input dtype; the result is returned in fp32, laid out
channels-last (pixel-major rows scatter faster than channel planes; values are unchanged).
"""

from __future__ import annotations

from typing import Literal, overload

import torch

SPLAT_MODES = ("sum", "avg", "soft")


@overload
def forward_splat(
    values: torch.Tensor, flow: torch.Tensor, mode: str = ..., metric: torch.Tensor | None = ...,
    *, return_weight: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def forward_splat(
    values: torch.Tensor, flow: torch.Tensor, mode: str = ..., metric: torch.Tensor | None = ...,
    *, return_weight: Literal[True],
) -> tuple[torch.Tensor, torch.Tensor]: ...


def forward_splat(
    values: torch.Tensor,
    flow: torch.Tensor,
    mode: str = "avg",
    metric: torch.Tensor | None = None,
    *,
    return_weight: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Forward-splat ``values`` (B, C, H, W) along ``flow`` (B, 2, H, W), in pixels.

    Returns the splatted (B, C, H, W) fp32 tensor; with ``return_weight=True`` also the
    (B, 1, H, W) coverage Σ wᵢ, the plain bilinear weight that reached each pixel whatever
    the mode (0 in holes, about 1 where one source pixel landed).
    """
    if mode not in SPLAT_MODES:
        raise ValueError(f"unknown splat mode {mode!r}; choose one of {SPLAT_MODES}")
    if mode == "soft" and metric is None:
        raise ValueError("softmax splatting needs an importance metric")
    b, c, h, w = values.shape
    if flow.shape != (b, 2, h, w):
        raise ValueError(f"flow shape {tuple(flow.shape)} does not match values {tuple(values.shape)}")

    with torch.autocast(values.device.type, enabled=False):
        # pixels-major layout (B, H·W, C): each scattered row is contiguous, which is faster
        # than scattering channel planes, and is a free view of a channels-last input
        rows = values.float().permute(0, 2, 3, 1).reshape(b, h * w, c)
        flow = flow.float()
        if mode == "soft":
            assert metric is not None  # checked above
            m = metric.float()
            # subtract the per-image maximum: exp cannot overflow, the ratio is unchanged
            m = m - m.amax(dim=(1, 2, 3), keepdim=True).detach()
            importance = torch.exp(m).reshape(b, h * w, 1)
            rows = rows * importance
        else:
            importance = None

        # per source pixel: the four target corners and their bilinear weights. The corner is
        # the integer pixel plus floor(u), the weight u − floor(u), both from the flow itself
        # (as the released code does): x + u in float32 would round the column away at large
        # x (at 4K width a float32 step is 2⁻¹², a 1e-4 weight error) before taking its floor
        finite = torch.isfinite(flow).all(dim=1)
        # a vector past the image's size lands outside wherever it starts: clamping it there
        # keeps the integer conversion in range and still drops every corner
        limit = float(max(h, w) + 2)
        u = torch.where(finite, flow[:, 0], torch.full_like(flow[:, 0], -limit)).clamp(-limit, limit)
        v = torch.where(finite, flow[:, 1], torch.full_like(flow[:, 1], -limit)).clamp(-limit, limit)
        floor_u, floor_v = torch.floor(u), torch.floor(v)
        ax = (u - floor_u).reshape(b, h * w, 1)
        ay = (v - floor_v).reshape(b, h * w, 1)
        ys, xs = torch.meshgrid(
            torch.arange(h, device=flow.device), torch.arange(w, device=flow.device), indexing="ij"
        )
        x0 = (xs + floor_u.long()).reshape(b, h * w, 1)
        y0 = (ys + floor_v.long()).reshape(b, h * w, 1)

        out = rows.new_zeros(b, h * w, c)
        weight_map = rows.new_zeros(b, h * w, 1) if (mode != "sum" or return_weight) else None
        # softmax splatting normalises by Σ e^{mᵢ}wᵢ, but reports the plain coverage Σ wᵢ
        coverage = rows.new_zeros(b, h * w, 1) if (mode == "soft" and return_weight) else weight_map
        for dx, dy, weight in (
            (0, 0, (1 - ax) * (1 - ay)),
            (1, 0, ax * (1 - ay)),
            (0, 1, (1 - ax) * ay),
            (1, 1, ax * ay),
        ):
            cx, cy = x0 + dx, y0 + dy
            inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
            index = torch.where(inside, cy * w + cx, torch.zeros_like(cx))
            weight = torch.where(inside, weight, torch.zeros_like(weight))
            out.scatter_add_(1, index.expand(b, h * w, c), rows * weight)
            if weight_map is not None:
                weight_map.scatter_add_(1, index, weight if importance is None else weight * importance)
            if coverage is not None and coverage is not weight_map:
                coverage.scatter_add_(1, index, weight)

        if weight_map is not None and mode != "sum":
            # a hole has Σwᵢ = 0, so every wᵢ and the value sum are 0 there: multiplying by 0
            # instead of dividing leaves it exactly 0 (no epsilon anywhere)
            covered = weight_map > 0
            safe = torch.where(covered, weight_map, torch.ones_like(weight_map))
            out = out * torch.where(covered, 1 / safe, torch.zeros_like(weight_map))
        # back to (B, C, H, W) as a channels-last view
        result = out.view(b, h, w, c).permute(0, 3, 1, 2)
    if return_weight:
        assert coverage is not None  # made whenever the weight is asked for
        return result, coverage.view(b, h, w, 1).permute(0, 3, 1, 2)
    return result
