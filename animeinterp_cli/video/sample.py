"""A few frames spread over a clip, for material that needs pictures rather than the sequence."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from animeinterp_cli.errors import InputError


def spread_frames(path: Path, count: int) -> list[tuple[float, np.ndarray]]:
    """``count`` frames spread over the clip's duration, as (seconds, (H, W, 3) uint8 RGB),
    sorted by time; each seek lands on the key frame before its target, so two targets may
    give one frame (kept once)."""
    frames: dict[float, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            duration = stream.duration or 0
            for k in range(count):
                container.seek(int(duration * (k + 0.5) / count), stream=stream)
                frame = next(container.decode(stream), None)
                if frame is not None and frame.time is not None:
                    frames[float(frame.time)] = frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, IndexError) as exc:
        raise InputError(f"cannot decode clip {path}: {exc}") from exc
    return sorted(frames.items())
