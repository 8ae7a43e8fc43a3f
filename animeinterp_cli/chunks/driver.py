"""The chunked run of one or many files (``double`` on a long video, ``batch``): see the package docstring.

For each file: its output is claimed at once (:func:`~animeinterp_cli.video.output.atomic_output`
checks it before any work), its work folder is checked (an interrupted run's is refused
without ``--resume``; with it, the source fingerprint, the settings and the new plan must all
match the manifest, and every finished chunk must decode to its frame count), pass 1 and the
plan are made, and the plan is split at scene cuts. Then the chunks of all files still to do
go to the pool, largest first; a failed chunk is retried once, then reported. As soon as a
file's chunks are all done it is stitched (on this machine), renamed into place, and its work
folder removed.

When the run stops early (Ctrl-C, a signal, an error), the output stays untouched as always;
a work folder that holds finished chunks is kept for ``--resume`` (and said so), one that
holds none is removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from animeinterp_cli import __version__
from animeinterp_cli.api import RunConfig, Summary, _Silent, check_run
from animeinterp_cli.chunks import ChunkOptions
from animeinterp_cli.chunks.display import as_display
from animeinterp_cli.chunks.pool import make_pool
from animeinterp_cli.chunks.split import ChunkSpec, split_plan
from animeinterp_cli.chunks.workdir import FORMAT, WorkFolder, chunk_entry, fingerprint, settings_hash, settings_of
from animeinterp_cli.chunks.worker import ChunkResult, ChunkTask
from animeinterp_cli.errors import AnimeInterpError, EncodeError, OutputError
from animeinterp_cli.schedule.plan import Action, Synthesize, plan
from animeinterp_cli.video.decode import VideoInfo, last_frame_duration, probe_video
from animeinterp_cli.video.encode import EncodeOptions
from animeinterp_cli.video.output import atomic_output
from animeinterp_cli.video.stitch import Piece, chunk_suffix, count_frames, stitch

#: how often the scheduling loop looks at the workers (seconds)
_POLL_S = 0.25


@dataclass
class ChunkedSummary(Summary):
    """A :class:`Summary` with the chunks: how many, and how many a previous run had made."""

    chunks: int = 0
    reused: int = 0
    output: Path | None = None
    #: worker (host:pid) → chunks its model had made by its last chunk of this file (all files counted)
    workers: dict[str, int] = field(default_factory=dict)


@dataclass
class _File:
    """One input → output of the run, from claim to rename."""

    index: int
    source: Path
    output: Path
    info: VideoInfo
    work: WorkFolder
    claim: Any  # the entered atomic_output context
    partial: Path
    started: float
    summary: ChunkedSummary
    encode: EncodeOptions  # the run's, with the automatic choices made for this source and output
    owned: bool = False  # the work folder is this run's (made or taken over with --resume)
    rate: Fraction = Fraction(0)
    times: list[Fraction] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    chunks: list[ChunkSpec] = field(default_factory=list)
    remaining: set[int] = field(default_factory=set)
    failed: bool = False
    finished: bool = False
    descriptor: str | None = None


def _once(note: Callable[[str], None]) -> Callable[[str], None]:
    """``note`` that says each message once (every chunk's worker would repeat it)."""
    said: set[str] = set()

    def say(message: str) -> None:
        if message not in said:
            said.add(message)
            note(message)

    return say


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if isinstance(error, AnimeInterpError) else f"{type(error).__name__}: {text}"


def run_chunked(
    jobs: Sequence[tuple[Path, Path]],
    config: RunConfig,
    options: ChunkOptions,
    *,
    progress: Any = None,
    note: Callable[[str], None] = lambda message: None,
    warn: Callable[[str], None] | None = None,
    built: Any = None,
) -> list[ChunkedSummary]:
    """Make every ``(input, output)`` of ``jobs`` in chunks; one summary per job, in order.

    ``note`` and ``warn`` as for :func:`~animeinterp_cli.api.interpolate_video` (each message
    said once, however many chunks meet it); ``built``: what ``api._make_runner(config)``
    returned, for the in-process worker (which builds it otherwise, before any frame is decoded).
    """
    display = as_display(progress or _Silent())
    warn = _once(warn or note)
    note = _once(note)
    pool = make_pool(config, options.workers, options.ray_address, note, warn, built)
    files: list[_File] = []
    try:
        for index, (source, output) in enumerate(jobs):
            files.append(_claim(index, Path(source), Path(output), config, options, note, warn))
        analyses = pool.analyse([(f.source, f.info) for f in files], config.detect, display, config.strict, warn)
        for index, times, scores in analyses:
            _prepare(files[index], times, scores, config, options, note)
            if pool.method is not None and pool.placement is not None:  # the in-process worker's, built already
                files[index].summary.method, files[index].summary.placement = pool.method, pool.placement
        for file in files:
            if not file.remaining:
                _finish(file, note, warn)  # every chunk was there already
        tasks = [task for file in files for task in _tasks(file)]
        if tasks:
            pool.on_progress = display.chunk_advanced
            pool.start(sum(isinstance(action, Synthesize) for task in tasks for action in task.actions))
            failures = _schedule(pool, tasks, files, display, note, warn)
            if failures:
                task, error = failures[0]
                more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
                raise AnimeInterpError(f"chunk {task.label} failed twice{more}: {_reason(error)}")
        return [file.summary for file in files]
    except BaseException as error:
        for file in files:
            if not file.finished:
                _abandon(file, error, warn)
        raise
    finally:
        display.end()
        pool.close()


def _claim(
    index: int, source: Path, output: Path, config: RunConfig, options: ChunkOptions, note, warn
) -> _File:
    """Probe the source, check the settings against it, claim the output (a stale partial of
    it removed: never a work folder), and check (and lock) an existing work folder."""
    info = probe_video(source)
    encode = check_run(config, info, output, warn)
    claim = atomic_output(output, overwrite=config.overwrite, input_path=source, note=note)
    partial = claim.__enter__()
    work = WorkFolder.for_output(output)
    file = _File(
        index, source, output, info, work, claim, partial, time.perf_counter(), ChunkedSummary(output=output), encode
    )
    try:
        if work.exists:
            work.lock()
            manifest = work.read()
            if not options.resume:
                raise OutputError(
                    f"an interrupted run of {output.name} left {work.path} ({work.describe()}): add --resume to "
                    "continue it, or delete the folder to start over"
                )
            if manifest is not None:
                work.check_source(source, fingerprint(source, info.duration))
                work.check_settings(_settings(config, encode, options))
                file.owned = True
    except BaseException as error:
        _abandon(file, error, lambda message: None)
        raise
    return file


def _settings(config: RunConfig, encode: EncodeOptions, options: ChunkOptions) -> dict[str, str]:
    """The settings that make the output: ``config`` with the automatic choices made, the
    encoder's (for this source and output) and the weights' (``--model auto`` takes the
    official checkpoint once downloaded, else the shipped default: a download between the
    interrupted run and ``--resume`` would mix two methods' chunks, so it is refused)."""
    from animeinterp_cli.engine.methods import resolve_weights
    from animeinterp_cli.options import Model

    effective = replace(config, encode=encode)
    if config.weights is None and config.model in (Model.auto, Model.animeinterp):
        resolved = resolve_weights(None)
        if resolved is not None:
            effective = replace(effective, weights=resolved.path)
    return settings_of(effective, chunk_seconds=options.seconds)


def _prepare(file: _File, times: list[Fraction], scores: list, config: RunConfig, options: ChunkOptions, note) -> None:
    """Plan the file, split it, and write (or check against) its manifest."""
    info = file.info
    end_time = times[-1] + last_frame_duration(info)
    actions = plan(times, scores, config.target, end_time=end_time, dedup=config.dedup)
    seconds = options.seconds or float(end_time - times[0]) + 1  # 0: one chunk (with Ray workers)
    chunks = split_plan(times, scores, actions, end_time, Fraction(seconds).limit_denominator(1000))
    codec = file.encode.codec or ""
    suffix = chunk_suffix(codec)
    if suffix is None:
        raise EncodeError(f"{codec} cannot be written in chunks (no MP4 or QuickTime mapping)")
    entries = [chunk_entry(chunk, f"chunk-{chunk.index:05d}{suffix}") for chunk in chunks]
    file.rate = config.target.output_rate(info.frame_rate)
    settings = _settings(config, file.encode, options)
    work = file.work
    if work.manifest is not None and file.owned:
        work.check_plan(entries)
        work.remove_partials()
        for entry in work.recorded()["chunks"]:
            if entry["done"] and count_frames(work.chunk_file(entry["index"])) != entry["frames"]:
                note(f"{file.output.name}: chunk {entry['index'] + 1}/{len(chunks)} in {work.path} is damaged: making it again")
                work.undo(entry["index"])
        work.save()
    else:
        if work.exists:
            note(f"{work.path} holds no manifest this version can read: starting over")
            work.remove()
        work.create(
            {
                "format": FORMAT,
                "tool": f"animeinterp {__version__}",
                "source": {"path": str(file.source.resolve()), **fingerprint(file.source, info.duration)},
                "output": file.output.name,
                "rate": str(file.rate),
                "settings_hash": settings_hash(settings),
                "settings": settings,
                "chunks": entries,
            }
        )
        file.owned = True
    done = {entry["index"] for entry in work.recorded()["chunks"] if entry["done"]}
    file.times, file.actions, file.chunks = times, actions, chunks
    file.remaining = {chunk.index for chunk in chunks} - done
    summary = file.summary
    summary.frames_in, summary.cuts = len(times), sum(s.cut for s in scores)
    summary.chunks, summary.reused = len(chunks), len(done)
    summary.method, summary.placement = str(config.model), str(config.device)  # until a chunk says
    for action in actions:
        summary.count(action)


def _tasks(file: _File) -> list[ChunkTask]:
    pixels = file.info.width * file.info.height
    tasks = []
    for chunk in file.chunks:
        if chunk.index not in file.remaining:
            continue
        tasks.append(
            ChunkTask(
                job=file.index,
                chunk=chunk.index,
                label=f"{file.output.name} {chunk.index + 1}/{len(file.chunks)}",
                source=file.source,
                info=file.info,
                rate=file.rate,
                encode=file.encode,
                actions=tuple(file.actions[chunk.first_action : chunk.stop_action]),
                first_frame=chunk.first_frame,
                last_frame=chunk.last_frame,
                times=tuple(file.times[chunk.first_frame : chunk.last_frame + 1]),
                start=chunk.start,
                dest=file.work.partial_file(chunk.index),
                cost=(chunk.synthesized + 0.05 * chunk.frames) * pixels,
            )
        )
    return tasks


def _schedule(pool, tasks: list[ChunkTask], files: list[_File], display, note, warn) -> list:
    """Run the tasks on the pool, largest first; retry a failure once. Returns what failed twice."""
    queue = sorted(tasks, key=lambda task: -task.cost)
    all_frames = sum(chunk.frames for file in files for chunk in file.chunks)
    todo = {task.key for task in tasks}
    done_frames = sum(chunk.frames for file in files for chunk in file.chunks if (file.index, chunk.index) not in todo)
    all_chunks = sum(len(file.chunks) for file in files)
    display.begin_chunks(all_frames, done_frames, all_chunks, all_chunks - len(tasks))
    attempts: dict[tuple[int, int], int] = {}
    failures: list[tuple[ChunkTask, BaseException]] = []
    while queue or pool.busy:
        while queue and pool.idle:
            task = queue.pop(0)
            display.chunk_started(task.key, task.label, task.frames)
            pool.submit(task)
        for key, count in pool.progress().items():
            display.chunk_advanced(key, count)
        for task, outcome in pool.wait(_POLL_S):
            file = files[task.job]
            if isinstance(outcome, BaseException):
                display.chunk_abandoned(task.key)
                task.dest.unlink(missing_ok=True)
                attempts[task.key] = attempts.get(task.key, 0) + 1
                if attempts[task.key] < 2:
                    note(f"chunk {task.label} failed ({_reason(outcome)}): trying it once more")
                    queue.insert(0, task)
                else:
                    failures.append((task, outcome))
                    file.failed = True
                continue
            _chunk_done(file, task, outcome, note, warn)
            display.chunk_finished(task.key, task.frames)
            if not file.remaining and not file.failed:
                _finish(file, note, warn)
    return failures


def _chunk_done(file: _File, task: ChunkTask, result: ChunkResult, note, warn) -> None:
    for message in result.notes:
        note(message)
    for message in result.warnings:
        warn(message)
    if result.data is not None:
        with open(task.dest, "wb") as handle:
            handle.write(result.data)
    file.work.commit_chunk(task.chunk)
    file.remaining.discard(task.chunk)
    file.summary.method, file.summary.placement = result.method, result.placement
    file.summary.workers[result.worker] = max(result.made, file.summary.workers.get(result.worker, 0))
    file.descriptor = result.descriptor or file.descriptor


def _finish(file: _File, note, warn) -> None:
    """Stitch the chunk files into the output, rename it into place, remove the work folder."""
    pieces = [Piece(file.work.chunk_file(chunk.index), chunk.start) for chunk in file.chunks]
    frames = stitch(pieces, file.partial, file.info, file.rate, file.encode, warn=warn, name=file.output)
    if frames != len(file.actions):
        raise OutputError(f"{file.output}: stitched {frames} frames, the plan has {len(file.actions)}")
    file.claim.__exit__(None, None, None)  # renames the stitched file onto the output
    file.finished = True
    file.work.remove()
    if file.descriptor == "color":
        note("SGM used the weights-free colour descriptor (no VGG-19 ImageNet weights found)")
    elif file.descriptor:
        note(f"SGM used the {file.descriptor} descriptor")
    file.summary.seconds = time.perf_counter() - file.started


def _abandon(file: _File, error: BaseException, warn) -> None:
    """The run stops before this file is done: no output, and the work folder kept only if
    it holds finished chunks (a warning, shown with ``-q`` too: files stay on disk)."""
    try:
        file.claim.__exit__(type(error), error, error.__traceback__)
    except BaseException:  # noqa: BLE001 - the claim re-raises the error it was given
        pass
    work = file.work
    if not file.owned:
        work.unlock()
        return
    work.remove_partials()
    done = work.done_count()
    if done == 0:
        work.remove()
        return
    work.unlock()
    warn(
        f"{file.output.name}: {work.describe()}, kept in {work.path}: the same command with --resume "
        "continues from there"
    )

