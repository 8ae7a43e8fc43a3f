"""The ``animeinterp`` command line (Typer).

Exit codes: 0 success; 1 a failure explained in one line on stderr (a traceback only with
``ANIMEINTERP_DEBUG=1``); 2 usage errors (Typer's, and options that contradict the input);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP).

Messages: ``error:`` and ``warning:`` lines always; ``note:`` lines, the progress bar and the
summary unless ``--quiet``; the encoder's own log only with ``--verbose``.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import fields
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import typer

from animeinterp_cli import __version__, console, interrupt
from animeinterp_cli.errors import AnimeInterpError, UsageError
from animeinterp_cli.options import (
    AllowDropOpt,
    CodecOpt,
    CrfOpt,
    DeviceOptions,
    DownloadNameArg,
    DownloadUrlOpt,
    FpsOpt,
    PresetOpt,
    QuietOpt,
    RunOptions,
    StrictOpt,
    VerboseOpt,
    with_options,
)

app = typer.Typer(
    name="animeinterp",
    help="Raise the frame rate of animation video with AnimeInterp (SGM → RFR → splatting → GridNet).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


#: options of the run commands that are the command line's own business, not the run's
_CLI_ONLY = ("quiet",)


def _run_config(options: RunOptions, hardware: DeviceOptions, *, fps: Fraction | None = None, **settings):
    """The :class:`RunConfig` of a run command's options (fields named as ``RunConfig``'s go
    straight in) and of ``settings``, the command's own."""
    from animeinterp_cli.api import RunConfig
    from animeinterp_cli.schedule.detect import DetectConfig
    from animeinterp_cli.schedule.plan import Target

    given = {f.name: getattr(group, f.name) for group in (options, hardware) for f in fields(group)}
    for name in _CLI_ONLY:
        del given[name]
    factor, scene_threshold = given.pop("factor") or 2, given.pop("scene_threshold")
    given["compile"] = given.pop("compile_mode")
    detect = DetectConfig() if scene_threshold is None else DetectConfig(scene_threshold=scene_threshold)
    target = Target(fps=fps) if fps is not None else Target(factor=factor)
    return RunConfig(target=target, detect=detect, **given, **settings)


def _run_and_report(job, source: Path, target: Path, config, quiet: bool, **channels) -> None:
    """Run ``interpolate_video``/``interpolate_frames`` with a progress bar, then the summary
    line; ``--quiet`` keeps the notes back too (errors and warnings still show)."""
    progress = console.RichProgress(quiet)
    note = _silent if quiet else console.note
    try:
        summary = job(source, target, config, progress=progress, note=note, **channels)
    finally:
        progress.stop()
    if quiet:
        return
    console.stderr.print(
        f"[green]done:[/] {summary.frames_in} frames in → {summary.frames_out} out "
        f"({summary.synthesized} synthesised, {summary.held} held, {summary.duplicates} duplicates copied, "
        f"{summary.cuts} scene cuts) with {summary.method} on {summary.placement} in {summary.seconds:.1f} s",
        soft_wrap=True,
    )


@app.command()
@with_options(options=RunOptions, hardware=DeviceOptions)
def double(
    input: Annotated[Path, typer.Argument(help="Input video.")],
    output: Annotated[Path, typer.Argument(help="Output video; the container follows the extension (mp4, mkv, mov, webm).")],
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
) -> None:
    """Interpolate a video: 2× (default), --factor N, or --fps RATE. Audio and subtitles are copied."""
    from animeinterp_cli.api import interpolate_video
    from animeinterp_cli.video.encode import EncodeOptions, show_ffmpeg_log

    if fps is not None and options.factor is not None:
        raise typer.BadParameter("--fps and --factor both set the output rate: give one of them", param_hint="--fps")
    if verbose:
        show_ffmpeg_log()
    encode = EncodeOptions(codec=codec, crf=crf, preset=preset, verbose=verbose)
    config = _run_config(options, hardware, fps=fps, encode=encode, strict=strict, allow_drop=allow_drop)
    _run_and_report(interpolate_video, input, output, config, options.quiet, warn=console.warning)


def _silent(message: str) -> None:
    """``note`` under ``--quiet``."""


@app.command()
@with_options(options=RunOptions, hardware=DeviceOptions)
def frames(
    dir_in: Annotated[Path, typer.Argument(help="Folder of PNG/JPEG/WebP frames (natural sort order).")],
    dir_out: Annotated[Path, typer.Argument(help="Folder for the numbered PNG output (created).")],
    *,
    options: RunOptions,
    hardware: DeviceOptions,
) -> None:
    """Interpolate an image sequence: N images → (N − 1)·factor + 1 PNGs, originals kept bit-exact."""
    from animeinterp_cli.api import interpolate_frames

    _run_and_report(interpolate_frames, dir_in, dir_out, _run_config(options, hardware), options.quiet)


weights_app = typer.Typer(
    help="List and verify the weights the tool can find; `weights download NAME` fetches the paper's.",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
)
app.add_typer(weights_app, name="weights")


@weights_app.callback(invoke_without_command=True)
def weights_command(ctx: typer.Context) -> None:
    """List the weights the tool can find and verify their checksums."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from animeinterp_cli.errors import WeightsError
    from animeinterp_cli.weights import read_manifest, sha256_of, user_checkpoints, weights_dir

    folder = weights_dir()
    table = Table(title=f"weights in {folder}")
    for column in ("name", "file", "size", "guidance", "sha256"):
        table.add_column(column)
    problems = []
    for entry in read_manifest(folder):
        where = "downloads.toml" if entry.origin == "download" else "the manifest"
        if not entry.present:
            status, size = "[red]missing[/]", "-"
            problems.append(f"weights file {entry.path} listed in {where} is missing")
        else:
            size = f"{entry.path.stat().st_size / 1e6:.1f} MB"
            if entry.sha256 is None:
                status = "not in manifest"
            elif sha256_of(entry.path) == entry.sha256:
                status = "[green]ok[/]" + (" (downloaded)" if entry.origin == "download" else "")
            else:
                status = "[red]MISMATCH[/]"
                problems.append(f"weights file {entry.path} is corrupt: its sha256 does not match {where}")
        shown = entry.path.name if entry.path.parent == folder else str(entry.path)
        table.add_row(entry.name, shown, size, entry.guidance, status)
    for path in user_checkpoints(folder):
        table.add_row(path.stem, path.name, f"{path.stat().st_size / 1e6:.1f} MB", "sgm", "user file (no checksum)")
    if table.row_count == 0:
        console.stderr.print(
            f"no weights found in {folder}: `double` uses the classic method unless --weights is given "
            "(`animeinterp weights download official` fetches the paper's checkpoint)"
        )
    else:
        console.stderr.print(table)
    if problems:
        raise WeightsError(problems[0])


@weights_app.command("download")
def weights_download(name: DownloadNameArg, url: DownloadUrlOpt = None, quiet: QuietOpt = False) -> None:
    """Download, validate and record the paper's weights (resumes an interrupted download)."""
    from animeinterp_cli.download import Callbacks, download

    bar = console.DownloadProgress(quiet)
    note = _silent if quiet else console.note
    outcome = download(name, url, Callbacks(note=note, start=bar.start, advance=bar.advance, stop=bar.stop))
    if quiet:
        return
    if outcome.status == "present":
        console.stderr.print(f"{name}: {outcome.path} is already present and verified (sha256 {outcome.sha256[:12]}…): nothing to do")
    elif outcome.status == "recorded":
        console.stderr.print(f"{name}: {outcome.path} was already there; validated and recorded (sha256 {outcome.sha256[:12]}…)")
    else:
        console.stderr.print(
            f"[green]done:[/] {name} → {outcome.path} ({outcome.path.stat().st_size / 1e6:.1f} MB, "
            f"sha256 {outcome.sha256[:12]}…, validated and recorded)",
            soft_wrap=True,
        )


def _register_package_commands() -> None:
    """Commands that live in their own packages (imported lazily inside their bodies)."""
    from animeinterp_cli.benchmark.command import benchmark
    from animeinterp_cli.training.command import train_app

    app.command("benchmark")(benchmark)
    app.add_typer(train_app, name="train")


_register_package_commands()


def main() -> None:
    """Console-script entry point: maps failures to one-line messages and exit codes."""
    with interrupt.termination_as_interrupt() as stop:  # SIGTERM, SIGHUP: a clean stop, as Ctrl-C
        code = _run_app(stop)
    if stop.signum is not None or code is None:
        signum = stop.signum or signal.SIGINT
        console.error("interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}")
        sys.exit(interrupt.exit_status(signum))
    sys.exit(code)


def _run_app(stop: interrupt.Stop) -> int | None:
    """Run the app; the exit code, after the one-line message of a failure (None: interrupted;
    a failure while a stop signal unwinds the run is that signal's doing, not reported)."""
    try:
        result = app(standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: Typer's message, exit 2
        exc.show()  # pyright: ignore[reportAttributeAccessIssue] - Typer's usage errors all have show()
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):  # Abort: Click's form of Ctrl-C
        return None
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if stop.signum is not None:
            return None
        if isinstance(exc, AnimeInterpError):
            _fail(exc)
            return 2 if isinstance(exc, UsageError) else 1  # UsageError: options contradict the input
        _fail(exc, unexpected=True)
        return 1
    # Typer returns the exit code of --help / --version instead of raising in this mode
    return result if isinstance(result, int) else 0


def _fail(exc: BaseException, unexpected: bool = False) -> None:
    if os.environ.get("ANIMEINTERP_DEBUG") == "1":
        import traceback

        traceback.print_exception(exc)
    prefix = "unexpected error: " if unexpected else ""
    console.error(f"{prefix}{exc}")
