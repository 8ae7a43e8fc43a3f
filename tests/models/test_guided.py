"""The learned default's network (``AnimeInterpConfig.guided()``): untrained, it is the classic method."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from animeinterp_cli.training.synthetic import render_synthetic
from models.animeinterp import AnimeInterp, load_animeinterp
from models.checkpoint import save_checkpoint
from models.classic import ClassicInterpolator
from models.config import AnimeInterpConfig, SynthesisConfig
from models.pipeline import AnimeInterpPipeline


def _pair(seed: int, size=(96, 128)):
    triplet = render_synthetic(np.random.default_rng(seed), size)
    to_tensor = lambda frame: torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    return to_tensor(triplet.frame0), to_tensor(triplet.frame1)


def _with_errors(config: AnimeInterpConfig) -> AnimeInterpConfig:
    return replace(config, synthesis=replace(config.synthesis, error_inputs=True))


def _downscaled(config: AnimeInterpConfig, factor: int = 2) -> AnimeInterpConfig:
    return replace(config, synthesis=replace(config.synthesis, correction_downscale=factor))


@pytest.mark.parametrize(
    "config",
    [AnimeInterpConfig.guided(), AnimeInterpConfig.guided_tiny(), _downscaled(AnimeInterpConfig.guided_tiny(), 4),
     _with_errors(AnimeInterpConfig.guided_tiny())],
    ids=["guided", "tiny", "tiny-quarter-resolution", "tiny-error-inputs"],
)
@pytest.mark.parametrize("t", [0.25, 0.5, 0.8])
@pytest.mark.parametrize("size", [(96, 128), (90, 117)], ids=["multiple-of-16", "odd"])
def test_untrained_guided_network_reproduces_classic_exactly(config, t, size):
    torch.manual_seed(0)
    network = AnimeInterpPipeline(AnimeInterp(config).eval(), "dis")
    classic = ClassicInterpolator()
    img0, img1 = _pair(1, size)
    times = torch.tensor([t])
    with torch.no_grad():
        assert torch.equal(network(img0, img1, times), classic(img0, img1, times))


def _ungated() -> AnimeInterpConfig:
    """The tiny learned default with the free (additive) correction and no gate."""
    config = AnimeInterpConfig.guided_tiny()
    return replace(config, synthesis=replace(config.synthesis, disagreement_gate=None, correction="free"))


def test_the_residual_head_starts_at_zero_and_its_weights_change_the_output():
    torch.manual_seed(0)
    model = AnimeInterp(_ungated()).eval()
    tail = model.synnet.residual_model_tail[-1]
    assert not tail.weight.any() and not tail.bias.any()
    pipeline = AnimeInterpPipeline(model, "dis")
    img0, img1 = _pair(2)
    half = torch.tensor([0.5])
    with torch.no_grad():
        before = pipeline(img0, img1, half)
        tail.bias.fill_(0.05)
        after = pipeline(img0, img1, half)
    inside = (before > 0.06) & (before < 0.94)
    assert torch.allclose((after - before)[inside], torch.tensor(0.05), atol=1e-5)


def test_the_gate_keeps_the_correction_out_where_the_splatted_frames_agree():
    """Known answer: a still pair (zero flow: both frames land on themselves) gets no
    correction, whatever the head says; where one frame leaves a hole the correction is whole."""
    torch.manual_seed(0)
    config = _ungated()
    model = AnimeInterp(replace(config, synthesis=replace(config.synthesis, disagreement_gate=0.1))).eval()
    with torch.no_grad():
        model.synnet.residual_model_tail[-1].bias.fill_(0.05)
    img = torch.full((1, 3, 32, 32), 0.5)
    still = torch.zeros(1, 2, 32, 32)
    half = torch.tensor([0.5])
    with torch.no_grad():
        motion = model.estimate(img, img, still, still)
        assert torch.equal(model.synthesize(img, img, motion, half), img)
        moved = still.clone()
        moved[:, 0, :, :16] = 40.0  # the left half of frame 0 leaves the frame: holes at t
        motion = model.estimate(img, img, moved, still)
        out = model.synthesize(img, img, motion, half)
    assert torch.allclose(out[..., 8, 2], torch.tensor(0.55)) and torch.equal(out[..., 8, 28], img[..., 8, 28])


def test_the_border_ramp_rises_from_the_edges_to_one():
    from models.synthesis.splatting import border_ramp

    ramp = border_ramp(5, 9, 4)[0, 0]
    assert ramp.shape == (5, 9)
    assert torch.equal(ramp[2], torch.tensor([0, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0]))  # row 2: 2 px from top and bottom
    assert torch.equal(ramp[:, 4], torch.tensor([0, 0.25, 0.5, 0.25, 0]))
    assert torch.equal(border_ramp(12, 12, 4)[0, 0, 4:8, 4:8], torch.ones(4, 4))
    assert torch.equal(border_ramp(3, 4, 0), torch.ones(1, 1, 3, 4))


def test_the_border_fade_keeps_the_correction_off_the_frame_edges_and_leaves_the_inside():
    """Known answers with a constant correction (free, ungated, bias 0.05): none on the outermost
    pixels, a quarter of it one pixel in (fade 4), all of it from 4 pixels in."""
    torch.manual_seed(0)
    config = _ungated()
    faded = AnimeInterp(replace(config, synthesis=replace(config.synthesis, border_fade=4))).eval()
    with torch.no_grad():
        faded.synnet.residual_model_tail[-1].bias.fill_(0.05)
    img = torch.full((1, 3, 32, 40), 0.5)
    still = torch.zeros(1, 2, 32, 40)
    with torch.no_grad():
        out = faded.synthesize(img, img, faded.estimate(img, img, still, still), torch.tensor([0.5]))
    assert torch.equal(out[..., 0, :], img[..., 0, :]) and torch.equal(out[..., :, -1], img[..., :, -1])
    assert torch.allclose(out[..., 1, 20], torch.tensor(0.5125))
    assert torch.allclose(out[..., 4:-4, 4:-4], torch.tensor(0.55))
    with pytest.raises(ValueError, match="border_fade needs residual=True"):
        SynthesisConfig(border_fade=-1, residual=True)


def test_a_mixing_correction_moves_only_towards_the_candidates():
    """Known answers: a still pair (all candidates equal the blend) stays exactly the blend
    whatever the coefficients; a coefficient of 1 on the cross-fade alone gives the cross-fade."""
    torch.manual_seed(0)
    config = AnimeInterpConfig.guided_tiny()
    model = AnimeInterp(replace(config, synthesis=replace(config.synthesis, disagreement_gate=None, correction="mix")))
    tail = model.synnet.residual_model_tail[-1]
    img0, img1 = _pair(3)
    still = torch.zeros(1, 2, *img0.shape[-2:])
    half = torch.tensor([0.5])
    with torch.no_grad():
        tail.bias.copy_(torch.tensor([1.0, -1.0, 0.5]))
        kept = model.synthesize(img0, img0, model.estimate(img0, img0, still, still), half)
        assert (kept - img0).abs().max() < 1e-6  # the splats of a still frame are the frame, to rounding
        tail.bias.copy_(torch.tensor([0.0, 0.0, 1.0]))
        out = model.synthesize(img0, img1, model.estimate(img0, img1, still, still), half)
    assert torch.allclose(out, (img0 + img1) / 2, atol=1e-6)


def test_guided_network_has_no_flow_refinement_and_round_trips_through_a_checkpoint(tmp_path):
    model = AnimeInterp(AnimeInterpConfig.guided_tiny())
    assert model.flownet is None and model.config.rfr is None
    with torch.no_grad():
        model.synnet.residual_model_tail[-1].bias.fill_(0.01)
    path = tmp_path / "guided.pt"
    save_checkpoint(path, model, model.config.to_dict())
    loaded = load_animeinterp(path)
    assert loaded.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_guided_network_needs_flows_of_the_frames_size():
    model = AnimeInterp(AnimeInterpConfig.guided_tiny())
    img = torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match="initial flow"):
        model.estimate(img, img, torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8))


def test_a_residual_synthesis_needs_softmax_splatting():
    from dataclasses import replace

    with pytest.raises(ValueError, match="splat='soft'"):
        replace(AnimeInterpConfig.guided(), splat="avg")


def test_scaling_the_correction_scales_the_output_change():
    torch.manual_seed(0)
    model = AnimeInterp(_ungated()).eval()
    with torch.no_grad():
        model.synnet.residual_model_tail[-1].bias.fill_(0.04)
    img0, img1 = _pair(4)
    pipeline = AnimeInterpPipeline(model, "dis")
    half = torch.tensor([0.5])
    with torch.no_grad():
        full = pipeline(img0, img1, half)
        model.scale_correction(0.25)
        scaled = pipeline(img0, img1, half)
    model.synnet.residual_model_tail[-1].bias.data.zero_()
    with torch.no_grad():
        classic = pipeline(img0, img1, half)
    inside = (full > 0.01) & (full < 0.99) & (classic > 0.01) & (classic < 0.99)
    assert torch.allclose((scaled - classic)[inside], 0.25 * (full - classic)[inside], atol=1e-5)
    with pytest.raises(ValueError, match="residual"):
        AnimeInterp(AnimeInterpConfig.tiny()).scale_correction(0.5)


def test_a_downscaled_correction_mixes_at_full_resolution():
    """Known answers: a coefficient of 1 on the cross-fade gives the full-resolution cross-fade
    at half resolution too (a constant upsamples to itself), also on frames of no multiple of
    8 (the correction branch pads them); a still pair stays the frame."""
    torch.manual_seed(0)
    config = _downscaled(AnimeInterpConfig.guided_tiny())
    model = AnimeInterp(replace(config, synthesis=replace(config.synthesis, disagreement_gate=None))).eval()
    assert model.size_multiple == 1
    img0, img1 = _pair(3)
    still = torch.zeros(1, 2, *img0.shape[-2:])
    half = torch.tensor([0.5])
    with torch.no_grad():
        model.synnet.residual_model_tail[-1].bias.copy_(torch.tensor([0.0, 0.0, 1.0]))
        out = model.synthesize(img0, img1, model.estimate(img0, img1, still, still), half)
        kept = model.synthesize(img0, img0, model.estimate(img0, img0, still, still), half)
        odd0, odd1 = img0[..., :90, :117], img1[..., :90, :117]
        odd = model.synthesize(odd0, odd1, model.estimate(odd0, odd1, still[..., :90, :117], still[..., :90, :117]), half)
    assert torch.allclose(out, (img0 + img1) / 2, atol=1e-6)
    assert (kept - img0).abs().max() < 1e-6
    assert torch.allclose(odd, (odd0 + odd1) / 2, atol=1e-6)


def test_weightless_settings_change_without_touching_the_weights_and_bad_ones_are_refused():
    from models.animeinterp import with_synthesis

    torch.manual_seed(0)
    model = AnimeInterp(AnimeInterpConfig.guided_tiny())
    changed = with_synthesis(model, correction_downscale=2, disagreement_gate=0.2, border_fade=8)
    assert changed.config == replace(model.config, synthesis=replace(
        model.config.synthesis, correction_downscale=2, disagreement_gate=0.2, border_fade=8))
    assert all(torch.equal(a, b) for a, b in zip(changed.state_dict().values(), model.state_dict().values()))
    with pytest.raises(ValueError, match="not a weightless synthesis setting: feature_dims"):
        with_synthesis(model, feature_dims=(1, 2, 3))
    with pytest.raises(ValueError, match="correction_downscale must be one of"):
        _downscaled(AnimeInterpConfig.guided_tiny(), 3)
    free = AnimeInterpConfig.guided_tiny()
    with pytest.raises(ValueError, match="correction='mix'"):
        replace(free, synthesis=replace(free.synthesis, correction="free", correction_downscale=2))


def test_the_splatted_errors_are_the_photometric_errors_moved_to_t():
    """Known answer: with zero flow nothing moves, so each frame's splatted error is its
    mean absolute RGB difference from the other frame, pixel by pixel."""
    model = AnimeInterp(_with_errors(AnimeInterpConfig.guided_tiny())).eval()
    img0, img1 = _pair(5)
    still = torch.zeros(1, 2, *img0.shape[-2:])
    with torch.no_grad():
        errors = model.splatted_errors(model.estimate(img0, img1, still, still), torch.full((1, 1, 1, 1), 0.5))
    expected = (img0 - img1).abs().mean(dim=1, keepdim=True)
    for error in errors:
        torch.testing.assert_close(error, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("factor", [1, 4], ids=["full-resolution", "quarter-resolution"])
def test_synthesis_splatting_the_riders_with_the_frames_gives_what_training_computes(factor):
    """At inference the level-1 features (full resolution) and the errors ride in the frames'
    splat; training splats the cached frames alone and the rest separately: the same output."""
    from models.synthesis.splatting import splat_frames

    torch.manual_seed(0)
    model = AnimeInterp(_downscaled(_with_errors(AnimeInterpConfig.guided_tiny()), factor)).eval()
    with torch.no_grad():
        model.synnet.residual_model_tail[-1].weight.normal_(0, 0.2)
    img0, img1 = _pair(7, (64, 80))
    flow = torch.randn(1, 2, 64, 80) * 4
    t = torch.full((1, 1, 1, 1), 0.3)
    with torch.no_grad():
        motion = model.estimate(img0, img1, flow, -flow)
        alone = splat_frames(img0, img1, motion["flow01"], motion["flow10"], motion["metric0"], motion["metric1"], t)
        expected = model.refine_blend(img0, img1, motion, alone, t)
        out = model.synthesize(img0, img1, motion, t.view(1))
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_error_inputs_added_to_a_trained_network_start_at_its_output_and_then_count():
    from models.animeinterp import with_error_inputs

    torch.manual_seed(0)
    trained = AnimeInterp(AnimeInterpConfig.guided_tiny()).eval()
    with torch.no_grad():
        trained.synnet.residual_model_tail[-1].weight.normal_(0, 0.2)
    widened = with_error_inputs(trained).eval()
    assert widened.config.synthesis.error_inputs and not widened.training
    img0, img1 = _pair(6)
    half = torch.tensor([0.5])
    before, after = (AnimeInterpPipeline(net, "dis") for net in (trained, widened))
    with torch.no_grad():
        assert torch.equal(before(img0, img1, half), after(img0, img1, half))
        widened.synnet.residual_model_head[1].weight[:, -2:].fill_(1.0)
        assert not torch.equal(before(img0, img1, half), after(img0, img1, half))
    with pytest.raises(ValueError, match="does not have them"):
        with_error_inputs(widened)
    with pytest.raises(ValueError, match="error_inputs needs residual=True"):
        SynthesisConfig(error_inputs=True)
