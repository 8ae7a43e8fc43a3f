"""``animeinterp train OUT_DIR``: train the network on generated (and optionally real) triplets.

Progress, validation results and errors go to stderr. The run folder holds ``last.pt``
(resumable), ``best.pt`` (best validation PSNR), ``log.jsonl`` and ``curve.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from animeinterp_cli import console
from animeinterp_cli.training.dataset import TRAINING_MATERIAL


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
    """Train AnimeInterp weights on the CPU (DIS-guided RFR + GridNet), with validation on the sample triplets."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from animeinterp_cli.training.curve import plot_curves
    from animeinterp_cli.training.train import TrainConfig
    from animeinterp_cli.training.train import train as run_training

    config = TrainConfig(
        out_dir=out_dir, steps=steps, batch_size=batch_size, crop=crop, lr=lr, kind=kind, atd_dir=data,
        real_dir=material, preset=preset, stage=stage, flow_weight=flow_weight, val_every=val_every,
        val_limit=val_limit, checkpoint_every=checkpoint_every, precision=precision, threads=threads,
        workers=workers, seed=seed, resume=resume,
    )
    config.check()
    progress = Progress(
        TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console.stderr, disable=quiet,
    )
    with progress:
        task = progress.add_task("train", total=steps, loss="--")

        def on_step(step: int, losses: dict[str, float]) -> None:
            progress.update(task, completed=step, loss=f"{losses['loss']:.4f}")

        result = run_training(config, on_step=on_step, on_message=progress.console.print)
    log = out_dir / "log.jsonl"
    if log.exists():
        plot_curves(log, out_dir / "curve.png")
    console.stderr.print(
        f"trained to step {result['step']}; best validation PSNR {result['best_psnr']:.3f} dB; "
        f"weights in {out_dir / 'best.pt'}"
    )
