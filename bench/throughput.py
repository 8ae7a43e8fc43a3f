"""End-to-end throughput of `animeinterp double`, stage by stage, against ffmpeg and the arithmetic limit.

    .venv/bin/python bench/throughput.py                       # 960x540, 12 frames
    .venv/bin/python bench/throughput.py --size 1920x1080 --frames 6
    .venv/bin/python bench/throughput.py --methods classic animeinterp animeinterp-fast

For each method it runs the real pipeline (`animeinterp_cli.api.interpolate_video`: two
decode passes, detection, plan, guidance, network, encode) at 2× on the first ``--frames``
frames of ``onepiece_demo.mp4`` scaled to ``--size``, and prints the output frames per
second and where the wall time went: decode, detection, guidance (SGM/DIS), flow network
(RFR + features), synthesis (splatting + GridNet), encode; "other" is the rest (planning,
conversions, Python). ffmpeg's minterpolate filter runs on the same clip in the same run
(a ratio). For the AnimeInterp network it also prints the arithmetic limit: the model's
FLOPs per output frame divided by this CPU's measured convolution rate.

Weights: the shipped default when present, else the paper configuration with random
weights (speed does not depend on the values; the run says which).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import animeinterp_cli.api as api  # noqa: E402
import models.pipeline as pipeline  # noqa: E402
from animeinterp_cli.api import RunConfig, interpolate_video  # noqa: E402
from clips import SAMPLE_CLIP, scaled_clip  # noqa: E402
from animeinterp_cli.engine.methods import resolve_weights  # noqa: E402
from animeinterp_cli.schedule.detect import Detector  # noqa: E402
from animeinterp_cli.schedule.plan import Target  # noqa: E402
from animeinterp_cli.video.decode import FrameReader  # noqa: E402
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter  # noqa: E402
from models.animeinterp import AnimeInterp  # noqa: E402
from models.checkpoint import save_checkpoint  # noqa: E402
from models.classic import ClassicInterpolator  # noqa: E402
from models.config import AnimeInterpConfig  # noqa: E402

STAGES = ("decode", "detect", "guidance", "flow network", "synthesis", "encode")


class Stopwatch:
    """Wall time per stage, gathered by wrapping the functions that do each stage's work."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._restore: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, attribute: str, stage: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[stage] += time.perf_counter() - start

        self._restore.append((owner, attribute, original))
        setattr(owner, attribute, timed)

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._restore):
            setattr(owner, attribute, original)
        self._restore.clear()


def conv_rate(precision: str) -> float:
    """This CPU's 3×3 convolution rate (FLOP/s), channels-last, as the network runs them."""
    x = torch.randn(1, 64, 272, 480).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16")
    with torch.inference_mode(), autocast:
        conv(x)
        start = time.perf_counter()
        for _ in range(5):
            conv(x)
        seconds = (time.perf_counter() - start) / 5
    return 2 * 64 * 64 * 9 * 272 * 480 / seconds


def network_flops_per_frame(weights: Path, size: tuple[int, int], fast: bool) -> float:
    """FLOPs of the network for one 2× output frame: one flow estimate + one synthesis."""
    from torch.utils.flop_counter import FlopCounterMode

    from animeinterp_cli.engine.device import resolve_placement
    from animeinterp_cli.engine.methods import build_method

    method = build_method("animeinterp", placement=resolve_placement("cpu", "fp32"), weights=weights, sgm="zero", fast=fast)
    width, height = size
    img = torch.rand(1, 3, height + (-height) % 4, width + (-width) % 4)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        motion = method.estimate(img, img)
        method.synthesize(img, img, motion, torch.tensor([0.5]))
    return float(counter.get_total_flops())


def run_method(name: str, clip: Path, out_dir: Path, weights: Path | None, precision: str) -> dict:
    model, fast = {"classic": ("classic", False), "classic-fast": ("classic", True),
                   "animeinterp": ("animeinterp", False), "animeinterp-fast": ("animeinterp", True)}[name]
    config = RunConfig(
        target=Target(factor=2), model=model, weights=weights, fast=fast, precision=precision,
        encode=EncodeOptions(preset="veryfast"), overwrite=True,
    )
    watch = Stopwatch()
    watch.wrap(FrameReader, "__next__", "decode")
    watch.wrap(Detector, "push", "detect")
    watch.wrap(pipeline, "guidance_flows", "guidance")
    watch.wrap(VideoWriter, "write", "encode")
    watch.wrap(VideoWriter, "close", "encode")
    method_class = AnimeInterp if model == "animeinterp" else ClassicInterpolator
    watch.wrap(method_class, "estimate", "flow network")
    watch.wrap(method_class, "synthesize", "synthesis")
    start = time.perf_counter()
    try:
        summary = interpolate_video(clip, out_dir / f"{name}.mp4", config)
    finally:
        watch.restore()
    wall = time.perf_counter() - start
    stages = dict(watch.totals)
    stages["other"] = wall - sum(stages.values())
    return {"name": name, "wall": wall, "frames_out": summary.frames_out,
            "synthesized": summary.synthesized, "stages": stages, "placement": summary.placement}


def run_minterpolate(clip: Path, out_dir: Path) -> dict:
    import imageio_ffmpeg

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        rate, frames = stream.average_rate, stream.frames
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(clip), "-vf",
        f"minterpolate=fps={Fraction(rate) * 2}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
        "-c:v", "libx264", "-crf", "17", "-preset", "veryfast", str(out_dir / "minterpolate.mp4"),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    return {"name": "ffmpeg minterpolate", "wall": wall, "frames_out": 2 * frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--methods", nargs="+", default=["classic", "animeinterp", "animeinterp-fast"])
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = scaled_clip(tmp / "clip.mp4", size, args.frames)
        resolved = resolve_weights(None)
        if resolved is not None:
            weights, weights_note = resolved[0], f"default weights {resolved[0].name}"
        else:
            weights = tmp / "random-paper.pt"
            torch.manual_seed(0)
            save_checkpoint(weights, AnimeInterp(AnimeInterpConfig.paper()), AnimeInterpConfig.paper().to_dict())
            weights_note = "paper configuration, random weights (no default shipped)"
        print(f"clip: {args.frames} frames of {SAMPLE_CLIP.name} at {args.size}, 2x; torch threads {args.threads}; {weights_note}")
        results = [run_method(name, clip, tmp, weights, args.precision) for name in args.methods]
        peer = run_minterpolate(clip, tmp)

        header = f"{'method':<20}{'out fps':>9}{'s/frame':>9}{'x ffmpeg':>9}  " + "".join(f"{s:>13}" for s in STAGES) + f"{'other':>9}"
        print(header)
        peer_fps = peer["frames_out"] / peer["wall"]
        for r in results + [peer]:
            fps = r["frames_out"] / r["wall"]
            cells = "".join(f"{r['stages'].get(s, 0.0):>12.2f}s" for s in STAGES) + f"{r['stages']['other']:>8.2f}s" if "stages" in r else ""
            print(f"{r['name']:<20}{fps:>9.3f}{r['wall'] / r['frames_out']:>9.3f}{fps / peer_fps:>9.3f}  {cells}")
        for r in results:
            if "stages" in r:
                print(f"  {r['name']}: {r['synthesized']} frames synthesised of {r['frames_out']}, on {r['placement']}")

        for name in args.methods:
            if not name.startswith("animeinterp"):
                continue
            flops = network_flops_per_frame(weights, size, fast=name.endswith("fast"))
            r = next(x for x in results if x["name"] == name)
            measured = (r["stages"]["flow network"] + r["stages"]["synthesis"]) / max(r["synthesized"], 1)
            for precision in ("fp32", "bf16"):
                rate = conv_rate(precision)
                print(
                    f"  {name}: {flops / 1e12:.2f} TFLOP for one flow estimate + one synthesis; at this CPU's "
                    f"{precision} conv rate ({rate / 1e9:.0f} GFLOP/s) that is {flops / rate:.1f} s; measured network "
                    f"time {measured:.1f} s per synthesised frame (a pair's flow estimate serves all its in-betweens)"
                )


if __name__ == "__main__":
    main()
