"""The golden reference data of ../shared/reference/golden/ (outputs of the released code)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import SHARED

GOLDEN = SHARED / "reference" / "golden"


def _load(name: str):
    path = GOLDEN / name
    if not path.is_file():
        pytest.skip(f"golden reference data {path} is not beside this checkout")
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    if not GOLDEN.is_dir():
        pytest.skip(f"golden reference data {GOLDEN} is not beside this checkout")
    return GOLDEN


@pytest.fixture(scope="session")
def network_cases():
    return _load("network_cases.pt")


@pytest.fixture(scope="session")
def sgm_case():
    return _load("sgm_case.pt")
