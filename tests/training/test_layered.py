"""Layered triplets from real material: loading the material, rendering, refusing bad folders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from animeinterp_cli.errors import InputError
from animeinterp_cli.training.layered import Material, _segment, render_layered
from tests.clipgen import make_clip
from tests.training.helpers import warp_error


@pytest.fixture
def material_dir(tmp_path: Path) -> Path:
    """A tiny material folder: one illustration, one two-frame sprite, one short clip."""
    rng = np.random.default_rng(0)
    (tmp_path / "art").mkdir()
    art = cv2.resize(rng.uniform(0, 255, (12, 16, 3)).astype(np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(tmp_path / "art" / "painting.png"), art)
    sprite_dir = tmp_path / "sprites" / "walker"
    sprite_dir.mkdir(parents=True)
    for index in range(2):
        sprite = np.zeros((40, 30, 4), np.uint8)
        sprite[5:25, 7:19] = (30, 80, 220, 255)  # a 20×12 opaque body on a transparent sheet cell
        sprite[10 + index, 7:19] = (20, 20, 20, 255)  # a line that moves between the frames
        cv2.imwrite(str(sprite_dir / f"{index:03d}.png"), sprite)
    (tmp_path / "clips").mkdir()
    make_clip(tmp_path / "clips" / "cartoon.mp4", frames=12, size=(96, 64), audio=False)
    return tmp_path


def test_material_is_read_from_art_sprites_and_clips(material_dir):
    material = Material.load(material_dir, frames_per_clip=2, max_side=100)
    assert material.names[0] == "art/painting.png"
    assert any(name.startswith("clips/cartoon.mp4@") for name in material.names)
    assert len(material.images) == len(material.names) >= 2
    assert max(material.images[0].shape[:2]) == 100  # scaled down to max_side
    assert len(material.sprites) == 2
    assert all(s.shape[2] == 4 and s[..., 3].max() == 255 for s in material.sprites)
    assert material.sprites[0].shape[:2] == (20, 12)  # cropped to the opaque part
    assert material.sprite_names == ["sprites/walker/000.png", "sprites/walker/001.png"]


def test_excluded_material_is_left_out(material_dir):
    material = Material.load(material_dir, frames_per_clip=1, exclude=("sprites/walk*", "clips/*"))
    assert material.names == ["art/painting.png"] and material.sprites == []
    with pytest.raises(InputError, match="no training images"):
        Material.load(material_dir, frames_per_clip=1, exclude=("art/*", "clips/*"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layered_triplets_have_exact_flows(material_dir, seed):
    material = Material.load(material_dir, frames_per_clip=2)
    triplet = render_layered(np.random.default_rng(seed), (64, 80), material)
    assert triplet.source == "layered" and triplet.frame0.shape == (64, 80, 3)
    assert triplet.flow01.shape == (2, 64, 80) and triplet.valid01.dtype == bool
    error = warp_error(triplet.frame0, triplet.frame1, triplet.flow01)
    assert triplet.valid01.mean() > 0.3
    assert error[triplet.valid01].mean() < 2.0


def test_same_seed_same_layered_triplet(material_dir):
    material = Material.load(material_dir, frames_per_clip=2)
    first = render_layered(np.random.default_rng(3), (48, 48), material)
    again = render_layered(np.random.default_rng(3), (48, 48), material)
    assert np.array_equal(first.frame_t, again.frame_t) and np.array_equal(first.flow_t0, again.flow_t0)


def test_missing_or_empty_material_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        Material.load(tmp_path / "nowhere")
    with pytest.raises(InputError, match="no training images"):
        Material.load(tmp_path)


def test_unreadable_image_is_named(tmp_path):
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png"):
        Material.load(tmp_path)


def test_too_small_size_is_refused(material_dir):
    with pytest.raises(ValueError, match="at least 16"):
        render_layered(np.random.default_rng(0), (10, 10), Material.load(material_dir, frames_per_clip=1))


def test_cut_out_pieces_follow_the_drawn_regions():
    window = np.zeros((64, 64, 3), np.uint8)
    window[:, :32] = (220, 60, 60)
    window[:, 32:] = (60, 60, 220)
    window[:, 31:33] = (20, 20, 20)  # an ink line between the two colour regions
    halves = [np.zeros((64, 64), bool), np.zeros((64, 64), bool)]
    halves[0][:, :31], halves[1][:, 33:] = True, True
    pieces = [_segment(np.random.default_rng(seed), window) for seed in range(6)]
    cut = [p > 0 for p in pieces if p is not None]
    assert cut, "some seeds must cut a piece"
    off_line = np.r_[0:31, 33:64]  # the ink line's pixels may go to either side
    for mask in cut:  # exactly one colour region
        assert any(np.array_equal(mask[:, off_line], half[:, off_line]) for half in halves)
