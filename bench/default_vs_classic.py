"""The learned default against the classic method, through `animeinterp frames`, on the sample triplets.

    .venv/bin/python bench/default_vs_classic.py [--weights-dir DIR] [--sides OUT_DIR] [--precision fp32]

For each triplet of ``../shared/samples/triplets`` the command ``animeinterp frames IN OUT``
runs on its frame1 and frame3 once **with no flags** (what a user gets: the default weights
of ``weights/``, or of ``--weights-dir`` given as ``ANIMEINTERP_WEIGHTS``) and once with
``--model classic``; the middle output frame is scored against frame2 (standard protocol:
uint8 PSNR). Prints both per triplet, the mean, the worst per-triplet difference, the mean
over the large-motion triplets (``large_motion`` in their meta.json), and the issue's bar:
mean ≥ classic + 0.4 dB, no triplet worse by more than 0.1 dB, better on large motion.
``--sides DIR`` writes frame1 | classic | default | truth side by side for the large-motion
triplets (PNG). ``--precision P`` passes ``--precision P`` to both runs (without it the tool
decides: bf16 on CPUs with AMX, fp32 on others, so the figures can differ by machine).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from animeinterp_cli.benchmark import metrics  # noqa: E402
from animeinterp_cli.benchmark.datasets import find_dataset, load_frames  # noqa: E402

DEFAULT_TRIPLETS = Path(__file__).resolve().parents[2] / "shared" / "samples" / "triplets"
BAR_MEAN_GAIN, BAR_WORST = 0.4, -0.1


def run_frames(frame0: np.ndarray, frame1: np.ndarray, extra: list[str], tmp: Path) -> tuple[np.ndarray, str]:
    """The middle frame `animeinterp frames` makes from two frames, and its summary line."""
    import contextlib
    import io

    from animeinterp_cli.cli import app

    source, target = Path(tempfile.mkdtemp(dir=tmp)), Path(tempfile.mkdtemp(dir=tmp)) / "out"
    for name, frame in (("a.png", frame0), ("b.png", frame1)):
        cv2.imwrite(str(source / name), frame[..., ::-1])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        app(["frames", str(source), str(target), *extra], standalone_mode=False)
    outputs = sorted(target.glob("*.png"))
    if len(outputs) != 3:
        raise SystemExit(f"expected 3 output frames, got {len(outputs)}: {err.getvalue()[-2000:]}")
    lines = err.getvalue().strip().splitlines()
    return cv2.imread(str(outputs[1]))[..., ::-1], lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=Path, default=DEFAULT_TRIPLETS)
    parser.add_argument("--weights-dir", type=Path, help="evaluate this weights folder as the default (a candidate)")
    parser.add_argument("--sides", type=Path, help="write side-by-side PNGs of the large-motion triplets here")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=["fp32", "bf16"], help="pass --precision to both runs")
    args = parser.parse_args()
    flags = ["--precision", args.precision] if args.precision else []
    if args.weights_dir:
        os.environ["ANIMEINTERP_WEIGHTS"] = str(args.weights_dir.resolve())
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, triplet in enumerate(find_dataset(args.triplets).triplets):
            frame0, truth, frame1 = load_frames(triplet)
            default, summary = run_frames(frame0, frame1, (["-q"] if index else []) + flags, Path(tmp))
            if index == 0:
                print(f"{' '.join(flags) or 'no flags'}: {summary}")
            classic, _ = run_frames(frame0, frame1, ["-q", "--model", "classic", *flags], Path(tmp))
            meta_file = triplet.frames[0].parent / "meta.json"
            meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
            scores = {name: metrics.score("standard", image.astype(np.float32) / 255, truth).psnr
                      for name, image in (("default", default), ("classic", classic))}
            rows.append({"name": triplet.name, "large": bool(meta.get("large_motion")), **scores})
            if args.sides and rows[-1]["large"]:
                args.sides.mkdir(parents=True, exist_ok=True)
                side = np.concatenate((frame0, classic, default, truth), axis=1)
                cv2.imwrite(str(args.sides / f"{triplet.name}.png"), side[..., ::-1])
    print(f"{'triplet':<40}{'classic':>9}{'default':>9}{'diff':>8}")
    for row in rows:
        mark = " (large motion)" if row["large"] else ""
        print(f"{row['name']:<40}{row['classic']:>9.3f}{row['default']:>9.3f}{row['default'] - row['classic']:>+8.3f}{mark}")
    gains = np.array([r["default"] - r["classic"] for r in rows])
    large = np.array([r["default"] - r["classic"] for r in rows if r["large"]])
    mean_classic, mean_default = np.mean([r["classic"] for r in rows]), np.mean([r["default"] for r in rows])
    print(f"mean PSNR: classic {mean_classic:.3f} dB, default {mean_default:.3f} dB ({gains.mean():+.3f} dB); "
          f"better on {int((gains > 0).sum())} of {len(rows)}; worst triplet {gains.min():+.3f} dB; "
          f"large motion ({len(large)}): {large.mean():+.3f} dB")
    verdicts = [
        (f"mean ≥ classic + {BAR_MEAN_GAIN} dB", gains.mean() >= BAR_MEAN_GAIN),
        (f"no triplet worse than classic by more than {-BAR_WORST} dB", gains.min() >= BAR_WORST),
        ("better than classic on the large-motion triplets", large.mean() > 0),
    ]
    for text, ok in verdicts:
        print(f"  {'met' if ok else 'NOT met'}: {text}")


if __name__ == "__main__":
    main()
