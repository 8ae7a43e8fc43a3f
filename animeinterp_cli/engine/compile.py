"""torch.compile for a method's hot submodules, with a clean fallback to eager execution.

Compilation costs a minute or so once per frame size on a CPU, so ``--compile auto`` turns it
on only when the plan has enough frames to synthesise to pay that back
(:data:`COMPILE_MIN_FRAMES`), and only where the backend can work: Inductor needs a C++
compiler on the CPU and Triton on CUDA. Whatever goes wrong at compile time, the runner
switches back to eager and says so once (see :meth:`PairRunner.run`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from animeinterp_cli.engine.device import Placement
from animeinterp_cli.options import CompileMode

#: synthesised frames from which ``auto`` compiles. bench/throughput.py on this project's
#: 2-core CPU: at 960×540 compiling took ~30 s (cold cache) and saved ~0.5 s per synthesised
#: frame (network 78.1 → 65.1 s for 16), paying back after ~60 frames; at 1920×1080 (one
#: thread) ~38 s against ~6 s saved per frame (258.9 → 223.4 s for 6)
COMPILE_MIN_FRAMES = 100


def compile_unavailable(placement: Placement) -> str | None:
    """Why torch.compile cannot run on ``placement`` (None when it can)."""
    if placement.device.type == "cuda":
        return None if importlib.util.find_spec("triton") else "Triton is not installed"
    compilers = [os.environ.get("CXX"), "g++", "clang++", "c++"]
    if not any(c and shutil.which(c) for c in compilers):
        return "no C++ compiler (g++ or clang++) on PATH"
    return None


def compile_decision(mode: CompileMode, synthesized: int, placement: Placement) -> tuple[bool, str | None]:
    """Whether to compile a network for a plan that synthesises ``synthesized`` frames, and
    what to tell the user (None: nothing). ``on`` compiles whenever the backend can run here,
    ``auto`` only from :data:`COMPILE_MIN_FRAMES` frames, quietly, ``off`` never."""
    if mode == CompileMode.off or (mode == CompileMode.auto and synthesized < COMPILE_MIN_FRAMES):
        return False, None
    reason = compile_unavailable(placement)
    if reason is not None:
        return False, f"torch.compile cannot run here ({reason}): continuing without it" if mode == CompileMode.on else None
    return True, "compiling the network with torch.compile: the first frames take a minute or so longer"


def compile_modules(modules: list[nn.Module], placement: Placement) -> None:
    """Replace each module's forward with a compiled one (``dynamic=False``: one graph per
    shape). On the CPU the weights are frozen into the graph (Inductor's ``freezing``), which
    lets oneDNN pre-pack them: the modules must then only run for inference."""
    options: dict[str, str | int | bool | Callable[..., Any]] | None = {"freezing": True} if placement.device.type == "cpu" else None
    # Inductor's C++ builder warns on every CPU-only machine that it found no CUDA runtime
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    for module in modules:
        module.forward = torch.compile(module.forward, dynamic=False, options=options)


def uncompile_modules(modules: list[nn.Module]) -> None:
    """Undo :func:`compile_modules`: the class's eager forward is used again."""
    for module in modules:
        if "forward" in module.__dict__:
            del module.forward
