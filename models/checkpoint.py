"""The one weights loader: reads checkpoint files and loads them strictly.

Accepted layouts (all read with ``torch.load(weights_only=True)`` onto the CPU):
- the official ``anime_interp_full.ckpt``: ``{"model_state_dict": {...}, ...}`` with keys
  prefixed ``module.`` (it was saved from ``nn.DataParallel``);
- our own files: ``{"state_dict": {...}, "config": {...}}`` (see :func:`save_checkpoint`);
- a bare state dict.
A leading ``module.`` is stripped from every key. Every problem raises
:class:`CheckpointError` with a one-line message that names it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
_PICKLE_MAGIC = b"\x80"  # torch.save's legacy format starts with a protocol ≥ 2 pickle
_PREFIX = "module."
_LISTED = 3  # how many names a message lists before "and N more"


class CheckpointError(ValueError):
    """A weights file is missing, unreadable, or does not match the model (one-line message)."""


@dataclass(frozen=True)
class Checkpoint:
    """What a weights file holds: the state dict (``module.`` stripped) and, for our own
    files, the model configuration as a plain dict (``AnimeInterpConfig.to_dict()``) and
    whatever else was saved beside them (``extra``: a training run's optimizer, step…)."""

    state_dict: dict[str, torch.Tensor]
    config: dict | None = None
    extra: dict = field(default_factory=dict)


def _load_object(path: Path):
    if not path.exists():
        raise CheckpointError(f"weights file not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"weights path is not a file: {path}")
    with path.open("rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointError(f"weights file is empty: {path}")
    looks_like_torch = head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC)
    if not looks_like_torch:
        raise CheckpointError(f"not a PyTorch checkpoint: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types for damaged files
        text = str(error).strip()
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if unsafe:
            raise CheckpointError(
                f"checkpoint {path} holds objects other than tensors ({unsafe.group(1)}), refused for safety"
            ) from None
        # torch's messages run on with advice; the first sentence names the problem
        reason = re.split(r"\.\s", text.splitlines()[0])[0] if text else type(error).__name__
        raise CheckpointError(f"checkpoint is truncated or corrupt: {path} ({reason})") from None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a weights file in any accepted layout (see the module docstring)."""
    path = Path(path)
    content = _load_object(path)
    if not isinstance(content, dict):
        raise CheckpointError(f"not a checkpoint: {path} holds a {type(content).__name__}, not a dict")
    config, extra = None, {}
    if "model_state_dict" in content:
        state_dict = content["model_state_dict"]
    elif "state_dict" in content:
        state_dict, config = content["state_dict"], content.get("config")
        extra = {k: v for k, v in content.items() if k not in ("state_dict", "config")}
    else:
        state_dict = content
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointError(f"not a checkpoint: {path} holds no state dict")
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"not a checkpoint: {path} entry {key!r} is a {type(value).__name__}, not a tensor"
            )
    if config is not None and not isinstance(config, dict):
        raise CheckpointError(f"checkpoint {path} has a config that is not a dict")
    stripped = {k[len(_PREFIX):] if k.startswith(_PREFIX) else k: v for k, v in state_dict.items()}
    return Checkpoint(stripped, config, extra)


def save_checkpoint(path: str | Path, model: nn.Module, config: dict | None = None, **extra) -> None:
    """Save our own layout: ``{"state_dict": ..., "config": config, **extra}`` (tensors on the
    CPU), atomically: written under a temporary name beside ``path``, then renamed, so an
    interrupted save leaves the previous file intact."""
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    torch.save({"state_dict": state_dict, "config": config, **extra}, temporary)
    os.replace(temporary, path)


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f", and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s" if not what.endswith("ch") else "es")


def load_strict(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Load ``state_dict`` into ``model``; every key must match in name and shape.

    Raises :class:`CheckpointError` listing (a few of) the missing keys, unexpected keys and
    shape mismatches, with their counts.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k}: file {list(v.shape)} vs model {list(expected[k].shape)}"
        for k, v in state_dict.items()
        if k in expected and v.shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{_count(len(missing), 'missing key')} ({_names(missing)})")
    if unexpected:
        problems.append(f"{_count(len(unexpected), 'unexpected key')} ({_names(unexpected)})")
    if mismatched:
        problems.append(f"{_count(len(mismatched), 'shape mismatch')} ({_names(mismatched)})")
    if problems:
        raise CheckpointError("weights do not match the model: " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)
