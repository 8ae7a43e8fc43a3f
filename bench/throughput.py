"""End-to-end throughput of `animeinterp double`, stage by stage, against a straightforward
fp32 implementation, ffmpeg and the arithmetic limit.

    .venv/bin/python bench/throughput.py                       # 960x540, 12 frames
    .venv/bin/python bench/throughput.py --size 1920x1080 --frames 6 --variants animeinterp
    .venv/bin/python bench/throughput.py --variants baseline animeinterp

Each variant runs the real pipeline (`animeinterp_cli.api.interpolate_video`: two decode
passes, detection, plan, guidance, network, encode) at 2× on the first ``--frames`` frames of
``onepiece_demo.mp4`` scaled to ``--size``, **in its own process** (so that each has its own
peak memory), and prints output frames per second, peak
resident memory and where the wall time went: decode, detection, guidance (SGM/DIS; in a
worker thread, overlapped when a core is spare), flow network (RFR + features), synthesis
(splatting + GridNet), encode; "other" is the rest (planning, conversions, Python).

Variants:

- ``baseline``: the same pipeline written straightforwardly: fp32, NCHW tensors, guidance
  computed inline before the network, the RFR's upsampling mask computed at every step as
  the released code does, no torch.compile;
- ``animeinterp``: the tool as shipped (channels-last, guidance overlapped when a core is
  spare, mask once) with ``--compile on``; the compile time is reported apart: the
  first call of each stage minus its median;
- ``eager``: the same without torch.compile;
- ``fast``: ``animeinterp`` with ``--fast``; ``classic``: the weights-free method;
- ``default``: what ``double`` runs without flags: the shipped default weights (the residual
  synthesis network, ``AnimeInterpConfig.guided()``), or that network untrained when none
  ship (same arithmetic); with ``classic`` in the run it prints the time per synthesised
  frame of the two and their ratio.

ffmpeg's minterpolate filter runs on the same clip in the same run (a ratio). For the network
it also prints the arithmetic limit: its FLOPs per output frame divided by this CPU's
measured fp32 and bf16 convolution rates. Weights: the shipped default when present, else the
paper configuration with random weights (speed does not depend on the values; the run says
which).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STAGES = ("decode", "detect", "guidance", "flow network", "synthesis", "encode")
VARIANTS = ("classic", "baseline", "eager", "animeinterp", "fast", "default")


class Stopwatch:
    """Wall time per stage and per call, gathered by wrapping the functions that do the work."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = defaultdict(list)

    def wrap(self, owner: object, attribute: str, stage: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.calls[stage].append(time.perf_counter() - start)

        setattr(owner, attribute, timed)

    def totals(self) -> dict[str, float]:
        return {stage: sum(times) for stage, times in self.calls.items()}

    def warmup_excess(self, stages: tuple[str, ...]) -> float:
        """Time the first call of each stage took beyond the stage's median (compilation)."""
        return sum(
            max(0.0, self.calls[s][0] - statistics.median(self.calls[s][1:]))
            for s in stages if len(self.calls[s]) > 1
        )


def make_straightforward() -> None:
    """Patch the pipeline back to a straightforward implementation (see the module docstring)."""
    import torch

    import models.animeinterp as animeinterp_module
    from animeinterp_cli.engine.runner import PairRunner
    from models.rfr.update import UpdateBlock

    animeinterp_module._channels_last = lambda images: images.contiguous()
    build = animeinterp_module.AnimeInterp.__init__

    def nchw_init(self, *args, **kwargs):
        build(self, *args, **kwargs)
        self.to(memory_format=torch.contiguous_format)

    animeinterp_module.AnimeInterp.__init__ = nchw_init
    PairRunner.prepare = lambda self, jobs: list(jobs)  # guidance then runs inside estimate
    update = UpdateBlock.forward
    UpdateBlock.forward = lambda self, hidden, context, corr, flow, with_mask=True: update(
        self, hidden, context, corr, flow, with_mask=True
    )


def run_variant(variant: str, clip: Path, out: Path, weights: Path | None, threads: int) -> dict:
    """One variant in this process (called in a child): wall time, stages, peak memory."""
    import resource

    import torch

    import models.pipeline as pipeline
    from animeinterp_cli.api import RunConfig, interpolate_video
    from animeinterp_cli.engine.device import cpu_to_spare, resolve_placement
    from animeinterp_cli.schedule.detect import Detector
    from animeinterp_cli.schedule.plan import Target
    from animeinterp_cli.video.decode import FrameReader
    from animeinterp_cli.video.encode import EncodeOptions, VideoWriter
    from models.animeinterp import AnimeInterp
    from models.classic import ClassicInterpolator

    torch.set_num_threads(threads)
    if variant == "baseline":
        make_straightforward()
    model = "classic" if variant == "classic" else "animeinterp"
    config = RunConfig(
        target=Target(factor=2), model=model, weights=weights, fast=variant == "fast", precision="fp32",
        compile={"default": "auto", "animeinterp": "on", "fast": "on"}.get(variant, "off"),
        encode=EncodeOptions(preset="veryfast"), overwrite=True,
    )
    watch = Stopwatch()
    watch.wrap(FrameReader, "__next__", "decode")
    watch.wrap(Detector, "push", "detect")
    watch.wrap(pipeline, "guidance_flows", "guidance")
    watch.wrap(ClassicInterpolator, "guidance", "guidance")
    watch.wrap(VideoWriter, "write", "encode")
    watch.wrap(VideoWriter, "close", "encode")
    method_class = AnimeInterp if model == "animeinterp" else ClassicInterpolator
    watch.wrap(method_class, "estimate", "flow network")
    watch.wrap(method_class, "synthesize", "synthesis")
    notes: list[str] = []
    start = time.perf_counter()
    summary = interpolate_video(clip, out, config, note=notes.append)
    wall = time.perf_counter() - start
    stages = watch.totals()
    overlapped = variant != "baseline" and cpu_to_spare(resolve_placement("cpu", "fp32"))
    serial = sum(v for k, v in stages.items() if k != "guidance" or not overlapped)
    stages["other"] = wall - serial
    return {
        "variant": variant, "wall": wall, "frames_out": summary.frames_out, "synthesized": summary.synthesized,
        "estimates": len(watch.calls["flow network"]), "overlapped": overlapped,
        "stages": stages, "compile": watch.warmup_excess(("flow network", "synthesis")) if config.compile == "on" else 0.0,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "notes": notes,
    }


def run_child(variant: str, clip: Path, out_dir: Path, weights: Path | None, threads: int) -> dict:
    env = dict(os.environ)
    command = [sys.executable, __file__, "--child", variant, "--clip", str(clip), "--out", str(out_dir / f"{variant}.mp4"),
               "--threads", str(threads)] + (["--weights", str(weights)] if weights else [])
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_minterpolate(clip: Path, out_dir: Path) -> dict:
    import av
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
    return {"variant": "ffmpeg minterpolate", "wall": time.perf_counter() - start, "frames_out": 2 * frames}


def conv_rate(precision: str) -> float:
    """This CPU's 3×3 convolution rate (FLOP/s), channels-last, 32 channels at 960×544 as
    GridNet's full-resolution row runs them."""
    import torch

    x = torch.randn(1, 32, 544, 960).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(32, 32, 3, padding=1).to(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16")
    with torch.inference_mode(), autocast:
        conv(x)
        start = time.perf_counter()
        for _ in range(5):
            conv(x)
        seconds = (time.perf_counter() - start) / 5
    return 2 * 32 * 32 * 9 * 544 * 960 / seconds


def network_flops(weights: Path, size: tuple[int, int], fast: bool) -> tuple[float, float]:
    """FLOPs of the network for one flow estimate (a pair) and for one synthesis (a frame)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from animeinterp_cli.engine.device import resolve_placement
    from animeinterp_cli.engine.methods import build_method

    method = build_method(
        "animeinterp", placement=resolve_placement("cpu", "fp32"), weights=weights, inline_guidance=False, fast=fast
    ).interpolator
    width, height = size
    multiple = method.size_multiple  # the engine pads to it
    img = torch.rand(1, 3, height + (-height) % multiple, width + (-width) % multiple)
    with torch.inference_mode():
        with FlopCounterMode(display=False) as estimate:
            motion = method.estimate(img, img)
        with FlopCounterMode(display=False) as synthesis:
            method.synthesize(img, img, motion, torch.tensor([0.5]))
    return float(estimate.get_total_flops()), float(synthesis.get_total_flops())


def _is_guided(weights: Path) -> bool:
    from models.animeinterp import load_animeinterp

    return load_animeinterp(weights).config.synthesis.residual


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["classic", "baseline", "animeinterp", "fast"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--weights", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_variant(args.child, args.clip, args.out, args.weights, args.threads)))
        return

    import torch
    from clips import SAMPLE_CLIP, scaled_clip

    from animeinterp_cli.engine.methods import resolve_weights
    from models.animeinterp import AnimeInterp
    from models.checkpoint import save_checkpoint
    from models.config import AnimeInterpConfig

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
        print(f"clip: {args.frames} frames of {SAMPLE_CLIP.name} at {args.size}, 2x; torch threads {args.threads}; "
              f"{weights_note}", flush=True)
        default = resolved[0] if resolved is not None and _is_guided(resolved[0]) else None
        if default is None and "default" in args.variants:
            default = tmp / "untrained-guided.pt"
            save_checkpoint(default, AnimeInterp(AnimeInterpConfig.guided()), AnimeInterpConfig.guided().to_dict())
            print("default: no trained default shipped: the untrained residual synthesis network (same arithmetic)")
        results = []
        for variant in args.variants:
            results.append(run_child(variant, clip, tmp, default if variant == "default" else weights, args.threads))
            print(f"  {variant}: {results[-1]['wall']:.1f} s", flush=True)
        peer = run_minterpolate(clip, tmp)

        header = (f"{'variant':<20}{'out fps':>9}{'s/frame':>9}{'x ffmpeg':>9}{'peak MiB':>9}  "
                  + "".join(f"{s:>13}" for s in STAGES) + f"{'other':>9}")
        print(header)
        peer_fps = peer["frames_out"] / peer["wall"]
        for r in results + [peer]:
            fps = r["frames_out"] / r["wall"]
            cells = ""
            if "stages" in r:
                cells = f"{r['peak_mib']:>9.0f}  " + "".join(f"{r['stages'].get(s, 0.0):>12.2f}s" for s in STAGES)
                cells += f"{r['stages']['other']:>8.2f}s"
            print(f"{r['variant']:<20}{fps:>9.3f}{r['wall'] / r['frames_out']:>9.3f}{fps / peer_fps:>9.3f}{cells}")
        for r in results:
            print(f"  {r['variant']}: {r['synthesized']} of {r['frames_out']} frames synthesised from {r['estimates']} "
                  f"flow estimates; guidance {'overlapped' if r['overlapped'] else 'in series'}"
                  + (f"; compilation ~{r['compile']:.1f} s, steady state {r['frames_out'] / (r['wall'] - r['compile']):.3f} out fps"
                     if r["compile"] else "")
                  + "".join(f"; note: {n}" for n in r["notes"]))
        by_name = {r["variant"]: r for r in results}
        if "default" in by_name and "classic" in by_name:
            per_frame = {k: by_name[k]["wall"] / max(1, by_name[k]["synthesized"]) for k in ("default", "classic")}
            print(f"  time per synthesised frame (whole run / frames synthesised): default {per_frame['default']:.3f} s, "
                  f"classic {per_frame['classic']:.3f} s: {per_frame['default'] / per_frame['classic']:.2f}x classic")
        if "baseline" in by_name:
            base = by_name["baseline"]["wall"]
            for r in results:
                if r["variant"] not in ("baseline", "classic"):
                    steady = r["wall"] - r["compile"]
                    print(f"  {r['variant']} vs baseline: {base / r['wall']:.2f}x wall"
                          + (f", {base / steady:.2f}x without compilation" if r["compile"] else ""))

        rates = {p: conv_rate(p) for p in ("fp32", "bf16")}
        print("arithmetic limit: the network's FLOPs in the run (flow estimates × pairs + syntheses × frames) "
              "at this CPU's 3×3 convolution rate, against the measured network time (compilation excluded):")
        for r in results:
            if r["variant"] == "classic":
                continue
            weights_for_flops = default if r["variant"] == "default" else weights
            per_pair, per_frame = network_flops(weights_for_flops, size, fast=r["variant"] == "fast")
            total = per_pair * r["estimates"] + per_frame * r["synthesized"]
            measured = r["stages"]["flow network"] + r["stages"]["synthesis"] - r["compile"]
            limits = ", ".join(f"{total / rate:.1f} s at {p} ({rate / 1e9:.0f} GFLOP/s)" for p, rate in rates.items())
            print(f"  {r['variant']}: {r['estimates']} estimates × {per_pair / 1e12:.2f} TFLOP + {r['synthesized']} syntheses × "
                  f"{per_frame / 1e12:.2f} TFLOP = {total / 1e12:.1f} TFLOP: {limits}; measured {measured:.1f} s "
                  f"= {total / measured / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
