"""The library entry points behind the CLI: ``interpolate_video`` and ``interpolate_frames``.

Data flows one way: decode → detect → plan → batch → interpolate → interleave → encode →
rename. The video is decoded twice: a cheap first pass scores every pair (cuts, held
drawings, exact duplicates) so that the pure planner sees the whole timeline; the second
pass executes the plan with only a few frames in memory. Nothing here prints: progress and
messages go through the callbacks the caller passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from animeinterp_cli.chunks import ChunkOptions
from animeinterp_cli.engine.compile import COMPILE_MIN_FRAMES, COMPILE_MODES, compile_unavailable
from animeinterp_cli.engine.device import Placement, resolve_placement
from animeinterp_cli.engine.execute import execute_plan
from animeinterp_cli.engine.methods import build_method, resolve_weights
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.errors import AnimeInterpError, InputError
from animeinterp_cli.schedule.detect import DetectConfig, Detector, PairScores
from animeinterp_cli.schedule.plan import Action, Copy, Synthesize, Target, plan
from animeinterp_cli.video.decode import VideoInfo, last_frame_duration, probe_video, read_frames
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter
from animeinterp_cli.video.images import list_images, read_image, write_png
from animeinterp_cli.video.output import atomic_output, atomic_output_dir


class Progress(Protocol):
    """What the pipeline reports while it runs (the CLI renders it with rich)."""

    def start(self, description: str, total: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def stop(self) -> None: ...


class _Silent:
    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides its input and output paths."""

    target: Target = field(default_factory=lambda: Target(factor=2))
    model: str = "auto"  # "auto" | "animeinterp" | "classic" | "blend"
    weights: Path | None = None
    sgm: str = "inline"
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None  # None: a default per device
    fast: bool = False
    flow_scale: float | None = None  # None: automatic
    compile: str = "auto"  # "auto" | "on" | "off": torch.compile the network (see engine/compile.py)
    vgg_weights: Path | None = None
    dedup: bool = True
    detect: DetectConfig = field(default_factory=DetectConfig)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    overwrite: bool = False


@dataclass
class Summary:
    """What a run did, for the one-line report at the end."""

    frames_in: int = 0
    frames_out: int = 0
    synthesized: int = 0
    held: int = 0
    duplicates: int = 0
    cuts: int = 0
    seconds: float = 0.0
    method: str = ""
    placement: str = ""

    def count(self, action: Action) -> None:
        self.frames_out += 1
        if isinstance(action, Synthesize):
            self.synthesized += 1
        elif action.reason == "hold":
            self.held += 1
        elif action.reason == "duplicate":
            self.duplicates += 1


def _choose_method(config: RunConfig, placement: Placement, note: Callable[[str], None]):
    name = config.model
    if name == "auto":
        if resolve_weights(config.weights) is not None:
            name = "animeinterp"
        else:
            name = "classic"
            note("no AnimeInterp weights (none shipped, no --weights PATH): using the classic DIS-flow method")
    return build_method(
        name, placement=placement, weights=config.weights, sgm=config.sgm, fast=config.fast, flow_scale=config.flow_scale,
        vgg_weights=config.vgg_weights,
    )


def _report_guidance(runner: PairRunner, note: Callable[[str], None]) -> None:
    """Say which SGM descriptor the run used (VGG-19 needs ImageNet weights that may be absent)."""
    descriptor = getattr(runner.method, "last_descriptor", None)
    if descriptor == "color":
        note("SGM used the weights-free colour descriptor (no VGG-19 ImageNet weights found)")
    elif descriptor:
        note(f"SGM used the {descriptor} descriptor")


def _default_batch_size(placement: Placement) -> int:
    # the CPU gains nothing from batching pairs; a GPU keeps busy with a few at once
    return 4 if placement.device.type == "cuda" else 1


def _make_runner(config: RunConfig, note: Callable[[str], None]) -> tuple[PairRunner, Summary]:
    if config.compile not in COMPILE_MODES:
        raise AnimeInterpError(f"unknown compile mode {config.compile!r}; choose one of {', '.join(COMPILE_MODES)}")
    placement = resolve_placement(config.device, config.precision)
    method = _choose_method(config, placement, note)
    batch_size = config.batch_size or _default_batch_size(placement)
    summary = Summary(method=method.method_name, placement=placement.describe())
    return PairRunner(method, placement, batch_size), summary


def _maybe_compile(runner: PairRunner, mode: str, actions: list[Action], note: Callable[[str], None]) -> None:
    """Compile the network when asked (``on``), or (``auto``) when the plan has enough frames
    to synthesise to repay the compile time and the backend can run here."""
    compile_for(runner, mode, sum(isinstance(a, Synthesize) for a in actions), note)


def compile_for(runner: PairRunner, mode: str, synthesized: int, note: Callable[[str], None]) -> None:
    """:func:`_maybe_compile` for a run that synthesises ``synthesized`` frames in all."""
    if mode == "off" or not runner.method.compile_targets():
        return
    if mode == "auto" and synthesized < COMPILE_MIN_FRAMES:
        return
    reason = compile_unavailable(runner.placement)
    if reason is not None:
        if mode == "on":
            note(f"torch.compile cannot run here ({reason}): continuing without it")
        return
    runner.enable_compile(note)
    note("compiling the network with torch.compile: the first frames take a minute or so longer")


def _plan_run(
    runner: PairRunner,
    summary: Summary,
    times: list[Fraction],
    scores: list[PairScores],
    config: RunConfig,
    end_time: Fraction | None,
    note: Callable[[str], None],
) -> list[Action]:
    """Between the two passes: the plan from pass 1's times and scores, the network compiled if
    that pays (:func:`_maybe_compile`), and the input frames and cuts counted in ``summary``."""
    actions = plan(times, scores, config.target, end_time=end_time, dedup=config.dedup)
    _maybe_compile(runner, config.compile, actions, note)
    summary.frames_in = len(times)
    summary.cuts = sum(s.cut for s in scores)
    return actions


def _counted(items: Iterator[np.ndarray], progress: Progress) -> Iterator[np.ndarray]:
    """Pass ``items`` through, advancing ``progress`` by one for each."""
    for item in items:
        progress.advance()
        yield item


def _score_pairs(images: Iterator[np.ndarray], config: DetectConfig) -> list[PairScores]:
    detector = Detector(config)
    scores = []
    for image in images:
        result = detector.push(image)
        if result is not None:
            scores.append(result)
    return scores


def output_rate(config: RunConfig, info: VideoInfo) -> Fraction:
    """The output frame rate: the target's, or the source's times the factor."""
    return config.target.fps or info.frame_rate * config.target.factor


def analyse_video(
    input_path: Path, info: VideoInfo, detect: DetectConfig, progress: Progress
) -> tuple[list[Fraction], list[PairScores]]:
    """Pass 1: the time of every frame and the scores of every pair (cuts, holds, duplicates)."""
    progress.start("analysing", info.frame_count or 0)
    times: list[Fraction] = []

    def images() -> Iterator[np.ndarray]:
        for frame in read_frames(input_path):
            times.append(frame.time)
            yield frame.image

    scores = _score_pairs(_counted(images(), progress), detect)
    progress.stop()
    if len(times) < 2:
        raise InputError(f"{input_path}: needs at least 2 frames to interpolate, found {len(times)}")
    return times, scores


def interpolate_video(
    input_path: Path,
    output_path: Path,
    config: RunConfig = RunConfig(),
    *,
    progress: Progress | None = None,
    note: Callable[[str], None] = lambda message: None,
    chunking: ChunkOptions | None = None,
) -> Summary:
    """Raise the frame rate of ``input_path`` into ``output_path`` (written atomically).

    With ``chunking`` a long video (or any, with Ray workers) is made in chunks cut at scene
    cuts, resumable after an interruption (see :mod:`animeinterp_cli.chunks`).
    """
    progress = progress or _Silent()
    started = time.perf_counter()
    info = probe_video(input_path)
    if chunking is not None and chunking.applies(info, output_path, config, note):
        from animeinterp_cli.chunks.driver import run_chunked

        return run_chunked([(input_path, output_path)], config, chunking, progress=progress, note=note)[0]
    with atomic_output(output_path, overwrite=config.overwrite, input_path=input_path) as partial:
        runner, summary = _make_runner(config, note)

        times, scores = analyse_video(input_path, info, config.detect, progress)
        actions = _plan_run(runner, summary, times, scores, config, times[-1] + last_frame_duration(info), note)
        rate = output_rate(config, info)

        # pass 2: execute the plan and encode
        progress.start("interpolating", len(actions))
        with VideoWriter(partial, info, rate, config.encode, warn=note) as writer:
            frames = ((frame.index, frame.image) for frame in read_frames(input_path))
            for action, image in execute_plan(actions, frames, runner):
                writer.write(image, action.time)
                summary.count(action)
                progress.advance()
        progress.stop()
        _report_guidance(runner, note)
    summary.seconds = time.perf_counter() - started
    return summary


def interpolate_frames(
    input_dir: Path,
    output_dir: Path,
    config: RunConfig = RunConfig(),
    *,
    progress: Progress | None = None,
    note: Callable[[str], None] = lambda message: None,
) -> Summary:
    """Interpolate an image sequence: N inputs → (N − 1)·factor + 1 numbered PNGs.

    Inputs are read in natural order; the originals are written bit-exact at their positions.
    """
    progress = progress or _Silent()
    started = time.perf_counter()
    paths = list_images(input_dir)
    if len(paths) < 2:
        raise InputError(f"{input_dir}: needs at least 2 images to interpolate, found {len(paths)}")
    if config.target.factor is None:
        raise InputError("an image sequence has no frame rate: use --factor, not --fps")
    with atomic_output_dir(output_dir, overwrite=config.overwrite, input_path=input_dir) as partial:
        runner, summary = _make_runner(config, note)
        first_shape = None

        def images() -> Iterator[np.ndarray]:
            nonlocal first_shape
            for path in paths:
                image = read_image(path)
                if first_shape is None:
                    first_shape = image.shape
                elif image.shape != first_shape:
                    raise InputError(
                        f"{path.name} is {image.shape[1]}x{image.shape[0]}, but the sequence is "
                        f"{first_shape[1]}x{first_shape[0]}: all images must have one size"
                    )
                yield image

        progress.start("analysing", len(paths))
        scores = _score_pairs(_counted(images(), progress), config.detect)
        progress.stop()
        times = [Fraction(i) for i in range(len(paths))]
        actions = _plan_run(runner, summary, times, scores, config, None, note)

        progress.start("interpolating", len(actions))
        width = max(8, len(str(len(actions))))
        frames = enumerate(images())
        for out_index, (action, image) in enumerate(execute_plan(actions, frames, runner)):
            write_png(partial / f"{out_index + 1:0{width}d}.png", image)
            summary.count(action)
            progress.advance()
        progress.stop()
        _report_guidance(runner, note)
    summary.seconds = time.perf_counter() - started
    return summary
