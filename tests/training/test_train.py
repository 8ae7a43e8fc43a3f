"""The trainer: initialisation, losses, a few steps that learn, resumable runs, bad settings."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.training.curve import plot_curves
from animeinterp_cli.training.dataset import TripletDataset
from animeinterp_cli.training.export import export_weights
from animeinterp_cli.training.losses import charbonnier, flow_loss, frame_loss
from animeinterp_cli.training.runlog import RunLog
from animeinterp_cli.training.train import (
    PRESETS,
    TrainConfig,
    collate_with_guidance,
    train,
    trainable_parameters,
    training_step,
)
from models.animeinterp import AnimeInterp, load_animeinterp
from models.checkpoint import save_checkpoint
from models.config import AnimeInterpConfig
from models.refinement import bilinear_mask_logits, init_for_refinement


def tiny_model() -> AnimeInterp:
    torch.manual_seed(0)
    model = AnimeInterp(PRESETS["tiny"])
    init_for_refinement(model)
    return model


def test_initialised_rfr_returns_the_initial_flow():
    model = tiny_model()
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    init = torch.empty(1, 2, 64, 64)
    init[:, 0], init[:, 1] = 3.0, -2.0
    flow01, flow10 = model.flownet(images[:1], images[1:], init, -init)
    # the upsampling averages 3×3 coarse cells with zero padding: exact away from the border
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    torch.testing.assert_close(flow01[inner], init[inner])
    torch.testing.assert_close(flow10[inner], -init[inner])


def test_bilinear_mask_logits_give_bilinear_weights():
    weights = torch.softmax(bilinear_mask_logits(stride=2).view(9, 2, 2), dim=0).view(3, 3, 2, 2)
    # stride 2: the top-left sub-pixel sits ¼ cell up and left of the coarse centre
    expected = torch.tensor([[0.25 * 0.25, 0.25 * 0.75, 0], [0.75 * 0.25, 0.75 * 0.75, 0], [0, 0, 0]])
    torch.testing.assert_close(weights[..., 0, 0], expected, atol=1e-3, rtol=0)
    torch.testing.assert_close(weights.sum(dim=(0, 1)), torch.ones(2, 2))


def test_initialised_rfr_upsamples_a_ramp_bilinearly():
    model = tiny_model()
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    init = torch.zeros(1, 2, 64, 64)
    init[:, 0] = torch.arange(64.0).view(1, 64) / 8  # x-flow growing along x: linear in the cells
    flow01, _ = model.flownet(images[:1], images[1:], init, init)
    # nearest sampling takes each 8×8 cell's top-left value, bilinear upsampling shifts it by 3.5 px
    inner = (0, 0, slice(8, -8), slice(8, -8))
    torch.testing.assert_close(flow01[inner], (init[0, 0] - 3.5 / 8)[8:-8, 8:-8], atol=1e-3, rtol=0)


def test_initialised_feature_extractor_has_a_constant_channel():
    level1 = tiny_model().feat_ext(torch.rand(1, 3, 16, 16) * 2 - 1)[0]
    torch.testing.assert_close(level1[:, 0], torch.ones(1, 16, 16))


def test_initialised_gridnet_blends_the_splatted_frames_by_coverage():
    model = tiny_model()
    d1, d2, d3 = model.config.synthesis.feature_dims
    torch.manual_seed(1)
    cover0 = (torch.rand(1, 1, 16, 16) > 0.3).float()
    cover1 = (torch.rand(1, 1, 16, 16) > 0.3).float()
    splat0, splat1 = torch.rand(1, 3, 16, 16) * cover0, torch.rand(1, 3, 16, 16) * cover1
    features1 = torch.randn(1, 2 * d1, 16, 16)
    features1[:, 0], features1[:, d1] = cover0[:, 0], cover1[:, 0]
    out = model.synnet(
        torch.cat((splat0, splat1), 1), features1, torch.randn(1, 2 * d2, 8, 8), torch.randn(1, 2 * d3, 4, 4)
    )
    expected = torch.where(
        (cover0 * cover1) > 0, 0.5 * (splat0 + splat1), torch.where(cover0 > 0, splat0, splat1)
    )
    torch.testing.assert_close(out, expected)


def test_init_refuses_the_double_added_initial_flow():
    with pytest.raises(ValueError, match="double_add_init"):
        init_for_refinement(AnimeInterp(replace(PRESETS["tiny"], rfr=replace(PRESETS["tiny"].rfr, double_add_init=True))))
    with pytest.raises(ValueError, match="grid_dims"):
        init_for_refinement(AnimeInterp(replace(AnimeInterpConfig.tiny(), rfr=PRESETS["tiny"].rfr)))


def test_losses_on_known_inputs():
    image = torch.rand(1, 3, 8, 8)
    assert float(charbonnier(image, image)) == pytest.approx(1e-3)
    assert float(frame_loss(image, image)) == pytest.approx(1e-3)
    shifted = image + 0.1
    assert float(charbonnier(shifted, image)) == pytest.approx((0.1**2 + 1e-6) ** 0.5, rel=1e-4)
    truth = torch.zeros(1, 2, 4, 4)
    prediction = truth.clone()
    prediction[:, 0] = 3.0
    prediction[:, 1] = 4.0
    valid = torch.zeros(1, 1, 4, 4)
    assert float(flow_loss(prediction, truth, valid)) == 0.0  # no true flow, no loss
    valid[..., :2, :] = 1
    assert float(flow_loss(prediction, truth, valid)) == pytest.approx(5.0)


@pytest.fixture
def one_thread():
    """Tiny convolutions on busy cores run far faster on one thread than on several."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(one_thread):
    torch.manual_seed(0)
    model = AnimeInterp(PRESETS["tiny"])  # random start: far from the minimum, so the descent shows
    dataset = TripletDataset("synthetic", size=(64, 64), seed=3)
    batch = collate_with_guidance([dataset[0]])
    config = TrainConfig(out_dir=Path("unused"), preset="tiny", crop=64)
    optimizer = torch.optim.Adam(trainable_parameters(model, "joint"), lr=2e-3)
    losses = []
    for _ in range(5):
        loss = training_step(model, batch, config)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0]


def test_synthesis_stage_freezes_the_flow_network():
    model = tiny_model()
    trained = trainable_parameters(model, "synthesis")
    flow_parameters = set(map(id, model.flownet.parameters()))
    assert trained and not any(id(p) in flow_parameters for p in trained)


def run_config(out_dir: Path, **changes) -> TrainConfig:
    return replace(
        TrainConfig(out_dir=out_dir, preset="tiny", kind="synthetic", steps=2, batch_size=1, crop=64,
                    val_every=0, checkpoint_every=1, workers=0, threads=1),
        **changes,
    )


def test_a_run_resumes_from_its_last_checkpoint(tmp_path):
    first = train(run_config(tmp_path))
    assert first["step"] == 2
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert saved["step"] == 2 and saved["optimizer"]["state"]
    resumed = train(run_config(tmp_path, steps=3, resume=True))
    assert resumed["step"] == 3
    steps = [r["step"] for r in RunLog(tmp_path / "log.jsonl").read() if "loss" in r]
    assert steps == [2, 3]  # logged at the end of each run segment, not repeated


def test_validation_saves_best_weights_that_load(tmp_path):
    folder = tmp_path / "triplets" / "moving_square"
    folder.mkdir(parents=True)
    for index, left in enumerate((8, 12, 16), start=1):
        frame = np.full((48, 64, 3), 40, np.uint8)
        frame[16:32, left : left + 16] = (250, 200, 30)
        cv2.imwrite(str(folder / f"frame{index}.png"), frame)
    result = train(run_config(tmp_path / "run", steps=1, val_every=1, validation_dir=folder.parent))
    scores = result["validation"]
    assert [r["step"] for r in scores] == [0, 1] and all(r["val_psnr"] > 10 for r in scores)
    assert isinstance(load_animeinterp(tmp_path / "run" / "best.pt"), AnimeInterp)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 0}, "--steps must be positive"),
        ({"batch_size": -1}, "--batch-size must be positive"),
        ({"lr": 0.0}, "--lr must be positive"),
        ({"lr": float("inf")}, "--lr must be a finite"),
        ({"crop": 60}, "--crop must be a multiple of 8"),
        ({"crop": 32}, "at least 64"),
        ({"kind": "video"}, "unknown data kind 'video'"),
        ({"preset": "huge"}, "unknown preset 'huge'"),
        ({"stage": "all"}, "unknown stage 'all'"),
        ({"precision": "fp16"}, "unknown precision 'fp16'"),
        ({"val_every": -1}, "--val-every"),
        ({"kind": "folder"}, "--kind folder needs --data"),
        ({"atd_dir": Path("/no/such/folder")}, "--data folder not found"),
        ({"resume": True}, "nothing to resume"),
    ],
)
def test_bad_settings_get_one_line_errors(tmp_path, changes, message):
    with pytest.raises(AnimeInterpError, match=message) as caught:
        run_config(tmp_path, **changes).check()
    assert "\n" not in str(caught.value)


def test_an_existing_run_is_not_overwritten(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"x")
    with pytest.raises(AnimeInterpError, match="--resume"):
        run_config(tmp_path).check()


def test_curve_png_from_a_log(tmp_path):
    log = RunLog(tmp_path / "log.jsonl")
    for step in (10, 20, 30):
        log.write({"step": step, "loss": 1.0 / step, "frame": 0.5 / step, "flow": 3.0})
    log.write({"step": 30, "val_psnr": 23.5})
    (tmp_path / "log.jsonl").open("a").write('{"step": 40, "lo')  # torn last line
    plot_curves(tmp_path / "log.jsonl", tmp_path / "curve.png", {"classic": 24.3})
    image = cv2.imread(str(tmp_path / "curve.png"))
    assert image is not None and image.shape[0] > 100 and (image < 250).any()


def test_exported_fp16_weights_load_and_interpolate_alike(tmp_path):
    model = tiny_model().eval()
    save_checkpoint(tmp_path / "best.pt", model, model.config.to_dict())
    digest = export_weights(tmp_path / "best.pt", tmp_path / "export.pt")
    assert digest == hashlib.sha256((tmp_path / "export.pt").read_bytes()).hexdigest()
    stored = torch.load(tmp_path / "export.pt", weights_only=True)["state_dict"]
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    loaded = load_animeinterp(tmp_path / "export.pt")
    images = torch.rand(2, 1, 3, 64, 64)
    init = torch.zeros(1, 2, 64, 64)
    with torch.no_grad():
        expected = model(images[0], images[1], init, init)["frame"]
        actual = loaded(images[0], images[1], init, init)["frame"]
    assert (expected - actual).abs().max() < 0.02


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crop", "100"], "--crop must be a multiple of 8"),
        (["--kind", "video"], "unknown data kind 'video'"),
        (["--resume"], "nothing to resume"),
    ],
)
def test_train_command_bad_arguments_get_one_line_errors(tmp_path, capsys, args, message):
    from tests.test_cli import run_cli

    code, err = run_cli(capsys, "train", "network", tmp_path / "run", *args)
    assert code == 1
    assert err.strip().count("\n") == 0 and message in err
