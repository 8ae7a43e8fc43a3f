"""probe_video / read_frames on clips written by PyAV in the test, and on a real sample."""

from __future__ import annotations

import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from animeinterp_cli.errors import DecodeError, InputError
from animeinterp_cli.video import decode
from animeinterp_cli.video.decode import last_frame_duration, probe_video, read_frames
from tests.clipgen import DISC_COLOUR, frame_picture, make_clip

NTSC_FILM = Fraction(24000, 1001)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("decode") / "clip.mp4", frames=24, rate=NTSC_FILM)


def test_probe_reports_size_rate_count_and_streams(clip):
    info = probe_video(clip)
    assert (info.width, info.height) == (160, 96)
    assert info.frame_rate == NTSC_FILM
    assert info.frame_count == 24
    assert info.duration == 24 / NTSC_FILM
    assert info.duration == 23 / NTSC_FILM + last_frame_duration(info)
    assert (info.codec, info.pix_fmt, info.bit_depth, info.rotation) == ("h264", "yuv420p", 8, 0)
    assert (info.audio_streams, info.subtitle_streams) == (1, 0)
    assert info.time_base == Fraction(1, 24000)


def test_frames_come_in_order_at_exact_times_with_the_drawn_pictures(clip):
    with read_frames(clip) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == list(range(24))
    assert [f.time for f in frames] == [i / NTSC_FILM for i in range(24)]
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.shape == (96, 160, 3)
        drawn = frame_picture(frame.index, (160, 96), "disc").astype(int)
        assert np.abs(frame.image.astype(int) - drawn).mean() < 3  # lossy codec, right content


def test_variable_frame_rate_times_are_kept_exactly(tmp_path):
    times = [Fraction(0), Fraction(1, 24), Fraction(1, 8), Fraction(1, 3), Fraction(3, 8)]
    path = make_clip(tmp_path / "vfr.mp4", vfr_times=times, audio=False)
    assert [f.time for f in read_frames(path)] == times


def test_frame_times_count_from_the_first_frame(tmp_path):
    # The video starts half a second into the file (the audio at 0): times still start at 0.
    times = [Fraction(1, 2) + i * Fraction(1, 24) for i in range(6)]
    path = make_clip(tmp_path / "late.mp4", vfr_times=times)
    assert [f.time for f in read_frames(path)] == [t - times[0] for t in times]


def test_frames_without_timestamps_are_timed_by_the_declared_rate(tmp_path):
    path = make_clip(tmp_path / "raw.h264", frames=6, audio=False)  # raw stream: no pts at all
    with av.open(str(path)) as container:
        assert all(f.pts is None for f in container.decode(video=0))
    assert probe_video(path).frame_rate == 24
    assert [f.time for f in read_frames(path)] == [Fraction(i, 24) for i in range(6)]


def test_ten_bit_source_gives_sixteen_bit_images(tmp_path):
    path = make_clip(tmp_path / "deep.mp4", frames=2, pix_fmt="yuv420p10le", audio=False)
    info = probe_video(path)
    assert (info.pix_fmt, info.bit_depth) == ("yuv420p10le", 10)
    image = next(iter(read_frames(path))).image
    assert image.dtype == np.uint16
    centre = image[48, 40].astype(int)  # inside the disc: its colour scaled to 16 bits
    assert np.abs(centre - np.array(DISC_COLOUR) * 257).max() < 2 * 257


def test_probe_reports_display_rotation(tmp_path):
    path = make_clip(tmp_path / "rotated.mp4", frames=2, rotation=90, audio=False)
    assert probe_video(path).rotation == 90


def test_stopping_early_joins_the_decoding_thread(clip):
    reader = read_frames(clip, queue_size=2)
    first = next(reader)
    assert first.index == 0 and reader.thread_alive
    reader.close()
    assert not reader.thread_alive
    with pytest.raises(StopIteration):
        next(reader)


def test_leaving_a_with_block_by_exception_joins_the_thread(clip):
    with pytest.raises(KeyboardInterrupt), read_frames(clip, queue_size=1) as reader:
        next(reader)
        raise KeyboardInterrupt
    assert not reader.thread_alive


def test_dropping_the_reader_stops_its_thread(clip):
    before = set(threading.enumerate())
    reader = read_frames(clip, queue_size=1)
    next(reader)
    del reader
    assert set(threading.enumerate()) <= before


@pytest.fixture
def third_frame_fails(monkeypatch):
    """The decoding thread fails on the third picture, as FFmpeg does on damaged data."""
    convert = decode._to_rgb
    calls = []

    def fail_on_third(picture):
        calls.append(1)
        if len(calls) == 3:
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")
        return convert(picture)

    monkeypatch.setattr(decode, "_to_rgb", fail_on_third)


def test_a_failure_in_the_decoding_thread_reaches_the_consumer(clip, third_frame_fails):
    reader = read_frames(clip)
    got = [next(reader).index, next(reader).index]
    with pytest.raises(DecodeError) as caught:
        next(reader)
    assert got == [0, 1]
    message = str(caught.value)
    assert f"{clip}: decoding failed at 0.083 s (frame 2): Invalid data found" in message
    assert "\n" not in message
    assert not reader.thread_alive


def test_stop_on_error_ends_the_read_and_keeps_the_error(clip, third_frame_fails):
    reader = read_frames(clip, stop_on_error=True)
    assert [frame.index for frame in reader] == [0, 1]
    assert isinstance(reader.failure, DecodeError)
    assert "decoding failed at 0.083 s (frame 2)" in str(reader.failure)
    assert not reader.thread_alive


def test_missing_input(tmp_path):
    with pytest.raises(InputError, match="input not found"):
        probe_video(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="input not found"):
        read_frames(tmp_path / "nope.mp4")


def test_folder_as_input(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        probe_video(tmp_path)


def test_text_file_named_mp4_is_not_a_video(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are not video frames\n" * 20)
    with pytest.raises(DecodeError, match="notes.mp4 is not a video file"):
        probe_video(fake)
    with pytest.raises(DecodeError, match="is not a video file"):
        read_frames(fake)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "tone.m4a"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=48000)
        samples = np.zeros((1, 4800), np.float32)
        block = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        block.sample_rate, block.pts = 48000, 0
        container.mux(stream.encode(block))
        container.mux(stream.encode(None))
    with pytest.raises(DecodeError, match="tone.m4a has no video stream"):
        probe_video(path)


def test_video_stream_without_frames(tmp_path):
    path = make_clip(tmp_path / "silent.mkv", frames=24)
    empty = tmp_path / "empty.mkv"
    with av.open(str(path)) as source, av.open(str(empty), mode="w") as target:
        # Same streams, but only the audio packets: a video track that holds no frame.
        video = target.add_stream_from_template(source.streams.video[0])
        audio = target.add_stream_from_template(source.streams.audio[0])
        assert video.index == 0
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = audio
                target.mux(packet)
    with pytest.raises(DecodeError, match="empty.mkv has no video frames"):
        probe_video(empty)
    assert list(read_frames(empty)) == []


def test_file_cut_short_reads_the_frames_it_holds(tmp_path):
    # Matroska needs no index at the end: the first half still decodes, as a shorter video.
    path = make_clip(tmp_path / "whole.mkv", frames=24, moving="noise", audio=False)
    cut = tmp_path / "cut.mkv"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    count = len(list(read_frames(cut)))
    assert 0 < count < 24


def test_mp4_cut_short_loses_its_index_and_is_refused(tmp_path):
    # PyAV writes the mp4 index (moov) at the end: without it nothing can be located.
    path = make_clip(tmp_path / "whole.mp4", frames=24, moving="noise", audio=False)
    cut = tmp_path / "cut.mp4"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="cut.mp4 is not a video file"):
        probe_video(cut)


def test_real_sample_onepiece(samples):
    path = samples / "clips" / "onepiece_demo.mp4"
    info = probe_video(path)
    assert (info.width, info.height, info.frame_rate) == (640, 480, Fraction(1199, 50))
    assert (info.frame_count, info.audio_streams) == (181, 1)
    times = [frame.time for frame in read_frames(path)]
    assert times == [i / info.frame_rate for i in range(181)]
    assert times[-1] + last_frame_duration(info) == info.duration
