"""Test clips for the bench scripts: the real sample clip, scaled and looped to any length."""

from __future__ import annotations

from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CLIP = REPO.parent / "shared" / "samples" / "clips" / "onepiece_demo.mp4"


def scaled_clip(path: Path, size: tuple[int, int], frames: int) -> Path:
    """``frames`` frames of ``onepiece_demo.mp4`` (a real anime clip with a cut and held
    drawings) scaled to ``size`` = (width, height), looped when longer than the clip; H.264,
    no audio, at the sample's own frame rate."""
    width, height = size
    with av.open(str(SAMPLE_CLIP)) as source:
        rate = source.streams.video[0].average_rate
        pictures = [f.reformat(width=width, height=height, format="yuv420p") for f in source.decode(video=0)]
    with av.open(str(path), "w") as target:
        stream = target.add_stream("libx264", rate=rate, options={"crf": "16", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            picture = pictures[index % len(pictures)]
            picture.pts = None
            for packet in stream.encode(picture):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return path
