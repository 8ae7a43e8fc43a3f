"""read_frame_range: any stretch of a video, by seek, bit-identical to reading from the start."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from animeinterp_cli.video import seek
from animeinterp_cli.video.decode import read_frames
from animeinterp_cli.video.seek import read_frame_range
from tests.clipgen import frame_picture, make_clip


def gop_clip(path, codec: str, options: dict[str, str], frames: int = 96, rate=Fraction(24000, 1001)):
    """Short GOPs with B-frames, and noise bursts so that frames differ."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(frames):
            picture = frame_picture(i, (96, 64), "noise" if i % 17 < 2 else "disc")
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def count_fallbacks(monkeypatch):
    calls = []
    original = seek._from_start

    def counted(path, first, last):
        calls.append(first)
        return original(path, first, last)

    monkeypatch.setattr(seek, "_from_start", counted)
    return calls


CASES = {
    "x264 mp4": ("a.mp4", "libx264", {"g": "12", "bf": "3"}),
    "x264 open GOP mkv": ("b.mkv", "libx264", {"g": "12", "x264-params": "open-gop=1"}),
    "x265 mkv": ("c.mkv", "libx265", {"x265-params": "keyint=12:min-keyint=12:log-level=none"}),
    "vp9 webm": ("d.webm", "libvpx-vp9", {"g": "12"}),
}


@pytest.mark.parametrize("case", CASES)
def test_every_start_decodes_the_same_frames_as_from_the_start(tmp_path, case, count_fallbacks):
    name, codec, options = CASES[case]
    clip = gop_clip(tmp_path / name, codec, options)
    frames = list(read_frames(clip))
    times = [f.time for f in frames]
    for first in (1, 11, 12, 13, 35, 48, 60, 95):
        last = min(len(frames) - 1, first + 14)
        with read_frame_range(clip, times[first:], first, last) as got:
            got = list(got)
        assert [index for index, _ in got] == list(range(first, last + 1))
        for index, image in got:
            np.testing.assert_array_equal(image, frames[index].image)
    assert count_fallbacks == []  # all by seek, none by decoding from the start


def test_variable_frame_rate(tmp_path, count_fallbacks):
    vfr = [Fraction(0)]
    for k in range(1, 40):
        vfr.append(vfr[-1] + Fraction(1 + k % 3, 48))
    clip = make_clip(tmp_path / "vfr.mkv", vfr_times=vfr, rate=Fraction(48), audio=False)
    frames = list(read_frames(clip))
    times = [f.time for f in frames]
    got = list(read_frame_range(clip, times[25:], 25, 30))
    assert [i for i, _ in got] == list(range(25, 31))
    for index, image in got:
        np.testing.assert_array_equal(image, frames[index].image)
    assert count_fallbacks == []


def test_from_frame_zero_reads_from_the_start(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=10, audio=False)
    times = [f.time for f in read_frames(clip)]
    assert [i for i, _ in read_frame_range(clip, times, 0, 9)] == list(range(10))


def test_times_that_do_not_match_fall_back_to_counting_from_the_start(tmp_path, count_fallbacks):
    clip = gop_clip(tmp_path / "a.mp4", "libx264", {"g": "12"})
    frames = list(read_frames(clip))
    wrong = [f.time + Fraction(1, 1000) for f in frames]  # no frame has these times: seek cannot match
    got = list(read_frame_range(clip, wrong[30:], 30, 33))
    assert [i for i, _ in got] == [30, 31, 32, 33]
    for index, image in got:
        np.testing.assert_array_equal(image, frames[index].image)
    assert count_fallbacks == [30]


def test_bad_ranges_are_refused(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio=False)
    times = [f.time for f in read_frames(clip)]
    with pytest.raises(ValueError):
        read_frame_range(clip, times, 3, 2)
    with pytest.raises(ValueError):
        read_frame_range(clip, times[:1], 0, 3)
