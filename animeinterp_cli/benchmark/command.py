"""``animeinterp benchmark DATASET_DIR``: PSNR/SSIM on ATD-12K-layout triplets, methods side by side.

Tables, warnings and the progress bar go to stderr; stdout carries only ``--json -``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from animeinterp_cli import console
from animeinterp_cli.benchmark.datasets import SGM_FOLDER, find_dataset
from animeinterp_cli.benchmark.metrics import PROTOCOLS
from animeinterp_cli.benchmark.report import breakdown_table, dumps, summary_table, to_document
from animeinterp_cli.benchmark.run import ALL_METHOD_NAMES, build_contenders, run_benchmark
from animeinterp_cli.engine.device import DEVICES, PRECISIONS, resolve_placement
from animeinterp_cli.engine.methods import SGM_MODES
from animeinterp_cli.errors import InputError, OutputError


def benchmark(
    dataset_dir: Annotated[
        Path,
        typer.Argument(
            help="ATD-12K-style data set: the folder holding test_2k_540p/ (and test_2k_annotations/), "
            "the frame folder itself, or any folder of triplet folders (frame1, frame2 = truth, frame3)."
        ),
    ],
    method: Annotated[
        Optional[list[str]],
        typer.Option(
            "--method",
            "-m",
            help=f"Method(s) to score, repeated or comma-separated: {', '.join(ALL_METHOD_NAMES)}. "
            "The first is compared with the others. Default: animeinterp.",
        ),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="paper: as AnimeInterp's released evaluation (float output, 7×7 uniform SSIM, range quirks); "
            "standard: uint8 output, Gaussian 11×11 SSIM (Wang et al.)."
        ),
    ] = "paper",
    json_path: Annotated[
        Optional[Path], typer.Option("--json", help="Write the results as JSON to this file, or '-' for stdout.")
    ] = None,
    save_images: Annotated[
        Optional[Path], typer.Option(help="Save each interpolated frame as DIR/<method>/<triplet>.png.")
    ] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Score only the first N triplets (by name).")] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip (and count) triplets with missing or unreadable frames or SGM flows.")
    ] = False,
    sgm: Annotated[
        str,
        typer.Option(help=f"SGM initial flow: inline, zero, or precomputed (read {SGM_FOLDER}/)."),
    ] = "inline",
    weights: Annotated[
        Optional[Path], typer.Option(help="AnimeInterp weights, e.g. anime_interp_full.ckpt.", dir_okay=False)
    ] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (fp16 on CUDA, bf16 on AMX CPUs), fp32, bf16, fp16.")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="Frame pairs per batch.")] = 1,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --json file or saved images.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no tables.")] = False,
) -> None:
    """Score methods on ATD-12K-layout triplets: PSNR/SSIM, whole image and motion RoI, per level/motion/behaviour."""
    names = _method_names(method)
    _choice(protocol, PROTOCOLS, "--protocol")
    _choice(sgm, SGM_MODES, "--sgm")
    _choice(device, DEVICES, "--device")
    _choice(precision, PRECISIONS, "--precision")
    to_stdout = json_path is not None and str(json_path) == "-"
    if json_path is not None and not to_stdout:
        _check_json_target(json_path, overwrite)

    dataset = find_dataset(dataset_dir)
    if sgm == "precomputed" and not any(t.sgm_dir for t in dataset.triplets):
        raise InputError(f"--sgm precomputed: no {SGM_FOLDER}/<name>/guide_flo13.npy found for {dataset_dir}")
    if not dataset.annotated:
        console.note("no annotations found: whole-image metrics only (no RoI, no per-level breakdown)")
    placement = resolve_placement(device, precision)
    contenders = build_contenders(names, placement=placement, weights=weights, sgm=sgm, batch_size=batch_size)
    if "animeinterp" in names and weights is None:
        from animeinterp_cli.engine.methods import describe_weights, resolve_weights

        console.note(describe_weights(resolve_weights(None), sgm))  # built above, so there are weights

    count = min(limit, len(dataset.triplets)) if limit is not None else len(dataset.triplets)
    progress = console.RichProgress(quiet)
    progress.start("benchmark", count)
    try:
        result = run_benchmark(
            dataset,
            contenders,
            protocols=(protocol,),
            limit=limit,
            skip_bad=skip_bad,
            sgm_flows=sgm == "precomputed",
            save_images=save_images,
            overwrite=overwrite,
            on_progress=lambda _name: progress.advance(),
            on_warning=console.note,
        )
    finally:
        progress.stop()

    if not result.methods[0].triplets:
        raise InputError(f"no triplet of {dataset_dir} could be scored ({len(result.skipped)} skipped)")
    if not quiet:
        console.stderr.print(summary_table(result, (protocol,)))
        breakdown = breakdown_table(result, protocol)
        if breakdown is not None:
            console.stderr.print(breakdown)
    if json_path is not None:
        text = dumps(to_document(result, protocol, sgm=sgm, placement=placement.describe()))
        if to_stdout:
            sys.stdout.write(text)
        else:
            _write_atomically(json_path, text)


def _method_names(values: list[str] | None) -> list[str]:
    """Method names from repeated and/or comma-separated ``--method`` values, in order, once each."""
    names: list[str] = []
    for value in values or ["animeinterp"]:
        for name in (part.strip() for part in value.split(",")):
            if name not in ALL_METHOD_NAMES:
                raise typer.BadParameter(f"{name!r} is not one of {', '.join(ALL_METHOD_NAMES)}", param_hint="--method")
            if name not in names:
                names.append(name)
    return names


def _choice(value: str, choices: tuple[str, ...], hint: str) -> None:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=hint)


def _check_json_target(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise OutputError(f"--json {path} is a folder")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
