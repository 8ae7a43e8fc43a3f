"""VideoWriter: exact timing, stream copy, bit depth, metadata, odd sizes, containers, errors."""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import av
import numpy as np
import pytest

from animeinterp_cli.errors import EncodeError
from animeinterp_cli.video.decode import ColorInfo, last_frame_duration, probe_video, read_frames
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter
from tests.clipgen import frame_picture, make_clip

NTSC_FILM = Fraction(24000, 1001)
FAST = EncodeOptions(preset="ultrafast")


def write_doubled(source, target, options=FAST, warnings=None):
    """Write every source frame plus one in-between (a copy) at the midpoint: 2× the rate."""
    info = probe_video(source)
    with VideoWriter(target, info, 2 * info.frame_rate, options, warn=(warnings if warnings is not None else []).append) as writer:
        for frame in read_frames(source):
            writer.write(frame.image, frame.time)
            writer.write(frame.image, frame.time + last_frame_duration(info) / 2)
    return info


def packets(path, kind):
    """(pts in seconds, duration, payload) of every packet of the first stream of ``kind``.

    Empty mov_text samples (payload b"\\0\\0") are left out: the mp4 muxer writes them
    itself to fill the gaps between cues, so their number is the muxer's business.
    """
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [
            (packet.pts * packet.time_base, packet.duration * packet.time_base, bytes(packet))
            for packet in container.demux(stream)
            if packet.size and bytes(packet) != b"\0\0"
        ]


@pytest.fixture(scope="module")
def ntsc_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("encode")
    return make_clip(folder / "source.mp4", frames=12, rate=NTSC_FILM, subtitles=True)


def test_doubling_keeps_duration_rate_and_exact_times(ntsc_clip, tmp_path):
    target = tmp_path / "double.mp4"
    source = write_doubled(ntsc_clip, target)
    out = probe_video(target)
    assert out.frame_rate == 2 * NTSC_FILM
    assert out.frame_count == 24
    assert out.duration == source.duration
    times = [frame.time for frame in read_frames(target)]
    assert times == [i / (2 * NTSC_FILM) for i in range(24)]


def test_audio_and_subtitles_are_copied_untouched(ntsc_clip, tmp_path):
    target = tmp_path / "double.mp4"
    write_doubled(ntsc_clip, target)
    out = probe_video(target)
    assert (out.audio_streams, out.subtitle_streams) == (1, 1)
    assert packets(target, "audio") == packets(ntsc_clip, "audio")
    assert packets(target, "subtitles") == packets(ntsc_clip, "subtitles")


def test_streams_can_be_left_out(ntsc_clip, tmp_path):
    info = probe_video(ntsc_clip)
    target = tmp_path / "video-only.mp4"
    with VideoWriter(target, info, info.frame_rate, FAST, copy_streams=False) as writer:
        for frame in read_frames(ntsc_clip):
            writer.write(frame.image, frame.time)
    out = probe_video(target)
    assert (out.audio_streams, out.subtitle_streams, out.frame_count) == (0, 0, 12)


def test_video_keeps_its_offset_from_the_audio(tmp_path):
    # The source's video starts 0.5 s after its audio; so must the output's.
    times = [Fraction(1, 2) + i * Fraction(1, 24) for i in range(6)]
    source = make_clip(tmp_path / "late.mp4", vfr_times=times)
    target = tmp_path / "out.mp4"
    write_doubled(source, target)
    with av.open(str(target)) as container:
        video = container.streams.video[0]
        assert video.start_time * video.time_base == Fraction(1, 2)
    assert packets(target, "audio") == packets(source, "audio")


def test_pictures_survive_the_roundtrip(tmp_path):
    source = make_clip(tmp_path / "disc.mp4", frames=4, audio=False)
    target = tmp_path / "out.mkv"
    write_doubled(source, target, EncodeOptions(crf=10, preset="ultrafast"))
    for frame in read_frames(target):
        drawn = frame_picture(frame.index // 2, (160, 96), "disc").astype(int)
        assert np.abs(frame.image.astype(int) - drawn).mean() < 3


def test_ten_bit_source_stays_ten_bit(tmp_path):
    source = make_clip(tmp_path / "deep.mp4", frames=3, pix_fmt="yuv420p10le", audio=False)
    target = tmp_path / "out.mp4"
    write_doubled(source, target)
    out = probe_video(target)
    assert (out.pix_fmt, out.bit_depth) == ("yuv420p10le", 10)
    before = next(iter(read_frames(source))).image.astype(int)
    after = next(iter(read_frames(target))).image.astype(int)
    assert np.abs(after - before).mean() < 2 * 257


def test_rotation_is_carried_over(tmp_path):
    source = make_clip(tmp_path / "rotated.mp4", frames=2, rotation=270, audio=False)
    target = tmp_path / "out.mov"
    write_doubled(source, target)
    assert probe_video(target).rotation == 270


def test_colour_description_is_carried_over_and_used(tmp_path):
    source = make_clip(tmp_path / "plain.mp4", frames=2, audio=False, moving="static")
    bt709_full = ColorInfo(primaries=1, transfer=1, matrix=1, range=2)
    info = dataclasses.replace(probe_video(source), color=bt709_full)
    picture = frame_picture(0, (160, 96), "static")
    target = tmp_path / "out.mp4"
    with VideoWriter(target, info, info.frame_rate, FAST) as writer:
        writer.write(picture, Fraction(0))
    assert probe_video(target).color == bt709_full
    # Decoding with the declared matrix and range gives back the colours written.
    back = next(iter(read_frames(target))).image.astype(int)
    assert np.abs(back - picture.astype(int)).mean() < 3


def test_odd_size_is_kept_by_switching_to_444(tmp_path):
    source = make_clip(tmp_path / "odd.mkv", frames=2, size=(641, 361), pix_fmt="yuv444p", audio=False)
    info = dataclasses.replace(probe_video(source), pix_fmt="yuv420p")  # as if the source were 4:2:0
    warnings = []
    target = tmp_path / "out.mp4"
    with VideoWriter(target, info, info.frame_rate, FAST, warn=warnings.append) as writer:
        assert writer.pix_fmt == "yuv444p"
        for frame in read_frames(source):
            writer.write(frame.image, frame.time)
    out = probe_video(target)
    assert (out.width, out.height, out.pix_fmt) == (641, 361, "yuv444p")
    assert len(warnings) == 1 and "641×361" in warnings[0] and "yuv444p" in warnings[0]


def test_odd_size_with_an_explicit_420_format_is_refused(tmp_path):
    source = make_clip(tmp_path / "odd.mkv", frames=1, size=(641, 361), pix_fmt="yuv444p", audio=False)
    info = probe_video(source)
    with pytest.raises(EncodeError, match="odd size 641×361"):
        VideoWriter(tmp_path / "out.mp4", info, info.frame_rate, EncodeOptions(pix_fmt="yuv420p"))


def test_matroska_keeps_subrip_subtitles(tmp_path):
    source = make_clip(tmp_path / "source.mkv", frames=6, subtitles=True)
    target = tmp_path / "out.mkv"
    write_doubled(source, target)
    out = probe_video(target)
    assert (out.frame_count, out.audio_streams, out.subtitle_streams) == (12, 1, 1)
    assert [text for _, _, text in packets(target, "subtitles")] == [b"cue 0", b"cue 1"]


def test_streams_a_container_cannot_hold_are_left_out_with_a_warning(tmp_path):
    source = make_clip(tmp_path / "source.mkv", frames=3, subtitles=True)  # SubRip subtitles
    warnings = []
    target = tmp_path / "out.mp4"
    write_doubled(source, target, warnings=warnings)
    assert (probe_video(target).audio_streams, probe_video(target).subtitle_streams) == (1, 0)
    assert len(warnings) == 1 and "subtitle stream" in warnings[0] and ".mp4" in warnings[0]


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".webm", "libvpx-vp9"), (".mkv", "libsvtav1"), (".mov", "libx265")]
)
def test_other_containers_and_codecs(tmp_path, suffix, codec):
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} is not in this FFmpeg build")
    source = make_clip(tmp_path / f"source{suffix}", frames=3, size=(64, 64), codec="libx264" if suffix != ".webm" else codec)
    target = tmp_path / f"out{suffix}"
    write_doubled(source, target, EncodeOptions(codec=codec, preset="ultrafast"))
    out = probe_video(target)
    assert out.frame_count == 6 and out.audio_streams == 1
    assert out.codec == av.Codec(codec, "w").canonical_name


def test_unknown_codec_is_refused_before_any_file_exists(ntsc_clip, tmp_path):
    info = probe_video(ntsc_clip)
    target = tmp_path / "out.mp4"
    with pytest.raises(EncodeError, match="unknown codec 'xyz'"):
        VideoWriter(target, info, info.frame_rate, EncodeOptions(codec="xyz"))
    with pytest.raises(EncodeError, match="'aac' is not a video codec"):
        VideoWriter(target, info, info.frame_rate, EncodeOptions(codec="aac"))
    assert not target.exists()


def test_codec_the_container_cannot_hold(ntsc_clip, tmp_path):
    info = probe_video(ntsc_clip)
    with pytest.raises(EncodeError, match=r"'libx264' cannot be stored in a \.webm file"):
        VideoWriter(tmp_path / "out.webm", info, info.frame_rate, EncodeOptions())
    assert not (tmp_path / "out.webm").exists()


def test_unsupported_container_and_pixel_format(ntsc_clip, tmp_path):
    info = probe_video(ntsc_clip)
    with pytest.raises(EncodeError, match="unsupported output container '.avi'"):
        VideoWriter(tmp_path / "out.avi", info, info.frame_rate, EncodeOptions())
    with pytest.raises(EncodeError, match="cannot encode pixel format 'rgb24'"):
        VideoWriter(tmp_path / "out.mp4", info, info.frame_rate, EncodeOptions(pix_fmt="rgb24"))


def test_write_checks_its_arguments(ntsc_clip, tmp_path):
    info = probe_video(ntsc_clip)
    picture = frame_picture(0, (160, 96), "disc")
    with VideoWriter(tmp_path / "out.mp4", info, info.frame_rate, FAST, copy_streams=False) as writer:
        with pytest.raises(ValueError, match="96×160×3"):
            writer.write(picture[:, :100], Fraction(0))
        with pytest.raises(ValueError, match="96×160×3"):
            writer.write(picture.astype(np.float32), Fraction(0))
        writer.write(picture, Fraction(1, 24))
        with pytest.raises(ValueError, match="must increase"):
            writer.write(picture, Fraction(1, 24))


def test_colours_do_not_drift_through_a_pass(tmp_path):
    # Lossless H.264 (crf 0) leaves only the RGB↔YUV conversions: flat colours must come back
    # unbiased, or every pass through the tool would darken the video a little more.
    source = make_clip(tmp_path / "flat.mkv", frames=1, moving="static", audio=False, codec="ffv1", pix_fmt="yuv444p")
    info = dataclasses.replace(probe_video(source), pix_fmt="yuv420p")
    picture = frame_picture(0, (160, 96), "static")
    target = tmp_path / "out.mp4"
    with VideoWriter(target, info, info.frame_rate, EncodeOptions(crf=0, preset="ultrafast")) as writer:
        writer.write(picture, Fraction(0))
    back = next(iter(read_frames(target))).image.astype(int)
    assert abs((back - picture.astype(int)).mean()) < 0.5


class MuxSpy:
    """Stands in for the writer's output container and records when audio gets muxed."""

    def __init__(self, container):
        self.container = container
        self.audio_times = []

    def mux(self, packets):
        for packet in [packets] if isinstance(packets, av.Packet) else packets:
            if packet.stream.type == "audio":
                self.audio_times.append(packet.pts * packet.time_base)
        self.container.mux(packets)

    def __getattr__(self, name):
        return getattr(self.container, name)


def test_audio_is_copied_as_the_video_advances(tmp_path):
    # Copying all audio at the end would make the muxer hold the whole video in memory.
    source = make_clip(tmp_path / "long.mp4", frames=48, size=(64, 64))
    info = probe_video(source)
    audio_packet = Fraction(1024, 48000)
    with VideoWriter(tmp_path / "out.mp4", info, info.frame_rate, FAST) as writer:
        spy = writer._container = MuxSpy(writer._container)
        for frame in read_frames(source):
            writer.write(frame.image, frame.time)
            assert frame.time - audio_packet < max(spy.audio_times) <= frame.time


def test_audio_is_interleaved_with_the_video(tmp_path):
    # Players stream an mp4 front to back: audio must sit beside the video of the same time,
    # not in one block. In file order, no stream may run for more than a few packets.
    source = make_clip(tmp_path / "long.mp4", frames=72, size=(64, 64))
    target = tmp_path / "out.mp4"
    write_doubled(source, target)
    with av.open(str(target)) as container:
        order = [kind for _, kind in sorted((p.pos, p.stream.type) for p in container.demux() if p.size)]
    runs = [len(list(run)) for _, run in itertools.groupby(order)]
    assert order.count("audio") > 50 and max(runs) <= 4
