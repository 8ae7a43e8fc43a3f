"""Building methods from names and weight files; the guided AnimeInterp pipeline."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from animeinterp_cli.engine.methods import build_method
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.errors import ConfigError, WeightsError
from models.animeinterp import AnimeInterp
from models.checkpoint import save_checkpoint
from models.config import AnimeInterpConfig
from models.pipeline import AnimeInterpPipeline, guidance_flows
from tests.conftest import disc_frame


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    torch.manual_seed(0)
    config = AnimeInterpConfig.tiny()
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, AnimeInterp(config), config.to_dict())
    return path


def test_animeinterp_from_weights_runs_end_to_end(cpu_fp32, tiny_weights):
    method = build_method("animeinterp", placement=cpu_fp32, weights=tiny_weights, inline_guidance=False)
    assert isinstance(method.interpolator, AnimeInterpPipeline) and method.notes == ()
    runner = PairRunner(method.interpolator, cpu_fp32)
    a, b = disc_frame(37, 29, (10, 14)), disc_frame(37, 29, (17, 14))
    outputs = runner.interpolate(a, b, [0.25, 0.75])
    assert [o.shape for o in outputs] == [(29, 37, 3)] * 2
    assert all(0 <= o.min() and o.max() <= 1 for o in outputs)


def test_animeinterp_needs_weights(cpu_fp32):
    with pytest.raises(WeightsError, match="--weights"):
        build_method("animeinterp", placement=cpu_fp32)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated"])
def test_broken_weight_files_are_one_line_errors(cpu_fp32, tmp_path, content):
    path = tmp_path / "broken.ckpt"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as info:
        build_method("animeinterp", placement=cpu_fp32, weights=path)
    assert "\n" not in str(info.value)


def test_unknown_names(cpu_fp32):
    with pytest.raises(ConfigError, match="unknown method 'dain'; choose one of auto, animeinterp"):
        build_method("dain", placement=cpu_fp32)


def test_auto_says_which_method_it_chose(cpu_fp32, tiny_weights):
    chosen = build_method("auto", placement=cpu_fp32)
    assert chosen.name == "classic" and "using the classic" in chosen.notes[0]
    assert build_method("auto", placement=cpu_fp32, weights=tiny_weights, inline_guidance=False).name == "animeinterp"


def test_weights_are_read_and_verified_once(cpu_fp32, tiny_weights, monkeypatch):
    import animeinterp_cli.engine.methods as methods

    calls = []
    real = methods.resolve_weights
    monkeypatch.setattr(methods, "resolve_weights", lambda weights: calls.append(weights) or real(weights))
    build_method("auto", placement=cpu_fp32, weights=tiny_weights)
    assert calls == [tiny_weights]


def test_sgm_descriptor_is_decided_and_reported_at_build(cpu_fp32, tiny_weights, tmp_path, monkeypatch):
    from animeinterp_cli.weights import sha256_of

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no VGG-19 in torch hub's cache
    # the project's weights (described by the manifest): the fast SGM, colour on the CPU
    monkeypatch.setenv("ANIMEINTERP_WEIGHTS", str(tmp_path))
    (tmp_path / "manifest.toml").write_text(
        f'[tiny]\nfile = "tiny.pt"\nsha256 = "{sha256_of(tiny_weights)}"\nguidance = "sgm"\n'
    )
    built = build_method("animeinterp", placement=cpu_fp32, weights=tiny_weights)
    assert built.interpolator.sgm.descriptor == "color" and built.interpolator.sgm.flow_layout == "aligned"
    assert built.notes == ("SGM uses the weights-free colour descriptor (VGG-19 is slow on the CPU: --vgg-weights PATH)",)
    # an SGM-guided file outside the manifest is the paper's model: the faithful SGM looks for
    # VGG-19 even on the CPU, and says how to get it
    (tmp_path / "manifest.toml").unlink()
    built = build_method("animeinterp", placement=cpu_fp32, weights=tiny_weights)
    assert built.interpolator.sgm.descriptor == "color" and built.interpolator.sgm.flow_layout == "patches"
    assert built.notes == ("SGM uses the weights-free colour descriptor (no VGG-19 ImageNet weights found; "
                           "`animeinterp weights download vgg19` fetches them)",)


@pytest.mark.parametrize("content", [b"", b"not a state dict", b"PK\x03\x04truncated"])
def test_a_bad_vgg_file_fails_at_build(cpu_fp32, tiny_weights, tmp_path, content):
    vgg = tmp_path / "vgg19.pth"
    vgg.write_bytes(content)
    with pytest.raises(WeightsError, match="VGG-19 weights") as info:
        build_method("animeinterp", placement=cpu_fp32, weights=tiny_weights, vgg_weights=vgg)
    assert "\n" not in str(info.value)
    with pytest.raises(WeightsError, match="not found"):
        build_method("classic", placement=cpu_fp32, vgg_weights=tmp_path / "missing.pth")


def _disc_pair():
    return disc_frame(64, 48, (20, 24), radius=9), disc_frame(64, 48, (27, 24), radius=9)


@pytest.mark.parametrize("mode", ["sgm", "sgm+dis"])
def test_segment_guidance_moves_a_flat_disc_7px(mode):
    """A flat disc moving 7 px right: SGM matches the whole segment, flat interior included."""
    flow01, flow10, descriptor = guidance_flows(*_disc_pair(), mode)
    assert flow01.shape == flow10.shape == (2, 48, 64) and flow01.dtype == np.float32
    assert descriptor in ("color", "vgg19")
    np.testing.assert_allclose(flow01[:, 24, 20], [7, 0], atol=0.5)
    np.testing.assert_allclose(flow10[:, 24, 27], [-7, 0], atol=0.5)


def test_dis_guidance_moves_the_disc_outline_7px():
    """DIS sees motion where there is texture: on the disc's ink outline (flat interiors are SGM's job).

    The frame is 128×96: on tiny frames DIS's coarsest pyramid level is too fine for 7 px."""
    a, b = disc_frame(128, 96, (40, 48), radius=20), disc_frame(128, 96, (47, 48), radius=20)
    flow01, _, descriptor = guidance_flows(a, b, "dis")
    assert descriptor is None
    ring = np.hypot(*np.mgrid[0:96, 0:128][::-1] - np.array([40, 48]).reshape(2, 1, 1))
    outline = (ring > 19) & (ring < 23)
    np.testing.assert_allclose(np.median(flow01[:, outline], axis=1), [7, 0], atol=1.0)


def test_zero_guidance_and_bad_mode():
    frame = disc_frame(16, 16, (8, 8))
    flow01, flow10, descriptor = guidance_flows(frame, frame, "zero")
    assert not flow01.any() and not flow10.any() and descriptor is None
    with pytest.raises(ValueError):
        guidance_flows(frame, frame, "raft")


def test_fast_preset_and_flow_scale(cpu_fp32, tiny_weights, tmp_path):
    def network(**options):
        return build_method("animeinterp", placement=cpu_fp32, inline_guidance=False, **options).interpolator.network

    fast = network(weights=tiny_weights, fast=True)
    # the tiny network was made for 2 refinement steps: --fast never adds steps
    assert fast.flownet.config.iters == 2 and fast.config.flow_scale == 0.5
    tiny = AnimeInterpConfig.tiny()
    twelve = replace(tiny, rfr=replace(tiny.rfr, iters=12))
    save_checkpoint(tmp_path / "twelve.pt", AnimeInterp(twelve), twelve.to_dict())
    assert network(weights=tmp_path / "twelve.pt", fast=True).flownet.config.iters == 6
    assert network(weights=tiny_weights, flow_scale=0.25).config.flow_scale == 0.25
    assert build_method("classic", placement=cpu_fp32, fast=True).interpolator.config.dis.preset == "fast"
    for bad in (0.0, 1.5, -1.0):
        with pytest.raises(ConfigError, match="flow scale"):
            network(weights=tiny_weights, flow_scale=bad)


def test_sgm_descriptor_choice(cpu_fp32, tmp_path):
    from animeinterp_cli.engine.methods import sgm_config

    assert sgm_config(cpu_fp32, None).descriptor == "color"  # VGG-19 is far too slow on a CPU
    assert sgm_config(cpu_fp32, tmp_path / "vgg19.pth").descriptor == "vgg"
