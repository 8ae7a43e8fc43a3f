"""The weights folder: manifest, checksums, the default model, the `weights` command."""

from pathlib import Path

import pytest
import torch

from animeinterp_cli.engine.device import resolve_placement
from animeinterp_cli.engine.methods import build_method
from animeinterp_cli.errors import WeightsError
from animeinterp_cli.weights import default_weights, read_manifest, sha256_of, user_checkpoints
from models.animeinterp import AnimeInterp
from models.checkpoint import save_checkpoint
from models.config import AnimeInterpConfig
from tests.test_cli import run_cli


@pytest.fixture
def weights_folder(tmp_path, monkeypatch) -> Path:
    """A weights folder with a tiny default model and its manifest, made current."""
    torch.manual_seed(0)
    config = AnimeInterpConfig.tiny()
    save_checkpoint(tmp_path / "tiny.pt", AnimeInterp(config), config.to_dict())
    (tmp_path / "manifest.toml").write_text(
        f'[default]\nname = "tiny"\nfile = "tiny.pt"\nsha256 = "{sha256_of(tmp_path / "tiny.pt")}"\nguidance = "zero"\n'
    )
    monkeypatch.setenv("ANIMEINTERP_WEIGHTS", str(tmp_path))
    return tmp_path


def test_default_weights_are_found_and_used_by_auto(weights_folder):
    entry = default_weights()
    assert entry is not None and entry.name == "tiny" and entry.guidance == "zero"
    built = build_method("auto", placement=resolve_placement("cpu", "fp32"))
    assert built.name == "animeinterp" and built.notes == ("using the project's weights tiny.pt (zero guidance)",)
    assert built.interpolator.guidance_mode == "zero" and built.weights == weights_folder / "tiny.pt"


def test_corrupt_default_is_a_one_line_error_naming_the_file(weights_folder, capsys):
    with open(weights_folder / "tiny.pt", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(WeightsError, match="tiny.pt"):
        default_weights()
    code, err = run_cli(capsys, "weights")
    assert code == 1 and "tiny.pt" in err.strip().splitlines()[-1] and "corrupt" in err


def test_missing_file_and_bad_manifest(weights_folder, capsys):
    (weights_folder / "tiny.pt").unlink()
    with pytest.raises(WeightsError, match="missing"):
        default_weights()
    (weights_folder / "manifest.toml").write_text("[default\nfile=")
    with pytest.raises(WeightsError, match="TOML"):
        read_manifest()


def test_weights_command_lists_and_verifies(weights_folder, capsys, monkeypatch):
    from animeinterp_cli import console

    monkeypatch.setattr(console.stderr, "width", 200)  # no wrapping inside table cells
    (weights_folder / "anime_interp_full.ckpt").write_bytes(b"user file")
    assert user_checkpoints() == [weights_folder / "anime_interp_full.ckpt"]
    code, err = run_cli(capsys, "weights")
    assert code == 0, err
    assert "tiny" in err and "ok" in err and "anime_interp_full.ckpt" in err


def test_no_weights_means_classic_and_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMEINTERP_WEIGHTS", str(tmp_path))
    built = build_method("auto", placement=resolve_placement("cpu", "fp32"))
    assert built.name == "classic" and any("classic" in n for n in built.notes)
