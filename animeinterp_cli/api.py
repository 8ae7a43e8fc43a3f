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
from itertools import islice
from pathlib import Path
from typing import Protocol

import numpy as np

from animeinterp_cli.engine.compile import compile_decision
from animeinterp_cli.engine.device import default_batch_size, resolve_placement
from animeinterp_cli.engine.execute import execute_plan
from animeinterp_cli.engine.methods import build_method, check_flow_scale
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.errors import ConfigError, DecodeError, InputError, UsageError
from animeinterp_cli.options import CompileMode, Device, Model, Precision, Sgm, coerce
from animeinterp_cli.schedule.detect import DetectConfig, Detector, PairScores
from animeinterp_cli.schedule.plan import Action, Synthesize, Target, plan
from animeinterp_cli.video.decode import VideoInfo, last_frame_duration, probe_video, read_frames
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter, check_output
from animeinterp_cli.video.images import list_images, read_image, write_png
from animeinterp_cli.video.integrity import damage_report
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
    """Everything a run needs besides its input and output paths, checked on creation (a
    :class:`ConfigError` names a bad setting). Choices may be given as their enums or as plain
    strings (``device="cpu"``)."""

    target: Target = field(default_factory=lambda: Target(factor=2))
    model: Model = Model.auto
    weights: Path | None = None
    sgm: Sgm = Sgm.inline
    device: Device = Device.auto
    precision: Precision = Precision.auto
    batch_size: int | None = None  # None: a default per device
    fast: bool = False
    flow_scale: float | None = None  # None: automatic
    compile: CompileMode = CompileMode.auto  # torch.compile the network (see engine/compile.py)
    vgg_weights: Path | None = None
    dedup: bool = True
    detect: DetectConfig = field(default_factory=DetectConfig)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    overwrite: bool = False
    strict: bool = False  # a truncated or damaged input is an error, not a warning
    allow_drop: bool = False  # a target rate below the source's may drop frames

    def __post_init__(self) -> None:
        for name, enum in (("model", Model), ("sgm", Sgm), ("device", Device), ("precision", Precision),
                           ("compile", CompileMode)):
            object.__setattr__(self, name, coerce(enum, getattr(self, name), name))
        for name in ("weights", "vgg_weights"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")
        check_flow_scale(self.flow_scale)


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


def _make_runner(config: RunConfig) -> tuple[PairRunner, Summary, tuple[str, ...]]:
    """The method built completely (every file read and checked) and placed, before any frame
    is decoded, and what the user should know about it (told once the input is open)."""
    placement = resolve_placement(config.device, config.precision)
    method = build_method(
        config.model, placement=placement, weights=config.weights, inline_guidance=config.sgm == Sgm.inline,
        fast=config.fast, flow_scale=config.flow_scale, vgg_weights=config.vgg_weights,
    )
    batch_size = config.batch_size or default_batch_size(placement)
    summary = Summary(method=method.name, placement=placement.describe())
    return PairRunner(method.interpolator, placement, batch_size), summary, method.notes


def _maybe_compile(runner: PairRunner, mode: CompileMode, actions: list[Action], note: Callable[[str], None]) -> None:
    """Compile the network as :func:`compile_decision` decides for this plan."""
    if not runner.method.compile_targets():
        return
    synthesized = sum(isinstance(a, Synthesize) for a in actions)
    compile_now, message = compile_decision(mode, synthesized, runner.placement)
    if compile_now:
        runner.enable_compile(note)
    if message is not None:
        note(message)


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


def _check_rate(config: RunConfig, info: VideoInfo) -> None:
    """A target rate below the source's drops frames: only when the caller accepts that."""
    fps = config.target.fps
    if fps is not None and fps < info.frame_rate and not config.allow_drop:
        raise UsageError(
            f"--fps {float(fps):g} is below the source's {float(info.frame_rate):g} fps, so frames "
            "would be dropped (add --allow-drop if that is what you want)"
        )


def _check_complete(
    info: VideoInfo, times: list[Fraction], failure: DecodeError | None, config: RunConfig, warn: Callable[[str], None]
) -> None:
    """After pass 1: say when less decoded than the container declares (an error when strict)."""
    damage = damage_report(info, times, failure)
    if damage is not None:
        if config.strict:
            raise InputError(damage.refusal())
        warn(damage.warning())
    if len(times) < 2 and failure is not None:
        raise failure


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


def interpolate_video(
    input_path: Path,
    output_path: Path,
    config: RunConfig = RunConfig(),
    *,
    progress: Progress | None = None,
    note: Callable[[str], None] = lambda message: None,
    warn: Callable[[str], None] | None = None,
) -> Summary:
    """Raise the frame rate of ``input_path`` into ``output_path`` (written atomically).

    ``note`` hears what the run chose, ``warn`` (``note`` when not given) what the user may
    lose: an input shorter than it declares, a stream left out, a size changed.
    """
    progress = progress or _Silent()
    warn = warn or note
    started = time.perf_counter()
    runner, summary, notes = _make_runner(config)
    info = probe_video(input_path)
    _check_rate(config, info)
    check_output(output_path, info, config.encode)
    with atomic_output(output_path, overwrite=config.overwrite, input_path=input_path, note=note) as partial:
        for message in notes:
            note(message)

        # pass 1: timestamps and pair scores
        progress.start("analysing", info.frame_count or 0)
        times: list[Fraction] = []
        reader = read_frames(input_path, stop_on_error=True)

        def images() -> Iterator[np.ndarray]:
            for frame in reader:
                times.append(frame.time)
                yield frame.image

        scores = _score_pairs(_counted(images(), progress), config.detect)
        progress.stop()
        _check_complete(info, times, reader.failure, config, warn)
        if len(times) < 2:
            raise InputError(f"{input_path}: needs at least 2 frames to interpolate, found {len(times)}")
        actions = _plan_run(runner, summary, times, scores, config, times[-1] + last_frame_duration(info), note)
        rate = config.target.output_rate(info.frame_rate)

        # pass 2: execute the plan and encode
        progress.start("interpolating", len(actions))
        with VideoWriter(partial, info, rate, config.encode, warn=warn, name=output_path) as writer:
            # the frames pass 1 read, not one more (a damaged input fails past them)
            frames = ((frame.index, frame.image) for frame in islice(read_frames(input_path), len(times)))
            for action, image in execute_plan(actions, frames, runner):
                writer.write(image, action.time)
                summary.count(action)
                progress.advance()
        progress.stop()
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
    runner, summary, notes = _make_runner(config)
    with atomic_output_dir(output_dir, overwrite=config.overwrite, input_path=input_dir, note=note) as partial:
        for message in notes:
            note(message)
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
            name = f"{out_index + 1:0{width}d}.png"
            write_png(partial / name, image, name=output_dir / name)
            summary.count(action)
            progress.advance()
        progress.stop()
    summary.seconds = time.perf_counter() - started
    return summary
