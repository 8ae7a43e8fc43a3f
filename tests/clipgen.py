"""Small real video clips for tests, written with PyAV.

``make_clip`` draws flat-colour pictures (a disc moving on a plain background, or noise),
encodes them with a real encoder into the container the file extension names, and adds a
sine-tone audio track and, when asked, a subtitle stream, so that tests exercise the same
code paths as real files. Everything is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BACKGROUND = (40, 90, 160)
DISC_COLOUR = (250, 200, 30)
AUDIO_RATE = 48000
TONE_HZ = 440

# Subtitle codec each container can hold, and how a cue's text becomes a packet.
_SUBTITLE_CODECS = {
    "mp4": ("mov_text", lambda text: len(text).to_bytes(2, "big") + text),
    "mov": ("mov_text", lambda text: len(text).to_bytes(2, "big") + text),
    "matroska": ("subrip", lambda text: text),
    "webm": ("webvtt", lambda text: text),
}


def frame_picture(index: int, size: tuple[int, int], moving: str) -> np.ndarray:
    """The RGB uint8 picture of frame ``index`` (H×W×3) for a clip of ``size`` = (width, height).

    ``"disc"``: a yellow disc of radius height/4 whose centre moves 3 px right per frame;
    ``"noise"``: uniform noise seeded by the index; ``"static"``: the disc at frame 0's place.
    """
    width, height = size
    if moving == "noise":
        return np.random.default_rng(index).integers(0, 256, (height, width, 3), dtype=np.uint8)
    if moving not in ("disc", "static"):
        raise ValueError(f"unknown motion {moving!r}")
    shift = 3 * index if moving == "disc" else 0
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = BACKGROUND
    rows, cols = np.mgrid[0:height, 0:width]
    centre_x, centre_y, radius = width / 4 + shift, height / 2, height / 4
    picture[(cols - centre_x) ** 2 + (rows - centre_y) ** 2 <= radius**2] = DISC_COLOUR
    return picture


def make_clip(
    path: str | Path,
    *,
    frames: int = 24,
    size: tuple[int, int] = (160, 96),
    rate: Fraction = Fraction(24, 1),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = True,
    subtitles: bool = False,
    moving: str = "disc",
    vfr_times: Sequence[Fraction] | None = None,
    rotation: int = 0,
    sample_aspect_ratio: Fraction | None = None,
    tags: Mapping[str, Mapping[str, str]] | None = None,
    dispositions: Mapping[str, int] | None = None,
    chapters: Sequence[tuple[Fraction, Fraction, str]] = (),
) -> Path:
    """Write a clip to ``path`` (container from its extension) and return the path.

    ``size`` is (width, height). ``vfr_times`` (seconds, increasing, first 0) gives each
    frame's own presentation time and overrides ``frames``; otherwise frame i is at i/rate.
    The audio track (AAC, or Opus for WebM) and the subtitle cues span the whole video,
    which lasts until one frame interval (1/rate) after the last frame. ``rotation`` is a
    counter-clockwise display rotation stored as metadata; ``sample_aspect_ratio`` the pixel
    shape (anamorphic video). ``tags`` maps "file", "video", "audio" or "subtitle" to the tags
    of the file or of that stream (language, title…), ``dispositions`` the stream kinds to
    their ``av.stream.Disposition`` flags; ``chapters`` are (start, end, title) in seconds.
    """
    path = Path(path)
    rate = Fraction(rate)
    times = list(vfr_times) if vfr_times is not None else [i / rate for i in range(frames)]
    end = (times[-1] + 1 / rate) if times else Fraction(0)
    # A time base in which every frame time is an integer: exact timestamps.
    time_base = Fraction(1, math.lcm(rate.numerator, *(Fraction(t).denominator for t in times)))

    with av.open(str(path), mode="w") as container:
        video = container.add_stream(codec, rate=rate)
        video.width, video.height = size
        video.pix_fmt = pix_fmt
        video.time_base = time_base
        video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        if sample_aspect_ratio is not None:
            video.codec_context.sample_aspect_ratio = sample_aspect_ratio
        sound = _add_audio(container) if audio else None
        subtitle = _add_subtitles(container) if subtitles else None
        streams = {"file": container, "video": video, "audio": sound, "subtitle": subtitle}
        for kind, values in (tags or {}).items():
            streams[kind].metadata.update(values)
        for kind, flags in (dispositions or {}).items():
            streams[kind].disposition = flags
        if chapters:
            container.set_chapters([
                {"id": number + 1, "start": round(start * 1000), "end": round(stop * 1000),
                 "time_base": Fraction(1, 1000), "metadata": {"title": title}}
                for number, (start, stop, title) in enumerate(chapters)
            ])  # fmt: skip

        for index, time in enumerate(times):
            picture = av.VideoFrame.from_ndarray(frame_picture(index, size, moving), format="rgb24")
            picture = picture.reformat(format=pix_fmt)
            picture.pts = round(time / time_base)
            picture.time_base = time_base
            container.mux(video.encode(picture))
        container.mux(video.encode(None))

        if sound is not None:
            _write_tone(container, sound, end)
        if subtitle is not None:
            _write_cues(container, subtitle, end)
    return path


def _add_audio(container: av.container.OutputContainer) -> av.AudioStream:
    name = "aac" if "aac" in container.supported_codecs else "libopus"
    stream = container.add_stream(name, rate=AUDIO_RATE)
    stream.layout = "mono"
    return stream


def _write_tone(container: av.container.OutputContainer, stream: av.AudioStream, end: Fraction) -> None:
    samples = round(end * AUDIO_RATE)
    tone = (0.2 * np.sin(2 * np.pi * TONE_HZ * np.arange(samples) / AUDIO_RATE)).astype(np.float32)
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, samples, chunk):
        block = av.AudioFrame.from_ndarray(tone[None, start : start + chunk], format="fltp", layout="mono")
        block.sample_rate = AUDIO_RATE
        block.pts = start
        block.time_base = Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(block))
    container.mux(stream.encode(None))


def _add_subtitles(container: av.container.OutputContainer) -> av.stream.Stream:
    codec, _ = _SUBTITLE_CODECS[container.format.name]
    stream = container.add_mux_stream(codec)
    stream.time_base = Fraction(1, 1000)
    return stream


def _write_cues(container: av.container.OutputContainer, stream: av.stream.Stream, end: Fraction) -> None:
    """Two cues splitting [0, end) in half, timestamps in milliseconds."""
    _, pack = _SUBTITLE_CODECS[container.format.name]
    end_ms = int(end * 1000)
    for number, (start, stop) in enumerate([(0, end_ms // 2), (end_ms // 2, end_ms)]):
        packet = av.Packet(pack(f"cue {number}".encode()))
        packet.stream = stream
        packet.time_base = Fraction(1, 1000)
        packet.pts = packet.dts = start
        packet.duration = stop - start
        container.mux(packet)


# --- damaged copies of a clip, as downloads and disks produce them ----------------------------


def faststart(source: str | Path, target: str | Path) -> Path:
    """Remux ``source`` (mp4) into ``target`` with the index at the front ("faststart"), as web
    video is: a copy cut short then still opens, and declares the full length."""
    target = Path(target)
    with av.open(str(source)) as inp, av.open(str(target), "w", options={"movflags": "+faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*(inp.streams[i] for i in streams)):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return target


def truncated(source: str | Path, target: str | Path, fraction: float) -> Path:
    """The first ``fraction`` of ``source``'s bytes, as a download cut short leaves it."""
    data = Path(source).read_bytes()
    Path(target).write_bytes(data[: int(len(data) * fraction)])
    return Path(target)


def with_corrupt_packet(source: str | Path, target: str | Path, which: float = 0.5) -> Path:
    """``source`` with the payload of one video packet (at ``which`` of the way through)
    overwritten with noise, the container left intact: the decoder fails there."""
    with av.open(str(source)) as container:
        places = [(p.pos, p.size) for p in container.demux(video=0) if p.size and p.pos is not None]
    position, size = places[int(len(places) * which)]
    data = bytearray(Path(source).read_bytes())
    noise = np.random.default_rng(1).integers(0, 256, size - 16, dtype=np.uint8).tobytes()
    data[position + 8 : position + size - 8] = noise
    Path(target).write_bytes(bytes(data))
    return Path(target)
