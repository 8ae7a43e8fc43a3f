"""``animeinterp batch INPUT... --out-dir DIR``: many videos (a season) in one run, chunks spread over workers.

Every input is made in chunks cut at scene cuts (as ``double`` makes a long video), and the
chunks of all inputs are scheduled together, largest first, on ``--workers`` Ray workers (or
in this process with one). Each output is written to ``DIR`` under its input's name (the
container follows the input's extension; ``.mkv`` for one the tool cannot write), stitched
and renamed into place as soon as its own chunks are done. With ``--resume`` outputs that
are already there are skipped, and interrupted ones continue from their work folders.

Registered by :mod:`animeinterp_cli.cli`; it takes ``double``'s options (the aliases and
groups of :mod:`animeinterp_cli.options`), and ``-q`` prints only errors and warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from animeinterp_cli import console
from animeinterp_cli.errors import InputError, OutputError
from animeinterp_cli.options import (
    AllowDropOpt,
    ChunkingOptions,
    CodecOpt,
    CrfOpt,
    DeviceOptions,
    FpsOpt,
    PresetOpt,
    RunOptions,
    StrictOpt,
    VerboseOpt,
    with_options,
)


def output_name(source: Path) -> str:
    """The output's file name for ``source``: the same, or with ``.mkv`` when its container is not writable."""
    from animeinterp_cli.video.encode import CONTAINERS

    return source.name if source.suffix.lower() in CONTAINERS else f"{source.stem}.mkv"


@with_options(options=RunOptions, hardware=DeviceOptions, chunking=ChunkingOptions)
def batch(
    inputs: Annotated[list[Path], typer.Argument(help="Input videos (e.g. the episodes of a season).")],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Folder for the outputs (created), each named as its input.", file_okay=False)
    ],
    fps: FpsOpt = None,
    allow_drop: AllowDropOpt = False,
    codec: CodecOpt = None,
    crf: CrfOpt = 17,
    preset: PresetOpt = "medium",
    strict: StrictOpt = False,
    verbose: VerboseOpt = False,
    *,
    options: RunOptions,
    hardware: DeviceOptions,
    chunking: ChunkingOptions,
) -> None:
    """Interpolate many videos into DIR, their chunks spread over --workers (Ray). Audio and subtitles are copied."""
    from animeinterp_cli.chunks.display import ChunkDisplay
    from animeinterp_cli.chunks.driver import run_chunked
    from animeinterp_cli.chunks.workdir import work_folder_for
    from animeinterp_cli.cli import _report, _silent, _video_run_config

    config = _video_run_config(options, hardware, fps=fps, allow_drop=allow_drop, codec=codec, crf=crf, preset=preset,
                               strict=strict, verbose=verbose)  # fmt: skip
    chunks = chunking.to_chunks()
    note = _silent if options.quiet else console.note
    if chunks.uses_ray:
        from animeinterp_cli.chunks.pool import require_ray

        require_ray(chunks.workers, chunks.ray_address)  # before anything is created
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out-dir is not a folder: {out_dir}")
    jobs: list[tuple[Path, Path]] = []
    seen: dict[str, Path] = {}
    for source in inputs:
        if not source.is_file():
            raise InputError(f"input not found: {source}" if not source.exists() else f"input is not a file: {source}")
        name = output_name(source)
        if name in seen:
            raise InputError(f"{seen[name]} and {source} would both be written to {out_dir / name}")
        seen[name] = source
        target = out_dir / name
        if chunks.resume and target.exists() and not work_folder_for(target).exists() and not config.overwrite:
            note(f"{target} is already there: skipped")
            continue
        jobs.append((source, target))
    if not jobs:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    display = ChunkDisplay(options.quiet)
    try:
        summaries = run_chunked(jobs, config, chunks, progress=display, note=note, warn=console.warning)
    finally:
        display.end()
    if options.quiet:
        return
    for summary in summaries:
        _report(summary, f"{summary.output.name}: " if summary.output else "")
