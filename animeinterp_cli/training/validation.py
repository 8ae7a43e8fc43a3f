"""Validation on the sample triplets (never training data): mean PSNR/SSIM of the middle frames.

Each triplet is loaded once, padded to the network's size multiple, with its DIS initial
flows (:func:`dis_guidance`, the flows the networks are trained with); :func:`validate` runs
any :class:`models.interpolator.FrameInterpolator` on them at t = ½ and scores the result
with the standard protocol (output rounded to uint8).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from animeinterp_cli.benchmark import datasets as triplet_folders
from animeinterp_cli.benchmark import metrics
from animeinterp_cli.engine.adapter import crop_to, frames_to_tensor, pad_to_multiple, tensor_to_float_frames
from models.guidance import dis_flows
from models.interpolator import FrameInterpolator, to_uint8_frames


def dis_guidance(img0: torch.Tensor, img1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The initial flows the network is trained with: DIS (medium, as the classic method)
    on the BT.601 grey uint8 frames, 0 → 1 and 1 → 0, each (B, 2, H, W) fp32 in pixels."""
    flows = [dis_flows(a, b) for a, b in zip(to_uint8_frames(img0), to_uint8_frames(img1))]
    return torch.from_numpy(np.stack([f for f, _ in flows])), torch.from_numpy(np.stack([b for _, b in flows]))



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
