"""Contact sheet of generated training triplets, for a person to look at, and render timings.

Each row is one triplet: frame0 | true middle frame | frame1 | flow 0→1 | valid 0→1 (white =
visible in both frames) | flow t→0 | frame1 warped back with flow 0→1 (should match frame0
where valid). Flows are coloured by direction (hue) and length (saturation, full at the row's
largest flow, printed in the row's label).

    .venv/bin/python bench/render_samples.py                      # synthetic + layered
    .venv/bin/python bench/render_samples.py --kind synthetic --rows 12 --seed 3

Writes out/training_samples_<kind>.png (out/ is git-ignored) and prints ms per triplet.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from animeinterp_cli.training.dataset import TripletDataset
from models.ops import backward_warp

REPO = Path(__file__).resolve().parents[1]
MATERIAL = REPO.parent / "shared" / "training"


def flow_to_colour(flow: np.ndarray, longest: float) -> np.ndarray:
    """(2, H, W) flow → (H, W, 3) uint8 RGB: hue = direction, saturation = length / ``longest``."""
    angle = np.arctan2(flow[1], flow[0])
    length = np.hypot(flow[0], flow[1])
    hsv = np.stack(
        [(angle + np.pi) / (2 * np.pi) * 179, np.clip(length / max(longest, 1e-6), 0, 1) * 255, np.full_like(length, 255)],
        axis=-1,
    ).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def row_image(triplet) -> np.ndarray:
    """The row of tiles described in the module docstring, with a label."""
    longest = float(max(np.hypot(*triplet.flow01).max(), np.hypot(*triplet.flow_t0).max()))
    to_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float()  # noqa: E731
    warped = backward_warp(to_tensor(triplet.frame1).permute(2, 0, 1)[None], to_tensor(triplet.flow01)[None])
    warped = warped[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    valid = np.repeat(triplet.valid01[..., None].astype(np.uint8) * 255, 3, axis=2)
    tiles = [
        triplet.frame0,
        triplet.frame_t,
        triplet.frame1,
        flow_to_colour(triplet.flow01, longest),
        valid,
        flow_to_colour(triplet.flow_t0, longest),
        warped,
    ]
    row = np.concatenate([np.pad(tile, ((0, 0), (0, 4), (0, 0)), constant_values=255) for tile in tiles], axis=1)
    label = f"{triplet.source}  t={triplet.t:.2f}  max flow {longest:.0f}px  valid {triplet.valid01.mean():.0%}"
    row = np.pad(row, ((18, 4), (0, 0), (0, 0)), constant_values=255)
    cv2.putText(row, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="mix", choices=["synthetic", "layered", "mix"])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    real_dir = MATERIAL if MATERIAL.is_dir() and args.kind != "synthetic" else None
    started = time.perf_counter()
    dataset = TripletDataset(args.kind, (args.size, args.size), seed=args.seed, real_dir=real_dir)
    if real_dir is not None:
        dataset.triplet(0)  # loads the material once, outside the timing
    print(f"data set ready in {time.perf_counter() - started:.1f} s (material: {real_dir})")
    rows, timings = [], []
    for index in range(args.rows):
        started = time.perf_counter()
        triplet = dataset.triplet(index)
        timings.append(time.perf_counter() - started)
        rows.append(row_image(triplet))
    out = REPO / "out" / f"training_samples_{args.kind}.png"
    out.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    print(f"{np.mean(timings) * 1000:.0f} ms per {args.size}x{args.size} triplet (mean of {len(timings)}); wrote {out}")


if __name__ == "__main__":
    main()
