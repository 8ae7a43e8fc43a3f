"""Truncated and damaged inputs: decoded frames against the length the container declares."""

from __future__ import annotations

from fractions import Fraction

import pytest

from animeinterp_cli.video.decode import probe_video, read_frames
from animeinterp_cli.video.integrity import damage_report
from tests.clipgen import faststart, make_clip, truncated, with_corrupt_packet


def decoded(path):
    reader = read_frames(path, stop_on_error=True)
    times = [frame.time for frame in reader]
    return probe_video(path), times, reader.failure


@pytest.mark.parametrize(
    "kwargs",
    [
        {"suffix": ".mp4", "frames": 30, "rate": Fraction(24000, 1001)},
        {"suffix": ".mkv", "frames": 30, "subtitles": True},
        {"suffix": ".mov", "frames": 30},
        {"suffix": ".mkv", "vfr_times": [Fraction(i, 24) if i < 10 else Fraction(i, 12) for i in range(20)]},
        {"suffix": ".mp4", "vfr_times": [Fraction(1, 2) + Fraction(i, 24) for i in range(24)]},  # starts late
    ],
)
def test_whole_files_are_not_reported(tmp_path, kwargs):
    suffix = kwargs.pop("suffix")
    clip = make_clip(tmp_path / f"clip{suffix}", **kwargs)
    info, times, failure = decoded(clip)
    assert failure is None and damage_report(info, times) is None


def test_the_sample_clip_is_whole(samples):
    info, times, failure = decoded(samples / "clips" / "onepiece_demo.mp4")
    assert failure is None and damage_report(info, times) is None


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("integrity")
    return make_clip(folder / "long.mp4", frames=180, size=(96, 64), moving="noise")


def test_a_faststart_mp4_cut_short_is_reported_with_both_durations(long_clip, tmp_path):
    cut = truncated(faststart(long_clip, tmp_path / "fast.mp4"), tmp_path / "cut.mp4", 0.3)
    info, times, failure = decoded(cut)  # it ends cleanly, or (the last packet cut) fails there
    assert info.declared_duration == Fraction(180, 24) and info.declared_frames == 180
    assert 20 < len(times) < 120
    damage = damage_report(info, times, failure)
    assert damage is not None and damage.decoded == times[-1] + Fraction(1, 24)
    message = damage.warning()
    assert "cut.mp4 looks truncated" in message and "7.50 s" in message and f"{float(damage.decoded):.2f} s" in message
    assert f"{len(times)} of 180 frames" in message and "\n" not in message


def test_a_matroska_file_cut_short_is_reported(tmp_path):
    clip = make_clip(tmp_path / "long.mkv", frames=96, size=(96, 64), moving="noise", audio=False)
    info, times, failure = decoded(truncated(clip, tmp_path / "cut.mkv", 0.4))
    damage = damage_report(info, times)
    assert damage is not None and "4.00 s" in damage.summary


def test_a_shortfall_of_a_frame_or_two_is_not_damage(long_clip):
    info, times, _ = decoded(long_clip)
    assert damage_report(info, times[:-2]) is None  # 2 frames: 83 ms, 1 %
    assert damage_report(info, times[:-10]) is not None  # 10 frames: 5.6 % of 7.5 s


def test_more_than_a_second_short_is_damage_however_long_the_file(long_clip):
    import dataclasses

    info, times, _ = decoded(long_clip)
    long_info = dataclasses.replace(info, declared_duration=Fraction(3600), declared_frames=None)
    short = [Fraction(i, 24) for i in range(24 * 3600 - 30)]  # 1.25 s short of an hour: 0.03 %
    assert damage_report(long_info, short) is not None
    nearly = [Fraction(i, 24) for i in range(24 * 3600 - 12)]  # 0.5 s short
    assert damage_report(long_info, nearly) is None


def test_a_decoder_error_midway_says_when(tmp_path):
    clip = make_clip(tmp_path / "clip.mkv", frames=48, audio=False, moving="noise")
    info, times, failure = decoded(with_corrupt_packet(clip, tmp_path / "bad.mkv"))
    assert failure is not None and 5 < len(times) < 48
    damage = damage_report(info, times, failure)
    assert damage is not None
    assert f"decoding failed at {float(times[-1] + Fraction(1, 24)):.3f} s (frame {len(times)})" in damage.summary
    assert "2.00 s" in damage.summary and "--strict" in damage.warning() and "nothing written" in damage.refusal()
