"""Shared fixtures: paths to the shared samples, a CPU placement, seeded randomness."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "samples"


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests run wherever CUDA is present and are skipped, saying why, elsewhere."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def samples() -> Path:
    """../shared/samples beside the checkout (tests that need it skip when it is absent)."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not beside this checkout")
    return SAMPLES


@pytest.fixture
def cpu_fp32():
    from animeinterp_cli.engine.device import resolve_placement

    return resolve_placement("cpu", "fp32")


@pytest.fixture
def rng() -> np.random.Generator:
    torch.manual_seed(0)
    return np.random.default_rng(0)


def disc_frame(width: int, height: int, centre: tuple[float, float], radius: float = 8.0) -> np.ndarray:
    """A flat orange disc with a dark outline on a light-blue background (H, W, 3) uint8."""
    ys, xs = np.mgrid[0:height, 0:width]
    distance = np.hypot(xs - centre[0], ys - centre[1])
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (170, 200, 235)
    image[distance <= radius + 1.5] = (20, 20, 30)
    image[distance <= radius] = (240, 140, 40)
    return image


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def stop_signals_as_from_a_terminal() -> None:
    """``preexec_fn`` for a tool run in a subprocess: SIGINT, SIGTERM and SIGHUP at their
    defaults, as a terminal gives them. A suite started in the background inherits SIGINT
    ignored (the shell does that to ``cmd &``), under ``nohup`` SIGHUP, and the tool rightly
    keeps an ignored signal ignored."""
    for number in (signal.SIGINT, *STOP_SIGNALS):
        signal.signal(number, signal.SIG_DFL)


@pytest.fixture
def default_stop_signals():
    """SIGTERM and SIGHUP at their default disposition during the test, as a terminal gives
    them: a suite started under ``nohup`` inherits SIGHUP ignored, and the tool rightly keeps
    an ignored signal ignored."""
    saved = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.fixture(autouse=True)
def no_shipped_weights(tmp_path_factory, monkeypatch):
    """Tests run against an empty weights folder unless they point ANIMEINTERP_WEIGHTS
    elsewhere (the shipped default is tested by tests/test_shipped_weights.py)."""
    monkeypatch.setenv("ANIMEINTERP_WEIGHTS", str(tmp_path_factory.mktemp("no-weights")))
