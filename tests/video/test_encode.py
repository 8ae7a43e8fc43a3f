"""VideoWriter: exact timing, stream copy, bit depth, metadata, odd sizes, containers, errors."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest

from animeinterp_cli.errors import EncodeError
from animeinterp_cli.video.decode import ColorInfo, last_frame_duration, probe_video, read_frames
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter, check_output
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


@pytest.mark.parametrize(("size", "even"), [((641, 361), (640, 360)), ((641, 360), (640, 360)), ((640, 361), (640, 360))])
def test_odd_size_keeps_420_by_leaving_out_the_last_column_or_row(tmp_path, size, even):
    source = make_clip(tmp_path / "odd.mkv", frames=2, size=size, pix_fmt="yuv444p", audio=False)
    info = dataclasses.replace(probe_video(source), pix_fmt="yuv420p")  # as if the source were 4:2:0
    warnings = []
    target = tmp_path / "out.mp4"
    with VideoWriter(target, info, info.frame_rate, FAST, warn=warnings.append) as writer:
        assert writer.pix_fmt == "yuv420p"
        for frame in read_frames(source):
            writer.write(frame.image, frame.time)
    out = probe_video(target)
    assert (out.width, out.height, out.pix_fmt) == (*even, "yuv420p")
    assert len(warnings) == 1 and f"{size[0]}×{size[1]}" in warnings[0] and f"{even[0]}×{even[1]}" in warnings[0]
    # the pixels kept are the source's own, not a rescale
    before = next(iter(read_frames(source))).image[: even[1], : even[0]].astype(int)
    after = next(iter(read_frames(target))).image.astype(int)
    assert np.abs(after - before).mean() < 3


def test_odd_size_output_plays_in_the_bundled_ffmpeg(tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    source = make_clip(tmp_path / "odd.mkv", frames=3, size=(65, 37), pix_fmt="yuv444p", audio=False)
    info = dataclasses.replace(probe_video(source), pix_fmt="yuv420p")
    target = tmp_path / "out.mp4"
    with VideoWriter(target, info, info.frame_rate, FAST) as writer:
        for frame in read_frames(source):
            writer.write(frame.image, frame.time)
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(target), "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    out = probe_video(target)
    assert (out.width, out.height, out.pix_fmt, out.frame_count) == (64, 36, "yuv420p", 3)


def test_codecs_that_take_odd_420_sizes_keep_the_size(tmp_path):
    if "libvpx-vp9" not in av.codecs_available:
        pytest.skip("libvpx-vp9 is not in this FFmpeg build")
    source = make_clip(tmp_path / "odd.mkv", frames=2, size=(65, 37), pix_fmt="yuv444p", audio=False)
    info = probe_video(source)
    warnings = []
    with VideoWriter(tmp_path / "out.webm", info, info.frame_rate, EncodeOptions(codec="libvpx-vp9"), warn=warnings.append) as writer:
        for frame in read_frames(source):
            writer.write(frame.image, frame.time)
    out = probe_video(tmp_path / "out.webm")
    assert (out.width, out.height, out.pix_fmt) == (65, 37, "yuv420p") and warnings == []


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
        VideoWriter(tmp_path / "out.webm", info, info.frame_rate, EncodeOptions(codec="libx264"))
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


# --- carried over: pixel shape, tags, dispositions, chapters ---------------------------------

LANGUAGE_AND_TITLES = {
    "file": {"title": "Episode 1"},
    "video": {"language": "jpn", "title": "Main video"},
    "audio": {"language": "eng", "title": "Commentary"},
    "subtitle": {"language": "fra", "title": "Signs"},
}
DISPOSITIONS = {
    "audio": av.stream.Disposition.default | av.stream.Disposition.comment,
    "subtitle": av.stream.Disposition.forced,
}


def described(path):
    """SAR, DAR, tags, dispositions and chapters of a file, as a player reads them (an mp4
    track's title reads back as "name")."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        streams = {
            kind: (stream.language, stream.metadata.get("title", stream.metadata.get("name")), stream.disposition)
            for kind, stream in (("video", video), ("audio", container.streams.audio[0]), ("subtitle", container.streams.subtitles[0]))
        }
        chapters = [(c["start"] * c["time_base"], c["end"] * c["time_base"], c["metadata"].get("title")) for c in container.chapters()]
        return {
            "sar": video.sample_aspect_ratio, "dar": video.display_aspect_ratio, "title": container.metadata.get("title"),
            "streams": streams, "chapters": chapters,
        }


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
@pytest.mark.parametrize("sar", [Fraction(3, 4), Fraction(1916, 2559), Fraction(32, 27)])
def test_pixel_aspect_ratio_is_carried_over(tmp_path, suffix, sar):
    source = make_clip(tmp_path / f"anamorphic{suffix}", frames=2, size=(160, 96), sample_aspect_ratio=sar, audio=False)
    assert probe_video(source).sample_aspect_ratio == sar
    target = tmp_path / f"out{suffix}"
    write_doubled(source, target)
    with av.open(str(target)) as container:
        video = container.streams.video[0]
        assert (video.sample_aspect_ratio, video.codec_context.sample_aspect_ratio) == (sar, sar)
        assert video.display_aspect_ratio == sar * Fraction(160, 96)
    # the H.264 bitstream says so too (players read either): its raw stream, with no container
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    raw = tmp_path / "out.h264"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(target), "-c", "copy", "-f", "h264", str(raw)],
        check=True, timeout=60,
    )
    with av.open(str(raw)) as container:
        assert container.streams.video[0].sample_aspect_ratio == sar


def test_square_pixels_stay_untagged(ntsc_clip, tmp_path):
    target = tmp_path / "out.mp4"
    write_doubled(ntsc_clip, target)
    assert probe_video(target).sample_aspect_ratio is None


@pytest.mark.parametrize(("suffix", "target_suffix"), [(".mkv", ".mkv"), (".mp4", ".mp4")])
def test_languages_titles_dispositions_chapters_and_file_title_are_carried_over(tmp_path, suffix, target_suffix):
    chapters = [(Fraction(0), Fraction(1, 4), "Opening"), (Fraction(1, 4), Fraction(1, 2), "Part A")]
    source = make_clip(
        tmp_path / f"tagged{suffix}", frames=12, subtitles=True, tags=LANGUAGE_AND_TITLES, dispositions=DISPOSITIONS,
        chapters=chapters,
    )
    before = described(source)
    assert before["streams"]["audio"] == ("eng", "Commentary", DISPOSITIONS["audio"])  # the source is as meant
    target = tmp_path / f"out{target_suffix}"
    write_doubled(source, target)
    after = described(target)
    assert after == before
    assert after["chapters"] == chapters and after["title"] == "Episode 1"
    assert after["streams"]["subtitle"][:2] == ("fra", "Signs")
    assert after["streams"]["subtitle"][2] & av.stream.Disposition.forced


def test_a_mov_keeps_languages_and_titles(tmp_path):
    # (QuickTime files have no place for the comment and forced dispositions)
    source = make_clip(tmp_path / "tagged.mp4", frames=4, subtitles=True, tags=LANGUAGE_AND_TITLES)
    write_doubled(source, tmp_path / "out.mov")
    after = described(tmp_path / "out.mov")
    assert {kind: value[:2] for kind, value in after["streams"].items()} == {
        "video": ("jpn", "Main video"), "audio": ("eng", "Commentary"), "subtitle": ("fra", "Signs")
    }
    assert after["title"] == "Episode 1"


def test_statistics_tags_of_the_source_are_not_copied(tmp_path):
    # mkvmerge's per-track statistics describe the source's encoding: the muxer writes its own
    tags = {"video": {"BPS-eng": "12345", "NUMBER_OF_FRAMES-eng": "999", "language": "jpn"}}
    source = make_clip(tmp_path / "stats.mkv", frames=4, tags=tags, audio=False)
    target = tmp_path / "out.mkv"
    write_doubled(source, target)
    with av.open(str(target)) as container:
        metadata = dict(container.streams.video[0].metadata)
    assert "BPS-eng" not in metadata and "NUMBER_OF_FRAMES-eng" not in metadata
    assert metadata["language"] == "jpn"


# --- the automatic codec ---------------------------------------------------------------------


def _codec_of(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return video.codec_context.name, video.profile, video.codec_context.pix_fmt, video.codec_context.codec_tag


def test_ten_bit_source_defaults_to_hevc_main_10(tmp_path):
    if "libx265" not in av.codecs_available:
        pytest.skip("libx265 is not in this FFmpeg build")
    source = make_clip(tmp_path / "deep.mp4", frames=3, pix_fmt="yuv420p10le", audio=False)
    target = tmp_path / "out.mp4"
    write_doubled(source, target)
    assert _codec_of(target) == ("hevc", "Main 10", "yuv420p10le", "hvc1")


def test_h264_high_10_only_when_asked(tmp_path):
    source = make_clip(tmp_path / "deep.mp4", frames=3, pix_fmt="yuv420p10le", audio=False)
    target = tmp_path / "out.mp4"
    write_doubled(source, target, EncodeOptions(codec="libx264", preset="ultrafast"))
    assert _codec_of(target)[:3] == ("h264", "High 10", "yuv420p10le")


def test_eight_bit_source_defaults_to_h264_and_webm_to_vp9(ntsc_clip, tmp_path):
    write_doubled(ntsc_clip, tmp_path / "out.mp4")
    assert _codec_of(tmp_path / "out.mp4")[0] == "h264"
    if "libvpx-vp9" in av.codecs_available:
        source = make_clip(tmp_path / "plain.mkv", frames=2, audio=False)
        write_doubled(source, tmp_path / "out.webm")
        assert _codec_of(tmp_path / "out.webm")[0] == "vp9"


def test_ten_bit_without_hevc_falls_back_to_8_bit_h264_and_says_so(tmp_path, monkeypatch):
    from animeinterp_cli.video import encode

    monkeypatch.setattr(encode, "_AUTO_DEEP_CODECS", ("no-such-encoder",))
    source = make_clip(tmp_path / "deep.mp4", frames=2, pix_fmt="yuv420p10le", audio=False)
    warnings = []
    write_doubled(source, tmp_path / "out.mp4", warnings=warnings)
    name, profile, pix_fmt, _ = _codec_of(tmp_path / "out.mp4")
    assert (name, pix_fmt) == ("h264", "yuv420p") and "10" not in profile
    assert len(warnings) == 1 and "10-bit" in warnings[0] and "--codec libx264" in warnings[0]


@pytest.mark.parametrize("codec", ["libx265", "libsvtav1"])
def test_encoders_print_nothing_unless_verbose(tmp_path, capfd, codec):
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} is not in this FFmpeg build")
    source = make_clip(tmp_path / "clip.mkv", frames=3, size=(64, 64), audio=False)
    capfd.readouterr()
    write_doubled(source, tmp_path / "quiet.mkv", EncodeOptions(codec=codec, preset="ultrafast"))
    assert capfd.readouterr().err == ""  # x265 and SVT-AV1 write to the file descriptor itself
    if codec == "libx265":  # (SVT-AV1 reads its switch once per process)
        write_doubled(source, tmp_path / "verbose.mkv", EncodeOptions(codec=codec, preset="ultrafast", verbose=True))
        assert "x265 [info]" in capfd.readouterr().err


# --- messages name the real output, never the temporary file ---------------------------------


def test_messages_name_the_real_output(ntsc_clip, tmp_path):
    info = probe_video(ntsc_clip)
    temporary, real = tmp_path / ".out.partial-0123abcd", tmp_path / "out"
    with pytest.raises(EncodeError) as caught:
        VideoWriter(temporary, info, info.frame_rate, FAST, name=real)
    assert str(real) in str(caught.value) and "partial" not in str(caught.value)
    assert "no extension" in str(caught.value)
    temporary = tmp_path / ".out.partial-0123abcd.mp4"
    with VideoWriter(temporary, info, info.frame_rate, FAST, name=tmp_path / "out.mp4", copy_streams=False) as writer:
        writer.write(frame_picture(0, (160, 96), "disc"), Fraction(0))
        with pytest.raises(ValueError, match="must increase") as caught:
            writer.write(frame_picture(0, (160, 96), "disc"), Fraction(0))
    with pytest.raises(EncodeError, match=r"unsupported output container '\.avi' of .*out\.avi"):
        check_output(tmp_path / "out.avi", info, EncodeOptions())
