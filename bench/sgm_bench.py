"""Speed and quality figures of Segment-Guided Matching (models/sgm). Prints; not a test.

    .venv/bin/python bench/sgm_bench.py                 # everything, colour descriptor
    .venv/bin/python bench/sgm_bench.py --set dis_finest_scale=0 --set dis_variational_iterations=25
    .venv/bin/python bench/sgm_bench.py --vgg-random     # also time the VGG-19 descriptor (random weights)

1. Speed: wall seconds per pair, end to end and per stage (median of --repeat runs), on a
   rendered cartoon pair and a real frame pair at 960×540, and on 1920×1080 input (default
   working size, and working size 1920×1080).
2. Rendered cartoon pairs with known motion: share of shapes matched, share matched to the
   right shape, and end-point error inside correctly matched shapes; translation only, and
   translation + rotation + scaling; flat and gradient backgrounds.
3. Real triplets in ../shared/samples/triplets (frame1 → frame3): share of pixels with an SGM
   flow and the median disagreement with OpenCV DIS (MEDIUM preset) where SGM has a flow.
   Flow pictures of two triplets go to --out (git-ignored out/ by default).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "models" / "sgm"))  # the cartoon renderer the tests use

from sgm_cartoons import render_pair, shape_report  # noqa: E402

from models.sgm import SGMConfig, sgm_flows  # noqa: E402
from models.sgm.sgm import STAGES  # noqa: E402

TRIPLETS = REPO.parent / "shared" / "samples" / "triplets"
PICTURED = ("onepiece_demo_0106-0109-0112", "lvcd_sample_2_0045-0046-0047")


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def flow_picture(flow: np.ndarray, valid: np.ndarray | None, scale: float) -> np.ndarray:
    """(H, W, 3) uint8 RGB: hue = direction, brightness = length / scale; grey where invalid."""
    magnitude, angle = cv2.cartToPolar(flow[0].astype(np.float32), flow[1].astype(np.float32))
    hsv = np.zeros(flow.shape[1:] + (3,), np.uint8)
    hsv[..., 0] = (angle * 90 / np.pi).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / max(scale, 1e-6) * 255, 0, 255).astype(np.uint8)
    picture = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if valid is not None:
        picture[~valid] = 96
    return picture


def dis_reference(frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frame0, frame1)]
    return dis.calc(gray[0], gray[1], None).transpose(2, 0, 1)


def timed(frame0, frame1, config, repeat):
    """Median wall seconds (total, per stage) over ``repeat`` runs after one warm-up."""
    sgm_flows(frame0, frame1, config)
    totals, stages = [], {name: [] for name in STAGES}
    cpu = []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = sgm_flows(frame0, frame1, config)
        totals.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        for name in STAGES:
            stages[name].append(result.timings[name])
    stage_text = "  ".join(f"{name} {statistics.median(values):.3f}" for name, values in stages.items())
    return statistics.median(totals), statistics.median(cpu), stage_text, result.descriptor


def speed(config, repeat, first_only=False):
    print(f"\n## speed (median of {repeat}; wall s; cpu = process CPU s, both cores count)")
    rng = np.random.default_rng(7)
    cartoon = render_pair(rng, shapes=8)
    cases = [("cartoon 960x540", cartoon.frame0, cartoon.frame1, config)]
    onepiece = TRIPLETS / PICTURED[0]
    if onepiece.is_dir():
        real = [cv2.resize(read_rgb(onepiece / f"frame{i}.png"), (960, 540), interpolation=cv2.INTER_LINEAR) for i in (1, 3)]
        cases.append(("onepiece 960x540", *real, config))
    big = render_pair(np.random.default_rng(8), 1920, 1080, shapes=8, max_shift=300, radius_range=(56, 120))
    cases.append(("cartoon 1920x1080 (work 960x540)", big.frame0, big.frame1, config))
    anidoc = TRIPLETS / "anidoc_sample3_0007-0008-0009"
    if anidoc.is_dir():
        real = [read_rgb(anidoc / f"frame{i}.png") for i in (1, 3)]
        cases.append(("anidoc 1920x1080 (work 960x540)", *real, config))
    full = dataclasses.replace(config, working_size=(1920, 1080))
    cases.append(("cartoon 1920x1080 (work 1920x1080)", big.frame0, big.frame1, full))
    huge = [np.repeat(np.repeat(frame, 2, 0), 2, 1) for frame in (big.frame0, big.frame1)]
    cases.append(("cartoon 3840x2160 (work 960x540)", *huge, config))
    grain = [rng.integers(0, 256, (540, 960, 3), dtype=np.uint8) for _ in range(2)]
    cases.append(("film grain 960x540 (worst case)", *grain, config))
    for name, frame0, frame1, case_config in cases[:1] if first_only else cases:
        total, cpu, stage_text, descriptor = timed(frame0, frame1, case_config, repeat)
        print(f"{name:36s} total {total:.3f}  cpu {cpu:.3f}  [{descriptor}]  {stage_text}")


def cartoons(config, pairs):
    print(f"\n## rendered cartoon pairs ({pairs} per row; shapes matched / correct, EPE px in correct shapes)")
    rng = np.random.default_rng(2024)
    for motion in ("translation", "translation+rotation+scale"):
        for gradient in (False, True):
            reports = []
            for _ in range(pairs):
                if motion == "translation":
                    pair = render_pair(rng, max_rotation=0, scale_range=(1, 1), gradient=gradient)
                else:
                    pair = render_pair(rng, gradient=gradient)
                result = sgm_flows(pair.frame0, pair.frame1, config)
                reports.append(shape_report(pair, result.flow01, result.valid01))
            shapes = sum(r["shapes"] for r in reports)
            matched = sum(r["matched"] for r in reports) / shapes
            correct = sum(r["correct"] for r in reports) / shapes
            errors = [r["epe"] for r in reports if r["correct"]]
            background = "gradient" if gradient else "flat"
            print(f"{motion:28s} {background:8s} matched {matched:6.1%}  correct {correct:6.1%}  "
                  f"EPE mean {np.mean(errors):.2f}  worst pair {np.max(errors):.2f}")


def real_triplets(config, out: Path):
    if not TRIPLETS.is_dir():
        print("\n(no ../shared/samples/triplets: real-triplet section skipped)")
        return
    print("\n## real triplets, frame1 → frame3 (SGM vs OpenCV DIS MEDIUM as reference)")
    out.mkdir(parents=True, exist_ok=True)
    for folder in sorted(TRIPLETS.iterdir()):
        frame0, frame1 = read_rgb(folder / "frame1.png"), read_rgb(folder / "frame3.png")
        result = sgm_flows(frame0, frame1, config)
        reference = dis_reference(frame0, frame1)
        valid = result.valid01
        disagreement = np.hypot(*(result.flow01 - reference))[valid]
        median = f"{np.median(disagreement):6.2f}" if disagreement.size else "   n/a"
        within = f"{np.mean(disagreement < 3):6.1%}" if disagreement.size else "   n/a"
        dis_length = np.median(np.hypot(*reference))
        print(f"{folder.name:38s} {frame0.shape[1]}x{frame0.shape[0]}  SGM pixels {valid.mean():6.1%}  "
              f"median |SGM−DIS| {median} px  within 3 px {within}  (median DIS length {dis_length:5.1f})")
        if folder.name in PICTURED:
            scale = float(np.percentile(np.hypot(*reference), 99)) + 1e-6
            row = np.concatenate([frame0, flow_picture(result.flow01, valid, scale), flow_picture(reference, None, scale)], 1)
            path = out / f"sgm_{folder.name}.png"
            cv2.imwrite(str(path), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
            print(f"    picture: {path}  (frame1 | SGM flow, grey = no flow | DIS flow)")


def random_vgg_file(directory: Path) -> Path:
    """A vgg19 ``features`` state dict with random values (timing only: no real weights here)."""
    import torch

    from models.sgm.descriptors import VGGFeatures

    path = directory / "vgg19-random.pth"
    torch.save({f"features.{k}": v for k, v in VGGFeatures().features.state_dict().items()}, path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=10, help="rendered pairs per row")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "sgm")
    parser.add_argument("--vgg-weights", help="torchvision vgg19 state dict: use the VGG-19 descriptor")
    parser.add_argument("--vgg-random", action="store_true", help="time the VGG-19 descriptor with random weights")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override an SGMConfig field")
    parser.add_argument("--only", choices=("speed", "cartoons", "real"), action="append")
    args = parser.parse_args()

    overrides = {}
    for item in args.set:
        field, _, value = item.partition("=")
        overrides[field] = ast.literal_eval(value)
    config = SGMConfig(descriptor="color", **overrides)
    if args.vgg_weights:
        config = dataclasses.replace(config, descriptor="vgg", vgg_weights=args.vgg_weights)
    print(f"SGMConfig overrides: {overrides or 'none'}; descriptor: {config.descriptor}; "
          f"CPU cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.2f}")
    sections = args.only or ["speed", "cartoons", "real"]
    if "speed" in sections:
        speed(config, args.repeat)
        if args.vgg_random:
            with tempfile.TemporaryDirectory() as directory:
                vgg = dataclasses.replace(config, descriptor="vgg", vgg_weights=str(random_vgg_file(Path(directory))))
                for precision in ("fp32", "bf16"):
                    print(f"-- VGG-19 descriptor, {precision} (random weights: timing only)")
                    speed(dataclasses.replace(vgg, vgg_precision=precision), 1, first_only=True)
    if "cartoons" in sections:
        cartoons(config, args.pairs)
    if "real" in sections:
        real_triplets(config, args.out)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
