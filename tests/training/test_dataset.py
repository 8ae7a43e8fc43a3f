"""The training data set: tensors, determinism, the source mix, ATD-12K folders, the validation guard."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from animeinterp_cli.errors import InputError
from animeinterp_cli.training.dataset import (
    Triplet,
    TripletDataset,
    check_not_validation,
    degrade,
    random_crop,
    read_atd_folder,
)
from animeinterp_cli.training.synthetic import render_synthetic

SIZE = (32, 48)


def write_triplet(folder: Path, seed: int, size=SIZE, suffix=".png") -> list[np.ndarray]:
    """Write frame1–3 (random RGB) into ``folder``; return them as RGB arrays."""
    folder.mkdir(parents=True)
    frames = [np.random.default_rng([seed, k]).integers(0, 256, (*size, 3), dtype=np.uint8) for k in range(3)]
    for k, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / f"frame{k}{suffix}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return frames


@pytest.fixture
def atd_root(tmp_path: Path) -> Path:
    """An ATD-12K-like root: two training triplets, and a test triplet that must not be read."""
    write_triplet(tmp_path / "train_10k" / "clip_a", 0)
    write_triplet(tmp_path / "train_10k" / "clip_b", 1, suffix=".jpg")  # ATD-12K's training frames are JPEG
    write_triplet(tmp_path / "test_2k_540p" / "test_clip", 2)
    return tmp_path


def test_samples_are_dicts_of_tensors_of_the_asked_size():
    sample = TripletDataset("synthetic", SIZE, seed=1)[0]
    h, w = SIZE
    assert set(sample) == {"frame0", "frame_t", "frame1", "t", "flow01", "flow10", "flow_t0", "flow_t1", "valid01", "valid10"}
    for name in ("frame0", "frame_t", "frame1"):
        assert sample[name].shape == (3, h, w) and sample[name].dtype == torch.float32
        assert 0 <= sample[name].min() and sample[name].max() <= 1
    for name in ("flow01", "flow10", "flow_t0", "flow_t1"):
        assert sample[name].shape == (2, h, w) and sample[name].dtype == torch.float32
    for name in ("valid01", "valid10"):
        assert sample[name].shape == (1, h, w) and set(sample[name].unique().tolist()) <= {0.0, 1.0}
    assert sample["t"].shape == () and 0 < sample["t"] < 1


def test_sample_tensors_carry_the_rendered_triplet():
    dataset = TripletDataset("synthetic", SIZE, seed=4)
    sample, triplet = dataset[2], dataset.triplet(2)
    assert torch.equal(sample["frame_t"], torch.from_numpy(triplet.frame_t).permute(2, 0, 1).float() / 255)
    assert torch.equal(sample["flow01"], torch.from_numpy(triplet.flow01))
    assert torch.equal(sample["valid10"][0], torch.from_numpy(triplet.valid10).float())


def test_same_seed_and_index_give_the_same_sample_in_any_order():
    first, second = TripletDataset("synthetic", SIZE, seed=3), TripletDataset("synthetic", SIZE, seed=3)
    later = first[9]
    assert all(torch.equal(later[k], second[9][k]) for k in later)
    assert not torch.equal(first[8]["frame0"], later["frame0"])
    assert not torch.equal(TripletDataset("synthetic", SIZE, seed=4)[9]["frame0"], later["frame0"])


def test_a_data_loader_batches_samples():
    batch = next(iter(DataLoader(TripletDataset("synthetic", SIZE), batch_size=2)))
    assert batch["frame0"].shape == (2, 3, *SIZE) and batch["t"].shape == (2,)


def test_folder_kind_reads_the_training_triplets_only(atd_root):
    dataset = TripletDataset("folder", SIZE, atd_dir=atd_root)
    assert len(dataset) == 2  # train_10k only: the test triplet is never training data
    triplet = dataset.triplet(0)
    assert triplet.source == "folder" and triplet.frame0.shape == (*SIZE, 3)
    # crop of a frame of exactly the asked size: the frames themselves, maybe mirrored and/or reversed
    middle = cv2.imread(str(atd_root / "train_10k" / "clip_a" / "frame2.png"))[..., ::-1]
    candidates = [middle, middle[:, ::-1]]
    assert any(np.array_equal(triplet.frame_t, c) for c in candidates)
    assert not triplet.valid01.any() and not triplet.flow01.any()
    with pytest.raises(IndexError):
        dataset.triplet(2)


def test_read_atd_folder_yields_the_files_with_no_flows(atd_root):
    named = list(read_atd_folder(atd_root / "train_10k"))
    assert [name for name, _ in named] == ["clip_a", "clip_b"]
    triplets = [triplet for _, triplet in named]
    expected = [cv2.imread(str(atd_root / "train_10k" / "clip_b" / f"frame{k}.jpg"))[..., ::-1] for k in (1, 2, 3)]
    second = triplets[1]
    assert np.array_equal(second.frame0, expected[0]) and np.array_equal(second.frame_t, expected[1])
    assert np.array_equal(second.frame1, expected[2])
    assert second.t == 0.5 and second.source == "folder"
    assert second.flow10.shape == (2, *SIZE) and not second.flow10.any() and not second.valid10.any()


def test_mix_draws_from_every_given_source(atd_root, tmp_path):
    art = tmp_path / "material" / "art"
    art.mkdir(parents=True)
    cv2.imwrite(str(art / "paper.png"), np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8))
    dataset = TripletDataset("mix", SIZE, real_dir=tmp_path / "material", atd_dir=atd_root)
    assert set(dataset.sources) == {"synthetic", "layered", "folder"}
    assert {dataset.triplet(i).source for i in range(20)} == {"synthetic", "layered", "folder"}
    assert TripletDataset("mix", SIZE).sources == ("synthetic",)


def flowless_triplet(levels=(10, 20, 30), t: float = 0.3) -> Triplet:
    """A triplet of flat 100×120 frames of grey ``levels`` at time ``t``, with no flows (like a folder's)."""
    frames = [np.full((100, 120, 3), level, np.uint8) for level in levels]
    zero, invalid = np.zeros((2, 100, 120), np.float32), np.zeros((100, 120), bool)
    return Triplet(*frames, t, zero, zero, zero, zero, invalid, invalid, "folder")


def test_random_crop_scales_large_frames_and_keeps_time_consistent():
    seen = set()
    for seed in range(8):
        crop = random_crop(np.random.default_rng(seed), flowless_triplet(), (32, 32))
        assert crop.frame0.shape == (32, 32, 3) and np.all(crop.frame_t == 20)
        # time reversal swaps the inputs and mirrors t
        seen.add((int(crop.frame0[0, 0, 0]), int(crop.frame1[0, 0, 0]), round(crop.t, 6)))
    assert seen == {(10, 30, 0.3), (30, 10, 0.7)}


def test_degrading_changes_the_pictures_not_the_motion():
    clean = render_synthetic(np.random.default_rng(0), SIZE)
    for seed in range(4):  # both kinds of degradation (blur, JPEG) occur among these seeds
        degraded = degrade(np.random.default_rng(seed), clean)
        assert degraded.frame0.shape == clean.frame0.shape and degraded.frame0.dtype == np.uint8
        assert not np.array_equal(degraded.frame_t, clean.frame_t)
        assert np.abs(degraded.frame_t.astype(int) - clean.frame_t).mean() < 8  # softened, not destroyed
        assert degraded.flow01 is clean.flow01 and degraded.valid10 is clean.valid10


def test_random_crop_refuses_triplets_with_flows():
    with pytest.raises(ValueError, match="without flows"):
        random_crop(np.random.default_rng(0), render_synthetic(np.random.default_rng(0), SIZE), (16, 16))


def test_validation_folder_is_never_training_data(tmp_path):
    validation = tmp_path / "samples" / "triplets"
    (validation / "one").mkdir(parents=True)
    for folder in (validation, validation / "one", tmp_path / "samples"):
        with pytest.raises(InputError, match="validation"):
            check_not_validation(folder, validation)
    check_not_validation(tmp_path / "elsewhere", validation)


def test_the_shared_validation_triplets_are_refused(samples):
    with pytest.raises(InputError, match="validation"):
        TripletDataset("folder", SIZE, atd_dir=samples / "triplets")
    with pytest.raises(InputError, match="validation"):
        TripletDataset("layered", SIZE, real_dir=samples)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "video"}, "unknown data kind"),
        ({"size": (8, 64)}, "at least 16"),
        ({"size": (64,)}, "at least 16"),
        ({"kind": "layered"}, "needs real_dir"),
        ({"kind": "folder"}, "needs atd_dir"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        TripletDataset(**arguments)


def test_folder_without_triplets_is_refused(tmp_path):
    with pytest.raises(InputError, match="no triplets"):
        TripletDataset("folder", SIZE, atd_dir=tmp_path)
