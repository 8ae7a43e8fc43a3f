# PyAV's stubs type streams, codec contexts and av.open() as unions of every kind, and leave
# submodules and errors unexported; the code narrows them at run time
# pyright: reportAttributeAccessIssue=false, reportOptionalMemberAccess=false, reportReturnType=false, reportOptionalOperand=false
"""Reading a stretch of a video by exact seek: frames ``first..last`` as :func:`read_frames` gives them.

A chunk of a long video needs only its own frames. :func:`read_frame_range` seeks to the
last keyframe at or before frame ``first`` (presentation time), decodes from there, drops the
frames before ``first`` and yields ``(index, image)`` up to ``last``. It is exact, not "close
enough":

* frames are identified by their presentation time, computed exactly as :mod:`decode` does
  (``pts · time_base`` minus the first frame's), and checked against the times of the first
  pass, which the caller gives; any frame whose time is not the expected one makes the
  reader fall back to decoding from the start and counting frames (slow, but what pass 1 saw);
* the keyframe the seek lands on must be shown at or before frame ``first``; when the demuxer
  lands later (an index by decoding time, B-frame delay) it seeks again further back. Frames
  shown after that keyframe never refer to pictures before it (closed GOPs, and open GOPs'
  CRA/recovery points alike), so they decode bit-exactly as in a read from the start;
  leading pictures before it are dropped with the rest of the frames before ``first``.
* images are converted to RGB by the same code as :func:`read_frames`.

Decoding runs in a bounded background thread, as in :func:`read_frames`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from animeinterp_cli.errors import DecodeError
from animeinterp_cli.video.decode import _open, _to_rgb, _video_stream, ffmpeg_reason, read_frames
from animeinterp_cli.video.prefetch import BackgroundIterator

#: how far back (seconds) successive seeks retry when the demuxer lands after the wanted frame
_SEEK_BACK_S = (0, 1, 4, 16, 64)


class _NotExact(Exception):
    """The seek path cannot reproduce pass 1's frames: decode from the start instead."""


def read_frame_range(
    path: str | Path, times: Sequence[Fraction], first: int, last: int, *, queue_size: int = 8
) -> BackgroundIterator[tuple[int, np.ndarray]]:
    """``(index, image)`` for source frames ``first..last`` (inclusive) of ``path``.

    ``times[i]`` is the time pass 1 gave frame ``first + i`` (at least ``last - first + 1``
    of them). Close the result (or use it as a context manager) to stop its thread early.
    """
    path = Path(path)
    wanted = [Fraction(t) for t in times[: last - first + 1]]
    if first < 0 or last < first or len(wanted) != last - first + 1:
        raise ValueError(f"bad frame range {first}..{last} for {len(times)} times")
    return BackgroundIterator(
        lambda: _frames(path, wanted, first), maxsize=queue_size, name=f"seek {path.name}"
    )


def _frames(path: Path, wanted: list[Fraction], first: int) -> Iterator[tuple[int, np.ndarray]]:
    done = 0  # frames of the range already yielded
    if first > 0:
        try:
            for image in _seeked(path, wanted, first):
                yield first + done, image
                done += 1
            if done == len(wanted):
                return
        except _NotExact:
            pass
    yield from _from_start(path, first + done, first + len(wanted) - 1)


def _from_start(path: Path, first: int, last: int) -> Iterator[tuple[int, np.ndarray]]:
    """Decode from the beginning and count: exactly what pass 1 saw."""
    with read_frames(path) as frames:
        for frame in frames:
            if frame.index > last:
                return
            if frame.index >= first:
                yield frame.index, frame.image


def _seeked(path: Path, wanted: list[Fraction], first: int) -> Iterator[np.ndarray]:
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 1)
        origin = _first_pts(container, stream)
        if origin is None:
            raise _NotExact
        origin *= time_base
        packets = _packets_from_keyframe_before(container, stream, origin + wanted[0], origin, time_base)
        position = 0
        for packet in packets:
            try:
                pictures = packet.decode()
            except av.FFmpegError as error:
                raise DecodeError(
                    f"{path}: decoding failed at frame {first + position}: {ffmpeg_reason(error)}"
                ) from error
            for picture in pictures:
                if picture.pts is None:
                    raise _NotExact
                time = picture.pts * time_base - origin
                if time < wanted[0] and position == 0:
                    continue  # before the range (or a leading picture of the keyframe)
                if time != wanted[position]:
                    raise _NotExact
                yield _to_rgb(picture)
                position += 1
                if position == len(wanted):
                    return
        if position < len(wanted):
            raise _NotExact  # the file ended early here; the plain read says how
    finally:
        container.close()


def _first_pts(container: av.container.InputContainer, stream: av.VideoStream) -> int | None:
    """The pts of the first frame in presentation order (decode's time 0), from a decode at the start."""
    for picture in container.decode(stream):
        return picture.pts
    return None


def _packets_from_keyframe_before(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    target: Fraction,
    origin: Fraction,
    time_base: Fraction,
) -> Iterator[av.Packet]:
    """Seek so that the first packet is a keyframe shown at or before ``target`` (seconds, pts
    scale), and iterate the packets from it (then a flush: the decoder's last frames)."""
    for back in _SEEK_BACK_S:
        seek_to = max(origin, target - back)
        container.seek(int(seek_to / time_base), stream=stream, backward=True, any_frame=False)
        stream.codec_context.flush_buffers()
        demuxer = container.demux(stream)
        head = next(demuxer, None)
        if head is None or head.size == 0 or head.pts is None or not head.is_keyframe:
            raise _NotExact
        if head.pts * time_base <= target:
            yield head
            yield from demuxer  # ends with an empty packet, which flushes the decoder
            return
        if seek_to == origin:
            break
    raise _NotExact
