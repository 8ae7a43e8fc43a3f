"""stitch: chunk files remuxed into one output equal to the same frames encoded in one piece."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from animeinterp_cli.errors import OutputError
from animeinterp_cli.video.decode import probe_video, read_frames
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter
from animeinterp_cli.video.stitch import Piece, chunk_suffix, count_frames, stitch
from tests.clipgen import frame_picture, make_clip


def describe(path: Path) -> dict:
    """Everything a player or ffprobe sees: timestamps, streams, packets of the copied streams."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info = {
            "time_base": video.time_base,
            "rate": video.average_rate,
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "size": (video.codec_context.width, video.codec_context.height),
            "streams": [s.type for s in container.streams],
            "duration": container.duration,
        }
        others = [s for s in container.streams if s.type != "video"]
        info["copied"] = [(p.stream.index, p.pts, p.dts, p.duration, bytes(p)) for p in container.demux(*others) if p.size]
    with av.open(str(path)) as container:
        info["pts"] = [frame.pts for frame in container.decode(video=0)]
    probed = probe_video(path)
    info["rotation"], info["color"] = probed.rotation, probed.color
    return info


def encode(path: Path, info, rate, options, frames, copy_streams=True, origin=Fraction(0)):
    with VideoWriter(path, info, rate, options, copy_streams=copy_streams) as writer:
        for time, image in frames:
            writer.write(image, time - origin)
    return path


CASES = {
    "h264 mp4 lossless": (".mp4", "libx264", 0, {}),
    "h264 mkv + subtitles": (".mkv", "libx264", 20, {"subtitles": True}),
    "h264 mov rotated": (".mov", "libx264", 20, {"rotation": 90}),
    "hevc mkv": (".mkv", "libx265", 28, {}),
    "vp9 webm": (".webm", "libvpx-vp9", 40, {"codec": "libvpx-vp9"}),
}


@pytest.mark.parametrize("case", CASES)
def test_stitched_chunks_equal_a_one_piece_encode(tmp_path, case):
    suffix, codec, crf, clip_options = CASES[case]
    source = make_clip(tmp_path / f"in{suffix}", frames=30, rate=Fraction(24000, 1001), **clip_options)
    info = probe_video(source)
    rate = info.frame_rate * 2
    options = EncodeOptions(codec=codec, crf=crf)
    frames = [(k / rate, frame_picture(k, (160, 96), "disc")) for k in range(60)]
    one_piece = encode(tmp_path / f"one{suffix}", info, rate, options, frames)

    bounds = [0, 17, 38, 60]  # chunks of 17, 21 and 22 frames: B-frame groups cross nothing
    pieces = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        start = frames[a][0]
        path = tmp_path / f"chunk{k}{chunk_suffix(codec)}"
        encode(path, info, rate, options, frames[a:b], copy_streams=False, origin=start)
        assert count_frames(path) == b - a
        pieces.append(Piece(path, start))
    stitched = tmp_path / f"stitched{suffix}"
    assert stitch(pieces, stitched, info, rate, options) == 60

    expected, got = describe(one_piece), describe(stitched)
    assert got == expected
    if crf == 0:  # lossless: the very same pictures
        for a, b in zip(read_frames(one_piece), read_frames(stitched), strict=True):
            np.testing.assert_array_equal(a.image, b.image)


def test_every_chunk_starts_with_a_keyframe_in_the_output(tmp_path):
    source = make_clip(tmp_path / "in.mp4", frames=20, audio=False)
    info = probe_video(source)
    rate = info.frame_rate * 2
    options = EncodeOptions()
    frames = [(k / rate, frame_picture(k, (160, 96), "disc")) for k in range(40)]
    pieces = []
    for k, (a, b) in enumerate([(0, 13), (13, 40)]):
        path = encode(tmp_path / f"c{k}.mp4", info, rate, options, frames[a:b], copy_streams=False, origin=frames[a][0])
        pieces.append(Piece(path, frames[a][0]))
    out = tmp_path / "out.mp4"
    stitch(pieces, out, info, rate, options)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        keys = [packet.pts * stream.time_base for packet in container.demux(stream) if packet.size and packet.is_keyframe]
    assert frames[0][0] in keys and frames[13][0] in keys


def test_chunks_with_other_codec_parameters_are_refused(tmp_path):
    source = make_clip(tmp_path / "in.mp4", frames=8, audio=False)
    info = probe_video(source)
    rate = info.frame_rate * 2
    frames = [(k / rate, frame_picture(k, (160, 96), "disc")) for k in range(16)]
    first = encode(tmp_path / "a.mp4", info, rate, EncodeOptions(), frames[:8], copy_streams=False)
    other = encode(tmp_path / "b.mp4", info, rate, EncodeOptions(pix_fmt="yuv444p"), frames[8:], False, frames[8][0])
    with pytest.raises(OutputError, match="other codec parameters"):
        stitch([Piece(first, Fraction(0)), Piece(other, frames[8][0])], tmp_path / "out.mp4", info, rate, EncodeOptions())


def test_chunk_containers():
    assert chunk_suffix("libx264") == chunk_suffix("libx265") == chunk_suffix("libvpx-vp9") == ".mp4"
    assert chunk_suffix("prores_ks") == ".mov"
    assert chunk_suffix("no-such-codec") is None


def test_an_unreadable_chunk_counts_no_frames(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert count_frames(bad) == 0
    assert count_frames(tmp_path / "missing.mp4") == 0
