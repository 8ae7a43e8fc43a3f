"""Clips with scene cuts for the chunking tests: shots of flat colours, each its own palette.

``make_shots_clip`` writes a real encoded file (H.264 by default, with a sine-tone audio
track like :func:`tests.clipgen.make_clip`): shot k has its own background and disc colour
and its disc moves, so pass 1 finds a cut between shots (colour and layout both change)
and no cut inside one.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.clipgen import _add_audio, _add_subtitles, _write_cues, _write_tone

PALETTES = [
    ((40, 90, 160), (250, 200, 30)),
    ((200, 60, 50), (30, 220, 120)),
    ((20, 20, 20), (240, 240, 240)),
    ((120, 200, 90), (90, 20, 140)),
    ((230, 230, 180), (20, 60, 200)),
    ((90, 40, 20), (250, 120, 200)),
]


def shot_picture(shot: int, index: int, size: tuple[int, int]) -> np.ndarray:
    """Frame ``index`` (within its shot) of shot ``shot``: a disc moving on a flat background."""
    width, height = size
    background, disc = PALETTES[shot % len(PALETTES)]
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = background
    rows, cols = np.mgrid[0:height, 0:width]
    left = shot % 2 == 0  # alternate sides, so the layout changes at a cut too
    centre_x = (width / 5 if left else width * 4 / 5) + (2 if left else -2) * index
    centre_y = height / 2 + (shot % 3 - 1) * height / 5
    radius = height / (4 + shot % 3)
    picture[(cols - centre_x) ** 2 + (rows - centre_y) ** 2 <= radius**2] = disc
    return picture


def make_shots_clip(
    path: str | Path,
    shots: Sequence[int],
    *,
    size: tuple[int, int] = (96, 64),
    rate: Fraction = Fraction(24, 1),
    codec: str = "libx264",
    audio: bool = True,
    subtitles: bool = False,
    options: dict[str, str] | None = None,
) -> Path:
    """A clip of ``len(shots)`` shots, shot k ``shots[k]`` frames long; returns the path."""
    path = Path(path)
    rate = Fraction(rate)
    total = sum(shots)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(codec, rate=rate, options=options or {})
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.time_base = 1 / rate
        video.codec_context.time_base = 1 / rate
        sound = _add_audio(container) if audio else None
        subtitle = _add_subtitles(container) if subtitles else None
        pts = 0
        for shot, length in enumerate(shots):
            for index in range(length):
                picture = av.VideoFrame.from_ndarray(shot_picture(shot, index, size), format="rgb24")
                picture = picture.reformat(format="yuv420p")
                picture.pts = pts
                picture.time_base = 1 / rate
                pts += 1
                container.mux(video.encode(picture))
        container.mux(video.encode(None))
        end = total / rate
        if sound is not None:
            _write_tone(container, sound, end)
        if subtitle is not None:
            _write_cues(container, subtitle, end)
    return path


def cut_frames(shots: Sequence[int]) -> list[int]:
    """The first frame of every shot after the first: where the cuts are."""
    starts, position = [], 0
    for length in shots[:-1]:
        position += length
        starts.append(position)
    return starts
