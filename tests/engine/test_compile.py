"""torch.compile in the engine: when it is used, that it gives the eager output, and the fallback."""

from fractions import Fraction

import numpy as np
import pytest
import torch

import animeinterp_cli.engine.runner as runner_module
from animeinterp_cli.api import _maybe_compile
from animeinterp_cli.engine.compile import COMPILE_MIN_FRAMES, compile_unavailable
from animeinterp_cli.engine.device import resolve_placement
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.schedule.plan import Copy, Synthesize
from models.animeinterp import AnimeInterp
from models.config import AnimeInterpConfig
from models.interpolator import LinearBlend
from models.pipeline import AnimeInterpPipeline


def tiny_pipeline() -> AnimeInterpPipeline:
    torch.manual_seed(0)
    return AnimeInterpPipeline(AnimeInterp(AnimeInterpConfig.tiny()).eval(), guidance="zero")


def two_frames(rng) -> tuple[np.ndarray, np.ndarray]:
    return tuple(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2))


def synth_plan(count: int) -> list:
    return [Synthesize(Fraction(2 * i + 1, 2), i, i + 1, Fraction(1, 2)) for i in range(count)]


def test_a_compile_failure_falls_back_to_eager_once_and_says_so(cpu_fp32, rng, monkeypatch):
    def broken_compile(modules, placement):
        def fail(*args, **kwargs):
            raise RuntimeError("backend exploded\nlong details")

        for module in modules:
            module.forward = fail

    monkeypatch.setattr(runner_module, "compile_modules", broken_compile)
    frame0, frame1 = two_frames(rng)
    expected = PairRunner(tiny_pipeline(), cpu_fp32).interpolate(frame0, frame1, [0.5])[0]
    notes = []
    runner = PairRunner(tiny_pipeline(), cpu_fp32)
    assert runner.enable_compile(notes.append)
    got = runner.interpolate(frame0, frame1, [0.5])[0]
    np.testing.assert_array_equal(got, expected)
    assert len(notes) == 1 and "RuntimeError: backend exploded" in notes[0] and "long details" not in notes[0]
    assert runner.pairs_estimated == 1
    runner.interpolate(frame0, frame1, [0.5])  # eager from now on: no second note
    assert len(notes) == 1


def test_a_genuine_error_still_fails_after_the_fallback(cpu_fp32, rng):
    runner = PairRunner(tiny_pipeline(), cpu_fp32)
    runner._compiled = runner.method.compile_targets()  # as if compiled: the retry runs eagerly
    frame0, _ = two_frames(rng)
    with pytest.raises(ValueError):
        runner.interpolate(frame0, frame0[:20], [0.5])  # pair of two sizes


@pytest.mark.skipif(compile_unavailable(resolve_placement("cpu", "fp32")) is not None,
                    reason="torch.compile needs a C++ compiler on the CPU")
def test_compiled_network_matches_eager(cpu_fp32, rng):
    frame0, frame1 = two_frames(rng)
    expected = PairRunner(tiny_pipeline(), cpu_fp32).interpolate(frame0, frame1, [0.25, 0.75])
    notes = []
    runner = PairRunner(tiny_pipeline(), cpu_fp32)
    runner.enable_compile(notes.append)
    got = runner.interpolate(frame0, frame1, [0.25, 0.75])
    assert notes == []  # compiled, no fallback
    assert all("forward" in vars(m) for m in runner.method.compile_targets())
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)


@pytest.mark.parametrize(
    ("mode", "frames", "compiled"),
    [("off", 1000, False), ("auto", COMPILE_MIN_FRAMES - 1, False), ("auto", COMPILE_MIN_FRAMES, True), ("on", 1, True)],
)
def test_when_the_network_is_compiled(cpu_fp32, monkeypatch, mode, frames, compiled):
    monkeypatch.setattr("animeinterp_cli.api.compile_unavailable", lambda placement: None)
    runner = PairRunner(tiny_pipeline(), cpu_fp32)
    notes = []
    _maybe_compile(runner, mode, [Copy(Fraction(0), 0, "original"), *synth_plan(frames)], notes.append)
    assert bool(runner._compiled) == compiled
    assert bool(notes) == compiled


def test_nothing_to_compile_for_methods_without_a_network(cpu_fp32):
    runner = PairRunner(LinearBlend(), cpu_fp32)
    _maybe_compile(runner, "on", synth_plan(100), lambda message: pytest.fail(message))
    assert runner._compiled == []


def test_compile_on_without_a_backend_says_why(cpu_fp32, monkeypatch):
    monkeypatch.setattr("animeinterp_cli.api.compile_unavailable", lambda placement: "no C++ compiler")
    runner = PairRunner(tiny_pipeline(), cpu_fp32)
    notes = []
    _maybe_compile(runner, "on", synth_plan(100), notes.append)
    assert runner._compiled == [] and notes == ["torch.compile cannot run here (no C++ compiler): continuing without it"]


def test_no_cpp_compiler_means_unavailable_on_the_cpu(cpu_fp32, monkeypatch):
    monkeypatch.setenv("CXX", "")
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert "C++ compiler" in compile_unavailable(cpu_fp32)
