"""Training the AnimeInterp network on this package's triplets, on the CPU.

The recipe that makes CPU training affordable (see ``/work/shared/docs/TRAINING.md``):

- a light configuration (``AnimeInterpConfig.light()``), not the paper's widths;
- the RFR starts from a good initial flow: OpenCV DIS (:mod:`models.guidance`, the
  classic method's flow) computed on the uint8 frames in the data loader, both directions
  (``GUIDANCE``); the RFR's last flow layer starts at zero so the network begins by returning
  that flow and can only refine it (:func:`models.refinement.init_for_refinement`);
- GridNet starts as the 50/50 blend of the two splatted frames (same function), so the frame
  loss refines a sensible output from the first step;
- supervision: the true flows (end-point error on the pixels visible in both frames) and the
  true middle frame (Charbonnier + image gradients), see :mod:`.losses`.

A run lives in one folder: ``last.pt`` (model, optimizer, step: ``--resume`` continues from it),
``best.pt`` (the weights with the best validation PSNR so far, loadable by
``models.animeinterp.load_animeinterp``), ``log.jsonl`` (one JSON object per logged step or
validation, appended and flushed, so it survives an interruption) and ``curve.png``.

Validation: mean PSNR/SSIM (standard uint8 protocol) on the sample triplets
(``VALIDATION_TRIPLETS``), which are never training data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

from animeinterp_cli.errors import AnimeInterpError, InputError
from animeinterp_cli.training.dataset import KINDS, TRAINING_MATERIAL, VALIDATION_TRIPLETS, TripletDataset
from animeinterp_cli.training.losses import flow_loss, frame_loss
from animeinterp_cli.training.runlog import RunLog
from animeinterp_cli.training.validation import dis_guidance, load_validation, validate
from models.animeinterp import AnimeInterp, resume_animeinterp
from models.checkpoint import save_checkpoint
from models.config import AnimeInterpConfig
from models.refinement import init_for_refinement

#: the initial flow the trained weights expect at inference (see weights/manifest.toml)
GUIDANCE = "dis"
STAGES = ("joint", "synthesis", "flow")
PRECISIONS = ("fp32", "bf16")
#: learning-rate warm-up (steps) before the cosine decay to ``FINAL_LR_FRACTION`` · lr
WARMUP_STEPS = 100
FINAL_LR_FRACTION = 0.1
GRADIENT_CLIP = 1.0
LOG_EVERY = 10

#: the network configurations ``--preset`` names (``tiny``: for tests)
PRESETS: dict[str, AnimeInterpConfig] = {"light": AnimeInterpConfig.light(), "tiny": AnimeInterpConfig.light_tiny()}


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``stage``: "joint" (everything, frame + ``flow_weight`` · flow loss),
    "synthesis" (RFR frozen, frame loss) or "flow" (RFR only, flow loss)."""

    out_dir: Path
    steps: int = 2000
    batch_size: int = 4
    crop: int = 256
    lr: float = 2e-4
    kind: str = "mix"
    atd_dir: Path | None = None
    real_dir: Path | None = TRAINING_MATERIAL
    preset: str = "light"
    stage: str = "joint"
    flow_weight: float = 0.01
    val_every: int = 200
    checkpoint_every: int = 50
    val_limit: int | None = None
    precision: str = "fp32"
    #: one core for the network and one for the data loader: on two busy cores, two torch
    #: threads made a step 8× slower (13–17 s against 1.6–1.9 s, light preset, 4 × 160²)
    threads: int = 1
    workers: int = 1
    seed: int = 0
    resume: bool = False
    validation_dir: Path = field(default=VALIDATION_TRIPLETS)

    def check(self) -> None:
        """Raise :class:`AnimeInterpError` (one line) on a setting that cannot work."""
        def positive(name: str, value) -> None:
            if value <= 0:
                raise AnimeInterpError(f"--{name.replace('_', '-')} must be positive, got {value}")

        positive("steps", self.steps)
        positive("batch_size", self.batch_size)
        positive("lr", self.lr)
        positive("threads", self.threads)
        if not math.isfinite(self.lr):
            raise AnimeInterpError(f"--lr must be a finite number, got {self.lr}")
        if self.crop < 64 or self.crop % 8:
            raise AnimeInterpError(f"--crop must be a multiple of 8 and at least 64, got {self.crop}")
        if self.val_every < 0 or self.checkpoint_every < 1 or self.workers < 0 or self.flow_weight < 0:
            raise AnimeInterpError("--val-every and --workers must be ≥ 0, --checkpoint-every ≥ 1, --flow-weight ≥ 0")
        for name, value, choices in (
            ("data kind", self.kind, KINDS), ("preset", self.preset, tuple(PRESETS)),
            ("stage", self.stage, STAGES), ("precision", self.precision, PRECISIONS),
        ):
            if value not in choices:
                raise AnimeInterpError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
        if self.kind == "folder" and self.atd_dir is None:
            raise AnimeInterpError("--kind folder needs --data (a folder of triplets in the ATD-12K layout)")
        if self.atd_dir is not None and not Path(self.atd_dir).is_dir():
            raise InputError(f"--data folder not found: {self.atd_dir}")
        if self.kind == "layered" and (self.real_dir is None or not Path(self.real_dir).is_dir()):
            raise InputError(f"--kind layered needs the training material folder, not found: {self.real_dir}")
        last = Path(self.out_dir) / "last.pt"
        if self.resume and not last.is_file():
            raise InputError(f"nothing to resume: {last} does not exist")
        if not self.resume and last.exists():
            raise AnimeInterpError(f"{self.out_dir} already holds a run; pass --resume to continue it")


# --- data -------------------------------------------------------------------------------------


def collate_with_guidance(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack samples and add their DIS initial flows (``init01``, ``init10``), in the loader's worker."""
    batch = default_collate(samples)
    batch["init01"], batch["init10"] = dis_guidance(batch["frame0"], batch["frame1"])
    return batch


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _sample_order(length: int, start: int, seed: int) -> Iterator[int]:
    """Sample indices from position ``start`` on: in order for procedural data (every index a
    new sample), a fresh permutation per epoch for a folder; deterministic, so a resumed run
    continues where it stopped."""
    position = start
    while True:
        epoch, offset = divmod(position, length)
        order = np.random.default_rng([seed, epoch]).permutation(length) if length < 10**6 else None
        for i in range(offset, length):
            yield int(order[i]) if order is not None else epoch * length + i
        position = (epoch + 1) * length


def make_loader(config: TrainConfig, start_step: int) -> DataLoader:
    dataset = TripletDataset(
        config.kind, size=(config.crop, config.crop), seed=config.seed,
        real_dir=config.real_dir, atd_dir=config.atd_dir,
    )
    return DataLoader(
        dataset, batch_size=config.batch_size, sampler=_sample_order(len(dataset), start_step * config.batch_size, config.seed),
        collate_fn=collate_with_guidance, num_workers=config.workers, worker_init_fn=_worker_init,
        prefetch_factor=2 if config.workers else None,
        # forked workers can deadlock in OpenCV/OpenMP thread pools the parent already started
        multiprocessing_context="spawn" if config.workers else None,
    )


# --- the loop ---------------------------------------------------------------------------------


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``FINAL_LR_FRACTION`` · lr at ``config.steps``."""
    if step < WARMUP_STEPS:
        return config.lr * (step + 1) / WARMUP_STEPS
    progress = min(1.0, (step - WARMUP_STEPS) / max(1, config.steps - WARMUP_STEPS))
    return config.lr * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def trainable_parameters(model: AnimeInterp, stage: str) -> list[torch.nn.Parameter]:
    """The parameters ``stage`` trains; the others get ``requires_grad=False``."""
    flow = stage in ("joint", "flow")
    synthesis = stage in ("joint", "synthesis")
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(flow if name.startswith("flownet.") else synthesis)
    return [p for p in model.parameters() if p.requires_grad]


def training_step(model: AnimeInterp, batch: dict[str, torch.Tensor], config: TrainConfig) -> dict[str, torch.Tensor]:
    """Forward one batch and return its losses ("loss" is the one to minimise)."""
    with torch.autocast("cpu", torch.bfloat16, enabled=config.precision == "bf16"):
        motion = model.estimate(batch["frame0"], batch["frame1"], batch["init01"], batch["init10"])
        losses = {
            "flow": 0.5 * (flow_loss(motion["flow01"], batch["flow01"], batch["valid01"])
                           + flow_loss(motion["flow10"], batch["flow10"], batch["valid10"])),
        }
        if config.stage == "flow":
            losses["loss"] = losses["flow"]
            return losses
        frame = model.synthesize(batch["frame0"], batch["frame1"], motion, batch["t"])
    losses["frame"] = frame_loss(frame, batch["frame_t"])
    weight = config.flow_weight if config.stage == "joint" else 0.0
    losses["loss"] = losses["frame"] + weight * losses["flow"]
    return losses


def train(
    config: TrainConfig,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> dict:
    """Run (or resume) training; returns {"step", "best_psnr", "validation": [...]}.

    ``on_step(step, losses)`` after every step (the progress bar); ``on_message(text)`` for
    validation results and checkpoints.
    """
    config.check()
    tell = on_message or (lambda _: None)
    torch.set_num_threads(config.threads)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = RunLog(out / "log.jsonl")
    last_path, best_path = out / "last.pt", out / "best.pt"

    if config.resume:
        model, state = resume_animeinterp(last_path)
        step, best_psnr, elapsed = state["step"], state["best_psnr"], state["elapsed_s"]
    else:
        model = AnimeInterp(PRESETS[config.preset])
        init_for_refinement(model)
        step, best_psnr, elapsed, state = 0, -math.inf, 0.0, None
    model.train()
    optimizer = torch.optim.AdamW(trainable_parameters(model, config.stage), lr=config.lr, weight_decay=1e-4)
    if state is not None and state.get("stage") == config.stage:
        optimizer.load_state_dict(state["optimizer"])

    validation = load_validation(config.validation_dir, model.size_multiple, config.val_limit) if config.val_every else []

    def checkpoint() -> None:
        save_checkpoint(
            last_path, model, model.config.to_dict(), optimizer=optimizer.state_dict(), step=step,
            best_psnr=best_psnr, elapsed_s=elapsed, stage=config.stage,
            train={k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        )

    def run_validation() -> None:
        nonlocal best_psnr
        started = time.monotonic()
        scores = validate(model, validation, config.precision)
        log.write({"step": step, "val_psnr": scores.psnr, "val_ssim": scores.ssim,
                   "val_per_triplet": scores.per_triplet, "val_s": time.monotonic() - started})
        improved = scores.psnr > best_psnr
        if improved:
            best_psnr = scores.psnr
            save_checkpoint(best_path, model, model.config.to_dict())
        tell(f"step {step}: validation PSNR {scores.psnr:.3f} dB, SSIM {scores.ssim:.4f}"
             + (" (best, saved)" if improved else f" (best {best_psnr:.3f})"))

    if step == 0 and validation:
        run_validation()  # the initialisation's score: the curve's starting point
    loader = make_loader(config, step)
    running: dict[str, list[float]] = {}
    tic = time.monotonic()
    for batch in loader:
        if step >= config.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        losses = training_step(model, batch, config)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], GRADIENT_CLIP)
        optimizer.step()
        step += 1
        now = time.monotonic()
        elapsed += now - tic
        tic = now
        values = {k: float(v.detach()) for k, v in losses.items()}
        for key, value in values.items():
            running.setdefault(key, []).append(value)
        if step % LOG_EVERY == 0 or step == config.steps:
            log.write({"step": step, "lr": learning_rate(config, step - 1), "elapsed_s": elapsed,
                       **{k: float(np.mean(v)) for k, v in running.items()}})
            running = {}
        if on_step:
            on_step(step, values)
        if validation and config.val_every and (step % config.val_every == 0 or step == config.steps):
            run_validation()
            tic = time.monotonic()  # validation time is not training time
        if step % config.checkpoint_every == 0 or step == config.steps:
            checkpoint()
    checkpoint()
    return {"step": step, "best_psnr": best_psnr, "elapsed_s": elapsed,
            "validation": [r for r in log.read() if "val_psnr" in r]}


