# PyAV's stubs type streams, codec contexts and av.open() as unions of every kind, and leave
# submodules and errors unexported; the code narrows them at run time
# pyright: reportAttributeAccessIssue=false, reportOptionalMemberAccess=false, reportReturnType=false, reportOptionalOperand=false
"""Writing the output video with PyAV: exact timestamps, the source's look, its audio and subtitles.

Conventions:

* The container is chosen by the file extension (.mp4, .mkv, .mov, .webm); the path may be a
  temporary name that keeps the real extension (see :mod:`animeinterp_cli.video.output`).
* Times given to :meth:`VideoWriter.write` are exact Fractions in seconds from the first
  frame, as :mod:`decode` produces them. The stream's time base divides both the output frame
  interval ``1/rate`` and the source's time base, so source times and the in-between times of
  an integer factor are represented exactly: ``pts = round(time / time_base)`` has nothing to
  round. The video keeps its offset from the start of the source file (``pts`` counts from the
  source's first frame), so copied audio stays in sync.
* Pixels: RGB uint8 → 8-bit YUV, RGB uint16 (rgb48) → 10-bit YUV, converted with the source's
  colour matrix and range; primaries, transfer, matrix, range and display rotation are
  written as the source declares them.
* Odd sizes: 4:2:0 needs even sizes in H.264/HEVC, and the output must keep the input's size
  exactly (no padding, no cropping). So when the pixel format is automatic and the size is odd,
  the writer first tries 4:2:0 (VP9 and AV1 accept odd sizes) and otherwise encodes 4:4:4 at
  the same depth, saying so through ``warn``; a codec that has neither is an EncodeError.
* Audio and subtitle streams of the source are copied packet by packet, never re-encoded,
  and muxed as the video advances (by time), so memory stays bounded and the file
  interleaves properly. A stream the target container cannot hold is left out with a
  one-line warning.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from animeinterp_cli.errors import EncodeError
from animeinterp_cli.video.decode import VideoInfo, ffmpeg_reason

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}

# x264-style preset names → SVT-AV1 preset numbers (higher = faster).
_SVT_PRESETS = {
    "ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8,
    "medium": 7, "slow": 5, "slower": 4, "veryslow": 2, "placebo": 0,
}  # fmt: skip

# Colour matrices swscale converts with (AVColorSpace values). Any other (e.g. 0, "RGB",
# of a GBR source) is converted with BT.601 and tagged unspecified, which means BT.601.
_SWSCALE_MATRICES = {1, 4, 5, 6, 7, 9, 10}
_UNSPECIFIED_MATRIX = 2
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
# Chroma is averaged over each 2×2 block (area) with accurate rounding: unbiased colours,
# the counterpart of decode's YUV→RGB settings.
_RGB_TO_YUV = Interpolation.AREA | Interpolation.ACCURATE_RND


@dataclass(frozen=True)
class EncodeOptions:
    """How to encode the video stream.

    ``crf`` and ``preset`` are x264's terms; they are passed to libx264/libx265 as they are,
    to libvpx-vp9 and libsvtav1 as their nearest equivalents, and ignored by other codecs.
    ``pix_fmt=None`` keeps the source's bit depth: yuv420p for 8-bit sources, yuv420p10le
    for deeper ones when the codec has it.
    """

    codec: str = "libx264"
    crf: int = 17
    preset: str = "medium"
    pix_fmt: str | None = None


Warn = Callable[[str], None]


def _ignore(message: str) -> None:
    """Default ``warn``: say nothing."""


class VideoWriter:
    """Encode RGB frames at given times into ``path``, copying the source's audio and subtitles."""

    def __init__(
        self,
        path: Path,
        source: VideoInfo,
        rate: Fraction,
        options: EncodeOptions,
        *,
        copy_streams: bool = True,
        warn: Warn | None = None,
    ):
        self.path = Path(path)
        self.rate = Fraction(rate)
        self._warn = warn or _ignore
        self._size = (source.width, source.height)
        self._color = source.color
        self._matrix = source.color.matrix if source.color.matrix in _SWSCALE_MATRICES else _UNSPECIFIED_MATRIX
        format_name = _container_format(self.path)
        codec = _video_codec(options.codec)
        _check_codec_in_container(options.codec, codec, format_name, self.path.suffix)
        self.pix_fmt = _choose_pix_fmt(codec, source, options.pix_fmt, self._warn)
        # Divides both 1/rate and the source time base (see the module docstring), unless
        # that needs more than the 31-bit time scale containers store.
        self.time_base = _gcd(1 / self.rate, source.time_base)
        if self.time_base.denominator >= 2**31:
            self.time_base = 1 / self.rate
        self._frame_ticks = round(1 / (self.rate * self.time_base))
        self._frames_written = 0
        self._last_pts: int | None = None

        self._source: av.container.InputContainer | None = None
        self._copied: dict[int, av.stream.Stream] = {}  # source stream index → output stream
        self._pending: Iterator[av.Packet] = iter(())
        self._next_packet: av.Packet | None = None
        self._origin = Fraction(0)  # source time of the first frame; moved by _open_copied_streams
        try:
            self._container = av.open(str(self.path), mode="w", format=format_name)
        except (OSError, av.FFmpegError) as error:
            raise EncodeError(f"cannot write {self.path}: {ffmpeg_reason(error)}") from error
        try:
            self._video = self._add_video_stream(codec, options, source)
            if copy_streams and (source.audio_streams or source.subtitle_streams):
                self._open_copied_streams(source.path)
            self._container.start_encoding()  # opens the encoder, writes the header
        except BaseException as error:
            self._abort()
            if isinstance(error, av.FFmpegError):
                raise EncodeError(f"cannot start encoding {self.path}: {ffmpeg_reason(error)}") from error
            raise

    # -- set-up ---------------------------------------------------------------------------

    def _add_video_stream(
        self, codec: av.Codec, options: EncodeOptions, source: VideoInfo
    ) -> av.VideoStream:
        stream = self._container.add_stream(
            codec.name, rate=self.rate, options=_codec_options(codec.name, options)
        )
        stream.width, stream.height = self._size
        stream.pix_fmt = self.pix_fmt
        stream.time_base = self.time_base
        context = stream.codec_context
        context.time_base = self.time_base
        context.framerate = self.rate
        context.color_primaries = source.color.primaries
        context.color_trc = source.color.transfer
        context.colorspace = self._matrix
        context.color_range = source.color.range
        if source.rotation:
            stream.set_display_rotation(source.rotation)
        return stream

    def _open_copied_streams(self, source_path: Path) -> None:
        try:
            self._source = av.open(str(source_path), mode="r")
        except av.FFmpegError as error:
            raise EncodeError(f"cannot read the audio of {source_path}: {ffmpeg_reason(error)}") from error
        video = self._source.streams.video[0] if self._source.streams.video else None
        if video is not None and video.start_time is not None and video.time_base:
            self._origin = video.start_time * video.time_base
        for stream in (*self._source.streams.audio, *self._source.streams.subtitles):
            try:
                copy = self._container.add_stream_from_template(stream)
            except ValueError:  # the container cannot hold this codec
                self._warn(
                    f"{stream.type} stream #{stream.index} ({stream.codec_context.name}) cannot be "
                    f"stored in a {self.path.suffix} file and is left out (.mkv keeps it)"
                )
                continue
            self._copied[stream.index] = copy
        if self._copied:
            self._pending = self._source.demux(*(self._source.streams[i] for i in self._copied))

    # -- writing --------------------------------------------------------------------------

    def write(self, image: np.ndarray, time: Fraction) -> None:
        """Encode ``image`` (H×W×3 RGB, uint8 or uint16) shown at ``time`` seconds from the start.

        Times must increase strictly; ``pts = round(time / time_base)`` must therefore too.
        """
        if self._container is None:
            raise ValueError(f"{self.path}: the writer is closed")
        width, height = self._size
        if image.shape != (height, width, 3) or image.dtype not in (np.uint8, np.uint16):
            raise ValueError(
                f"expected a {height}×{width}×3 uint8 or uint16 image, got {image.shape} {image.dtype}"
            )
        pts = round((self._origin + Fraction(time)) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"frame times must increase: {time} s comes after pts {self._last_pts}")
        self._last_pts = pts

        rgb_format = "rgb48le" if image.dtype == np.uint16 else "rgb24"
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=rgb_format)
        picture = picture.reformat(
            format=self.pix_fmt,
            dst_colorspace=None if self._matrix == _UNSPECIFIED_MATRIX else self._matrix,
            dst_color_range=_FULL_RANGE if self._color.range == _FULL_RANGE else None,
            interpolation=_RGB_TO_YUV,
        )
        picture.colorspace = self._matrix
        picture.color_range = self._color.range
        picture.pts = pts
        picture.duration = self._frame_ticks  # lets the muxer end the last frame on time
        picture.time_base = self.time_base
        try:
            self._copy_packets_until(self._origin + Fraction(time))
            self._container.mux(self._video.encode(picture))
        except av.FFmpegError as error:
            raise EncodeError(
                f"{self.path}: encoding failed at frame {self._frames_written}: {ffmpeg_reason(error)}"
            ) from error
        self._frames_written += 1

    def _copy_packets_until(self, until: Fraction | None) -> None:
        """Mux the copied streams' packets that start before ``until`` (all when None)."""
        while True:
            if self._next_packet is None:
                self._next_packet = next(self._pending, None)
                if self._next_packet is None:
                    return
            packet = self._next_packet
            if packet.size == 0 or (packet.dts is None and packet.pts is None):
                self._next_packet = None  # a demuxer flush marker, nothing to copy
                continue
            stamp = packet.dts if packet.dts is not None else packet.pts
            if until is not None and stamp * packet.time_base > until:
                return
            self._next_packet = None
            packet.stream = self._copied[packet.stream.index]
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio/subtitle packets, and close the file."""
        if self._container is None:
            return
        try:
            self._container.mux(self._video.encode(None))
            self._copy_packets_until(None)
            self._container.close()
        except av.FFmpegError as error:
            raise EncodeError(f"{self.path}: finishing the file failed: {ffmpeg_reason(error)}") from error
        finally:
            self._abort()

    def _abort(self) -> None:
        """Close everything without flushing (after an error; the file is then discarded)."""
        for container in (getattr(self, "_container", None), self._source):
            if container is not None:
                try:
                    container.close()
                except (OSError, av.FFmpegError):
                    pass  # already failing or already closed: the caller discards the file
        self._container = None
        self._source = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


def _container_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in CONTAINERS:
        known = ", ".join(sorted(set(CONTAINERS) - {".m4v"}))
        raise EncodeError(f"unsupported output container '{suffix or path.name}' (use {known})")
    return CONTAINERS[suffix]


def _video_codec(name: str) -> av.Codec:
    try:
        codec = av.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        raise EncodeError(f"unknown codec '{name}'") from None
    if codec.type != "video":
        raise EncodeError(f"'{name}' is not a video codec")
    return codec


def _check_codec_in_container(name: str, codec: av.Codec, format_name: str, suffix: str) -> None:
    # An in-memory container answers the question without creating a file.
    with av.open(io.BytesIO(), mode="w", format=format_name) as probe:
        supported = probe.supported_codecs
    if name not in supported and codec.canonical_name not in supported:
        raise EncodeError(
            f"codec '{name}' cannot be stored in a {suffix} file (use .mkv, or a codec such as "
            f"{_suggest(supported)})"
        )


def _suggest(supported: set[str]) -> str:
    preferred = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1")
    names = [name for name in preferred if name in supported and name in av.codecs_available]
    return " or ".join(names[:2]) or "another one"


def _choose_pix_fmt(codec: av.Codec, source: VideoInfo, requested: str | None, warn: Warn) -> str:
    formats = [f.name for f in codec.video_formats or ()]
    if requested is not None:
        if formats and requested not in formats:
            raise EncodeError(
                f"codec '{codec.name}' cannot encode pixel format '{requested}' (it can: {', '.join(formats)})"
            )
        pix_fmt = requested
    else:
        pix_fmt = "yuv420p10le" if source.bit_depth > 8 else "yuv420p"
        if formats and pix_fmt not in formats:
            fallback = "yuv420p" if "yuv420p" in formats else formats[0]
            if source.bit_depth > 8:
                warn(f"codec '{codec.name}' has no {pix_fmt} mode; the output uses {fallback}")
            pix_fmt = fallback

    width, height = source.width, source.height
    if (width % 2 or height % 2) and _is_subsampled(pix_fmt) and not _encoder_opens(codec, pix_fmt, width, height):
        full = pix_fmt.replace("420", "444").replace("422", "444")
        if requested is None and full in formats and _encoder_opens(codec, full, width, height):
            warn(
                f"the size {width}×{height} is odd and '{codec.name}' cannot encode 4:2:0 at odd "
                f"sizes, so the output is {full} (same size; some players cannot play 4:4:4)"
            )
            return full
        raise EncodeError(
            f"codec '{codec.name}' cannot encode the odd size {width}×{height} as {pix_fmt}"
            + ("" if requested is None else "; try pix_fmt yuv444p")
        )
    return pix_fmt


def _is_subsampled(pix_fmt: str) -> bool:
    fmt = av.VideoFormat(pix_fmt, 2, 2)
    return any(c.width != 2 or c.height != 2 for c in fmt.components)


def _encoder_opens(codec: av.Codec, pix_fmt: str, width: int, height: int) -> bool:
    """Whether the encoder accepts this size and pixel format (tries to open it)."""
    context = av.CodecContext.create(codec.name, "w")
    context.width, context.height, context.pix_fmt = width, height, pix_fmt
    context.time_base = Fraction(1, 24)
    try:
        context.open()
    except av.FFmpegError:
        return False
    return True


def _codec_options(name: str, options: EncodeOptions) -> dict[str, str]:
    if name in ("libx264", "libx265"):
        return {"crf": str(options.crf), "preset": options.preset}
    if name == "libvpx-vp9":  # constant quality needs a zero target bitrate
        return {"crf": str(options.crf), "b": "0", "row-mt": "1"}
    if name == "libsvtav1":
        preset = options.preset if options.preset.isdigit() else str(_SVT_PRESETS.get(options.preset, 7))
        return {"crf": str(options.crf), "preset": preset}
    return {}


def _gcd(a: Fraction, b: Fraction) -> Fraction:
    """Largest rational that divides both: gcd(p/q, r/s) = gcd(p, r) / lcm(q, s)."""
    return Fraction(math.gcd(a.numerator, b.numerator), math.lcm(a.denominator, b.denominator))
