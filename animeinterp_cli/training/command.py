"""``animeinterp train``: make the training cache, train the learned default, or the whole network.

- ``train prepare CACHE``: the cache of frozen motion for the residual synthesis stage
  (:mod:`animeinterp_cli.training.cache`), from triplet folders and layered renders;
- ``train synthesis RUN --cache CACHE``: the learned default's residual synthesis stage
  (:mod:`animeinterp_cli.training.residual`);
- ``train export RUN --to weights/``: ship a run's best weights as the default
  (:mod:`animeinterp_cli.training.export`);
- ``train network RUN``: the whole network (DIS-guided RFR + GridNet) on rendered and real
  triplets (:mod:`animeinterp_cli.training.train`).

Progress, validation results and errors go to stderr. A run folder holds ``last.pt``
(resumable), ``best.pt`` (best validation), ``log.jsonl`` and ``curve.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from animeinterp_cli import console
from animeinterp_cli.training.dataset import TRAINING_MATERIAL

train_app = typer.Typer(no_args_is_help=True, help="Train weights: prepare a cache, the synthesis stage, or the network.")


@train_app.command("prepare")
def prepare_command(
    cache: Annotated[Path, typer.Argument(help="Cache folder (git-ignored cache/ in a checkout); entries already there are kept.")],
    data: Annotated[
        Optional[list[Path]], typer.Option(help="A folder of real triplets in the ATD-12K layout (repeatable).")
    ] = None,
    layered: Annotated[int, typer.Option(min=0, help="How many layered triplets to render from --material.")] = 0,
    layered_size: Annotated[int, typer.Option(min=64, help="Side of the layered triplets in pixels.")] = 288,
    material: Annotated[Path, typer.Option(help="Training material for layered triplets.")] = TRAINING_MATERIAL,
    seed: Annotated[int, typer.Option(help="Seed of the layered renders.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Compute the frozen motion of every triplet once (DIS flows, importance, splatted frames)."""
    import itertools

    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from animeinterp_cli.errors import InputError
    from animeinterp_cli.training.cache import layered_triplets, prepare
    from animeinterp_cli.training.dataset import read_atd_folder
    from models.animeinterp import AnimeInterp
    from models.config import AnimeInterpConfig

    folders = data or []
    for folder in folders:
        if not folder.is_dir():
            raise InputError(f"--data folder not found: {folder}")
    if not folders and not layered:
        raise InputError("nothing to prepare: give --data FOLDER and/or --layered N")
    if layered and not material.is_dir():
        raise InputError(f"training material folder not found: {material}")
    torch.set_num_threads(1)
    sources = itertools.chain(
        *(read_atd_folder(folder) for folder in folders),
        layered_triplets(material, layered, layered_size, seed) if layered else (),
    )
    progress = Progress(TextColumn("[bold]prepare"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console.stderr, disable=quiet)
    with progress:
        task = progress.add_task("prepare", total=None)
        count = prepare(cache, AnimeInterp(AnimeInterpConfig.guided()), sources,
                        on_entry=lambda name, done: progress.advance(task))
    size = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file())
    console.stderr.print(f"{count} triplets in {cache} ({size / 2**30:.1f} GiB)")


@train_app.command("synthesis")
def synthesis_command(
    out_dir: Annotated[Path, typer.Argument(help="Run folder: checkpoints, log.jsonl and curve.png go here.")],
    cache: Annotated[Path, typer.Option(help="The training cache (`animeinterp train prepare`).")],
    steps: Annotated[Optional[int], typer.Option(
        help="Total optimisation steps: a resumed run continues up to this (default 60,000, or a resumed run's own).",
    )] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Windows per step (default 8, or a resumed run's own).")] = None,
    crop: Annotated[Optional[int], typer.Option(
        help="Side of the loss crop in pixels; the network sees a margin around it (default 192, or a resumed run's own).",
    )] = None,
    lr: Annotated[Optional[float], typer.Option(
        help="Peak learning rate (AdamW; warm-up, then cosine decay; default 1e-3, or a resumed run's own).",
    )] = None,
    val_every: Annotated[int, typer.Option(help="Validate on the sample triplets every N steps (0 = never).")] = 500,
    val_limit: Annotated[Optional[int], typer.Option(min=1, help="Validate on the first N triplets only.")] = None,
    checkpoint_every: Annotated[int, typer.Option(help="Save last.pt every N steps.")] = 100,
    threads: Annotated[int, typer.Option(help="CPU threads (one leaves the other core free).")] = 1,
    seed: Annotated[Optional[int], typer.Option(help="Data seed (default 0, or a resumed run's own).")] = None,
    init: Annotated[
        Optional[Path], typer.Option(help="Start a new run from these weights (e.g. the candidate in weights/).")
    ] = None,
    ema_decay: Annotated[Optional[float], typer.Option(
        help="Decay of the weights' moving average, which is validated and saved (default 0.995, or a resumed run's own).",
    )] = None,
    weight: Annotated[
        Optional[list[str]],
        typer.Option(help="NAME=W: draw the cached triplets whose name holds NAME W times as often (repeatable; "
                          "default: uniform, or a resumed run's own)."),
    ] = None,
    disagreement_gate: Annotated[
        Optional[float],
        typer.Option(help="Scale the correction by how much the two splatted frames disagree, saturating at this "
                          "mean RGB difference (a new run; default: as the network or --init has it)."),
    ] = None,
    correction_downscale: Annotated[
        Optional[int],
        typer.Option(help="Compute the correction at 1/K resolution, K in 1, 2, 4 (a new run; default: as the "
                          "network or --init has it)."),
    ] = None,
    error_inputs: Annotated[
        bool,
        typer.Option("--error-inputs", help="Let GridNet see each splatted frame's photometric error (a new run; "
                                            "--init's network is widened with zero weights, so it starts as it was)."),
    ] = False,
    loss: Annotated[
        Optional[str],
        typer.Option(help="Frame loss: mse, or psnr (−PSNR per window, averaged, as validation measures); "
                          "default: mse, or a resumed run's own."),
    ] = None,
    edge_windows: Annotated[
        Optional[float],
        typer.Option(help="Probability, per axis, of a window flush with the frame's edge, whose margin there is "
                          "in the loss: the correction is trained up to the edges, so the network needs no "
                          "border fade (a new run; default 0, or a resumed run's own)."),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in OUT_DIR from its last.pt.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train the learned default: a residual synthesis stage on cached, frozen DIS motion."""
    from animeinterp_cli.training.residual import ResidualTrainConfig, train_residual

    config = ResidualTrainConfig(
        out_dir=out_dir, cache=cache, steps=steps, batch_size=batch_size, crop=crop, lr=lr, val_every=val_every,
        val_limit=val_limit, checkpoint_every=checkpoint_every, threads=threads, seed=seed, init=init, resume=resume,
        weights=tuple(_name_weight(item) for item in weight) if weight else None, ema_decay=ema_decay,
        disagreement_gate=disagreement_gate, correction_downscale=correction_downscale, error_inputs=error_inputs,
        loss=loss, edge_windows=edge_windows,
    )
    config.check()
    result = _with_progress(steps, quiet, lambda on_step, on_message: train_residual(config, on_step, on_message))
    _plot(out_dir)
    console.stderr.print(
        f"trained to step {result['step']} ({result['samples']} samples); best eligible validation PSNR "
        f"{result['best_psnr']:.3f} dB; weights in {out_dir / 'best.pt'}"
    )


@train_app.command("export")
def export_command(
    to: Annotated[Path, typer.Option(help="The weights folder whose [default] entry is written.")],
    run_dir: Annotated[
        Optional[Path],
        typer.Argument(help="A `train synthesis` run folder (its best.pt is shipped); without it, the default "
                            "shipped in --to is written again with the settings given, its provenance kept."),
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="The training cache, to record what the data was.")] = None,
    checkpoint: Annotated[
        Optional[Path], typer.Option(help="Ship this checkpoint of the run instead of its best.pt (e.g. last.pt).")
    ] = None,
    correction_scale: Annotated[
        Optional[float],
        typer.Option(help="The correction's strength relative to the weights as trained, in (0, 1] (default: "
                          "1 for a run; the shipped file's own for a re-export)."),
    ] = None,
    disagreement_gate: Annotated[
        Optional[float], typer.Option(min=1e-3, help="Ship the network with this disagreement gate.")
    ] = None,
    correction_downscale: Annotated[
        Optional[int], typer.Option(help="Ship the network with its correction at 1/K resolution (K in 1, 2, 4).")
    ] = None,
    border_fade: Annotated[
        Optional[int], typer.Option(min=0, help="Ship the network with its correction faded out over N pixels at "
                                                "the frame's edges (0 = none).")
    ] = None,
    quality: Annotated[
        Optional[list[str]], typer.Option(help="NAME=VALUE: a figure measured on the shipped file, recorded (repeatable).")
    ] = None,
) -> None:
    """Ship a run's weights as the default: fp16 file, sha256 and provenance in manifest.toml."""
    from animeinterp_cli.training.export import export_default, reexport_default
    from models.animeinterp import synthesis_settings
    from models.config import CORRECTION_DOWNSCALES

    if correction_scale is not None and not 0 < correction_scale <= 1:
        raise typer.BadParameter("must be in (0, 1]", param_hint="--correction-scale")
    if correction_downscale is not None and correction_downscale not in CORRECTION_DOWNSCALES:
        raise typer.BadParameter(f"must be one of {CORRECTION_DOWNSCALES}", param_hint="--correction-downscale")
    figures = dict(_name_weight(item) for item in quality or ())
    settings = synthesis_settings(disagreement_gate=disagreement_gate, correction_downscale=correction_downscale,
                                  border_fade=border_fade)
    if run_dir is None:
        if cache is not None or checkpoint is not None:
            raise typer.BadParameter("--cache and --checkpoint describe a run: give its RUN_DIR", param_hint="RUN_DIR")
        entry = reexport_default(to, correction_scale, settings, figures)
    else:
        entry = export_default(run_dir, to, cache, source=checkpoint, correction_scale=correction_scale,
                               settings=settings, quality=figures)
    console.stderr.print(f"{to / entry['file']}: {entry['samples_seen']} samples, sha256 {entry['sha256'][:12]}…")


def _name_weight(item: str) -> tuple[str, float]:
    """``NAME=W`` → (NAME, W); a usage error otherwise."""
    name, sep, value = item.partition("=")
    try:
        if not (sep and name):
            raise ValueError
        return name, float(value)
    except ValueError:
        raise typer.BadParameter(f"expected NAME=WEIGHT, got {item!r}", param_hint="--weight") from None


def _with_progress(steps: int | None, quiet: bool, run):
    """Run ``run(on_step, on_message)`` under a progress bar of ``steps``, or of the ``total``
    that ``on_step`` is given (a resumed run's own)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console.stderr, disable=quiet,
    )
    with progress:
        task = progress.add_task("train", total=steps, loss="--")

        def on_step(step: int, loss: float, total: int | None = None) -> None:
            progress.update(task, completed=step, total=total, loss=f"{loss:.4f}")

        return run(on_step, progress.console.print)


def _plot(out_dir: Path) -> None:
    """``curve.png`` of the run, with the classic method's validation mean as a reference line
    when the run measured it (the residual stage does)."""
    from animeinterp_cli.training.curve import plot_curves, read_log

    log = out_dir / "log.jsonl"
    if log.exists():
        classic = next((r["classic_per_triplet"] for r in read_log(log) if "classic_per_triplet" in r), None)
        references = {"classic": sum(classic.values()) / len(classic)} if classic else None
        plot_curves(log, out_dir / "curve.png", references)


@train_app.command("network")
def train(
    out_dir: Annotated[Path, typer.Argument(help="Run folder: checkpoints, log.jsonl and curve.png go here.")],
    steps: Annotated[int, typer.Option(help="Total optimisation steps (a resumed run continues up to this).")] = 2000,
    batch_size: Annotated[int, typer.Option(help="Triplets per step.")] = 4,
    crop: Annotated[int, typer.Option(help="Training crop side in pixels (a multiple of 8, at least 64).")] = 256,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW; warm-up, then cosine decay).")] = 2e-4,
    kind: Annotated[str, typer.Option(help="Training data: mix, synthetic, layered or folder.")] = "mix",
    data: Annotated[
        Optional[Path], typer.Option(help="A folder of real triplets in the ATD-12K layout to add to the mix.")
    ] = None,
    material: Annotated[
        Optional[Path], typer.Option(help="Training material for layered triplets (art, sprites, clips).")
    ] = TRAINING_MATERIAL,
    preset: Annotated[str, typer.Option(help="Network configuration: light (default weights) or tiny (tests).")] = "light",
    stage: Annotated[
        str, typer.Option(help="joint (all, frame + flow loss), synthesis (RFR frozen) or flow (RFR only).")
    ] = "joint",
    flow_weight: Annotated[float, typer.Option(help="Weight of the flow loss (pixels) in the joint stage.")] = 0.01,
    val_every: Annotated[int, typer.Option(help="Validate on the sample triplets every N steps (0 = never).")] = 200,
    val_limit: Annotated[Optional[int], typer.Option(min=1, help="Validate on the first N triplets only.")] = None,
    checkpoint_every: Annotated[int, typer.Option(help="Save last.pt every N steps.")] = 50,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 autocast (fast only on CPUs with AMX).")] = "fp32",
    threads: Annotated[
        int, typer.Option(help="CPU threads for the network (more than the free cores slows it down badly).")
    ] = 1,
    workers: Annotated[int, typer.Option(help="Data loader processes (rendering and DIS); 0 = in-process.")] = 1,
    seed: Annotated[int, typer.Option(help="Data seed.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in OUT_DIR from its last.pt.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train the whole network on the CPU (DIS-guided RFR + GridNet), with validation on the sample triplets."""
    from animeinterp_cli.training.train import TrainConfig
    from animeinterp_cli.training.train import train as run_training

    config = TrainConfig(
        out_dir=out_dir, steps=steps, batch_size=batch_size, crop=crop, lr=lr, kind=kind, atd_dir=data,
        real_dir=material, preset=preset, stage=stage, flow_weight=flow_weight, val_every=val_every,
        val_limit=val_limit, checkpoint_every=checkpoint_every, precision=precision, threads=threads,
        workers=workers, seed=seed, resume=resume,
    )
    config.check()
    result = _with_progress(
        steps, quiet,
        lambda on_step, on_message: run_training(
            config, on_step=lambda step, losses: on_step(step, losses["loss"]), on_message=on_message
        ),
    )
    _plot(out_dir)
    console.stderr.print(
        f"trained to step {result['step']}; best validation PSNR {result['best_psnr']:.3f} dB; "
        f"weights in {out_dir / 'best.pt'}"
    )
