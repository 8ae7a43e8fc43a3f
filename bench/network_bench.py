"""Speed and memory of the AnimeInterp network per stage, and bf16-vs-fp32 quality.

Prints, for each frame size × precision (× memory layout), the time of each stage per frame
pair (feature extractor, RFR: encoder / correlation / lookups / update steps, both
directions together) and per synthesised frame (splatting, GridNet), the output frame rate
for 2× and 4×, and the peak resident memory. Every configuration runs in its own process
so the peak memory is its own. Weights are random (paper configuration, seeded): speed does
not depend on them. 1080p runs use one refinement iteration (``--iters-large``) to keep the
run short; per-iteration cost is printed so the 12-iteration figure can be read off.

    .venv/bin/python bench/network_bench.py                      # 960x540 and 1920x1080, fp32 and bf16
    .venv/bin/python bench/network_bench.py --sizes 960x540 --precisions fp32 --channels-last both
    .venv/bin/python bench/network_bench.py --psnr                # bf16 vs fp32 on the sample triplets
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.animeinterp import AnimeInterp  # noqa: E402
from models.config import AnimeInterpConfig  # noqa: E402
from models.rfr import rfr as rfr_module  # noqa: E402

SAMPLES = REPO.parent / "shared" / "samples" / "triplets"
PSNR_TRIPLETS = ("onepiece_demo_0106-0109-0112", "lvcd_sample_1_0030-0031-0032", "bbb_vfi_test_360p_0044-0045-0046")


class StageTimer:
    """Accumulates wall time per named stage: module hooks plus wrapped functions."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._starts: dict[str, list[float]] = defaultdict(list)

    def hook(self, module: torch.nn.Module, name: str) -> None:
        module.register_forward_pre_hook(lambda *_: self._starts[name].append(time.perf_counter()))
        module.register_forward_hook(lambda *_: self._stop(name))

    def _stop(self, name: str) -> None:
        self.totals[name] += time.perf_counter() - self._starts[name].pop()

    def wrap(self, owner, attribute: str, name: str) -> None:
        function = getattr(owner, attribute)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = function(*args, **kwargs)
            self.totals[name] += time.perf_counter() - start
            return result

        setattr(owner, attribute, timed)

    def take(self) -> dict[str, float]:
        totals, self.totals = dict(self.totals), defaultdict(float)
        return totals


def autocast(precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=torch.bfloat16)


def build_model(iters: int, channels_last: bool) -> AnimeInterp:
    torch.manual_seed(0)
    paper = AnimeInterpConfig.paper()
    config = dataclasses.replace(paper, rfr=dataclasses.replace(paper.rfr, iters=iters))
    model = AnimeInterp(config).eval()
    return model.to(memory_format=torch.channels_last) if channels_last else model


def run_one(width: int, height: int, precision: str, iters: int, channels_last: bool) -> dict:
    """One configuration (in this process): warm-up pass, then a timed pass."""
    timer = StageTimer()
    model = build_model(iters, channels_last)
    timer.hook(model.feat_ext, "feature extractor")
    timer.hook(model.flownet, "RFR total")
    timer.hook(model.flownet.fnet, "RFR encoder")
    timer.hook(model.flownet.update_block, "RFR update steps")
    timer.wrap(rfr_module, "correlation_volume", "RFR correlation")
    timer.wrap(rfr_module, "correlation_pyramid", "RFR correlation")
    timer.wrap(rfr_module, "lookup_pyramid", "RFR lookups")
    timer.hook(model.splatting, "splatting")
    timer.hook(model.synnet, "GridNet")

    generator = torch.Generator().manual_seed(1)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    img0 = torch.rand(1, 3, height, width, generator=generator).contiguous(memory_format=layout)
    img1 = torch.roll(img0, shifts=(3, 7), dims=(2, 3))
    t = torch.tensor([0.5])
    results = {}
    with torch.inference_mode(), autocast(precision):
        for attempt in ("warm-up", "timed"):
            start = time.perf_counter()
            motion = model.estimate(img0, img1)
            estimate_s = time.perf_counter() - start
            start = time.perf_counter()
            model.synthesize(img0, img1, motion, t)
            synthesize_s = time.perf_counter() - start
            stages = timer.take()
            results = {"estimate": estimate_s, "synthesize": synthesize_s, **stages}
    rfr = results["RFR total"]
    results["RFR other"] = rfr - sum(
        results.get(k, 0.0) for k in ("RFR encoder", "RFR correlation", "RFR lookups", "RFR update steps")
    )
    results["scale"] = model.config.resolve_flow_scale(height, width)
    results["iters"] = iters
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def print_table(rows: list[tuple[str, dict]]) -> None:
    stages = (
        "feature extractor", "RFR encoder", "RFR correlation", "RFR lookups", "RFR update steps",
        "RFR other", "RFR total", "estimate", "splatting", "GridNet", "synthesize",
    )
    print(f"{'stage (seconds)':<22}" + "".join(f"{label:>24}" for label, _ in rows))
    for stage in stages:
        print(f"{stage:<22}" + "".join(f"{r.get(stage, 0.0):>24.3f}" for _, r in rows))
    print(f"{'RFR per iteration':<22}" + "".join(f"{r['RFR update steps'] / r['iters'] + r['RFR lookups'] / r['iters']:>24.3f}" for _, r in rows))
    print(f"{'s per frame, 2x':<22}" + "".join(f"{r['estimate'] + r['synthesize']:>24.2f}" for _, r in rows))
    print(f"{'output fps, 2x':<22}" + "".join(f"{1 / (r['estimate'] + r['synthesize']):>24.3f}" for _, r in rows))
    print(f"{'output fps, 4x':<22}" + "".join(f"{3 / (r['estimate'] + 3 * r['synthesize']):>24.3f}" for _, r in rows))
    print(f"{'peak RSS (MiB)':<22}" + "".join(f"{r['peak_rss_mb']:>24.0f}" for _, r in rows))
    print("(estimate = once per pair: feature extractor + RFR both directions; synthesize = once per"
          " output frame: splatting both frames + GridNet; 2x = one frame per pair, 4x = three)")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * math.log10(1.0 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def psnr_check() -> None:
    """bf16 autocast vs fp32 with the same (random, seeded) weights on real triplets."""
    import cv2

    model = build_model(AnimeInterpConfig.paper().rfr.iters, channels_last=False)
    print(f"{'triplet':<36}{'fp32 vs GT':>12}{'bf16 vs GT':>12}{'difference':>12}{'bf16 vs fp32':>14}")
    for name in PSNR_TRIPLETS:
        folder = SAMPLES / name
        frames = [cv2.cvtColor(cv2.imread(str(folder / f"frame{i}.png")), cv2.COLOR_BGR2RGB) for i in (1, 2, 3)]
        height, width = (s - s % 4 for s in frames[0].shape[:2])
        img0, gt, img1 = (f[:height, :width].astype(np.float32) / 255 for f in frames)
        tensors = [torch.from_numpy(f).permute(2, 0, 1)[None] for f in (img0, img1)]
        outputs = {}
        with torch.inference_mode():
            for precision in ("fp32", "bf16"):
                with autocast(precision):
                    frame = model(*tensors, t=torch.tensor([0.5]))["frame"]
                outputs[precision] = frame[0].permute(1, 2, 0).numpy()
        p32, p16 = psnr(outputs["fp32"], gt), psnr(outputs["bf16"], gt)
        print(f"{name:<36}{p32:>12.2f}{p16:>12.2f}{p16 - p32:>12.3f}{psnr(outputs['bf16'], outputs['fp32']):>14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="960x540,1920x1080")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--channels-last", choices=("no", "yes", "both"), default="no")
    parser.add_argument("--iters", type=int, default=12, help="RFR iterations up to 960x540")
    parser.add_argument("--iters-large", type=int, default=1, help="RFR iterations above 960x540")
    parser.add_argument("--psnr", action="store_true", help="only the bf16-vs-fp32 quality check")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one configuration as JSON
    args = parser.parse_args()

    if args.one:
        print(json.dumps(run_one(**json.loads(args.one))))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    if args.psnr:
        psnr_check()
        return
    layouts = {"no": (False,), "yes": (True,), "both": (False, True)}[args.channels_last]
    rows = []
    for size in args.sizes.split(","):
        width, height = (int(n) for n in size.split("x"))
        iters = args.iters if width * height <= 960 * 540 else args.iters_large
        for precision in args.precisions.split(","):
            for channels_last in layouts:
                spec = {"width": width, "height": height, "precision": precision,
                        "iters": iters, "channels_last": channels_last}
                child = subprocess.run(
                    [sys.executable, __file__, "--one", json.dumps(spec)],
                    check=True, capture_output=True, text=True,
                )
                result = json.loads(child.stdout.strip().splitlines()[-1])
                label = f"{size} {precision}{' CL' if channels_last else ''} it{iters}"
                if result["scale"] != 1:
                    label += f" fs{result['scale']:g}"
                rows.append((label, result))
                print(f"done: {label}", file=sys.stderr)
    print_table(rows)


if __name__ == "__main__":
    main()
