"""The ``animeinterp`` command line (Typer).

Exit codes: 0 success; 1 a failure explained in one line on stderr (a traceback only with
``ANIMEINTERP_DEBUG=1``); 2 usage errors (Typer's); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Optional

import typer

from animeinterp_cli import __version__, console
from animeinterp_cli.chunks import DEFAULT_CHUNK_SECONDS
from animeinterp_cli.chunks.cli_options import ChunkSeconds, RayAddress, Resume, Workers
from animeinterp_cli.engine.compile import COMPILE_MODES
from animeinterp_cli.engine.device import DEVICES, PRECISIONS
from animeinterp_cli.engine.methods import SGM_MODES
from animeinterp_cli.errors import AnimeInterpError

app = typer.Typer(
    name="animeinterp",
    help="Raise the frame rate of animation video with AnimeInterp (SGM → RFR → splatting → GridNet).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MODELS = ("auto", "animeinterp", "classic", "blend")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"animeinterp {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Frame interpolation for anime and cartoons."""


def _parse_fps(text: str | None) -> Fraction | None:
    from animeinterp_cli.schedule.plan import parse_rate

    if text is None:
        return None
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fps") from None


def _choice(value: str, choices: tuple[str, ...], hint: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=hint)
    return value


# Options shared by `double` and `frames`
Factor = Annotated[int, typer.Option("--factor", "-f", min=2, help="Output frames per input frame (integer ≥ 2).")]
Model = Annotated[
    str,
    typer.Option(
        help="Interpolation method: auto (animeinterp when weights are given, else classic), "
        "animeinterp, classic (DIS flow + splatting, no weights), blend (cross-fade).",
    ),
]
Weights = Annotated[
    Optional[Path], typer.Option(help="AnimeInterp weights, e.g. anime_interp_full.ckpt.", dir_okay=False)
]
Sgm = Annotated[str, typer.Option(help="SGM initial flow: inline (computed per pair) or zero.")]
VggWeights = Annotated[
    Optional[Path],
    typer.Option(help="ImageNet VGG-19 weights (torchvision's vgg19-dcbb9e9d.pth) for SGM's segment descriptors.", dir_okay=False),
]
Device = Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")]
Precision = Annotated[str, typer.Option(help="auto (fp16 on CUDA, bf16 on CPUs with AMX, else fp32), fp32, bf16, fp16.")]
BatchSize = Annotated[
    Optional[int], typer.Option(min=1, help="Frame pairs per batch (default: 1 on the CPU, 4 on CUDA).")
]
Fast = Annotated[
    bool, typer.Option("--fast", help="Speed preset: at most 6 flow-refinement iterations, at half flow scale (classic: faster DIS).")
]
FlowScale = Annotated[
    Optional[float],
    typer.Option(help="Run the flow network on frames resized by this factor in (0, 1] (default: automatic, 1 up to 960×540)."),
]
Compile = Annotated[
    str,
    typer.Option(
        "--compile",
        help="torch.compile the network: auto (when there are 100+ frames to synthesise and a C++ compiler "
        "or Triton is present), on, off. Costs a minute or so once; the output is the same.",
    ),
]
Dedup = Annotated[
    bool,
    typer.Option(
        "--dedup/--no-dedup",
        help="Treat held drawings (anime on twos/threes) as one drawing and interpolate between distinct drawings.",
    ),
]
SceneThreshold = Annotated[
    Optional[float],
    typer.Option(min=0.0, max=1.0, help="Scene-cut score in [0, 1] above which a pair is a cut (default 0.2; see README)."),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")]


def _run_config(
    *, factor, fps, model, weights, sgm, vgg_weights, device, precision, batch_size, fast, flow_scale, compile_mode, dedup,
    scene_threshold, overwrite, encode=None,
):
    from dataclasses import replace

    from animeinterp_cli.api import RunConfig
    from animeinterp_cli.schedule.detect import DetectConfig
    from animeinterp_cli.schedule.plan import Target

    _choice(model, MODELS, "--model")
    _choice(sgm, SGM_MODES, "--sgm")
    _choice(device, DEVICES, "--device")
    _choice(precision, PRECISIONS, "--precision")
    _choice(compile_mode, COMPILE_MODES, "--compile")
    detect = DetectConfig()
    if scene_threshold is not None:
        detect = replace(detect, scene_threshold=scene_threshold)
    target = Target(fps=fps) if fps is not None else Target(factor=factor)
    config = RunConfig(
        target=target,
        model=model,
        weights=weights,
        sgm=sgm,
        vgg_weights=vgg_weights,
        device=device,
        precision=precision,
        batch_size=batch_size,
        fast=fast,
        flow_scale=flow_scale,
        compile=compile_mode,
        dedup=dedup,
        detect=detect,
        overwrite=overwrite,
    )
    return replace(config, encode=encode) if encode is not None else config


def _run_and_report(job, source: Path, target: Path, config, quiet: bool, progress=None) -> None:
    """Run ``interpolate_video``/``interpolate_frames`` with a progress bar, then the summary line."""
    progress = progress or console.RichProgress(quiet)
    try:
        summary = job(source, target, config, progress=progress, note=console.note)
    finally:
        progress.stop()
    if not quiet:
        _report(summary)


def _report(summary, name: str = "") -> None:
    """The one-line summary of a run (``name``: which output, in a batch)."""
    chunks = getattr(summary, "chunks", 0)
    reused = getattr(summary, "reused", 0)
    workers = len(getattr(summary, "workers", {}))
    console.stderr.print(
        f"[green]done:[/] {name}{summary.frames_in} frames in → {summary.frames_out} out "
        f"({summary.synthesized} synthesised, {summary.held} held, {summary.duplicates} duplicates copied, "
        f"{summary.cuts} scene cuts) with {summary.method} on {summary.placement} in {summary.seconds:.1f} s"
        + (f", {chunks} chunks" if chunks else "")
        + (f" on {workers} workers" if workers > 1 else "")
        + (f" ({reused} made by the interrupted run)" if reused else ""),
        soft_wrap=True,
    )


@app.command()
def double(
    input: Annotated[Path, typer.Argument(help="Input video.")],
    output: Annotated[Path, typer.Argument(help="Output video; the container follows the extension (mp4, mkv, mov, webm).")],
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
    """Interpolate a video: 2× (default), --factor N, or --fps RATE. Audio and subtitles are copied."""
    from functools import partial

    from animeinterp_cli.api import interpolate_video
    from animeinterp_cli.chunks import ChunkOptions
    from animeinterp_cli.chunks.display import ChunkDisplay
    from animeinterp_cli.video.encode import EncodeOptions

    config = _run_config(
        factor=factor, fps=_parse_fps(fps), model=model, weights=weights, sgm=sgm, vgg_weights=vgg_weights, device=device,
        precision=precision, batch_size=batch_size, fast=fast, flow_scale=flow_scale, compile_mode=compile_mode, dedup=dedup,
        scene_threshold=scene_threshold,
        overwrite=overwrite, encode=EncodeOptions(codec=codec, crf=crf, preset=preset),
    )
    chunking = ChunkOptions(seconds=chunk_seconds, resume=resume, workers=workers, ray_address=ray_address)
    job = partial(interpolate_video, chunking=chunking)
    _run_and_report(job, input, output, config, quiet, progress=ChunkDisplay(quiet))


@app.command()
def frames(
    dir_in: Annotated[Path, typer.Argument(help="Folder of PNG/JPEG/WebP frames (natural sort order).")],
    dir_out: Annotated[Path, typer.Argument(help="Folder for the numbered PNG output (created).")],
    factor: Factor = 2,
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
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Interpolate an image sequence: N images → (N − 1)·factor + 1 PNGs, originals kept bit-exact."""
    from animeinterp_cli.api import interpolate_frames

    config = _run_config(
        factor=factor, fps=None, model=model, weights=weights, sgm=sgm, vgg_weights=vgg_weights, device=device,
        precision=precision, batch_size=batch_size, fast=fast, flow_scale=flow_scale, compile_mode=compile_mode, dedup=dedup,
        scene_threshold=scene_threshold,
        overwrite=overwrite,
    )
    _run_and_report(interpolate_frames, dir_in, dir_out, config, quiet)


@app.command("weights")
def weights_command() -> None:
    """List the weights the tool can find and verify their checksums."""
    from rich.table import Table

    from animeinterp_cli.errors import WeightsError
    from animeinterp_cli.weights import read_manifest, sha256_of, user_checkpoints, weights_dir

    folder = weights_dir()
    table = Table(title=f"weights in {folder}")
    for column in ("name", "file", "size", "guidance", "sha256"):
        table.add_column(column)
    problems = []
    for entry in read_manifest(folder):
        if not entry.present:
            status, size = "[red]missing[/]", "-"
            problems.append(f"weights file {entry.path} listed in the manifest is missing")
        else:
            size = f"{entry.path.stat().st_size / 1e6:.1f} MB"
            if entry.sha256 is None:
                status = "not in manifest"
            elif sha256_of(entry.path) == entry.sha256:
                status = "[green]ok[/]"
            else:
                status = "[red]MISMATCH[/]"
                problems.append(f"weights file {entry.path} is corrupt: its sha256 does not match the manifest")
        table.add_row(entry.name, entry.path.name, size, entry.guidance, status)
    for path in user_checkpoints(folder):
        table.add_row(path.stem, path.name, f"{path.stat().st_size / 1e6:.1f} MB", "sgm", "user file (no checksum)")
    if table.row_count == 0:
        console.stderr.print(f"no weights found in {folder}: `double` uses the classic method unless --weights is given")
    else:
        console.stderr.print(table)
    if problems:
        raise WeightsError(problems[0])


def _register_package_commands() -> None:
    """Commands that live in their own packages (imported lazily inside their bodies)."""
    from animeinterp_cli.benchmark.command import benchmark
    from animeinterp_cli.chunks.command import batch
    from animeinterp_cli.training.command import train

    app.command("batch")(batch)
    app.command("benchmark")(benchmark)
    app.command("train")(train)


_register_package_commands()


def main() -> None:
    """Console-script entry point: maps failures to one-line messages and exit codes."""
    try:
        result = app(standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: Typer's message, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except AnimeInterpError as exc:
        _fail(exc)
        sys.exit(1)
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(130)
    except typer.Abort:  # Typer's form of Ctrl-C
        console.error("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        _fail(exc, unexpected=True)
        sys.exit(1)
    # Typer returns the exit code of --help / --version instead of raising in this mode
    sys.exit(result if isinstance(result, int) else 0)


def _fail(exc: BaseException, unexpected: bool = False) -> None:
    if os.environ.get("ANIMEINTERP_DEBUG") == "1":
        import traceback

        traceback.print_exception(exc)
    prefix = "unexpected error: " if unexpected else ""
    console.error(f"{prefix}{exc}")
