"""Forward splatting in pure PyTorch (any device, fp32 accumulation).

Each source pixel (x, y) of ``values`` moves to (x + u, y + v) where (u, v) = ``flow[:, :, y, x]``
and is spread bilinearly over the four integer pixels around that target: north-west
(x0, y0) gets (1−ax)(1−ay), north-east ax(1−ay), south-west (1−ax)ay, south-east ax·ay, with
x0 = floor(tx), ax = tx − x0 (likewise y). Corners outside the image are dropped and the
remaining weights are *not* renormalised. Non-finite flow vectors move nothing.

Modes:
- ``"sum"``: the plain sums Σ wᵢvᵢ (mass is conserved for flows that stay inside the image).
- ``"avg"``: Σ wᵢvᵢ / Σ wᵢ where Σ wᵢ > 0, exactly 0 in holes, no epsilon. This is the
  "average splatting" of the released AnimeInterp code.
- ``"soft"``: softmax splatting: Σ e^{mᵢ} wᵢ vᵢ / Σ e^{mᵢ} wᵢ with an importance ``metric`` m
  (B, 1, H, W); where several sources land on one pixel the higher metric wins. Holes are 0.

Accumulation is fp32 whatever the input dtype; the result is returned in fp32.
"""

from __future__ import annotations

import torch

SPLAT_MODES = ("sum", "avg", "soft")


def forward_splat(
    values: torch.Tensor,
    flow: torch.Tensor,
    mode: str = "avg",
    metric: torch.Tensor | None = None,
    *,
    return_weight: bool = False,
):
    """Forward-splat ``values`` (B, C, H, W) along ``flow`` (B, 2, H, W), in pixels.

    Returns the splatted (B, C, H, W) fp32 tensor; with ``return_weight=True`` also the
    (B, 1, H, W) splatted weight map (Σ wᵢ for "sum"/"avg", Σ e^{mᵢ}wᵢ for "soft"), which
    tells holes (0) from covered pixels.
    """
    if mode not in SPLAT_MODES:
        raise ValueError(f"unknown splat mode {mode!r}; choose one of {SPLAT_MODES}")
    if mode == "soft" and metric is None:
        raise ValueError("softmax splatting needs an importance metric")
    b, c, h, w = values.shape
    if flow.shape != (b, 2, h, w):
        raise ValueError(f"flow shape {tuple(flow.shape)} does not match values {tuple(values.shape)}")

    with torch.autocast(values.device.type, enabled=False):
        values = values.float()
        flow = flow.float()
        if mode == "soft":
            m = metric.float()
            # subtract the per-image maximum: exp cannot overflow, the ratio is unchanged
            m = m - m.amax(dim=(1, 2, 3), keepdim=True).detach()
            importance = torch.exp(m)
            values = torch.cat((values * importance, importance), dim=1)
        elif mode == "avg":
            values = torch.cat((values, torch.ones_like(values[:, :1])), dim=1)
        channels = values.shape[1]

        ys, xs = torch.meshgrid(
            torch.arange(h, device=flow.device, dtype=torch.float32),
            torch.arange(w, device=flow.device, dtype=torch.float32),
            indexing="ij",
        )
        tx = (xs + flow[:, 0]).reshape(b, -1)
        ty = (ys + flow[:, 1]).reshape(b, -1)
        finite = torch.isfinite(tx) & torch.isfinite(ty)
        tx = torch.where(finite, tx, torch.full_like(tx, -2.0))
        ty = torch.where(finite, ty, torch.full_like(ty, -2.0))
        x0 = torch.floor(tx)
        y0 = torch.floor(ty)
        ax = tx - x0
        ay = ty - y0

        corners = (
            (x0, y0, (1 - ax) * (1 - ay)),
            (x0 + 1, y0, ax * (1 - ay)),
            (x0, y0 + 1, (1 - ax) * ay),
            (x0 + 1, y0 + 1, ax * ay),
        )
        flat_values = values.reshape(b, channels, h * w)
        out = values.new_zeros(b, channels, h * w)
        for cx, cy, weight in corners:
            inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
            index = torch.where(inside, cy * w + cx, torch.zeros_like(cx)).long()
            weight = torch.where(inside, weight, torch.zeros_like(weight))
            out.scatter_add_(
                2,
                index.unsqueeze(1).expand(b, channels, h * w),
                flat_values * weight.unsqueeze(1),
            )
        out = out.view(b, channels, h, w)

        if mode == "sum":
            result = out
            weight_map = None
        else:
            result, weight_map = out[:, :-1], out[:, -1:]
            covered = weight_map > 0
            result = torch.where(covered, result / torch.where(covered, weight_map, torch.ones_like(weight_map)), torch.zeros_like(result))
    if return_weight:
        if weight_map is None:
            weight_map = forward_splat(torch.ones_like(values[:, :1]), flow, "sum")
        return result, weight_map
    return result
