"""Where along the frame's bottom edge a checkpoint's correction loses to classic, with and without the pad.

    .venv/bin/python bench/edge_bands.py CHECKPOINT [--triplet bbb_vfi_test_360p_0116] [--border-fade N]

Loads the network as ``bench/correction_scale.py`` does (its export scale undone; without
``--border-fade`` none), interpolates one sample triplet at t = ½ from its DIS flows, as
validation does, and classic on the same inputs, on the whole frame and on crops of it: the
top 8 rows cut off (the same bottom edge, 8 rows shorter), the bottom 8 cut off, and 4 or 12
off the top. A crop changes the pad the correction's inputs get at the bottom (to a multiple of
:attr:`models.animeinterp.AnimeInterp.correction_multiple`), so comparing them separates what
the pad costs from what the frame's edge itself costs. Per crop: the PSNR gain over classic
and, for the bottom 48 rows in 8-row bands (bottom first), the mean squared error (uint8-rounded
output, RGB in [0, 1]) minus classic's, ×1e5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from animeinterp_cli.training.dataset import VALIDATION_TRIPLETS  # noqa: E402
from animeinterp_cli.training.export import shippable_model, undo_export_scale  # noqa: E402
from animeinterp_cli.training.validation import dis_guidance, load_validation  # noqa: E402
from models.animeinterp import with_synthesis  # noqa: E402
from models.classic import ClassicInterpolator  # noqa: E402
from models.interpolator import FrameInterpolator, to_uint8_frames  # noqa: E402

BAND = 8
#: (rows cut off the top, rows cut off the bottom)
CROPS = ((0, 0), (8, 0), (0, 8), (4, 0), (12, 0))


@torch.no_grad()
def interpolate(model: FrameInterpolator, img0: torch.Tensor, img1: torch.Tensor) -> np.ndarray:
    """The middle frame (H, W, 3) in [0, 1], rounded to uint8 levels, from the pair's DIS flows."""
    flow01, flow10 = dis_guidance(img0, img1)
    motion = model.estimate(img0, img1, flow01, flow10)
    return to_uint8_frames(model.synthesize(img0, img1, motion, torch.full((1,), 0.5)))[0] / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--triplet", default="bbb_vfi_test_360p_0116", help="a sample triplet's name, or its start")
    parser.add_argument("--triplets", type=Path, default=VALIDATION_TRIPLETS)
    parser.add_argument("--border-fade", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    model = shippable_model(args.checkpoint)
    undo_export_scale(model, args.checkpoint)
    model = with_synthesis(model, border_fade=args.border_fade).eval()
    matches = [t for t in load_validation(args.triplets, 1) if t.name.startswith(args.triplet)]
    if not matches:
        sys.exit(f"no sample triplet named {args.triplet}*")
    triplet = matches[0]
    height = triplet.size[0]
    truth = triplet.middle / 255  # uint8 (H, W, 3)
    print(f"{triplet.name} ({triplet.size[1]}x{height}), border fade {args.border_fade}")
    for top, bottom in CROPS:
        rows = slice(top, height - bottom)
        img0, img1, middle = triplet.img0[..., rows, :], triplet.img1[..., rows, :], truth[rows]
        errors = [((interpolate(m, img0, img1) - middle) ** 2).mean(axis=(1, 2)) for m in (model, ClassicInterpolator())]
        gain = 10 * np.log10(errors[1].mean() / errors[0].mean())
        excess = errors[0] - errors[1]
        n = len(excess)
        bands = [excess[n - k - BAND : n - k].mean() * 1e5 for k in range(0, 6 * BAND, BAND)]
        print(f"rows {top}:{height - bottom} ({n} rows, pad {(-n) % model.correction_multiple:2d}): "
              f"gain {gain:+.3f} dB; bottom bands " + " ".join(f"{b:+7.2f}" for b in bands))


if __name__ == "__main__":
    main()
