"""Training the AnimeInterp network on this package's triplets, on the CPU.

The recipe that makes CPU training affordable (see ``/work/shared/docs/TRAINING.md``):

- a light configuration (``PRESETS["light"]``), not the paper's widths;
- the RFR starts from a good initial flow: OpenCV DIS (:mod:`models.guidance`, the
  classic method's flow) computed on the uint8 frames in the data loader, both directions
  (``GUIDANCE``); the RFR's last flow layer starts at zero so the network begins by returning
  that flow and can only refine it (:func:`init_for_refinement`);
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

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

from animeinterp_cli.benchmark import datasets as triplet_folders
from animeinterp_cli.benchmark import metrics
from animeinterp_cli.engine.adapter import crop_to, frames_to_tensor, pad_to_multiple, tensor_to_float_frames
from animeinterp_cli.errors import AnimeInterpError, InputError
from animeinterp_cli.training.dataset import KINDS, TRAINING_MATERIAL, VALIDATION_TRIPLETS, TripletDataset
from animeinterp_cli.training.losses import flow_loss, frame_loss
from models.animeinterp import AnimeInterp, load_animeinterp
from models.checkpoint import save_checkpoint
from models.guidance import dis_flows
from models.config import AnimeInterpConfig, RFRConfig, SynthesisConfig
from models.rfr.rfr import GRID_STRIDE
from models.rfr.update import UpdateBlock
from models.interpolator import FrameInterpolator, to_uint8_frames

#: the initial flow the trained weights expect at inference (see weights/manifest.toml)
GUIDANCE = "dis"
STAGES = ("joint", "synthesis", "flow")
PRECISIONS = ("fp32", "bf16")
#: learning-rate warm-up (steps) before the cosine decay to ``FINAL_LR_FRACTION`` · lr
WARMUP_STEPS = 100
FINAL_LR_FRACTION = 0.1
GRADIENT_CLIP = 1.0
LOG_EVERY = 10

PRESETS: dict[str, AnimeInterpConfig] = {
    # ~1.3 M parameters: what two CPU cores can train in an hour or two
    "light": AnimeInterpConfig(
        rfr=RFRConfig(
            iters=4, corr_levels=3, corr_radius=3, feature_dim=96, hidden_dim=48, context_dim=48,
            encoder_dims=(32, 48, 64), corr_encoder_dims=(64, 48), flow_encoder_dims=(32, 16),
            motion_dim=48, head_dim=64, attention_dim=8, double_add_init=False,
        ),
        synthesis=SynthesisConfig(feature_dims=(8, 16, 32), grid_dims=(16, 32, 48)),
        splat="soft",
    ),
    # for tests only
    "tiny": replace(
        AnimeInterpConfig.tiny(),
        rfr=replace(AnimeInterpConfig.tiny().rfr, double_add_init=False),
        synthesis=SynthesisConfig(feature_dims=(4, 6, 8), grid_dims=(12, 6, 8)),
        splat="soft",
    ),
}


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


# --- initialisation --------------------------------------------------------------------------


def init_for_refinement(model: AnimeInterp) -> None:
    """Start the network at the classic method's interpolator, so short training only refines.

    RFR: the flow head's last layer is zero, so every update is 0 and the output is the
    initial flow sampled on the 1/8 grid; the upsampling mask's last layer has zero weights
    and the bias of bilinear interpolation (:func:`bilinear_mask_logits`), so the convex
    upsampling starts as bilinear upsampling (on the sample triplets: 24.41 dB against 23.96
    with equal weights, the classic method's 24.32). Feature extractor: level-1 channel 0 is the constant 1, so once splatted it is
    the coverage c (1 where some source pixel landed, 0 in holes: splatting normalises).
    GridNet: the path head → lateral 01 → 04 → 05 → tail computes, in its first three
    channels, the coverage-aware blend of the splatted frames s₀, s₁ (as the classic method
    does at t = ½): ½(s₀ + s₁) + ½·relu(s₀ − c₁) + ½·relu(s₁ − c₀), which is the average where
    both frames land and the one that lands where the other leaves a hole (s ∈ [0, 1],
    c ∈ {0, 1}). Every other channel keeps its random initialisation, so every block gets
    gradients from the first step.
    """
    rfr, synthesis = model.config.rfr, model.config.synthesis
    if rfr.double_add_init:
        raise ValueError("init_for_refinement needs double_add_init=False (the init must be added once)")
    if synthesis.grid_dims[0] < _GRID_CHANNELS_USED:
        raise ValueError(f"init_for_refinement needs grid_dims[0] ≥ {_GRID_CHANNELS_USED}")
    d1 = synthesis.feature_dims[0]
    base, s0, s1, c0, c1 = slice(0, 3), slice(3, 6), slice(6, 9), 9, 10
    centre = (1, 1)  # a 3×3 kernel's centre tap: zero padding never reaches it

    def identity(conv, rows: slice | int, columns: slice | int, gain: float = 1.0) -> None:
        rows = range(*rows.indices(conv.out_channels)) if isinstance(rows, slice) else [rows]
        columns = range(*columns.indices(conv.in_channels)) if isinstance(columns, slice) else [columns]
        for row, column in zip(rows, columns, strict=True):
            conv.weight[(row, column) + centre] += gain

    def clear(conv, rows) -> None:
        conv.weight[rows] = 0
        conv.bias[rows] = 0

    with torch.no_grad():
        update = model.flownet.update_block
        clear(update.flow_head.conv2, slice(None))
        clear(update.mask[-1], slice(None))
        update.mask[-1].bias.copy_(bilinear_mask_logits() / UpdateBlock.MASK_SCALE)

        features = model.feat_ext
        clear(features.conv1, 0)
        features.conv1.bias[0] = 1.0
        clear(features.conv2, 0)
        identity(features.conv2, 0, 0)

        grid = model.synnet
        head, head1, lateral, tail = (grid.residual_model_head, grid.residual_model_head1,
                                      grid.residual_model_01, grid.residual_model_tail)
        for prelu in (head[0], head[2], tail[0], tail[2]):
            prelu.weight.fill_(1.0)  # linear
        for prelu in (lateral[0], lateral[2]):
            prelu.weight.fill_(0.0)  # ReLU
        # head: frames (s₀ | s₁) → channels base = ½(s₀ + s₁), s₀, s₁
        clear(head[1], slice(0, 9))
        identity(head[1], base, slice(0, 3), 0.5)
        identity(head[1], base, slice(3, 6), 0.5)
        identity(head[1], s0, slice(0, 3))
        identity(head[1], s1, slice(3, 6))
        clear(head[3], slice(0, 11))
        identity(head[3], slice(0, 9), slice(0, 9))
        # head1: splatted level-1 features (frame 0's d1 channels | frame 1's) → c₀, c₁
        clear(head1[1], slice(0, 2))
        identity(head1[1], 0, 0)
        identity(head1[1], 1, d1)
        clear(head1[3], slice(0, 11))
        identity(head1[3], c0, 0)
        identity(head1[3], c1, 1)
        # lateral 01 (x01 = f(x00) + x00): hidden relu(s₀ − c₁), relu(s₁ − c₀); out adds their halves to base
        clear(lateral[1], slice(0, 6))
        identity(lateral[1], slice(0, 3), s0)
        identity(lateral[1], slice(3, 6), s1)
        for row in range(3):
            lateral[1].weight[(row, c1) + centre] = -1.0
            lateral[1].weight[(row + 3, c0) + centre] = -1.0
        clear(lateral[3], slice(0, 11))
        identity(lateral[3], base, slice(0, 3), 0.5)
        identity(lateral[3], base, slice(3, 6), 0.5)
        # the later columns add nothing to the first three channels; the tail reads them out
        for block in (grid.residual_model_04, grid.residual_model_05, grid.upsample_model_04, grid.upsample_model_05):
            clear(block[-1], base)
        clear(tail[1], slice(None))
        identity(tail[1], slice(0, 3), base)
        clear(tail[3], slice(None))
        identity(tail[3], slice(0, 3), slice(0, 3))


def bilinear_mask_logits(stride: int = GRID_STRIDE, floor: float = 1e-4) -> torch.Tensor:
    """Logits (9·stride², channel tap·stride² + sub_row·stride + sub_col, tap row-major 3×3)
    whose softmax over the taps is the bilinear interpolation weight of each coarse neighbour
    for each fine sub-pixel (centres at (sub + ½)/stride − ½ coarse cells); zero weights
    become ``floor``."""
    offsets = (torch.arange(stride, dtype=torch.float64) + 0.5) / stride - 0.5
    taps = torch.arange(-1, 2, dtype=torch.float64)
    weight = (1 - (offsets[None, :] - taps[:, None]).abs()).clamp_min(0)  # (3 taps, stride)
    grid = weight[:, None, :, None] * weight[None, :, None, :]  # (ty, tx, sub_row, sub_col)
    return grid.clamp_min(floor).log().reshape(-1).float()


#: GridNet channels of the first row that :func:`init_for_refinement` gives a meaning
_GRID_CHANNELS_USED = 11


# --- data -------------------------------------------------------------------------------------


def dis_guidance(img0: torch.Tensor, img1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The initial flows the network is trained with: DIS (medium, as the classic method)
    on the BT.601 grey uint8 frames, 0 → 1 and 1 → 0, each (B, 2, H, W) fp32 in pixels."""
    flows = [dis_flows(a, b) for a, b in zip(to_uint8_frames(img0), to_uint8_frames(img1))]
    return tuple(torch.from_numpy(np.stack([pair[k] for pair in flows])) for k in (0, 1))


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


# --- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationScores:
    psnr: float
    ssim: float
    per_triplet: dict[str, float]


@dataclass(frozen=True)
class ValidationTriplet:
    """One validation triplet, ready for the network: padded inputs and their DIS flows
    (computed once: they do not change while the network trains)."""

    name: str
    img0: torch.Tensor
    img1: torch.Tensor
    init01: torch.Tensor
    init10: torch.Tensor
    size: tuple[int, int]
    middle: np.ndarray


def load_validation(folder: Path, multiple: int, limit: int | None = None) -> list[ValidationTriplet]:
    """The triplets of ``folder`` (sorted by name), inputs padded to ``multiple``."""
    loaded = []
    for triplet in triplet_folders.find_dataset(Path(folder)).triplets[:limit]:
        frame0, middle, frame1 = triplet_folders.load_frames(triplet)
        img0, size = pad_to_multiple(frames_to_tensor([frame0], torch.device("cpu")), multiple)
        img1, _ = pad_to_multiple(frames_to_tensor([frame1], torch.device("cpu")), multiple)
        loaded.append(ValidationTriplet(triplet.name, img0, img1, *dis_guidance(img0, img1), size, middle))
    return loaded


@torch.no_grad()
def validate(model: FrameInterpolator, triplets: list[ValidationTriplet], precision: str = "fp32") -> ValidationScores:
    """Mean PSNR/SSIM (standard protocol: output rounded to uint8) of the middle frames, each
    interpolated at t = ½ from the triplet's DIS initial flows."""
    model.eval()
    scores = {}
    half = torch.full((1,), 0.5)
    for triplet in triplets:
        with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
            motion = model.estimate(triplet.img0, triplet.img1, triplet.init01, triplet.init10)
            out = model.synthesize(triplet.img0, triplet.img1, motion, half)
        estimate = tensor_to_float_frames(crop_to(out, triplet.size))[0]
        scores[triplet.name] = metrics.score("standard", estimate, triplet.middle)
    model.train()
    return ValidationScores(
        float(np.mean([s.psnr for s in scores.values()])),
        float(np.mean([s.ssim for s in scores.values()])),
        {name: s.psnr for name, s in scores.items()},
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


def _save_atomically(payload: dict, path: Path) -> None:
    temporary = path.with_suffix(".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def save_best(model: AnimeInterp, path: Path) -> None:
    temporary = path.with_suffix(".tmp")
    save_checkpoint(temporary, model, model.config.to_dict())
    os.replace(temporary, path)


class RunLog:
    """``log.jsonl``: one JSON object per line, flushed as written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
        state = torch.load(last_path, map_location="cpu", weights_only=True)
        model = AnimeInterp(AnimeInterpConfig.from_dict(state["config"]))
        model.load_state_dict(state["state_dict"])
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
        _save_atomically({
            "state_dict": model.state_dict(), "config": model.config.to_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "best_psnr": best_psnr, "elapsed_s": elapsed, "stage": config.stage,
            "train": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        }, last_path)

    def run_validation() -> None:
        nonlocal best_psnr
        started = time.monotonic()
        scores = validate(model, validation, config.precision)
        log.write({"step": step, "val_psnr": scores.psnr, "val_ssim": scores.ssim,
                   "val_per_triplet": scores.per_triplet, "val_s": time.monotonic() - started})
        improved = scores.psnr > best_psnr
        if improved:
            best_psnr = scores.psnr
            save_best(model, best_path)
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


def export_weights(source: Path, target: Path) -> str:
    """Write the weights of ``source`` (e.g. a run's ``best.pt``) to ``target`` in fp16 storage,
    with their configuration, as ``models.animeinterp.load_animeinterp`` reads them (it loads
    fp16 tensors into the fp32 model). Returns the file's sha256 (for ``weights/manifest.toml``)."""
    import hashlib

    model = load_animeinterp(source).half()
    save_checkpoint(target, model, model.config.to_dict())
    return hashlib.sha256(Path(target).read_bytes()).hexdigest()
