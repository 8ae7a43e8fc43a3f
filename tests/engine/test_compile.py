"""torch.compile in the engine: when it is used, that it gives the eager output, and the fallback."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import animeinterp_cli.engine.runner as runner_module
from animeinterp_cli.engine.compile import COMPILE_MIN_FRAMES, compile_decision, compile_unavailable
from animeinterp_cli.engine.device import resolve_placement
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.options import CompileMode
from models.animeinterp import AnimeInterp
from models.checkpoint import save_checkpoint
from models.config import AnimeInterpConfig
from models.interpolator import LinearBlend
from models.pipeline import AnimeInterpPipeline
from tests.conftest import disc_frame


def tiny_pipeline() -> AnimeInterpPipeline:
    torch.manual_seed(0)
    return AnimeInterpPipeline(AnimeInterp(AnimeInterpConfig.tiny()).eval(), guidance="zero")


def two_frames(rng) -> tuple[np.ndarray, np.ndarray]:
    return tuple(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2))


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


def test_a_genuine_error_still_fails_after_the_fallback(cpu_fp32, rng, monkeypatch):
    monkeypatch.setattr(runner_module, "compile_modules", lambda modules, placement: None)  # as if compiled
    runner = PairRunner(tiny_pipeline(), cpu_fp32)
    runner.enable_compile(lambda message: None)
    assert runner.compiled
    frame0, _ = two_frames(rng)
    with pytest.raises(ValueError):
        runner.interpolate(frame0, frame0[:20], [0.5])  # pair of two sizes: fails eagerly too
    assert not runner.compiled


@pytest.mark.slow  # compiling takes about two minutes on a 2-core CPU with a cold cache
@pytest.mark.skipif(compile_unavailable(resolve_placement("cpu", "fp32")) is not None,
                    reason="torch.compile needs a C++ compiler on the CPU")
def test_compiled_network_matches_eager(cpu_fp32, rng):
    frame0, frame1 = two_frames(rng)
    expected = PairRunner(tiny_pipeline(), cpu_fp32).interpolate(frame0, frame1, [0.25, 0.75])
    notes = []
    runner = PairRunner(tiny_pipeline(), cpu_fp32)
    runner.enable_compile(notes.append)
    got = runner.interpolate(frame0, frame1, [0.25, 0.75])
    assert notes == [] and runner.compiled  # compiled, no fallback
    assert all("forward" in vars(m) for m in runner.method.compile_targets())
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)


@pytest.mark.parametrize(
    ("mode", "frames", "compiled"),
    [("off", 1000, False), ("auto", COMPILE_MIN_FRAMES - 1, False), ("auto", COMPILE_MIN_FRAMES, True), ("on", 1, True)],
)
def test_when_the_network_is_compiled(cpu_fp32, monkeypatch, mode, frames, compiled):
    monkeypatch.setattr("animeinterp_cli.engine.compile.compile_unavailable", lambda placement: None)
    decided, message = compile_decision(CompileMode(mode), frames, cpu_fp32)
    assert decided == compiled and (message is not None) == compiled


def test_compile_on_without_a_backend_says_why(cpu_fp32, monkeypatch):
    monkeypatch.setattr("animeinterp_cli.engine.compile.compile_unavailable", lambda placement: "no C++ compiler")
    assert compile_decision(CompileMode.on, 100, cpu_fp32) == (
        False, "torch.compile cannot run here (no C++ compiler): continuing without it")
    assert compile_decision(CompileMode.auto, 1000, cpu_fp32) == (False, None)  # auto stays quiet


def test_nothing_to_compile_for_methods_without_a_network(cpu_fp32):
    runner = PairRunner(LinearBlend(), cpu_fp32)
    assert not runner.enable_compile(lambda message: pytest.fail(message)) and not runner.compiled


def test_a_run_compiles_when_the_plan_pays_for_it(tmp_path, monkeypatch):
    from animeinterp_cli.api import RunConfig, interpolate_frames
    from animeinterp_cli.video.images import write_png

    monkeypatch.setattr("animeinterp_cli.engine.compile.compile_unavailable", lambda placement: None)
    monkeypatch.setattr(runner_module, "compile_modules", lambda modules, placement: None)
    monkeypatch.setattr("animeinterp_cli.engine.compile.COMPILE_MIN_FRAMES", 2)
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(3):
        write_png(folder / f"{index}.png", disc_frame(32, 24, (10 + 3 * index, 12)))  # a disc in motion: no cut
    weights = tmp_path / "tiny.pt"
    save_checkpoint(weights, tiny_pipeline().network, AnimeInterpConfig.tiny().to_dict())
    notes = []
    config = RunConfig(model="animeinterp", weights=weights, sgm="zero", device="cpu", precision="fp32")
    interpolate_frames(folder, tmp_path / "out", config, note=notes.append)
    assert any("compiling the network" in note for note in notes)
    notes.clear()
    interpolate_frames(folder, tmp_path / "out2", replace(config, compile="off"), note=notes.append)
    assert not any("compil" in note for note in notes)


def test_no_cpp_compiler_means_unavailable_on_the_cpu(cpu_fp32, monkeypatch):
    monkeypatch.setenv("CXX", "")
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert "C++ compiler" in compile_unavailable(cpu_fp32)
