"""Speed and memory of the AnimeInterp network per stage, and bf16-vs-fp32 quality.

Prints, for each frame size × precision (× memory layout), the time of each stage per frame
pair (feature extractor, RFR: encoder / correlation / lookups / update steps, both
directions together) and per synthesised frame (splatting, GridNet), the output frame rate
for 2× and 4×, and the peak resident memory. Every configuration runs in its own process
so the peak memory is its own. Weights are random (paper configuration, seeded): speed does
not depend on them. 1080p runs use one refinement iteration (``--iters-large``) to keep the
run short; per-iteration cost is printed so the 12-iteration figure can be read off.

    .venv/bin/python bench/network_bench.py                      # 960x540 and 1920x1080, fp32 and bf16
    .venv/bin/python bench/network_bench.py --sizes 960x540 --precisions fp32 --layout both
    .venv/bin/python bench/network_bench.py --psnr                # bf16 vs fp32 on the sample triplets
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
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

from models import animeinterp as animeinterp_module  # noqa: E402
from models.animeinterp import AnimeInterp  # noqa: E402
from models.config import AnimeInterpConfig  # noqa: E402
from models.ops.splat import forward_splat  # noqa: E402
from models.rfr import rfr as rfr_module  # noqa: E402

SAMPLES = REPO.parent / "shared" / "samples" / "triplets"
#: two anime triplets at their own size (576x320, 640x480): enough to see a precision gap
PSNR_TRIPLETS = ("lvcd_sample_1_0030-0031-0032", "onepiece_demo_0106-0109-0112")


def now() -> tuple[float, float]:
    """(wall, process CPU) seconds: on a shared machine the CPU time is the steadier figure."""
    return time.perf_counter(), time.process_time()


class StageTimer:
    """Accumulates wall time per named stage: module hooks plus wrapped functions."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._starts: dict[str, list[tuple[float, float]]] = defaultdict(list)

    def hook(self, module: torch.nn.Module, name: str) -> None:
        module.register_forward_pre_hook(lambda *_: self._starts[name].append(now()))
        module.register_forward_hook(lambda *_: self._stop(name, self._starts[name].pop()))

    def _stop(self, name: str, start: tuple[float, float]) -> None:
        end = now()
        self.totals[name] += end[0] - start[0]
        self.totals[name + " cpu"] += end[1] - start[1]

    def wrap(self, owner, attribute: str, name: str) -> None:
        function = getattr(owner, attribute)

        def timed(*args, **kwargs):
            start = now()
            result = function(*args, **kwargs)
            self._stop(name, start)
            return result

        setattr(owner, attribute, timed)

    def take(self) -> dict[str, float]:
        totals, self.totals = dict(self.totals), defaultdict(float)
        return totals


def autocast(precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=torch.bfloat16)


def build_model(iters: int, channels_last: bool = True) -> AnimeInterp:
    """Paper configuration, seeded random weights. The model runs channels-last by itself;
    ``channels_last=False`` undoes that (weights and inputs) to measure what it buys."""
    torch.manual_seed(0)
    paper = AnimeInterpConfig.paper()
    config = dataclasses.replace(paper, rfr=dataclasses.replace(paper.rfr, iters=iters))
    model = AnimeInterp(config).eval()
    if not channels_last:
        animeinterp_module._channels_last = lambda images: images.contiguous()
        model.to(memory_format=torch.contiguous_format)
    return model


def run_one(width: int, height: int, precision: str, iters: int, channels_last: bool, threads: int) -> dict:
    """One configuration (in this process): warm-up pass, then a timed pass."""
    torch.set_num_threads(threads)
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
    img0 = torch.rand(1, 3, height, width, generator=generator)
    img1 = torch.roll(img0, shifts=(3, 7), dims=(2, 3))
    t = torch.tensor([0.5])
    results = {}
    with torch.inference_mode(), autocast(precision):
        for _attempt in ("warm-up", "timed"):
            start = now()
            motion = model.estimate(img0, img1)
            timer._stop("estimate", start)
            start = now()
            model.synthesize(img0, img1, motion, t)
            timer._stop("synthesize", start)
            results = timer.take()
    for suffix in ("", " cpu"):
        results["RFR other" + suffix] = results["RFR total" + suffix] - sum(
            results.get(k + suffix, 0.0)
            for k in ("RFR encoder", "RFR correlation", "RFR lookups", "RFR update steps")
        )
    results["load"] = os.getloadavg()[0]
    results["scale"] = model.config.resolve_flow_scale(height, width)
    results["iters"] = iters
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def print_table(rows: list[tuple[str, dict]]) -> None:
    stages = (
        "feature extractor", "RFR encoder", "RFR correlation", "RFR lookups", "RFR update steps",
        "RFR other", "RFR total", "estimate", "splatting", "GridNet", "synthesize",
    )
    width = 26

    def line(label: str, cells) -> None:
        print(f"{label:<20}" + "".join(f"{cell:>{width}}" for cell in cells))

    line("seconds: wall / cpu", (label for label, _ in rows))
    for stage in stages:
        line(stage, (f"{r.get(stage, 0.0):.2f} / {r.get(stage + ' cpu', 0.0):.2f}" for _, r in rows))
    per_iteration = ("RFR lookups", "RFR update steps")
    line("RFR per iteration", (
        f"{sum(r[k] for k in per_iteration) / r['iters']:.2f} / {sum(r[k + ' cpu'] for k in per_iteration) / r['iters']:.2f}"
        for _, r in rows
    ))
    line("s per frame, 2x", (f"{r['estimate'] + r['synthesize']:.2f} / {r['estimate cpu'] + r['synthesize cpu']:.2f}" for _, r in rows))
    line("output fps, 2x", (f"{1 / (r['estimate'] + r['synthesize']):.3f}" for _, r in rows))
    line("output fps, 4x", (f"{3 / (r['estimate'] + 3 * r['synthesize']):.3f}" for _, r in rows))
    line("peak RSS (MiB)", (f"{r['peak_rss_mb']:.0f}" for _, r in rows))
    line("load average", (f"{r['load']:.1f}" for _, r in rows))
    print("estimate = once per pair (feature extractor + RFR, both directions); synthesize = once per"
          " output frame (splatting both frames + GridNet); 2x = one frame per pair, 4x = three.")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * math.log10(1.0 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def splatted_blend(img0: torch.Tensor, img1: torch.Tensor, flow01: torch.Tensor, flow10: torch.Tensor) -> torch.Tensor:
    """Both frames average-splatted half way along the flows and blended (fp32): a frame that
    depends on the flows only, so it shows what a precision does to them."""
    warped0, cover0 = forward_splat(img0, 0.5 * flow01, "avg", return_weight=True)
    warped1, cover1 = forward_splat(img1, 0.5 * flow10, "avg", return_weight=True)
    c0, c1 = (cover0 > 0).float(), (cover1 > 0).float()
    both = c0 + c1
    blend = (c0 * warped0 + c1 * warped1) / both.clamp(min=1)
    return torch.where(both > 0, blend, 0.5 * (img0 + img1))


def psnr_check(names: list[str]) -> None:
    """bf16 autocast vs fp32 with the same (random, seeded) weights on real triplets."""
    import cv2

    model = build_model(AnimeInterpConfig.paper().rfr.iters)
    header = ("frame fp32/GT", "frame bf16/GT", "bf16 vs fp32", "flow EPE", "warp fp32/GT", "warp bf16/GT")
    print(f"{'triplet (PSNR dB, EPE px)':<34}" + "".join(f"{h:>15}" for h in header))
    for name in names:
        folder = SAMPLES / name
        frames = [cv2.cvtColor(cv2.imread(str(folder / f"frame{i}.png")), cv2.COLOR_BGR2RGB) for i in (1, 2, 3)]
        height, width = (s - s % 4 for s in frames[0].shape[:2])
        img0, gt, img1 = (f[:height, :width].astype(np.float32) / 255 for f in frames)
        tensors = [torch.from_numpy(f).permute(2, 0, 1)[None] for f in (img0, img1)]
        frame, flows, warp = {}, {}, {}
        with torch.inference_mode():
            for precision in ("fp32", "bf16"):
                with autocast(precision):
                    motion = model.estimate(*tensors)
                    out = model.synthesize(*tensors, motion, torch.tensor([0.5]))
                frame[precision] = out[0].permute(1, 2, 0).numpy()
                flows[precision] = torch.cat((motion["flow01"], motion["flow10"]))
                blend = splatted_blend(*tensors, motion["flow01"], motion["flow10"])
                warp[precision] = blend[0].permute(1, 2, 0).numpy()
        epe = (flows["bf16"] - flows["fp32"]).norm(dim=1).mean().item()
        cells = (
            psnr(frame["fp32"], gt), psnr(frame["bf16"], gt), psnr(frame["bf16"], frame["fp32"]),
            epe, psnr(warp["fp32"], gt), psnr(warp["bf16"], gt),
        )
        print(f"{name:<34}" + "".join(f"{c:>15.3f}" for c in cells))
    print("Random weights make the frames themselves meaningless (near black); the splatted blend"
          " uses the flows alone and shows the precision's effect on them.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="960x540,1920x1080")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--layout", choices=("channels-last", "nchw", "both"), default="channels-last")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--iters", type=int, default=12, help="RFR iterations up to 960x540")
    parser.add_argument("--iters-large", type=int, default=1, help="RFR iterations above 960x540")
    parser.add_argument("--psnr", action="store_true", help="only the bf16-vs-fp32 quality check")
    parser.add_argument("--triplets", default=",".join(PSNR_TRIPLETS), help="sample triplets for --psnr")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one configuration as JSON
    args = parser.parse_args()

    if args.one:
        print(json.dumps(run_one(**json.loads(args.one))))
        return
    print(f"torch {torch.__version__}, {args.threads} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    if args.psnr:
        psnr_check(args.triplets.split(","))
        return
    layouts = {"channels-last": (True,), "nchw": (False,), "both": (True, False)}[args.layout]
    rows = []
    for size in args.sizes.split(","):
        width, height = (int(n) for n in size.split("x"))
        iters = args.iters if width * height <= 960 * 540 else args.iters_large
        for precision in args.precisions.split(","):
            for channels_last in layouts:
                spec = {"width": width, "height": height, "precision": precision,
                        "iters": iters, "channels_last": channels_last, "threads": args.threads}
                child = subprocess.run(
                    [sys.executable, __file__, "--one", json.dumps(spec)],
                    check=True, capture_output=True, text=True,
                )
                result = json.loads(child.stdout.strip().splitlines()[-1])
                label = f"{size} {precision}{'' if channels_last else ' nchw'} it{iters}"
                if result["scale"] != 1:
                    label += f" fs{result['scale']:g}"
                rows.append((label, result))
                print(f"done: {label}", file=sys.stderr)
    print_table(rows)


if __name__ == "__main__":
    main()
