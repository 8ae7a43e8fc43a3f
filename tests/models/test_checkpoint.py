"""The weights loader: the official checkpoint's layout loads strictly; bad files get one line."""

from fractions import Fraction
from pathlib import Path

import pytest
import torch

from models.animeinterp import AnimeInterp, load_animeinterp
from models.checkpoint import CheckpointError, load_strict, read_checkpoint, save_checkpoint
from models.config import AnimeInterpConfig

MANIFEST = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "animeinterp_state_dict.tsv"


def manifest() -> list[tuple[str, list[int]]]:
    if not MANIFEST.is_file():
        pytest.skip("../shared/reference is not beside this checkout")
    rows = [line.split("\t") for line in MANIFEST.read_text().splitlines() if line.strip()]
    return [(name, [int(n) for n in shape.strip("[]").split(",")]) for name, shape in rows]


def fake_official_checkpoint(path: Path, *, legacy: bool = False, edit=None) -> dict[str, torch.Tensor]:
    """An ``anime_interp_full.ckpt`` look-alike built from the manifest, random values."""
    generator = torch.Generator().manual_seed(0)
    state = {name: torch.randn(shape, generator=generator) for name, shape in manifest()}
    if edit is not None:
        edit(state)
    torch.save({"model_state_dict": state, "epoch": 42}, path, _use_new_zipfile_serialization=not legacy)
    return state


def test_paper_model_has_exactly_the_manifest_keys_and_shapes():
    expected = [(name.removeprefix("module."), shape) for name, shape in manifest()]
    model = AnimeInterp(AnimeInterpConfig.paper())
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == expected


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-format"])
def test_official_layout_loads_strictly(tmp_path, legacy):
    path = tmp_path / "anime_interp_full.ckpt"
    state = fake_official_checkpoint(path, legacy=legacy)
    model = load_animeinterp(path)
    assert model.config == AnimeInterpConfig.paper()
    loaded = model.state_dict()
    for name in ("module.flownet.fnet.conv1.weight", "module.synnet.upsample_model_15.4.bias"):
        assert torch.equal(loaded[name.removeprefix("module.")], state[name])


def only_message(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda s: s.pop("module.synnet.residual_model_tail.3.bias"), "1 missing key (synnet.residual_model_tail.3.bias)"),
        (lambda s: s.update({"module.synnet.extra.weight": torch.zeros(1)}), "1 unexpected key (synnet.extra.weight)"),
        (
            lambda s: s.update({"module.feat_ext.conv1.weight": torch.zeros(16, 3, 3, 3)}),
            "1 shape mismatch (feat_ext.conv1.weight: file [16, 3, 3, 3] vs model [32, 3, 3, 3])",
        ),
    ],
    ids=["missing", "extra", "mis-shaped"],
)
def test_mismatched_checkpoints_name_the_keys(tmp_path, edit, expected):
    path = tmp_path / "bad.ckpt"
    fake_official_checkpoint(path, edit=edit)
    with pytest.raises(CheckpointError) as error:
        load_animeinterp(path)
    assert expected in only_message(error)


def test_many_missing_keys_are_counted_and_a_few_listed():
    model = AnimeInterp(AnimeInterpConfig.tiny())
    state = dict(model.state_dict())
    for name in list(state)[:5]:
        del state[name]
    with pytest.raises(CheckpointError, match=r"5 missing keys \(.*, and 2 more\)") as error:
        load_strict(model, state)
    only_message(error)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-format"])
def test_truncated_file(tmp_path, legacy):
    path = tmp_path / "cut.ckpt"
    fake_official_checkpoint(path, legacy=legacy)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as error:
        read_checkpoint(path)
    only_message(error)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"\x89PNG\r\n\x1a\n0000", "not a PyTorch checkpoint"),
        (b"", "is empty"),
    ],
    ids=["png", "empty"],
)
def test_files_that_are_not_checkpoints(tmp_path, content, expected):
    path = tmp_path / "frame.png"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected) as error:
        read_checkpoint(path)
    only_message(error)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "nothing.ckpt")
    with pytest.raises(CheckpointError, match="not a file"):
        read_checkpoint(tmp_path)


@pytest.mark.parametrize(
    "content, expected",
    [
        ([torch.zeros(1)], "holds a list"),
        ({"model_state_dict": {"a": 3}}, "entry 'a' is a int"),
        ({"model_state_dict": {}}, "holds no state dict"),
        ({"w": Fraction(1, 2)}, "refused for safety"),
    ],
    ids=["list", "non-tensor", "empty-dict", "unsafe-object"],
)
def test_wrong_contents(tmp_path, content, expected):
    path = tmp_path / "odd.ckpt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=expected) as error:
        read_checkpoint(path)
    only_message(error)


def test_own_layout_round_trip_keeps_the_config(tmp_path):
    config = AnimeInterpConfig(**{**AnimeInterpConfig.tiny().__dict__, "splat": "soft"})
    torch.manual_seed(0)
    model = AnimeInterp(config)
    path = tmp_path / "ours.pt"
    save_checkpoint(path, model, config.to_dict())
    assert read_checkpoint(path).config == config.to_dict()
    loaded = load_animeinterp(path)
    assert loaded.config == config
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)


def test_bare_state_dict_with_prefix_is_accepted(tmp_path):
    model = AnimeInterp(AnimeInterpConfig.tiny())
    path = tmp_path / "bare.pth"
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, path)
    assert set(read_checkpoint(path).state_dict) == set(model.state_dict())


def test_invalid_stored_config_is_reported(tmp_path):
    model = AnimeInterp(AnimeInterpConfig.tiny())
    path = tmp_path / "ours.pt"
    save_checkpoint(path, model, {"splat": "median"})
    with pytest.raises(CheckpointError, match="invalid config"):
        load_animeinterp(path)
