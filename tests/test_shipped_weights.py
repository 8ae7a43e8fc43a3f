"""The default weights this repository ships: intact, loadable, the learned default's config."""

from __future__ import annotations

import pytest

from animeinterp_cli.weights import default_weights, read_manifest
from models.animeinterp import load_animeinterp
from tests.conftest import REPO


@pytest.fixture
def shipped(monkeypatch):
    monkeypatch.setenv("ANIMEINTERP_WEIGHTS", str(REPO / "weights"))


def test_the_shipped_default_verifies_and_is_the_residual_synthesis_network(shipped):
    entry = default_weights()  # raises if missing or its sha256 does not match
    assert entry is not None and entry.guidance == "dis"
    model = load_animeinterp(entry.path)
    assert model.config.rfr is None and model.config.synthesis.residual and model.config.guidance == "dis"
    assert entry.path.stat().st_size < 3_000_000


def test_the_manifest_records_the_provenance_and_the_measured_quality(shipped):
    import tomllib

    table = tomllib.loads((REPO / "weights" / "manifest.toml").read_text())["default"]
    for key in ("sha256", "config", "data", "samples_seen", "train_wall_s", "frames_gain_db", "frames_worst_gain_db"):
        assert key in table
    assert [e.key for e in read_manifest()] == ["default"]
