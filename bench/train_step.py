"""Samples per second of one training step of the learned default's residual synthesis stage.

    .venv/bin/python bench/train_step.py --cache cache/residual [--batch-size 8 --crop 192 --threads 1]
                                         [--correction-downscale 2] [--error-inputs]

Reads windows from a training cache (``animeinterp train prepare``), then times ``--steps``
optimisation steps after ``--warmup`` and prints samples/s with where the time goes: loading
the batch from the memory-mapped cache, forward (feature pyramid, feature splatting, GridNet),
backward and the optimizer.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from animeinterp_cli.training.cache import CachedTriplets, CacheSettings, open_cache  # noqa: E402
from animeinterp_cli.training.residual import _batches, residual_step, trainable_parameters  # noqa: E402
from models.animeinterp import AnimeInterp  # noqa: E402
from models.config import AnimeInterpConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=192)
    parser.add_argument("--margin", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--correction-downscale", type=int, help="the network's correction at 1/K resolution "
                                                                  "(default: the learned default's)")
    parser.add_argument("--error-inputs", action="store_true", help="the network also sees the splatted errors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = AnimeInterpConfig.guided()
    downscale = args.correction_downscale or config.synthesis.correction_downscale
    synthesis = replace(config.synthesis, correction_downscale=downscale, error_inputs=args.error_inputs)
    model = AnimeInterp(replace(config, synthesis=synthesis)).train()
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=1e-4)
    dataset = CachedTriplets(open_cache(args.cache, CacheSettings.of(model)), args.crop, args.margin)
    batches = _batches(dataset, args.batch_size, 0, seed=0)
    totals = {"load": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    for step in range(args.warmup + args.steps):
        ticks = [time.perf_counter()]
        batch = next(batches)
        ticks.append(time.perf_counter())
        loss = residual_step(model, batch)
        ticks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ticks.append(time.perf_counter())
        optimizer.step()
        ticks.append(time.perf_counter())
        if step >= args.warmup:
            for key, start, end in zip(totals, ticks, ticks[1:]):
                totals[key] += end - start
    total = sum(totals.values())
    samples = args.steps * args.batch_size
    window = args.crop + 2 * args.margin
    print(f"{samples / total:.2f} samples/s ({args.batch_size} × {window}² windows, loss on {args.crop}², "
          f"{args.threads} thread(s), {total / args.steps:.3f} s per step; "
          f"{sum(p.numel() for p in model.parameters())} parameters)")
    for key, value in totals.items():
        print(f"  {key:<9} {value / args.steps:.3f} s per step ({100 * value / total:.0f} %)")


if __name__ == "__main__":
    main()
