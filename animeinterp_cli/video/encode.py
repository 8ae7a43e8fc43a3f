# PyAV's stubs type streams, codec contexts and av.open() as unions of every kind, and leave
# submodules and errors unexported; the code narrows them at run time
# pyright: reportAttributeAccessIssue=false, reportOptionalMemberAccess=false, reportReturnType=false, reportOptionalOperand=false
"""Writing the output video with PyAV: exact timestamps, the source's look, its audio and subtitles.

Conventions:

* The container is chosen by the extension of the output's real name (.mp4, .mkv, .mov,
  .webm): the file written may be a temporary one (see :mod:`animeinterp_cli.video.output`),
  and messages name the real one (``name``), never the temporary.
* The codec is automatic unless given: H.264 (libx264) for 8-bit sources; for deeper ones
  HEVC Main 10 (libx265), which hardware decoders play far more widely than H.264 High 10
  (that one only when libx264 is asked for); VP9 in WebM. Encoder chatter (x265's and
  SVT-AV1's banners) is silenced unless ``EncodeOptions.verbose``.
* Times given to :meth:`VideoWriter.write` are exact Fractions in seconds from the first
  frame, as :mod:`decode` produces them. The stream's time base divides both the output frame
  interval ``1/rate`` and the source's time base, so source times and the in-between times of
  an integer factor are represented exactly: ``pts = round(time / time_base)`` has nothing to
  round. The video keeps its offset from the start of the source file (``pts`` counts from the
  source's first frame), so copied audio stays in sync.
* Pixels: RGB uint8 → 8-bit YUV, RGB uint16 (rgb48) → 10-bit YUV, converted with the source's
  colour matrix and range; primaries, transfer, matrix, range, display rotation and the
  pixel aspect ratio (anamorphic video) are written as the source declares them.
* Odd sizes: H.264 and HEVC store 4:2:0 only at even sizes (their cropping counts in whole
  chroma samples, so even the bitstream cannot cut one pixel). The alternatives are 4:4:4,
  which many players and most hardware decoders refuse, or padding plus the container's
  cropping (Matroska PixelCrop, mp4 'clap'), which most players ignore, showing the padded
  edge. So the writer keeps 4:2:0 and drops the last column and/or row (65×37 → 64×36),
  saying so through ``warn``; codecs that take odd 4:2:0 sizes (VP9, AV1) keep the size.
* Audio and subtitle streams of the source are copied packet by packet, never re-encoded,
  and muxed as the video advances (by time), so memory stays bounded and the file
  interleaves properly. A stream the target container cannot hold is left out with a
  one-line warning. Every copied stream keeps its language, title and other tags and its
  dispositions (default, forced, …); the video stream keeps its own tags too, and the file
  its title and other global tags and its chapters.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
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

    ``codec=None`` picks one for the source and container (see the module docstring).
    ``crf`` and ``preset`` are x264's terms; they are passed to libx264/libx265 as they are,
    to libvpx-vp9 and libsvtav1 as their nearest equivalents, and ignored by other codecs.
    ``pix_fmt=None`` keeps the source's bit depth: yuv420p for 8-bit sources, yuv420p10le
    for deeper ones when the codec has it. ``verbose`` lets the encoder print its own log.
    """

    codec: str | None = None
    crf: int = 17
    preset: str = "medium"
    pix_fmt: str | None = None
    verbose: bool = False


# The automatic codec: the first of these the build has and the container can hold.
_AUTO_CODECS = ("libx264", "libvpx-vp9", "libsvtav1")
_AUTO_DEEP_CODECS = ("libx265",)  # HEVC Main 10: what 10-bit hardware decoders play
_HEVC_TAG = "hvc1"  # in mp4/mov: the tag Apple's players need (FFmpeg's default is hev1)


Warn = Callable[[str], None]


def _ignore(message: str) -> None:
    """Default ``warn``: say nothing."""


def show_ffmpeg_log() -> None:
    """Send FFmpeg's own log (x264's statistics, the muxer's notes…) to stderr, at info level:
    ``--verbose`` (by default PyAV drops it)."""
    import logging
    import sys

    import av.logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger("libav")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    av.logging.set_level(av.logging.INFO)


def check_output(name: Path, source: VideoInfo, options: EncodeOptions) -> None:
    """Raise the :class:`EncodeError` that writing ``source``'s video to ``name`` with
    ``options`` would meet at once (container, codec, pixel format), before any work is done."""
    format_name = _container_format(Path(name))
    codec, options = _resolve_codec(options, source, format_name, Path(name).suffix, _ignore)
    _choose_pix_fmt(codec, source, options, _ignore)


class VideoWriter:
    """Encode RGB frames at given times into ``path``, copying the source's audio and subtitles.

    ``name`` is the output's real name when ``path`` is a temporary one: it picks the
    container and is the one messages show.
    """

    def __init__(
        self,
        path: Path,
        source: VideoInfo,
        rate: Fraction,
        options: EncodeOptions,
        *,
        copy_streams: bool = True,
        warn: Warn | None = None,
        name: Path | None = None,
    ):
        self.path = Path(path)
        self.name = Path(name) if name is not None else self.path
        self.rate = Fraction(rate)
        self._warn = warn or _ignore
        self._input_size = (source.width, source.height)
        self._color = source.color
        self._matrix = source.color.matrix if source.color.matrix in _SWSCALE_MATRICES else _UNSPECIFIED_MATRIX
        format_name = _container_format(self.name)
        codec, options = _resolve_codec(options, source, format_name, self.name.suffix, self._warn)
        self.pix_fmt, self._size = _choose_pix_fmt(codec, source, options, self._warn)
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
            raise EncodeError(f"cannot write {self.name}: {ffmpeg_reason(error)}") from error
        try:
            self._video = self._add_video_stream(codec, options, source)
            if copy_streams:
                self._carry_over(source.path)
            self._container.start_encoding()  # opens the encoder, writes the header
        except BaseException as error:
            self._abort()
            if isinstance(error, av.FFmpegError):
                raise EncodeError(f"cannot start encoding {self.name}: {ffmpeg_reason(error)}") from error
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
        if source.sample_aspect_ratio:  # written to the bitstream and the container alike
            context.sample_aspect_ratio = source.sample_aspect_ratio
        if codec.name == "libx265" and self._container.format.name in ("mp4", "mov"):
            stream.codec_tag = _HEVC_TAG
        if source.rotation:
            stream.set_display_rotation(source.rotation)
        return stream

    def _carry_over(self, source_path: Path) -> None:
        """The source's tags, chapters, and audio and subtitle streams (copied as they are)."""
        try:
            self._source = av.open(str(source_path), mode="r")
        except av.FFmpegError as error:
            raise EncodeError(f"cannot read the audio of {source_path}: {ffmpeg_reason(error)}") from error
        source = self._source
        _copy_tags(source.metadata, self._container.metadata, _FILE_TAGS_NOT_COPIED)
        if source.chapters():
            self._container.set_chapters(source.chapters())
        videos = [s for s in source.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if videos:
            video = videos[0]
            _copy_tags(video.metadata, self._video.metadata, _VIDEO_TAGS_NOT_COPIED)
            self._video.disposition = video.disposition
            others = (*source.streams.audio, *source.streams.subtitles)
            if others and video.start_time is not None and video.time_base:  # in sync with them
                self._origin = video.start_time * video.time_base
        for stream in (*source.streams.audio, *source.streams.subtitles):
            try:
                copy = self._container.add_stream_from_template(stream)
            except ValueError:  # the container cannot hold this codec
                hint = " (.mkv keeps it)" if self._container.format.name != "matroska" else ""
                self._warn(
                    f"{stream.type} stream #{stream.index} ({stream.codec_context.name}) cannot be "
                    f"stored in a {self.name.suffix} file and is left out{hint}"
                )
                continue
            _copy_tags(stream.metadata, copy.metadata, _STREAM_TAGS_NOT_COPIED)
            copy.disposition = stream.disposition
            self._copied[stream.index] = copy
        if self._copied:
            self._pending = source.demux(*(source.streams[i] for i in self._copied))
        else:
            self._source = None
            source.close()

    # -- writing --------------------------------------------------------------------------

    def write(self, image: np.ndarray, time: Fraction) -> None:
        """Encode ``image`` (H×W×3 RGB, uint8 or uint16) shown at ``time`` seconds from the start.

        Times must increase strictly; ``pts = round(time / time_base)`` must therefore too.
        """
        if self._container is None:
            raise ValueError(f"{self.name}: the writer is closed")
        width, height = self._input_size
        if image.shape != (height, width, 3) or image.dtype not in (np.uint8, np.uint16):
            raise ValueError(
                f"expected a {height}×{width}×3 uint8 or uint16 image, got {image.shape} {image.dtype}"
            )
        if self._size != self._input_size:  # an odd size rounded down to even (see above)
            image = image[: self._size[1], : self._size[0]]
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
                f"{self.name}: encoding failed at frame {self._frames_written}: {ffmpeg_reason(error)}"
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
            raise EncodeError(f"{self.name}: finishing the file failed: {ffmpeg_reason(error)}") from error
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
    known = ", ".join(sorted(set(CONTAINERS) - {".m4v"}))
    if not suffix:
        raise EncodeError(f"the output {path} has no extension to choose its container by (use {known})")
    if suffix not in CONTAINERS:
        raise EncodeError(f"unsupported output container '{suffix}' of {path} (use {known})")
    return CONTAINERS[suffix]


# Tags the muxer writes itself, or that describe the source's encoding rather than the content.
_FILE_TAGS_NOT_COPIED = {"encoder", "major_brand", "minor_version", "compatible_brands"}
_STREAM_TAGS_NOT_COPIED = {
    "duration", "number_of_frames", "number_of_bytes", "bps", "encoder", "vendor_id",
    "_statistics_tags", "_statistics_writing_app", "_statistics_writing_date_utc",
}  # fmt: skip
_VIDEO_TAGS_NOT_COPIED = _STREAM_TAGS_NOT_COPIED | {"handler_name", "encoder_options"}


def _copy_tags(source: dict[str, str], target: dict[str, str], skip: set[str]) -> None:
    """Copy ``source``'s tags into ``target`` but those in ``skip`` (in any case, with or
    without a language suffix: mkvmerge writes "DURATION-eng"). An mp4 track's title reads
    back as "name"; it is written from "title", so it is copied under that key."""
    for key, value in source.items():
        if key.lower().split("-")[0] in skip:
            continue
        target[key] = value
    if "name" in source and "title" not in source:
        target["title"] = source["name"]


def _resolve_codec(
    options: EncodeOptions, source: VideoInfo, format_name: str, suffix: str, warn: Warn
) -> tuple[av.Codec, EncodeOptions]:
    """The encoder: the one asked for (checked against the container), or the automatic one;
    and the options, set to 8 bits when a deep source falls back to an 8-bit default."""
    if options.codec is not None:
        codec = _video_codec(options.codec)
        _check_codec_in_container(options.codec, codec, format_name, suffix)
        return codec, options
    supported = _supported_codecs(format_name)
    usable = [name for name in _AUTO_CODECS if name in av.codecs_available and name in supported]
    if not usable:
        raise EncodeError(f"no encoder for a {suffix} file in this FFmpeg build (choose one with --codec)")
    if source.bit_depth > 8:
        deep = [name for name in _AUTO_DEEP_CODECS if name in av.codecs_available and name in supported]
        if deep:
            return _video_codec(deep[0]), options
        why = "libx265 is not in this FFmpeg build" if "libx265" not in av.codecs_available else f"a {suffix} file cannot hold HEVC"
        warn(
            f"the source is {source.bit_depth}-bit but {why}: the output is 8-bit {usable[0]} "
            "(--codec libx264 keeps 10 bits as H.264 High 10, which few hardware decoders play)"
        )
        return _video_codec(usable[0]), replace(options, pix_fmt=options.pix_fmt or "yuv420p")
    return _video_codec(usable[0]), options


def _supported_codecs(format_name: str) -> set[str]:
    # An in-memory container answers the question without creating a file.
    with av.open(io.BytesIO(), mode="w", format=format_name) as probe:
        return set(probe.supported_codecs)


def _video_codec(name: str) -> av.Codec:
    try:
        codec = av.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        raise EncodeError(f"unknown codec '{name}'") from None
    if codec.type != "video":
        raise EncodeError(f"'{name}' is not a video codec")
    return codec


def _check_codec_in_container(name: str, codec: av.Codec, format_name: str, suffix: str) -> None:
    supported = _supported_codecs(format_name)
    if name not in supported and codec.canonical_name not in supported:
        raise EncodeError(
            f"codec '{name}' cannot be stored in a {suffix} file (use .mkv, or a codec such as "
            f"{_suggest(supported)})"
        )


def _suggest(supported: set[str]) -> str:
    preferred = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1")
    names = [name for name in preferred if name in supported and name in av.codecs_available]
    return " or ".join(names[:2]) or "another one"


def _choose_pix_fmt(
    codec: av.Codec, source: VideoInfo, options: EncodeOptions, warn: Warn
) -> tuple[str, tuple[int, int]]:
    """The pixel format and the (width, height) to encode: the source's, or, for a codec that
    cannot store this 4:2:0 (4:2:2) format at an odd size, rounded down to even (see above)."""
    requested = options.pix_fmt
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
    across, down = _subsampling(pix_fmt)
    even = (width - width % across, height - height % down)
    if even != (width, height) and not _encoder_opens(codec, pix_fmt, width, height, options):
        if 0 in even or not _encoder_opens(codec, pix_fmt, *even, options):
            raise EncodeError(f"codec '{codec.name}' cannot encode the size {width}×{height} as {pix_fmt}")
        dropped = " and ".join(
            part for part, odd in (("column", even[0] != width), ("row", even[1] != height)) if odd
        )
        warn(
            f"the size {width}×{height} is odd, which {codec.name} cannot store in {pix_fmt} (the "
            f"format players expect): the output is {even[0]}×{even[1]}, its last {dropped} of "
            "pixels left out"
        )
        return pix_fmt, even
    return pix_fmt, (width, height)


def _subsampling(pix_fmt: str) -> tuple[int, int]:
    """(horizontal, vertical) chroma subsampling factor of ``pix_fmt``: (2, 2) for 4:2:0."""
    fmt = av.VideoFormat(pix_fmt, 2, 2)
    chroma = [c for c in fmt.components if c.is_chroma] or list(fmt.components)
    return 2 // min(c.width for c in chroma), 2 // min(c.height for c in chroma)


def _encoder_opens(codec: av.Codec, pix_fmt: str, width: int, height: int, options: EncodeOptions) -> bool:
    """Whether the encoder accepts this size and pixel format (tries to open it)."""
    context = av.CodecContext.create(codec.name, "w")
    context.width, context.height, context.pix_fmt = width, height, pix_fmt
    context.time_base = Fraction(1, 24)
    context.options = _codec_options(codec.name, options)
    if codec.name == "libx265":  # a refusal here is an answer, not an error to print
        context.options = {**context.options, "x265-params": "log-level=none"}
    try:
        context.open()
    except av.FFmpegError:
        return False
    return True


def _codec_options(name: str, options: EncodeOptions) -> dict[str, str]:
    if name == "libx264":
        return {"crf": str(options.crf), "preset": options.preset}
    if name == "libx265":  # x265 prints its banner itself, past FFmpeg's log level
        quiet = {} if options.verbose else {"x265-params": "log-level=error"}
        return {"crf": str(options.crf), "preset": options.preset, **quiet}
    if name == "libvpx-vp9":  # constant quality needs a zero target bitrate
        return {"crf": str(options.crf), "b": "0", "row-mt": "1"}
    if name == "libsvtav1":
        if not options.verbose:  # SVT-AV1 prints its banner itself; this is its only switch
            os.environ.setdefault("SVT_LOG", "1")  # errors only (read when the encoder opens)
        preset = options.preset if options.preset.isdigit() else str(_SVT_PRESETS.get(options.preset, 7))
        return {"crf": str(options.crf), "preset": preset}
    return {}


def _gcd(a: Fraction, b: Fraction) -> Fraction:
    """Largest rational that divides both: gcd(p/q, r/s) = gcd(p, r) / lcm(q, s)."""
    return Fraction(math.gcd(a.numerator, b.numerator), math.lcm(a.denominator, b.denominator))
