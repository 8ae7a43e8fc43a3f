# PyAV's stubs type streams, codec contexts and av.open() as unions of every kind, and leave
# submodules and errors unexported; the code narrows them at run time
# pyright: reportAttributeAccessIssue=false, reportOptionalMemberAccess=false, reportReturnType=false, reportOptionalOperand=false
"""Reading videos with PyAV: what a file holds (:func:`probe_video`) and its frames (:func:`read_frames`).

Conventions:

* Times are exact :class:`~fractions.Fraction` seconds, counted from the first frame's
  presentation time (the first frame is at 0): ``time = pts * time_base - start``. They never
  come from accumulated floats, so variable-frame-rate input keeps its timing.
* Images are H×W×3 RGB arrays: ``uint8`` for 8-bit sources and ``uint16`` spanning 0..65535
  (rgb48) for sources of more than 8 bits. The YUV→RGB conversion follows the colour matrix
  and range the file declares (BT.601 when it declares none, as FFmpeg does).
* Frames come in presentation order. The display rotation is reported, never applied: the
  encoder writes it back as metadata, so the pixels stay in coded orientation end to end.
* A file that simply ends early (a download cut short) yields the frames it holds and then
  stops: that is a clean, shorter read, and ``VideoInfo.frame_count`` may then exceed the
  number of frames read. (An mp4 whose index sits at its end loses that index when cut, and
  is refused at opening as "not a video file".) A failure inside the decoder becomes a
  one-line :class:`DecodeError` naming the file, the frame index and the time where it
  happened; with ``stop_on_error`` the reader instead ends there and keeps the error in
  ``FrameReader.failure``. What the container declares (``VideoInfo.declared_duration`` and
  ``declared_frames``) is what :mod:`animeinterp_cli.video.integrity` compares the decoded
  frames with.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from animeinterp_cli.errors import DecodeError, InputError
from animeinterp_cli.video.prefetch import BackgroundIterator

# Used only when a file declares no frame rate at all; the common rate of anime.
FALLBACK_FRAME_RATE = Fraction(24000, 1001)

# swscale's default YUV→RGB path to rgb24 is fast but biased: flat colours come back about
# 2 levels darker, and again on every pass through the tool. Accurate rounding with full
# chroma interpolation removes the bias for a few ms per frame, in the decoding thread.
# Full chroma interpolation to rgb48 is broken in swscale (it saturates a channel), and the
# deep path is unbiased without it.
_YUV_TO_RGB24 = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
_YUV_TO_RGB48 = Interpolation.BILINEAR | Interpolation.ACCURATE_RND


@dataclass(frozen=True)
class ColorInfo:
    """Colour description of a stream, as FFmpeg's enum values (AVColorPrimaries,
    AVColorTransferCharacteristic, AVColorSpace, AVColorRange); 2 (0 for range) = unspecified."""

    primaries: int
    transfer: int
    matrix: int
    range: int


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a file's (first) video stream."""

    path: Path
    width: int  # coded size of the decoded frames (before rotation)
    height: int
    frame_rate: Fraction  # average/nominal rate; FALLBACK_FRAME_RATE when the file gives none
    time_base: Fraction
    duration: Fraction | None  # seconds from the first frame to the end of the last one
    frame_count: int | None  # from the container header; may be approximate
    codec: str
    pix_fmt: str
    bit_depth: int
    rotation: int  # counter-clockwise display rotation in degrees (0 if none)
    color: ColorInfo
    audio_streams: int
    subtitle_streams: int
    # Pixel shape (width:height of one pixel; None when square or undeclared): anamorphic
    # DVD and broadcast video stores e.g. 720×480 pixels that display at 4:3 or 16:9.
    sample_aspect_ratio: Fraction | None = None
    # What the container itself states for this video stream, in a format that stores it
    # (mp4/mov, Matroska/WebM, AVI); None when it states nothing or only estimates.
    declared_duration: Fraction | None = None
    declared_frames: int | None = None


@dataclass(frozen=True)
class Frame:
    """One decoded picture."""

    index: int  # 0-based, presentation order
    time: Fraction  # seconds from the first frame's presentation time
    image: np.ndarray  # H×W×3 RGB, uint8 (8-bit source) or uint16 0..65535 (deeper source)


def last_frame_duration(info: VideoInfo) -> Fraction:
    """How long the last frame is shown: one nominal frame interval, ``1 / frame_rate``.

    The end of the video is ``last_frame.time + last_frame_duration(info)``; an output that
    ends its last frame there has the same duration as its input.
    """
    return 1 / info.frame_rate


def probe_video(path: str | Path) -> VideoInfo:
    """Describe the first video stream of ``path`` (reads the header and the first frame)."""
    path = Path(path)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        first = _first_frame(container, stream, path)
        if first is None:
            raise DecodeError(f"{path} has no video frames")
        codec_context = stream.codec_context
        pix_fmt = codec_context.pix_fmt or first.format.name
        time_base = stream.time_base or Fraction(1, 1)
        frame_rate = _nominal_rate(stream, timestamped=first.pts is not None)
        duration = _duration(container, stream, time_base)
        frame_count = stream.frames or None
        if frame_count is None and duration is not None:
            frame_count = round(duration * frame_rate)
        declared_duration, declared_frames = _declared(container, stream, time_base)
        return VideoInfo(
            path=path,
            width=codec_context.width,
            height=codec_context.height,
            frame_rate=frame_rate,
            time_base=time_base,
            duration=duration,
            frame_count=frame_count,
            codec=codec_context.codec.canonical_name,
            pix_fmt=pix_fmt,
            bit_depth=_bit_depth(pix_fmt),
            rotation=_rotation(stream, first),
            color=ColorInfo(
                primaries=codec_context.color_primaries,
                transfer=codec_context.color_trc,
                matrix=codec_context.colorspace,
                range=codec_context.color_range,
            ),
            audio_streams=len(container.streams.audio),
            subtitle_streams=len(container.streams.subtitles),
            sample_aspect_ratio=_sample_aspect_ratio(stream),
            declared_duration=declared_duration,
            declared_frames=declared_frames,
        )
    finally:
        container.close()


def read_frames(path: str | Path, *, queue_size: int = 8, stop_on_error: bool = False) -> FrameReader:
    """Decode the first video stream of ``path`` into :class:`Frame` objects, in order.

    Decoding runs in a background thread at most ``queue_size`` frames ahead of the
    consumer. The result is an iterator and a context manager: leaving the ``with`` block,
    calling ``close()``, or dropping it stops and joins the thread. Opening errors raise
    here, at once; decoding errors raise from ``next()`` as :class:`DecodeError`, or, with
    ``stop_on_error``, end the iteration and are kept in ``FrameReader.failure``. Frames
    without a timestamp (and frames whose timestamp does not advance) are placed one
    nominal frame interval after the previous frame, so times always increase.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        step = 1 / _nominal_rate(stream)
    except BaseException:
        container.close()
        raise
    frames = BackgroundIterator(
        lambda: _decode(container, stream), maxsize=queue_size, name=f"decode {path.name}"
    )
    return FrameReader(frames, path, step=step, stop_on_error=stop_on_error)


class FrameReader(Iterator[Frame]):
    """The iterator :func:`read_frames` returns; also a context manager.

    Turns a failure of the decoding thread into a one-line :class:`DecodeError` naming the
    file, the index of the frame that could not be produced and about when it was due.
    """

    def __init__(
        self, frames: BackgroundIterator[Frame], path: Path, *, step: Fraction = Fraction(0),
        stop_on_error: bool = False,
    ):  # noqa: D107
        self._frames = frames
        self._path = path
        self._step = step
        self._stop_on_error = stop_on_error
        self._delivered = 0
        self._next_time = Fraction(0)  # when the next frame is due, about
        #: with ``stop_on_error``: the error that ended decoding early, else None
        self.failure: DecodeError | None = None

    def __iter__(self) -> FrameReader:
        return self

    def __next__(self) -> Frame:
        try:
            frame = next(self._frames)
        except StopIteration:
            raise
        except Exception as error:  # FFmpeg's or our conversion's: the same one-line message
            reason = ffmpeg_reason(error) if isinstance(error, av.FFmpegError) else str(error)
            failure = DecodeError(
                f"{self._path}: decoding failed at {float(self._next_time):.3f} s "
                f"(frame {self._delivered}): {reason}"
            )
            if not self._stop_on_error:
                raise failure from error
            self.failure = failure
            raise StopIteration from error
        self._delivered += 1
        self._next_time = frame.time + self._step
        return frame

    def close(self) -> None:
        """Stop decoding and join the thread (idempotent)."""
        self._frames.close()

    @property
    def thread_alive(self) -> bool:
        """Whether the decoding thread still runs."""
        return self._frames.thread_alive

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _decode(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[Frame]:
    """The producer: decode, convert to RGB, and time every frame (runs in the thread)."""
    try:
        stream.thread_type = "AUTO"  # frame-parallel decoding inside FFmpeg as well
        time_base = stream.time_base or Fraction(1, 1)
        step = Fraction(0)  # one nominal frame interval, known from the first frame
        origin: Fraction | None = None  # pts*time_base of time 0
        previous: Fraction | None = None
        for index, picture in enumerate(container.decode(stream)):
            if index == 0:
                step = 1 / _nominal_rate(stream, timestamped=picture.pts is not None)
            expected = Fraction(0) if previous is None else previous + step
            time = expected
            if picture.pts is not None:
                if origin is None:
                    origin = picture.pts * time_base - expected
                from_pts = picture.pts * time_base - origin
                if previous is None or from_pts > previous:
                    time = from_pts
            previous = time
            yield Frame(index=index, time=time, image=_to_rgb(picture))
    finally:
        container.close()


def _to_rgb(picture: av.VideoFrame) -> np.ndarray:
    """H×W×3 RGB: uint8 for 8-bit pictures, uint16 (rgb48, 0..65535) for deeper ones."""
    deep = _bit_depth(picture.format.name) > 8
    if deep:
        return picture.to_ndarray(format="rgb48le", interpolation=_YUV_TO_RGB48)
    return picture.to_ndarray(format="rgb24", interpolation=_YUV_TO_RGB24)


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder, not a video file: {path}")
    try:
        return av.open(str(path), mode="r")
    except PermissionError as error:
        raise InputError(f"cannot read input: {path} ({error.strerror})") from error
    except av.FFmpegError as error:
        raise DecodeError(f"{path} is not a video file ({ffmpeg_reason(error)})") from error


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    # Cover art in audio files is a one-picture "video" stream; it is not a video.
    streams = [
        s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        raise DecodeError(f"{path} has no video stream")
    return streams[0]


def _first_frame(
    container: av.container.InputContainer, stream: av.VideoStream, path: Path
) -> av.VideoFrame | None:
    try:
        return next(container.decode(stream), None)
    except av.FFmpegError as error:
        raise DecodeError(f"{path}: decoding failed at frame 0: {ffmpeg_reason(error)}") from error


def _nominal_rate(stream: av.VideoStream, *, timestamped: bool = True) -> Fraction:
    """The stream's average rate; for streams without timestamps (raw H.264…), whose
    "average" is a demuxer default, the rate the codec declares comes first."""
    rates = (stream.average_rate, stream.guessed_rate, stream.base_rate)
    if not timestamped:
        rates = (stream.guessed_rate, stream.average_rate, stream.base_rate)
    for rate in rates:
        if rate:
            return Fraction(rate)
    return FALLBACK_FRAME_RATE


def _duration(
    container: av.container.InputContainer, stream: av.VideoStream, time_base: Fraction
) -> Fraction | None:
    if stream.duration:
        return stream.duration * time_base
    tagged = _parse_clock(stream.metadata.get("DURATION", ""))  # Matroska's per-track tag
    if tagged is not None:
        return tagged
    if container.duration:  # whole-file duration in microseconds (e.g. Matroska), less exact
        start = Fraction(container.start_time or 0, av.time_base)
        video_start = (stream.start_time or 0) * time_base
        return Fraction(container.duration, av.time_base) - (video_start - start)
    return None


# Formats whose headers state a stream's length (an index, a duration element), rather than
# FFmpeg estimating it from the bit rate or the timestamps at hand.
_DECLARING_FORMATS = ("mov", "mp4", "matroska", "webm", "avi")


def _declared(
    container: av.container.InputContainer, stream: av.VideoStream, time_base: Fraction
) -> tuple[Fraction | None, int | None]:
    """(duration, frame count) the container states for ``stream``, or None for each.

    The container-wide duration counts only when the file holds no other stream: it is the
    longest stream's, and audio often outlasts the video by a second or more.
    """
    if not set(container.format.name.split(",")) & set(_DECLARING_FORMATS):
        return None, None
    tags = {key.upper().split("-")[0]: value for key, value in stream.metadata.items()}  # "DURATION-eng"
    duration = stream.duration * time_base if stream.duration else _parse_clock(tags.get("DURATION", ""))
    if duration is None and container.duration and len(container.streams) == 1:
        duration = Fraction(container.duration, av.time_base)
    frames = stream.frames or None
    if frames is None and tags.get("NUMBER_OF_FRAMES", "").isdigit():  # mkvmerge's statistics
        frames = int(tags["NUMBER_OF_FRAMES"]) or None
    return (duration if duration and duration > 0 else None), frames


def _sample_aspect_ratio(stream: av.VideoStream) -> Fraction | None:
    """The container's pixel aspect ratio when it states one, else the codec's; None if square."""
    for ratio in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if ratio and ratio.numerator > 0 and ratio.denominator > 0:
            ratio = Fraction(ratio)
            return None if ratio == 1 else ratio
    return None


def _parse_clock(text: str) -> Fraction | None:
    """``"HH:MM:SS.fraction"`` → seconds, or None when it is not in that form."""
    parts = text.split(":")
    if len(parts) != 3:
        return None
    try:
        return int(parts[0]) * 3600 + int(parts[1]) * 60 + Fraction(parts[2])
    except ValueError:
        return None


def _bit_depth(pix_fmt: str) -> int:
    try:
        return max(component.bits for component in av.VideoFormat(pix_fmt).components)
    except (ValueError, TypeError):  # unknown or hardware format: assume the common case
        return 8


def _rotation(stream: av.VideoStream, first: av.VideoFrame) -> int:
    if first.rotation:
        return int(round(first.rotation)) % 360
    # Files written by old muxers carry the rotation as a clockwise 'rotate' tag instead.
    tag = stream.metadata.get("rotate")
    try:
        return -int(tag) % 360 if tag else 0
    except ValueError:
        return 0


def ffmpeg_reason(error: Exception) -> str:
    """The human part of an FFmpeg error, without errno and the C function name."""
    reason = getattr(error, "strerror", None) or str(error)
    log = getattr(error, "log", None)  # (level, name, message) of FFmpeg's last log line
    if log and len(log) == 3 and log[2]:
        reason = f"{reason}: {log[2].strip()}"
    return " ".join(reason.split())  # one line, whatever FFmpeg logged
