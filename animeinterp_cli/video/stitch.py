# PyAV's stubs type streams, codec contexts and av.open() as unions of every kind, and leave
# submodules and errors unexported; the code narrows them at run time
# pyright: reportAttributeAccessIssue=false, reportOptionalMemberAccess=false, reportReturnType=false, reportOptionalOperand=false
"""Stitching chunk files into one output by remuxing their packets: no re-encoding.

Each chunk file (see :mod:`animeinterp_cli.chunks`) is a video-only MP4 (or QuickTime) file written by
:class:`~animeinterp_cli.video.encode.VideoWriter` with the run's encoder settings, its time
0 being its first frame, which the encoder made a keyframe. :func:`stitch` copies their
packets in order into the output and moves each chunk's timestamps by its start in the
output, an exact number of ticks of the writer's time base (chunks start at input frame
times or on the output grid, both multiples of it). The output is set up by
:class:`_Remuxer`, a :class:`VideoWriter` whose video stream is a copy of the first chunk's
instead of an encoder, so the file has everything a one-piece run writes: the source's
audio and subtitle streams copied once for the whole duration and interleaved by time,
rotation and colour tags, the same time base and so the same timestamps.

Concatenation is valid because every chunk starts with a keyframe and has the same codec
parameters (same encoder, settings, size and pixel format: :func:`stitch` checks the
parameters sets are identical, byte for byte).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from animeinterp_cli.errors import EncodeError, OutputError
from animeinterp_cli.video.decode import VideoInfo, ffmpeg_reason
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter

#: containers for chunk files, by preference: exact timestamps in any time base (Matroska's are
#: milliseconds) and negative decoding times for B-frames; MP4 holds H.264, HEVC, VP9 and AV1,
#: QuickTime most others (ProRes, …)
CHUNK_SUFFIXES = (".mp4", ".mov")


def chunk_suffix(codec: str) -> str | None:
    """The container chunk files of ``codec`` are written in, or None when neither can hold it."""
    for suffix, format_name in zip(CHUNK_SUFFIXES, ("mp4", "mov")):
        with av.open(io.BytesIO(), mode="w", format=format_name) as probe:
            supported = probe.supported_codecs
        try:
            canonical = av.Codec(codec, "w").canonical_name
        except (av.codec.codec.UnknownCodecError, ValueError):
            return None
        if codec in supported or canonical in supported:
            return suffix
    return None


@dataclass(frozen=True)
class Piece:
    """A chunk file and where it starts in the output (seconds from the first frame)."""

    path: Path
    start: Fraction


def count_frames(path: Path) -> int:
    """Frames a chunk file decodes to (0 for a file that cannot be read)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0
            return sum(1 for _ in container.decode(video=0))
    except (OSError, av.FFmpegError):
        return 0


def stitch(
    pieces: Sequence[Piece],
    output: Path,
    source: VideoInfo,
    rate: Fraction,
    options: EncodeOptions,
    *,
    warn: Callable[[str], None] | None = None,
    name: Path | None = None,
) -> int:
    """Write ``output`` from the chunk files, with the source's other streams; returns the
    number of video frames. ``rate`` and ``options`` are those the chunks were encoded with;
    ``name`` is the output's real name when ``output`` is a temporary one (as for
    :class:`VideoWriter`)."""
    if not pieces:
        raise ValueError("nothing to stitch")
    with av.open(str(pieces[0].path)) as first:
        with _Remuxer(output, source, rate, options, first.streams.video[0], warn=warn, name=name) as writer:
            reference = _parameters(first.streams.video[0])
            for piece in pieces:
                writer.append(piece, reference)
            return writer.frames_written


def _parameters(stream: av.VideoStream) -> tuple:
    context = stream.codec_context
    return (context.name, context.width, context.height, context.format.name if context.format else None,
            bytes(context.extradata or b""))  # fmt: skip


class _Remuxer(VideoWriter):
    """A VideoWriter whose video stream is copied from a chunk file, fed with packets."""

    def __init__(
        self,
        path: Path,
        source: VideoInfo,
        rate: Fraction,
        options: EncodeOptions,
        template: av.VideoStream,
        *,
        warn: Callable[[str], None] | None = None,
        name: Path | None = None,
    ):
        self._template = template
        self._last_dts: int | None = None
        super().__init__(path, source, rate, options, warn=warn, name=name)

    def _add_video_stream(self, codec: av.Codec, options: EncodeOptions, source: VideoInfo) -> av.VideoStream:
        stream = self._container.add_stream_from_template(self._template, opaque=True)
        stream.time_base = self.time_base
        stream.codec_context.framerate = self.rate  # as the encoder's: Matroska's default duration
        self._describe_video_stream(stream, source)  # (the source's tags and dispositions: _carry_over)
        return stream

    def append(self, piece: Piece, reference: tuple) -> None:
        """Mux every video packet of ``piece``, moved to its start in the output."""
        offset = (self._origin + piece.start) / self.time_base
        if offset.denominator != 1:
            raise OutputError(f"chunk {piece.path.name} starts between two ticks of the time base {self.time_base}")
        try:
            chunk = av.open(str(piece.path))
        except av.FFmpegError as error:
            raise OutputError(f"cannot read chunk {piece.path}: {ffmpeg_reason(error)}") from error
        with chunk:
            stream = chunk.streams.video[0]
            if _parameters(stream) != reference:
                raise OutputError(
                    f"chunk {piece.path.name} was encoded with other codec parameters than the first chunk; "
                    "delete the work folder and run again"
                )
            scale = stream.time_base / self.time_base  # chunk ticks → output ticks
            first = True
            for packet in chunk.demux(stream):
                if packet.size == 0:
                    continue
                if first and not packet.is_keyframe:
                    raise OutputError(f"chunk {piece.path.name} does not start with a keyframe")
                first = False
                pts = _ticks(packet.pts, scale, offset, piece)
                dts = _ticks(packet.dts, scale, offset, piece)
                if dts is not None and self._last_dts is not None and dts <= self._last_dts:
                    raise OutputError(
                        f"chunk {piece.path.name} overlaps the one before it (decoding time {dts} after {self._last_dts})"
                    )
                self._last_dts = dts if dts is not None else self._last_dts
                packet.stream = self._video
                packet.time_base = self.time_base
                packet.pts, packet.dts = pts, dts
                if packet.duration:
                    packet.duration = int(packet.duration * scale)
                stamp = dts if dts is not None else pts
                if stamp is None:
                    raise OutputError(f"chunk {piece.path.name} has a packet without a timestamp")
                try:
                    self._copy_packets_until(Fraction(stamp) * self.time_base)
                    self._container.mux(packet)
                except av.FFmpegError as error:
                    raise EncodeError(f"{self.name}: remuxing {piece.path.name} failed: {ffmpeg_reason(error)}") from error
                self._frames_written += 1

    @property
    def frames_written(self) -> int:
        """Video packets (frames) muxed so far."""
        return self._frames_written

    def close(self) -> None:
        """Copy the remaining audio/subtitle packets and close the file (no encoder to flush)."""
        if self._container is None:
            return
        try:
            self._copy_packets_until(None)
            self._container.close()
        except av.FFmpegError as error:
            raise EncodeError(f"{self.name}: finishing the file failed: {ffmpeg_reason(error)}") from error
        finally:
            self._abort()


def _ticks(value: int | None, scale: Fraction, offset: Fraction, piece: Piece) -> int | None:
    if value is None:
        return None
    ticks = value * scale + offset
    if ticks.denominator != 1:
        raise OutputError(f"chunk {piece.path.name} has a timestamp between two ticks of the output time base")
    return int(ticks)
