"""``animeinterp batch INPUT... --out-dir DIR``: many videos (a season) in one run, chunks spread over workers.

Every input is made in chunks cut at scene cuts (as ``double`` makes a long video), and the
chunks of all inputs are scheduled together, largest first, on ``--workers`` Ray workers (or
in this process with one). Each output is written to ``DIR`` under its input's name (the
container follows the input's extension; ``.mkv`` for one the tool cannot write), stitched
and renamed into place as soon as its own chunks are done. With ``--resume`` outputs that
are already there are skipped, and interrupted ones continue from their work folders.

Registered by :mod:`animeinterp_cli.cli` (it reuses that module's option types).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from animeinterp_cli import console
from animeinterp_cli.chunks import DEFAULT_CHUNK_SECONDS
from animeinterp_cli.chunks.cli_options import ChunkSeconds, RayAddress, Resume, Workers
from animeinterp_cli.cli import (
    BatchSize,
    Compile,
    Dedup,
    Device,
    Factor,
    Fast,
    FlowScale,
    Model,
    Overwrite,
    Precision,
    Quiet,
    SceneThreshold,
    Sgm,
    VggWeights,
    Weights,
    _parse_fps,
    _report,
    _run_config,
)
from animeinterp_cli.errors import InputError, OutputError


def output_name(source: Path) -> str:
    """The output's file name for ``source``: the same, or with ``.mkv`` when its container is not writable."""
    from animeinterp_cli.video.encode import CONTAINERS

    return source.name if source.suffix.lower() in CONTAINERS else f"{source.stem}.mkv"


def batch(
    inputs: Annotated[list[Path], typer.Argument(help="Input videos (e.g. the episodes of a season).")],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Folder for the outputs (created), each named as its input.", file_okay=False)
    ],
    factor: Factor = 2,
    fps: Annotated[
        Optional[str], typer.Option(help="Target frame rate instead of --factor: 60, 60000/1001, 59.94…")
    ] = None,
    model: Model = "auto",
    weights: Weights = None,
    sgm: Sgm = "inline",
    vgg_weights: VggWeights = None,
    device: Device = "auto",
    precision: Precision = "auto",
    batch_size: BatchSize = None,
    fast: Fast = False,
    flow_scale: FlowScale = None,
    compile_mode: Compile = "auto",
    dedup: Dedup = True,
    scene_threshold: SceneThreshold = None,
    codec: Annotated[str, typer.Option(help="Video encoder: libx264, libx265, libsvtav1, libvpx-vp9…")] = "libx264",
    crf: Annotated[int, typer.Option(min=0, max=63, help="Constant rate factor (lower = better quality).")] = 17,
    preset: Annotated[str, typer.Option(help="Encoder preset (e.g. x264's ultrafast … veryslow).")] = "medium",
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    chunk_seconds: ChunkSeconds = DEFAULT_CHUNK_SECONDS,
    resume: Resume = False,
    workers: Workers = 1,
    ray_address: RayAddress = None,
) -> None:
    """Interpolate many videos into DIR, their chunks spread over --workers (Ray). Audio and subtitles are copied."""
    from animeinterp_cli.chunks import ChunkOptions
    from animeinterp_cli.chunks.display import ChunkDisplay
    from animeinterp_cli.chunks.driver import run_chunked
    from animeinterp_cli.chunks.workdir import work_folder_for
    from animeinterp_cli.video.encode import EncodeOptions

    config = _run_config(
        factor=factor, fps=_parse_fps(fps), model=model, weights=weights, sgm=sgm, vgg_weights=vgg_weights, device=device,
        precision=precision, batch_size=batch_size, fast=fast, flow_scale=flow_scale, compile_mode=compile_mode, dedup=dedup,
        scene_threshold=scene_threshold,
        overwrite=overwrite, encode=EncodeOptions(codec=codec, crf=crf, preset=preset),
    )  # fmt: skip
    chunking = ChunkOptions(seconds=chunk_seconds, resume=resume, workers=workers, ray_address=ray_address)
    if chunking.uses_ray:
        from animeinterp_cli.chunks.pool import require_ray

        require_ray(workers, ray_address)  # before anything is created
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
        if resume and target.exists() and not work_folder_for(target).exists() and not overwrite:
            console.note(f"{target} is already there: skipped")
            continue
        jobs.append((source, target))
    if not jobs:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    display = ChunkDisplay(quiet)
    try:
        summaries = run_chunked(jobs, config, chunking, progress=display, note=console.note)
    finally:
        display.end()
    if quiet:
        return
    for summary in summaries:
        _report(summary, f"{summary.output.name}: " if summary.output else "")
