"""Training the learned default's residual synthesis stage on the cache of frozen motion.

The network (``AnimeInterpConfig.guided()``) starts as the classic method exactly (GridNet's
last layer is zero) and learns only a correction to the classic blend; the DIS guidance, the
importance metric and the splatted frames are frozen and read from the cache
(:mod:`.cache`), so a step is the feature extractor, the feature splatting and GridNet,
forward and backward, on ``batch_size`` windows.

Validation on the sample triplets (never training data) every ``val_every`` steps, with the
classic method's PSNR on each triplet as the reference. A checkpoint is *eligible* when no
triplet is worse than classic by more than ``MAX_TRIPLET_LOSS_DB``; ``best.pt`` is the eligible
one with the best mean PSNR. The run folder is the one :mod:`.train` uses (``last.pt``,
``best.pt``, ``log.jsonl``, ``curve.png``); ``--resume`` continues it, ``init`` starts a new run
from a weights file (e.g. the candidate committed in ``weights/``) with a fresh optimizer.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from animeinterp_cli.errors import AnimeInterpError, InputError
from animeinterp_cli.training.cache import CachedTriplets, CacheSettings, open_cache
from animeinterp_cli.training.dataset import VALIDATION_TRIPLETS
from animeinterp_cli.training.export import undo_export_scale
from animeinterp_cli.training.losses import mse, negative_psnr
from animeinterp_cli.training.runlog import RunLog
from animeinterp_cli.training.train import GRADIENT_CLIP, LOG_EVERY
from animeinterp_cli.training.validation import ValidationScores, ValidationTriplet, load_validation, validate
from models.animeinterp import (
    AnimeInterp,
    load_animeinterp,
    resume_animeinterp,
    synthesis_settings,
    with_error_inputs,
    with_synthesis,
)
from models.checkpoint import save_checkpoint
from models.classic import ClassicInterpolator
from models.config import CORRECTION_DOWNSCALES, AnimeInterpConfig

#: the frame losses a run may train on (``ResidualTrainConfig.loss``)
LOSSES = {"mse": mse, "psnr": negative_psnr}
#: the worst per-triplet loss against classic a checkpoint may have and still be shipped
MAX_TRIPLET_LOSS_DB = 0.1
WARMUP_STEPS = 200


@dataclass(frozen=True)
class RunSettings:
    """The settings a run trains with that a resumed run keeps unless they are given again
    (left at None in :class:`ResidualTrainConfig`); the defaults are a new run's."""

    steps: int = 60_000
    batch_size: int = 8
    crop: int = 192
    margin: int = 16
    lr: float = 1e-3
    seed: int = 0
    #: (name, weight) pairs: entries whose folder name holds ``name`` are drawn ``weight``× as often
    weights: tuple[tuple[str, float], ...] = ()
    #: decay of the weights' moving average (~1 / (1 − decay) steps of memory)
    ema_decay: float = 0.995
    #: the frame loss (:data:`LOSSES`): "mse", or "psnr" (−PSNR per window, averaged)
    loss: str = "mse"
    #: probability, per axis, of a window flush with the frame's edge (:class:`CachedTriplets`);
    #: a new run with edge windows trains its network without a border fade
    edge_windows: float = 0.0


@dataclass(frozen=True)
class ResidualTrainConfig:
    """One run of the residual synthesis stage (see the module docstring)."""

    out_dir: Path
    cache: Path
    #: the settings of :class:`RunSettings` (steps … edge_windows): None is a resumed run's own,
    #: or the default for a new one (:meth:`resolved`)
    steps: int | None = None
    batch_size: int | None = None
    crop: int | None = None
    margin: int | None = None
    lr: float | None = None
    val_every: int = 500
    checkpoint_every: int = 100
    threads: int = 1
    seed: int | None = None
    resume: bool = False
    init: Path | None = None
    weights: tuple[tuple[str, float], ...] | None = None
    ema_decay: float | None = None
    tiny: bool = False
    #: the network's disagreement gate threshold (None: as the new network or ``init`` has it)
    disagreement_gate: float | None = None
    #: the network's correction resolution divisor (None: as the new network or ``init`` has it)
    correction_downscale: int | None = None
    #: give the network (new, or ``init``'s, widened at zero) the splatted photometric errors
    error_inputs: bool = False
    loss: str | None = None
    edge_windows: float | None = None
    validation_dir: Path = field(default=VALIDATION_TRIPLETS)
    val_limit: int | None = None

    def resolved(self, stored: dict | None) -> RunSettings:
        """The run's settings: each one given here, else ``stored``'s (a resumed run's, as its
        last.pt keeps them), else — a new run, or a setting the run predates — the default."""
        stored, defaults = stored or {}, RunSettings()
        values = {}
        for setting in fields(RunSettings):
            given = getattr(self, setting.name)
            values[setting.name] = stored.get(setting.name, getattr(defaults, setting.name)) if given is None else given
        values["weights"] = tuple((str(name), float(w)) for name, w in values["weights"])
        return RunSettings(**values)

    def check(self) -> None:
        """Raise a one-line error on a setting that cannot work (a setting left at None is
        the run's own, or a default)."""
        for name in ("steps", "batch_size", "threads", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise AnimeInterpError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise AnimeInterpError(f"--lr must be a positive number, got {self.lr}")
        crop = RunSettings.crop if self.crop is None else self.crop
        margin = RunSettings.margin if self.margin is None else self.margin
        if crop < 32 or margin < 0 or (crop + 2 * margin) % 4:
            raise AnimeInterpError("--crop must be at least 32 and crop + 2·margin a multiple of 4")
        if self.val_every < 0:
            raise AnimeInterpError("--val-every must be ≥ 0")
        last = Path(self.out_dir) / "last.pt"
        if self.resume and not last.is_file():
            raise InputError(f"nothing to resume: {last} does not exist")
        if not self.resume and last.exists():
            raise AnimeInterpError(f"{self.out_dir} already holds a run; pass --resume to continue it")
        if self.resume and self.init is not None:
            raise AnimeInterpError("--init starts a new run; it cannot be combined with --resume")
        if self.ema_decay is not None and not 0 <= self.ema_decay < 1:
            raise AnimeInterpError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        if any(not (math.isfinite(w) and w >= 0) for _, w in self.weights or ()):
            raise AnimeInterpError("--weight values must be finite and ≥ 0")
        if self.init is not None and not Path(self.init).is_file():
            raise InputError(f"--init weights not found: {self.init}")
        if self.disagreement_gate is not None and not (math.isfinite(self.disagreement_gate) and self.disagreement_gate > 0):
            raise AnimeInterpError(f"--disagreement-gate must be a positive number, got {self.disagreement_gate}")
        if self.resume and self.disagreement_gate is not None:
            raise AnimeInterpError("--disagreement-gate sets up a new run; a resumed run keeps its network's")
        if self.correction_downscale is not None and self.correction_downscale not in CORRECTION_DOWNSCALES:
            raise AnimeInterpError(f"--correction-downscale must be one of {CORRECTION_DOWNSCALES}, "
                                   f"got {self.correction_downscale}")
        if self.resume and self.correction_downscale is not None:
            raise AnimeInterpError("--correction-downscale sets up a new run; a resumed run keeps its network's")
        if self.loss is not None and self.loss not in LOSSES:
            raise AnimeInterpError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.edge_windows is not None and not 0 <= self.edge_windows <= 1:
            raise AnimeInterpError(f"--edge-windows is a probability in [0, 1], got {self.edge_windows}")
        if self.resume and self.edge_windows is not None:
            raise AnimeInterpError("--edge-windows sets up a new run; a resumed run keeps its own")
        if self.resume and self.error_inputs:
            raise AnimeInterpError("--error-inputs sets up a new run; a resumed run keeps its network's")


def learning_rate(run: RunSettings, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of ``lr`` at ``run.steps``."""
    if step < WARMUP_STEPS:
        return run.lr * (step + 1) / WARMUP_STEPS
    progress = min(1.0, (step - WARMUP_STEPS) / max(1, run.steps - WARMUP_STEPS))
    return run.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def trainable_parameters(model: AnimeInterp) -> list[torch.nn.Parameter]:
    """The feature extractor and GridNet; the importance scale stays frozen (the cache holds
    the metric and the splatted frames it gave)."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(("feat_ext.", "synnet.")))
    return [p for p in model.parameters() if p.requires_grad]


def residual_step(model: AnimeInterp, batch: dict[str, torch.Tensor], loss: str = "mse") -> torch.Tensor:
    """The frame loss (:data:`LOSSES`, MSE by default) of one batch of cached windows, where
    their "loss_mask" is 1 (the centres, and the margins flush with a frame's edge)."""
    img0, img1 = batch["frame0"], batch["frame1"]
    t = batch["t"].float().view(-1, 1, 1, 1)
    motion = model.feature_pyramids((torch.cat((img0, img1)) * 2 - 1).contiguous(memory_format=torch.channels_last))
    motion.update({key: batch[key] for key in ("flow01", "flow10", "metric0", "metric1")})
    splats = {key: batch[key] for key in ("warped0", "warped1", "cover0", "cover1")}
    frame = model.refine_blend(img0, img1, motion, splats, t)
    return LOSSES[loss](frame, batch["frame_t"], batch["loss_mask"])


def source_weights(dataset: CachedTriplets, weights: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Sampling probability of each entry: the product of the weights whose name occurs in
    the entry's folder name (e.g. ("popeye", 0.25) samples the Popeye triplets 4× less often)."""
    raw = np.array([math.prod(w for name, w in weights if name in entry.name) for entry in dataset.usable], float)
    if not raw.sum() > 0:
        raise InputError("--weight leaves no training triplet with a positive weight")
    return raw / raw.sum()


def _batches(
    dataset: CachedTriplets, batch_size: int, start: int, seed: int, weights: tuple[tuple[str, float], ...] = ()
) -> Iterator[dict[str, torch.Tensor]]:
    """Full batches from sample position ``start`` on. Each position draws its entry by
    :func:`source_weights` (without weights: a fresh permutation of the entries per epoch) and
    a fresh crop and augmentation; deterministic, so a resumed run continues where it stopped."""
    probabilities = source_weights(dataset, weights) if weights else None

    def entry_at(position: int) -> int:
        if probabilities is not None:
            return int(np.random.default_rng([seed, position]).choice(len(dataset), p=probabilities))
        epoch, offset = divmod(position, len(dataset))
        return int(np.random.default_rng([seed, epoch]).permutation(len(dataset))[offset])

    position = start
    while True:
        samples = [dataset.sample(entry_at(p), p) for p in range(position, position + batch_size)]
        position += batch_size
        yield {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


@dataclass(frozen=True)
class Verdict:
    """A validation against classic: mean PSNR, its gain, the worst triplet's gain."""

    scores: ValidationScores
    gain: float
    worst_gain: float

    @property
    def eligible(self) -> bool:
        return self.worst_gain >= -MAX_TRIPLET_LOSS_DB


def classic_reference(validation: list[ValidationTriplet]) -> dict[str, float]:
    """The classic method's PSNR on each validation triplet (the network's floor)."""
    scores = validate(ClassicInterpolator(), validation)
    return scores.per_triplet


def judge(scores: ValidationScores, reference: dict[str, float]) -> Verdict:
    gains = [scores.per_triplet[name] - reference[name] for name in reference]
    return Verdict(scores, scores.psnr - float(np.mean(list(reference.values()))), min(gains))


def build_model(config: ResidualTrainConfig) -> AnimeInterp:
    """A new network at the classic start, or the weights of ``config.init`` with the
    correction as trained (a shipped file's export scale undone, so that training resumes
    from the run's own weights); with ``config.disagreement_gate`` or
    ``config.correction_downscale``, those settings; with ``config.error_inputs``, the error
    inputs (a trained network's widened at zero: it starts at its own output)."""
    if config.init is not None:
        model = load_animeinterp(config.init).float()
        if not model.config.synthesis.residual:
            raise InputError(f"--init {config.init} is not a residual synthesis network")
        undo_export_scale(model, config.init)
    else:
        model = AnimeInterp(AnimeInterpConfig.guided_tiny() if config.tiny else AnimeInterpConfig.guided())
    if config.error_inputs and not model.config.synthesis.error_inputs:
        model = with_error_inputs(model)
    # trained up to the frame's edges, the correction has no untrained border to fade out
    settings = synthesis_settings(disagreement_gate=config.disagreement_gate,
                                  correction_downscale=config.correction_downscale,
                                  border_fade=0 if config.edge_windows else None)
    return with_synthesis(model, **settings).train() if settings else model


def train_residual(
    config: ResidualTrainConfig,
    on_step: Callable[[int, float, int], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> dict:
    """Run (or resume) the residual stage; ``on_step(step, loss, total steps)``; returns {"step",
    "best_psnr", "elapsed_s", "samples"}."""
    config.check()
    tell = on_message or (lambda _: None)
    torch.set_num_threads(config.threads)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = RunLog(out / "log.jsonl")
    last_path, best_path = out / "last.pt", out / "best.pt"

    state = None
    if config.resume:
        model, state = resume_animeinterp(last_path)
        run = config.resolved(state.get("train"))
        step, best_psnr, elapsed, samples = state["step"], state["best_psnr"], state["elapsed_s"], state["samples"]
        tell(f"resuming at step {step} of {run.steps}: lr {run.lr:g}, batch {run.batch_size}, loss {run.loss}, "
             f"seed {run.seed}, sampling " + (", ".join(f"{name} ×{w:g}" for name, w in run.weights) or "uniform")
             + (f", edge windows {run.edge_windows:g}" if run.edge_windows else ""))
    else:
        run = config.resolved(None)
        model = build_model(config)
        step, best_psnr, elapsed, samples = 0, -math.inf, 0.0, 0
    model.train()
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=run.lr, weight_decay=1e-4)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    # the weights validated and shipped: an exponential moving average of the trained ones
    # (steps at a useful learning rate are noisy: the mean gain swung by ±0.15 dB between
    # validations 250 steps apart)
    averaged = copy.deepcopy(model).eval()
    if state is not None and "averaged" in state:
        averaged.load_state_dict(state["averaged"])

    # edge windows also see the padding the correction's inputs get at inference
    dataset = CachedTriplets(open_cache(config.cache, CacheSettings.of(model)), run.crop, run.margin, run.seed,
                             run.edge_windows, pad_multiple=model.correction_multiple if run.edge_windows else 1)
    validation = load_validation(config.validation_dir, model.size_multiple, config.val_limit) if config.val_every else []
    reference = classic_reference(validation) if validation else {}

    def checkpoint() -> None:
        save_checkpoint(
            last_path, model, model.config.to_dict(), optimizer=optimizer.state_dict(), averaged=averaged.state_dict(),
            step=step, best_psnr=best_psnr,
            elapsed_s=elapsed, samples=samples, stage="residual",
            train={**{k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}, **asdict(run)},
        )

    def run_validation() -> None:
        nonlocal best_psnr
        started = time.monotonic()
        verdict = judge(validate(averaged, validation), reference)
        improved = verdict.eligible and verdict.scores.psnr > best_psnr
        log.write({"step": step, "samples": samples, "elapsed_s": elapsed, "val_psnr": verdict.scores.psnr,
                   "val_ssim": verdict.scores.ssim, "val_gain": verdict.gain, "val_worst_gain": verdict.worst_gain,
                   "val_per_triplet": verdict.scores.per_triplet, "classic_per_triplet": reference,
                   "best": improved, "val_s": time.monotonic() - started})
        if improved:
            best_psnr = verdict.scores.psnr
            save_checkpoint(best_path, averaged, averaged.config.to_dict())
        tell(f"step {step} ({samples} samples): validation {verdict.scores.psnr:.3f} dB, "
             f"{verdict.gain:+.3f} dB over classic, worst triplet {verdict.worst_gain:+.3f} dB"
             + (" (best, saved)" if improved else ""))

    if step == 0 and validation:
        run_validation()
    running: list[float] = []
    tic = time.monotonic()
    for batch in _batches(dataset, run.batch_size, samples, run.seed, run.weights):
        if step >= run.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(run, step)
        loss = residual_step(model, batch, run.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], GRADIENT_CLIP)
        optimizer.step()
        with torch.no_grad():
            for mean, current in zip(averaged.parameters(), model.parameters()):
                mean.lerp_(current, 1 - run.ema_decay)
        step += 1
        samples += batch["t"].shape[0]
        now = time.monotonic()
        elapsed, tic = elapsed + now - tic, now
        running.append(float(loss.detach()))
        if step % LOG_EVERY == 0 or step == run.steps:
            log.write({"step": step, "samples": samples, "lr": learning_rate(run, step - 1), "elapsed_s": elapsed,
                       "loss": float(np.mean(running)), "samples_per_s": samples / max(elapsed, 1e-9)})
            running = []
        if on_step:
            on_step(step, float(loss.detach()), run.steps)
        if validation and (step % config.val_every == 0 or step == run.steps):
            run_validation()
            tic = time.monotonic()  # validation time is not training time
        if step % config.checkpoint_every == 0 or step == run.steps:
            checkpoint()
    checkpoint()
    return {"step": step, "best_psnr": best_psnr, "elapsed_s": elapsed, "samples": samples}
