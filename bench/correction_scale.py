"""How a checkpoint's learned correction fares at several strengths, against classic, per triplet.

    .venv/bin/python bench/correction_scale.py runs/guided_mix2/last.pt [--scales 1 0.5 0.3 0.25]

Loads what ``animeinterp train export`` would ship from the checkpoint (a run's ``last.pt``:
its moving average; a shipped file in ``weights/``: with its export scale undone, as trained),
multiplies the correction by each scale (:meth:`models.animeinterp.AnimeInterp.scale_correction`,
exact: the last layer is linear) and validates it as the training run does
(:mod:`animeinterp_cli.training.validation`: the 12 sample triplets at t = ½ from their DIS
flows, uint8 PSNR) against the classic method on the same inputs. Prints, per scale, the mean
gain over classic, the worst triplet's gain (and which), the mean gain on the large-motion
triplets, and whether the issue's per-triplet floor (−0.1 dB) holds; then the largest scale
that keeps the floor. This is the sweep ``train export --correction-scale`` is chosen from:
note that it is chosen on the same triplets that measure the bar. ``--disagreement-gate T`` tries the network with that gate,
``--correction-downscale K`` with its correction computed at 1/K resolution, ``--border-fade N``
with its correction faded out over N pixels at the frame's edges (all
``models.animeinterp.WEIGHTLESS_SYNTHESIS_SETTINGS``: they have no weights).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from animeinterp_cli.training.dataset import VALIDATION_TRIPLETS  # noqa: E402
from animeinterp_cli.training.export import shippable_model, undo_export_scale  # noqa: E402
from animeinterp_cli.training.residual import MAX_TRIPLET_LOSS_DB  # noqa: E402
from animeinterp_cli.training.validation import load_validation, validate  # noqa: E402
from models.animeinterp import synthesis_settings, with_synthesis  # noqa: E402
from models.classic import ClassicInterpolator  # noqa: E402


def large_motion(name: str, folder: Path) -> bool:
    meta = folder / name / "meta.json"
    return meta.is_file() and bool(json.loads(meta.read_text()).get("large_motion"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.75, 0.5, 0.4, 0.3, 0.25])
    parser.add_argument("--triplets", type=Path, default=VALIDATION_TRIPLETS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--disagreement-gate", type=float, help="try the network with this gate threshold")
    parser.add_argument("--correction-downscale", type=int, help="try the network's correction at 1/K resolution")
    parser.add_argument("--border-fade", type=int, help="try the network with its correction faded out over N px at the edges")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    trained = shippable_model(args.checkpoint)
    exported = undo_export_scale(trained, args.checkpoint)
    if exported != 1.0:
        print(f"{args.checkpoint} was exported with its correction ×{exported}: undone, the scales below are of the trained one")
    settings = synthesis_settings(disagreement_gate=args.disagreement_gate, correction_downscale=args.correction_downscale,
                                  border_fade=args.border_fade)
    if settings:
        trained = with_synthesis(trained, **settings).eval()
        print("with " + ", ".join(f"{name} = {value}" for name, value in settings.items()))
    triplets = load_validation(args.triplets, trained.size_multiple)
    classic = validate(ClassicInterpolator(), triplets).per_triplet
    large = [name for name in classic if large_motion(name, args.triplets)]
    print(f"{len(triplets)} triplets ({len(large)} large motion); classic mean {np.mean(list(classic.values())):.3f} dB")
    print(f"{'scale':>6} {'mean':>8} {'gain':>7} {'worst':>7}  {'worst triplet':34} {'large':>7}  floor")
    kept = []
    for scale in args.scales:
        model = copy.deepcopy(trained)
        model.scale_correction(scale)
        psnr = validate(model, triplets).per_triplet
        gains = {name: psnr[name] - classic[name] for name in classic}
        worst = min(gains, key=gains.__getitem__)
        floor = gains[worst] >= -MAX_TRIPLET_LOSS_DB
        kept += [scale] if floor else []
        print(f"{scale:6.2f} {np.mean(list(psnr.values())):8.3f} {np.mean(list(gains.values())):+7.3f} "
              f"{gains[worst]:+7.3f}  {worst:34} {np.mean([gains[n] for n in large]):+7.3f}  {'yes' if floor else 'no'}")
    print(f"largest scale within {MAX_TRIPLET_LOSS_DB} dB of classic on every triplet: "
          + (f"{max(kept)}" if kept else "none of those tried"))


if __name__ == "__main__":
    main()
