"""The training cache and the residual synthesis stage: cached values, augmentation, runs, bad settings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from animeinterp_cli.errors import AnimeInterpError, InputError
from animeinterp_cli.training.cache import INDEX, CachedTriplets, CacheSettings, augment, open_cache, prepare
from animeinterp_cli.training.dataset import read_atd_folder
from animeinterp_cli.training.residual import (
    ResidualTrainConfig,
    RunSettings,
    _batches,
    learning_rate,
    residual_step,
    source_weights,
    train_residual,
    trainable_parameters,
)
from animeinterp_cli.training.synthetic import render_synthetic
from models.animeinterp import AnimeInterp, load_animeinterp
from models.checkpoint import save_checkpoint
from models.classic import ClassicInterpolator
from models.config import AnimeInterpConfig
from models.synthesis.splatting import coverage_blend

SIZE = (72, 88)


def tiny() -> AnimeInterp:
    torch.manual_seed(0)
    return AnimeInterp(AnimeInterpConfig.guided_tiny())


@pytest.fixture
def triplet_folder(tmp_path: Path) -> Path:
    """Three rendered cartoon triplets in the ATD-12K layout."""
    root = tmp_path / "triplets"
    for seed in range(3):
        triplet = render_synthetic(np.random.default_rng(seed), SIZE)
        folder = root / f"clip_{seed}"
        folder.mkdir(parents=True)
        for k, frame in enumerate((triplet.frame0, triplet.frame_t, triplet.frame1), start=1):
            cv2.imwrite(str(folder / f"frame{k}.png"), frame[..., ::-1])
    return root


@pytest.fixture
def cache(triplet_folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "cache"
    assert prepare(out, tiny(), read_atd_folder(triplet_folder)) == 3
    return out


def test_cached_splats_give_the_classic_output(cache, triplet_folder):
    entry = cache / "clip_1"
    frames = np.load(entry / "frames.npy")
    assert frames.dtype == np.uint8 and frames.shape == (3, *SIZE, 3)
    img0, img1 = (torch.from_numpy(frames[k]).permute(2, 0, 1)[None].float() / 255 for k in (0, 2))
    half = torch.tensor([0.5])
    with torch.no_grad():
        classic = ClassicInterpolator()(img0, img1, half)
    warped, covers = np.load(entry / "warped.npy"), np.load(entry / "covers.npy")
    assert warped.dtype == np.float16
    splats = {
        "warped0": torch.from_numpy(warped[0:1].astype(np.float32)), "warped1": torch.from_numpy(warped[1:2].astype(np.float32)),
        "cover0": torch.from_numpy(covers[0:1, None].astype(np.float32)), "cover1": torch.from_numpy(covers[1:2, None].astype(np.float32)),
    }
    cached = coverage_blend(img0, img1, splats, half.view(1, 1, 1, 1)).clamp(0, 1)
    assert (cached - classic).abs().max() < 2e-3  # fp16 storage
    assert json.loads((entry / "meta.json").read_text())["t"] == 0.5


def test_prepare_keeps_finished_entries_and_refuses_a_cache_of_other_settings(cache, triplet_folder):
    stamp = (cache / "clip_0" / "flows.npy").stat().st_mtime_ns
    assert prepare(cache, tiny(), read_atd_folder(triplet_folder)) == 3
    assert (cache / "clip_0" / "flows.npy").stat().st_mtime_ns == stamp
    index = json.loads((cache / INDEX).read_text())
    (cache / INDEX).write_text(json.dumps({**index, "importance_scale": 5.0}))
    with pytest.raises(InputError, match="other settings"):
        prepare(cache, tiny(), read_atd_folder(triplet_folder))
    with pytest.raises(InputError, match="other settings"):
        open_cache(cache, CacheSettings.of(tiny()))


def test_open_cache_refuses_a_folder_that_is_not_a_cache(tmp_path):
    with pytest.raises(InputError, match="not a training cache"):
        open_cache(tmp_path)


def test_augment_reverses_time_and_mirrors_consistently():
    rng = np.random.default_rng(0)
    keys = {"frame0": 3, "frame_t": 3, "frame1": 3, "flow01": 2, "flow10": 2, "metric0": 1, "metric1": 1,
            "warped0": 3, "warped1": 3, "cover0": 1, "cover1": 1}
    sample = {key: rng.random((channels, 4, 6)).astype(np.float32) for key, channels in keys.items()}
    reversed_, t = augment(sample, 0.3, reverse=True, hflip=False, vflip=False)
    assert t == pytest.approx(0.7)
    for a, b in (("frame0", "frame1"), ("flow01", "flow10"), ("warped0", "warped1"), ("metric0", "metric1"),
                 ("cover0", "cover1")):
        assert np.array_equal(reversed_[a], sample[b]) and np.array_equal(reversed_[b], sample[a])
    assert np.array_equal(reversed_["frame_t"], sample["frame_t"])
    mirrored, t = augment(sample, 0.3, reverse=False, hflip=True, vflip=False)
    assert t == 0.3
    assert np.array_equal(mirrored["warped0"], sample["warped0"][:, :, ::-1])
    assert np.array_equal(mirrored["flow01"][0], -sample["flow01"][0][:, ::-1])
    assert np.array_equal(mirrored["flow01"][1], sample["flow01"][1][:, ::-1])
    flipped, _ = augment(sample, 0.3, reverse=False, hflip=False, vflip=True)
    assert np.array_equal(flipped["flow10"][1], -sample["flow10"][1][::-1])


def test_cached_windows_have_the_asked_size_and_are_deterministic(cache):
    dataset = CachedTriplets(open_cache(cache), crop=40, margin=4, seed=3)
    first, again = dataset[5], dataset[5]
    assert first["frame0"].shape == (3, 48, 48) and first["flow01"].shape == (2, 48, 48)
    assert first["cover0"].shape == (1, 48, 48) and first["t"].shape == ()
    assert all(torch.equal(first[k], again[k]) for k in first)
    with pytest.raises(InputError, match="at least 200 pixels"):
        CachedTriplets(open_cache(cache), crop=192, margin=4)


def test_source_weights_scale_how_often_each_entry_is_drawn(cache):
    dataset = CachedTriplets(open_cache(cache), crop=40, margin=4)
    names = [entry.name for entry in dataset.usable]
    assert names == ["clip_0", "clip_1", "clip_2"]
    assert np.allclose(source_weights(dataset, (("clip_1", 2.0),)), [0.25, 0.5, 0.25])
    assert np.allclose(source_weights(dataset, (("clip", 0.5), ("clip_2", 0.0))), [0.5, 0.5, 0.0])
    with pytest.raises(InputError, match="no training triplet"):
        source_weights(dataset, (("clip", 0.0),))
    drawn = next(_batches(dataset, 4, 0, seed=0, weights=(("clip_0", 0.0), ("clip_2", 0.0))))
    first = dataset.sample(1, 0)
    assert torch.equal(drawn["frame0"][0], first["frame0"])  # every draw is clip_1


def test_only_the_feature_extractor_and_gridnet_train():
    model = tiny()
    trained = trainable_parameters(model)
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trained and all(n.startswith(("feat_ext.", "synnet.")) for n in names)
    assert not model.importance.alpha.requires_grad


def test_training_learns_a_correction_the_classic_output_lacks(cache):
    """Known answer: targets that are the frames 0.05 brighter than the ground truth (so the
    classic blend is 0.05 too dark everywhere) teach the (ungated) residual about +0.05."""
    torch.manual_seed(0)
    config = AnimeInterpConfig.guided_tiny()
    model = AnimeInterp(replace(config, synthesis=replace(config.synthesis, correction="free"))).train()
    dataset = CachedTriplets(open_cache(cache), crop=40, margin=4)
    batch = next(_batches(dataset, 3, 0, seed=0))
    batch["frame_t"] = batch["frame_t"] + 0.05  # the rendered frames stay below 0.95
    optimizer = torch.optim.Adam(trainable_parameters(model), lr=3e-3)
    before = float(residual_step(model, batch).detach())
    for _ in range(40):
        optimizer.zero_grad()
        residual_step(model, batch).backward()
        optimizer.step()
    assert float(residual_step(model, batch).detach()) < 0.7 * before


def _config(tmp_path: Path, cache: Path, **changes) -> ResidualTrainConfig:
    settings = dict(out_dir=tmp_path / "run", cache=cache, steps=4, batch_size=2, crop=40, margin=4, val_every=0,
                    checkpoint_every=2, tiny=True)
    return ResidualTrainConfig(**{**settings, **changes})


def test_a_run_resumes_where_it_stopped_and_can_start_from_weights(cache, tmp_path):
    result = train_residual(_config(tmp_path, cache))
    assert result["step"] == 4 and result["samples"] == 8
    resumed = train_residual(_config(tmp_path, cache, steps=6, resume=True))
    assert resumed["step"] == 6 and resumed["samples"] == 12
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [4, 6]
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    model = AnimeInterp(AnimeInterpConfig.from_dict(state["config"]))
    model.load_state_dict(state["state_dict"])
    weights = tmp_path / "candidate.pt"
    save_checkpoint(weights, model.half(), model.config.to_dict())
    fresh = train_residual(_config(tmp_path, cache, out_dir=tmp_path / "next", steps=1, init=weights))
    assert fresh["step"] == 1
    assert load_animeinterp(weights).config == AnimeInterpConfig.guided_tiny()


@pytest.mark.slow
def test_validation_starts_at_exactly_the_classic_score(cache, tmp_path, samples):
    train_residual(_config(tmp_path, cache, steps=1, val_every=1, val_limit=1))
    first = next(json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines())
    assert first["step"] == 0
    assert first["val_gain"] == 0.0 and first["val_worst_gain"] == 0.0 and first["best"]
    assert (tmp_path / "run" / "best.pt").is_file()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"crop": 41}, "multiple of 4"),
        ({"steps": 0}, "--steps must be positive"),
        ({"lr": float("nan")}, "--lr must be a positive number"),
        ({"resume": True}, "nothing to resume"),
        ({"init": Path("/nonexistent/weights.pt")}, "--init weights not found"),
        ({"disagreement_gate": 0.0}, "--disagreement-gate must be a positive number"),
        ({"disagreement_gate": float("nan")}, "--disagreement-gate must be a positive number"),
        ({"correction_downscale": 3}, "--correction-downscale must be one of"),
        ({"correction_downscale": 2, "resume": True}, "nothing to resume"),
        ({"error_inputs": True, "resume": True}, "nothing to resume"),
        ({"loss": "l1"}, "--loss must be one of mse, psnr"),
        ({"edge_windows": 1.5}, "--edge-windows is a probability"),
        ({"edge_windows": float("nan")}, "--edge-windows is a probability"),
    ],
)
def test_bad_settings_are_refused_in_one_line(cache, tmp_path, changes, message):
    with pytest.raises((AnimeInterpError, InputError), match=message):
        _config(tmp_path, cache, **changes).check()


def test_train_commands_refuse_bad_input_in_one_line(tmp_path, capsys):
    from tests.test_cli import run_cli

    code, err = run_cli(capsys, "train", "prepare", tmp_path / "cache")
    assert code == 1 and "nothing to prepare" in err and err.strip().count("\n") == 0
    code, err = run_cli(capsys, "train", "prepare", tmp_path / "cache", "--data", tmp_path / "missing")
    assert code == 1 and "--data folder not found" in err
    code, err = run_cli(capsys, "train", "synthesis", tmp_path / "run", "--cache", tmp_path / "missing", "-q")
    assert code == 1 and "not a training cache" in err and err.strip().count("\n") == 0
    code, err = run_cli(capsys, "train", "synthesis", tmp_path / "run", "--cache", tmp_path, "--weight", "popeye")
    assert code == 2 and "NAME=WEIGHT" in err


def test_a_resumed_run_keeps_its_own_settings_unless_they_are_given_again(cache, tmp_path, capsys):
    """Through the command: ``--resume`` continues with the run's learning rate, seed, sampling
    weights, batch, crop and moving-average decay (they used to fall back to the defaults, so a
    resumed run trained on at lr 1e-3 with uniform sampling), says so, and a setting given
    again replaces the run's own."""
    from tests.test_cli import run_cli

    run = tmp_path / "run"
    first = ["train", "synthesis", run, "--cache", cache, "--steps", "4", "--lr", "5e-4", "--seed", "3",
             "--weight", "clip_1=2", "--ema-decay", "0.9", "--batch-size", "2", "--crop", "40", "--val-every", "0"]
    assert run_cli(capsys, *first, "-q")[0] == 0
    code, err = run_cli(capsys, "train", "synthesis", run, "--cache", cache, "--resume", "--steps", "6", "--val-every", "0")
    said = " ".join(err.split())  # the console wraps lines
    assert code == 0 and "resuming at step 4 of 6: lr 0.0005, batch 2, loss mse, seed 3, sampling clip_1 ×2" in said
    train = torch.load(run / "last.pt", weights_only=True)["train"]
    kept = (train["lr"], train["seed"], tuple(map(tuple, train["weights"])), train["ema_decay"], train["batch_size"], train["crop"])
    assert kept == (5e-4, 3, (("clip_1", 2.0),), 0.9, 2, 40)
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert logged[-1]["step"] == 6 and logged[-1]["lr"] == pytest.approx(learning_rate(RunSettings(steps=6, lr=5e-4), 5))
    assert run_cli(capsys, "train", "synthesis", run, "--cache", cache, "--resume", "--steps", "8", "--lr", "2e-4",
                   "--val-every", "0", "-q")[0] == 0
    train = torch.load(run / "last.pt", weights_only=True)["train"]
    assert (train["steps"], train["lr"], train["seed"]) == (8, 2e-4, 3)


def test_export_ships_the_best_checkpoint_as_the_fp16_default_with_its_provenance(cache, tmp_path, monkeypatch):
    import tomllib

    from animeinterp_cli.training.export import DEFAULT_FILE, export_default
    from animeinterp_cli.weights import default_weights, sha256_of

    run = tmp_path / "run"
    train_residual(_config(tmp_path, cache, steps=2, weights=(("clip_1", 2.0),), edge_windows=0.5))
    # a validation record marked best, and its checkpoint (what a validated run leaves)
    with (run / "log.jsonl").open("a") as log:
        log.write(json.dumps({"step": 2, "samples": 4, "elapsed_s": 1.5, "val_psnr": 25.0, "val_gain": 0.5,
                              "val_worst_gain": -0.05, "best": True}) + "\n")
    state = torch.load(run / "last.pt", weights_only=True)
    trained = AnimeInterp(AnimeInterpConfig.from_dict(state["config"]))
    trained.load_state_dict(state["state_dict"])
    save_checkpoint(run / "best.pt", trained, trained.config.to_dict())
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "manifest.toml").write_text('[other]\nfile = "x.pt"\n')

    entry = export_default(run, weights, cache)
    manifest = tomllib.loads((weights / "manifest.toml").read_text())
    assert manifest["other"] == {"file": "x.pt"} and manifest["default"] == entry
    assert entry["file"] == DEFAULT_FILE and entry["sha256"] == sha256_of(weights / DEFAULT_FILE)
    assert entry["samples_seen"] == 4 and entry["validation_gain_db"] == 0.5 and entry["guidance"] == "dis"
    assert entry["data"] == "3 real triplets cut from clips (clip 3)"
    assert entry["sampling"] == "clip_1 ×2.0, edge windows 0.5"  # from the run's last.pt: best.pt holds weights only
    stored = torch.load(weights / DEFAULT_FILE, weights_only=True)["state_dict"]
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point())
    assert load_animeinterp(weights / DEFAULT_FILE).config == trained.config
    monkeypatch.setenv("ANIMEINTERP_WEIGHTS", str(weights))
    assert default_weights().path == weights / DEFAULT_FILE


def test_export_refuses_a_run_without_a_validated_best(cache, tmp_path):
    from animeinterp_cli.training.export import export_default

    train_residual(_config(tmp_path, cache, steps=1))
    with pytest.raises(InputError, match="no best.pt"):
        export_default(tmp_path / "run", tmp_path / "weights")


def test_a_run_started_from_an_exported_file_undoes_its_correction_scale(cache, tmp_path):
    from animeinterp_cli.training.export import export_weights, exported_correction_scale
    from animeinterp_cli.training.residual import build_model

    torch.manual_seed(0)
    trained = AnimeInterp(AnimeInterpConfig.guided_tiny())
    last = trained.synnet.residual_model_tail[-1]
    with torch.no_grad():
        last.weight.normal_(0, 0.1)
        last.bias.uniform_(0.1, 0.2)
    save_checkpoint(tmp_path / "best.pt", trained, trained.config.to_dict())
    scaled = tmp_path / "weights" / "scaled.pt"
    scaled.parent.mkdir()
    export_weights(tmp_path / "best.pt", scaled, correction_scale=0.25)
    assert exported_correction_scale(scaled) == 0.25
    shipped_last = load_animeinterp(scaled).synnet.residual_model_tail[-1]
    torch.testing.assert_close(shipped_last.bias, (0.25 * last.bias).half().float())

    restored = build_model(_config(tmp_path, cache, init=scaled)).synnet.residual_model_tail[-1]
    torch.testing.assert_close(restored.weight, last.weight, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(restored.bias, last.bias, atol=1e-4, rtol=1e-3)

    # a file exported before the scale was stored in it: the manifest beside it says
    legacy = tmp_path / "weights" / "legacy.pt"
    save_checkpoint(legacy, load_animeinterp(scaled).half(), trained.config.to_dict())
    assert exported_correction_scale(legacy) == 1.0
    (tmp_path / "weights" / "manifest.toml").write_text('[default]\nfile = "legacy.pt"\ncorrection_scale = 0.25\n')
    assert exported_correction_scale(legacy) == 0.25


def test_a_gate_set_on_a_trained_network_keeps_its_weights_and_gates_its_correction(cache, tmp_path):
    from animeinterp_cli.training.residual import build_model

    torch.manual_seed(0)
    config = AnimeInterpConfig.guided_tiny()  # a free correction: +0.2 everywhere ungated
    trained = AnimeInterp(replace(config, synthesis=replace(config.synthesis, correction="free")))
    with torch.no_grad():
        trained.synnet.residual_model_tail[-1].bias.fill_(0.2)
    save_checkpoint(tmp_path / "trained.pt", trained, trained.config.to_dict())
    gated = build_model(_config(tmp_path, cache, init=tmp_path / "trained.pt", disagreement_gate=0.2))
    assert gated.config.synthesis.disagreement_gate == 0.2 and gated.training
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(gated.state_dict()[name], value)
    # where both frames are the same picture, unmoved, they agree everywhere: nothing to correct
    image = 0.2 + 0.6 * torch.rand(1, 3, 16, 16)
    still = torch.zeros(1, 2, 16, 16)
    half = torch.full((1,), 0.5)
    with torch.no_grad():
        outputs = [net.eval().synthesize(image, image, net.estimate(image, image, still, still), half)
                   for net in (gated, trained)]
    torch.testing.assert_close(outputs[0], image)
    torch.testing.assert_close(outputs[1], image + 0.2)


def test_a_downscaled_correction_set_on_a_trained_network_keeps_its_weights(cache, tmp_path):
    from animeinterp_cli.training.export import export_weights
    from animeinterp_cli.training.residual import build_model

    torch.manual_seed(0)
    trained = AnimeInterp(AnimeInterpConfig.guided_tiny())
    with torch.no_grad():
        trained.synnet.residual_model_tail[-1].bias.fill_(0.1)
    save_checkpoint(tmp_path / "trained.pt", trained, trained.config.to_dict())
    half = build_model(_config(tmp_path, cache, init=tmp_path / "trained.pt", correction_downscale=2))
    assert half.config.synthesis.correction_downscale == 2 and half.training
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(half.state_dict()[name], value)
    # it trains, also on windows that are no multiple of 8 (36 + 2·4 = 44: the branch pads them)
    assert train_residual(_config(tmp_path, cache, init=tmp_path / "trained.pt", correction_downscale=2))["step"] == 4
    assert train_residual(_config(tmp_path, cache, out_dir=tmp_path / "odd", crop=36, correction_downscale=2))["step"] == 4
    # and ships with the setting
    export_weights(tmp_path / "trained.pt", tmp_path / "shipped.pt", settings={"correction_downscale": 2})
    assert load_animeinterp(tmp_path / "shipped.pt").config == half.config


def test_a_run_with_error_inputs_starts_from_init_at_its_output_and_trains(cache, tmp_path):
    from animeinterp_cli.training.residual import build_model

    torch.manual_seed(0)
    trained = AnimeInterp(AnimeInterpConfig.guided_tiny())
    with torch.no_grad():
        trained.synnet.residual_model_tail[-1].weight.normal_(0, 0.2)
    save_checkpoint(tmp_path / "trained.pt", trained, trained.config.to_dict())
    widened = build_model(_config(tmp_path, cache, init=tmp_path / "trained.pt", error_inputs=True))
    assert widened.config.synthesis.error_inputs
    batch = next(_batches(CachedTriplets(open_cache(cache), crop=40, margin=4), 2, 0, seed=0))
    with torch.no_grad():
        assert torch.equal(residual_step(widened, batch), residual_step(trained.train(), batch))
    assert train_residual(_config(tmp_path, cache, init=tmp_path / "trained.pt", error_inputs=True))["step"] == 4


def test_a_border_fade_within_the_margin_changes_nothing_training_sees_and_a_wider_one_does(cache):
    """The loss covers these windows' centres only (none is flush with a frame's edge), so a
    fade no wider than the margin leaves it exactly as it was; one wider reaches into the centre."""
    from models.animeinterp import with_synthesis

    torch.manual_seed(0)
    trained = AnimeInterp(AnimeInterpConfig.guided_tiny()).train()
    with torch.no_grad():
        trained.synnet.residual_model_tail[-1].weight.normal_(0, 0.2)
    batch = next(_batches(CachedTriplets(open_cache(cache), crop=40, margin=4), 2, 0, seed=0))
    assert batch["loss_mask"].sum() == 2 * 40 * 40
    with torch.no_grad():
        loss = residual_step(trained, batch)
        assert torch.equal(residual_step(with_synthesis(trained, border_fade=4), batch), loss)
        assert not torch.equal(residual_step(with_synthesis(trained, border_fade=12), batch), loss)


def test_the_psnr_loss_is_minus_the_mean_per_image_psnr():
    """Known answers: images off by 0.1 and by 0.01 everywhere have MSEs 1e-2 and 1e-4, so
    PSNRs (with the 1e-4 floor) 10·log10(1/0.0101) and 10·log10(1/0.0002), averaged."""
    from animeinterp_cli.training.losses import negative_psnr

    target = torch.full((2, 3, 8, 8), 0.5)
    prediction = target + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    expected = (10 * np.log10(0.0101) + 10 * np.log10(0.0002)) / 2
    assert float(negative_psnr(prediction, target)) == pytest.approx(expected, abs=1e-4)


def test_the_losses_count_only_the_masked_pixels():
    """Known answers: off by 0.1 inside the mask and by 0.5 outside, the masked MSE is 1e-2 and
    the masked PSNR 10·log10(1/0.0101) (with the 1e-4 floor); without the mask both see the 0.5."""
    from animeinterp_cli.training.losses import mse, negative_psnr

    target = torch.full((2, 3, 8, 8), 0.5)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:6, 1:7] = 1
    prediction = target + 0.1 * mask + 0.5 * (1 - mask)
    assert float(mse(prediction, target, mask)) == pytest.approx(1e-2)
    assert float(negative_psnr(prediction, target, mask)) == pytest.approx(10 * np.log10(0.0101), abs=1e-4)
    assert float(mse(prediction, target)) > 0.1


def test_edge_windows_train_up_to_the_frames_edges(cache):
    """Frames are 72×88 and windows 48 a side with a margin of 4: with edge windows on both
    axes, every window is flush with one edge of each axis and its loss reaches that edge
    (44 rows × 44 columns); without, windows drawn inside the frame count their centre only."""
    inside, flush = CachedTriplets(open_cache(cache), crop=40, margin=4), CachedTriplets(
        open_cache(cache), crop=40, margin=4, edge_windows=1.0)
    for visit in range(12):
        mask = flush.sample(visit % 3, visit)["loss_mask"][0]
        rows, cols = mask.any(dim=1), mask.any(dim=0)
        assert int(rows.sum()) == 44 and int(cols.sum()) == 44 and float(mask.sum()) == 44 * 44
        assert (rows[0] or rows[-1]) and (cols[0] or cols[-1])
    inner = [float(inside.sample(visit % 3, visit)["loss_mask"].sum()) for visit in range(12)]
    assert inner.count(40 * 40) >= 10  # a random window is flush with an edge 1 time in 25 per axis
    with pytest.raises(ValueError, match="probability"):
        CachedTriplets(open_cache(cache), crop=40, margin=4, edge_windows=-0.1)


def test_edge_windows_at_the_bottom_and_right_are_padded_as_at_inference(cache):
    """With ``pad_multiple`` 4, a window flush with the frame's bottom (right) edge ends in k
    rows (columns), k in 0…3, that repeat the one before them and are out of the loss; the rest
    of the window, and any window flush with the top or left edge, is as without the padding."""
    plain, padded = (CachedTriplets(open_cache(cache), crop=40, margin=4, edge_windows=1.0, pad_multiple=m)
                     for m in (1, 4))
    pads = []
    for visit in range(24):
        a, b = plain.sample(visit % 3, visit), padded.sample(visit % 3, visit)
        row_mask, col_mask = a["loss_mask"][0, :, 24], a["loss_mask"][0, 24, :]
        k_rows = int((row_mask - b["loss_mask"][0, :, 24]).sum())
        k_cols = int((col_mask - b["loss_mask"][0, 24, :]).sum())
        if not row_mask[-1]:
            assert k_rows == 0
        if not col_mask[-1]:
            assert k_cols == 0
        pads += [k for k, flush in ((k_rows, row_mask[-1]), (k_cols, col_mask[-1])) if flush]
        h, w = 48 - k_rows, 48 - k_cols
        for key in ("frame0", "flow10", "warped1", "metric0", "frame_t"):
            torch.testing.assert_close(b[key][:, :h, :w], a[key][:, :h, :w])
            torch.testing.assert_close(b[key][:, h:, :w], b[key][:, h - 1 : h, :w].expand(-1, k_rows, -1))
            torch.testing.assert_close(b[key][:, :, w:], b[key][:, :, w - 1 : w].expand(-1, -1, k_cols))
        expected = a["loss_mask"].clone()
        expected[:, h:, :], expected[:, :, w:] = 0, 0
        torch.testing.assert_close(b["loss_mask"], expected)
    assert max(pads) <= 3 and len(set(pads) - {0}) >= 2


def test_a_run_with_edge_windows_trains_without_a_border_fade_and_keeps_them_when_resumed(cache, tmp_path):
    from models.animeinterp import with_synthesis

    faded, network = tmp_path / "faded.pt", with_synthesis(AnimeInterp(AnimeInterpConfig.guided_tiny()), border_fade=4)
    save_checkpoint(faded, network, network.config.to_dict())
    assert train_residual(_config(tmp_path, cache, init=faded, edge_windows=0.5))["step"] == 4
    with pytest.raises(AnimeInterpError, match="--edge-windows sets up a new run"):
        _config(tmp_path, cache, steps=6, resume=True, edge_windows=0.2).check()
    assert train_residual(_config(tmp_path, cache, steps=6, resume=True))["step"] == 6
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["train"]["edge_windows"] == 0.5
    assert AnimeInterpConfig.from_dict(state["config"]).synthesis.border_fade == 0


def test_a_run_trains_on_the_psnr_loss_and_keeps_it_when_resumed(cache, tmp_path):
    assert train_residual(_config(tmp_path, cache, loss="psnr"))["step"] == 4
    assert train_residual(_config(tmp_path, cache, steps=6, resume=True))["step"] == 6
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert len(losses) == 2 and all(-40 <= value < 0 for value in losses)  # −PSNR in dB, floored at 40
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["train"]["loss"] == "psnr"


def test_reexporting_the_default_keeps_its_provenance_and_drops_old_figures(tmp_path, capsys):
    import tomllib

    from animeinterp_cli.training.export import DEFAULT_FILE, export_weights
    from animeinterp_cli.weights import sha256_of
    from tests.test_cli import run_cli

    torch.manual_seed(0)
    trained = AnimeInterp(AnimeInterpConfig.guided_tiny())
    with torch.no_grad():
        trained.synnet.residual_model_tail[-1].bias.fill_(0.2)
    save_checkpoint(tmp_path / "best.pt", trained, trained.config.to_dict())
    weights = tmp_path / "weights"
    weights.mkdir()
    export_weights(tmp_path / "best.pt", weights / DEFAULT_FILE, correction_scale=0.5)
    (weights / "manifest.toml").write_text(
        f'[default]\nfile = "{DEFAULT_FILE}"\nsamples_seen = 800\ndata = "clips"\nframes_gain_db = 0.3\n'
        '[other]\nfile = "x.pt"\n')

    code, _ = run_cli(capsys, "train", "export", "--to", weights, "--correction-downscale", "2",
                      "--border-fade", "8", "--quality", "frames_gain_db=0.31")
    assert code == 0
    manifest = tomllib.loads((weights / "manifest.toml").read_text())
    entry = manifest["default"]
    assert manifest["other"] == {"file": "x.pt"}
    assert entry["samples_seen"] == 800 and entry["data"] == "clips" and entry["frames_gain_db"] == 0.31
    assert entry["sha256"] == sha256_of(weights / DEFAULT_FILE) and entry["correction_scale"] == 0.5
    assert "correction at 1/2 resolution" in entry["config"] and "faded out over 8 px" in entry["config"]
    shipped = load_animeinterp(weights / DEFAULT_FILE)
    assert shipped.config.synthesis.correction_downscale == 2 and shipped.config.synthesis.border_fade == 8
    torch.testing.assert_close(shipped.synnet.residual_model_tail[-1].bias, torch.full((3,), 0.1).half().float())
    # without --quality the old file's figures are not carried over to the new one
    assert run_cli(capsys, "train", "export", "--to", weights)[0] == 0
    assert "frames_gain_db" not in tomllib.loads((weights / "manifest.toml").read_text())["default"]
    # --correction-scale is the strength relative to the weights as trained (here 0.2 everywhere)
    assert run_cli(capsys, "train", "export", "--to", weights, "--correction-scale", "0.8")[0] == 0
    assert tomllib.loads((weights / "manifest.toml").read_text())["default"]["correction_scale"] == 0.8
    stronger = load_animeinterp(weights / DEFAULT_FILE).synnet.residual_model_tail[-1].bias
    torch.testing.assert_close(stronger, torch.full((3,), 0.16), atol=2e-4, rtol=0)


def test_reexport_refuses_a_folder_without_a_default_and_run_options_without_a_run(tmp_path, capsys):
    from tests.test_cli import run_cli

    code, err = run_cli(capsys, "train", "export", "--to", tmp_path)
    assert code == 1 and "no shipped default to re-export" in err and err.strip().count("\n") == 0
    code, err = run_cli(capsys, "train", "export", "--to", tmp_path, "--checkpoint", tmp_path / "last.pt")
    assert code == 2 and "give its RUN_DIR" in err
    code, err = run_cli(capsys, "train", "export", "--to", tmp_path, "--correction-scale", "1.5")
    assert code == 2 and "must be in (0, 1]" in err
    code, err = run_cli(capsys, "train", "export", "--to", tmp_path, "--border-fade", "-2")
    assert code == 2 and "--border-fade" in err
