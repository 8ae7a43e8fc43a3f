"""The one place that decides device and precision.

``--device auto`` takes CUDA when present, else the CPU. ``--precision auto`` takes fp16 on
CUDA, bf16 on CPUs with AMX tiles (where bf16 convolutions run several times faster than
fp32), and fp32 otherwise: measured on a 2-core AVX-512-BF16 CPU without AMX, bf16
convolutions ran at 75 GFLOP/s against 130 for fp32, so bf16 is no gain there. Flow coordinates and splat accumulation stay fp32 whatever is chosen (the models
keep those islands in fp32 themselves).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import lru_cache

import torch

from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.options import Device, Precision, coerce

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Placement:
    """Where and in which precision the networks run."""

    device: torch.device
    precision: str  # "fp32" | "bf16" | "fp16"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype, or None for plain fp32."""
        return None if self.precision == "fp32" else _DTYPES[self.precision]

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast context for the chosen precision (a no-op for fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def describe(self) -> str:
        return f"{self.device.type} {self.precision}"


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX tiles for bf16 (oneDNN then runs bf16 convolutions on them)."""
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older torch
        capability = ""
    if "AMX" in capability.upper():
        return True
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags


def resolve_placement(device: Device | str = Device.auto, precision: Precision | str = Precision.auto) -> Placement:
    """Turn the user's ``--device``/``--precision`` choices into a :class:`Placement`."""
    device = coerce(Device, device, "device")
    precision = coerce(Precision, precision, "precision")
    if device == Device.cuda and not torch.cuda.is_available():
        raise AnimeInterpError("--device cuda was asked for, but no CUDA device is available")
    if device == Device.auto:
        device = Device.cuda if torch.cuda.is_available() else Device.cpu
    if precision == Precision.auto:
        if device == Device.cuda:
            precision = Precision.fp16
        elif cpu_has_fast_bf16():
            precision = Precision.bf16
        else:
            precision = Precision.fp32
    if precision == Precision.fp16 and device == Device.cpu:
        raise AnimeInterpError("fp16 is for CUDA; on the CPU use --precision bf16 or fp32")
    return Placement(torch.device(device.value), precision.value)


def default_batch_size(placement: Placement) -> int:
    """Frame pairs per batch when the user gives none."""
    # the CPU gains nothing from batching pairs; a GPU keeps busy with a few at once
    return 4 if placement.device.type == "cuda" else 1


def cpu_to_spare(placement: Placement) -> bool:
    """Whether CPU work (SGM/DIS guidance) can run beside the network without slowing it: on
    CUDA, or when torch uses fewer threads than the cores this process may run on. On this
    project's 2-core CPU with 2 torch threads, overlapping the guidance made a 960×540 run 4 %
    slower (92.7 s against 88.7 s): the network's threads then wait for the shared core."""
    if placement.device.type == "cuda":
        return True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return torch.get_num_threads() < cores
