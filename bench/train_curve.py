"""Plot a training run's curves (losses, validation PSNR) and print its validation history.

    .venv/bin/python bench/train_curve.py runs/default [--png runs/default/curve.png]

Reads ``RUN/log.jsonl`` (written by ``animeinterp train``) and draws the validation PSNR
against the reference methods' mean PSNR on the same sample triplets (standard protocol),
measured by ``bench/quality.py``: pass them with ``--reference NAME=DB`` (repeatable).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from animeinterp_cli.training.curve import plot_curves, read_log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder holding log.jsonl")
    parser.add_argument("--png", type=Path, default=None, help="output PNG (default RUN/curve.png)")
    parser.add_argument("--reference", action="append", default=[], metavar="NAME=DB",
                        help="a dashed reference line on the validation panel, e.g. classic=24.32")
    args = parser.parse_args()
    references = {}
    for item in args.reference:
        name, _, value = item.partition("=")
        try:
            references[name] = float(value)
        except ValueError:
            parser.error(f"--reference wants NAME=DB, got {item!r}")
    log = args.run / "log.jsonl"
    if not log.is_file():
        parser.error(f"no log.jsonl in {args.run}")
    png = args.png or args.run / "curve.png"
    plot_curves(log, png, references)
    records = read_log(log)
    for record in records:
        if "val_psnr" in record:
            print(f"step {record['step']:5d}  validation PSNR {record['val_psnr']:.3f} dB  SSIM {record.get('val_ssim', float('nan')):.4f}")
    last = next((r for r in reversed(records) if "loss" in r), None)
    if last:
        print(f"last logged step {last['step']}, {last['elapsed_s'] / 60:.1f} min of training")
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
