"""Real training triplets cut from animation clips, written in the ATD-12K layout.

ATD-12K was made the same way: three consecutive frames of real animation, the middle one the
ground truth. A triplet (i − 1, i, i + 1) is kept when neither of its pairs is a held drawing
or a scene cut (:class:`animeinterp_cli.schedule.detect.Detector`), so that there is motion to
learn and the middle frame really lies between the other two; one triplet in ``every`` is
written, to spread them over the clip. Frames are scaled to at most ``max_width`` pixels.

    python -m animeinterp_cli.training.clip_triplets ../shared/training/clips cache/clip_triplets
    animeinterp train runs/real --data cache/clip_triplets
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from animeinterp_cli.engine.adapter import as_uint8
from animeinterp_cli.errors import AnimeInterpError, InputError
from animeinterp_cli.schedule.detect import Detector
from animeinterp_cli.training.dataset import check_not_validation
from animeinterp_cli.video.decode import read_frames
from animeinterp_cli.video.images import write_png

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi")


def extract_triplets(clip: Path, out_dir: Path, *, every: int = 3, max_width: int = 720) -> int:
    """Write the triplets of ``clip`` as ``out_dir/<clip stem>_<middle index>/frame{1,2,3}.png``;
    returns how many were written."""
    if every < 1 or max_width < 16:
        raise ValueError("every must be ≥ 1 and max_width ≥ 16")
    detector = Detector()
    window: deque[np.ndarray] = deque(maxlen=3)
    moving: deque[bool] = deque(maxlen=2)  # whether each of the last two pairs has motion, no cut
    eligible = written = 0
    for index, frame in enumerate(read_frames(clip)):
        image = as_uint8(frame.image)
        scores = detector.push(image)
        window.append(image)
        if scores is not None:
            moving.append(not scores.hold and not scores.cut)
        if len(window) == 3 and len(moving) == 2 and all(moving):
            if eligible % every == 0:
                folder = out_dir / f"{clip.stem}_{index - 1:05d}"
                folder.mkdir(parents=True, exist_ok=True)
                for number, picture in enumerate(window, start=1):
                    write_png(folder / f"frame{number}.png", _fit(picture, max_width))
                written += 1
            eligible += 1
    return written


def _fit(image: np.ndarray, max_width: int) -> np.ndarray:
    height, width = image.shape[:2]
    if width <= max_width:
        return image
    size = (max_width, max(1, round(height * max_width / width)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("clips", type=Path, help="a clip, or a folder of clips")
    parser.add_argument("out_dir", type=Path, help="folder for the triplets (ATD-12K layout)")
    parser.add_argument("--every", type=int, default=3, help="write one eligible triplet in N")
    parser.add_argument("--max-width", type=int, default=720)
    args = parser.parse_args(argv)
    try:
        clips = sorted(p for p in args.clips.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if args.clips.is_dir() else [args.clips]
        if not clips:
            raise InputError(f"no video clips in {args.clips}")
        check_not_validation(args.out_dir)
        total = 0
        for clip in clips:
            count = extract_triplets(clip, args.out_dir, every=args.every, max_width=args.max_width)
            print(f"{clip.name}: {count} triplets")
            total += count
    except (AnimeInterpError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {total} triplets to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
