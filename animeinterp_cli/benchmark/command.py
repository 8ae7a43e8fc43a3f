"""``animeinterp benchmark DATASET_DIR``: PSNR/SSIM on ATD-12K-layout triplets, methods side by side.

Tables, warnings and the progress bar go to stderr; stdout carries only ``--json -``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from animeinterp_cli import console
from animeinterp_cli.benchmark.datasets import SGM_FOLDER, find_dataset
from animeinterp_cli.benchmark.report import breakdown_table, dumps, summary_table, to_document
from animeinterp_cli.benchmark.run import build_contenders, run_benchmark
from animeinterp_cli.engine.device import default_batch_size, resolve_placement
from animeinterp_cli.errors import InputError
from animeinterp_cli.options import (
    BenchmarkMethod,
    BenchmarkSgm,
    DeviceOptions,
    MetricProtocol,
    OverwriteOpt,
    QuietOpt,
    WeightsOpt,
    choices,
    with_options,
)
from animeinterp_cli.video.output import check_output_file, write_atomically


@with_options(hardware=DeviceOptions)
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
            help=f"Method(s) to score, repeated or comma-separated: {choices(BenchmarkMethod)}. "
            "The first is compared with the others. Default: animeinterp.",
        ),
    ] = None,
    protocol: Annotated[
        MetricProtocol,
        typer.Option(
            help="paper: as AnimeInterp's released evaluation (float output, 7×7 uniform SSIM, range quirks); "
            "standard: uint8 output, Gaussian 11×11 SSIM (Wang et al.)."
        ),
    ] = MetricProtocol.paper,
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
        BenchmarkSgm,
        typer.Option(help=f"SGM initial flow: inline, zero, or precomputed (read {SGM_FOLDER}/)."),
    ] = BenchmarkSgm.inline,
    weights: WeightsOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
    *,
    hardware: DeviceOptions,
) -> None:
    """Score methods on ATD-12K-layout triplets: PSNR/SSIM, whole image and motion RoI, per level/motion/behaviour."""
    names = _method_names(method)
    to_stdout = json_path is not None and str(json_path) == "-"
    if json_path is not None and not to_stdout:
        check_output_file(json_path, overwrite=overwrite)

    dataset = find_dataset(dataset_dir)
    if sgm == BenchmarkSgm.precomputed and not any(t.sgm_dir for t in dataset.triplets):
        raise InputError(f"--sgm precomputed: no {SGM_FOLDER}/<name>/guide_flo13.npy found for {dataset_dir}")
    note = console.note if not quiet else _silent  # -q: errors and warnings only
    if not dataset.annotated:
        note("no annotations found: whole-image metrics only (no RoI, no per-level breakdown)")
    placement = resolve_placement(hardware.device, hardware.precision)
    contenders = build_contenders(
        names, placement=placement, weights=weights, inline_guidance=sgm == BenchmarkSgm.inline,
        batch_size=hardware.batch_size or default_batch_size(placement), note=note,
    )

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
            sgm_flows=sgm == BenchmarkSgm.precomputed,
            save_images=save_images,
            overwrite=overwrite,
            on_progress=lambda _name: progress.advance(),
            on_warning=console.warning,
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
            write_atomically(json_path, text.encode("utf-8"))


def _method_names(values: list[str] | None) -> list[BenchmarkMethod]:
    """Methods from repeated and/or comma-separated ``--method`` values, in order, once each."""
    names: list[BenchmarkMethod] = []
    for value in values or [BenchmarkMethod.animeinterp]:
        for name in (part.strip() for part in value.split(",")):
            if name not in BenchmarkMethod.__members__:
                raise typer.BadParameter(f"{name!r} is not one of {choices(BenchmarkMethod)}", param_hint="--method")
            if BenchmarkMethod(name) not in names:
                names.append(BenchmarkMethod(name))
    return names


def _silent(message: str) -> None:
    """``note`` under ``--quiet``."""
