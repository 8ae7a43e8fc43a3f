"""Timing figures of a real doubling run: held drawings, the scene cut, the still end, duration.

Runs ``animeinterp double CLIP OUT --factor 2`` twice, with ``--dedup`` and ``--no-dedup``,
as a subprocess, then decodes input and outputs with PyAV and prints:

* **repeated frames in moving stretches** — the share of consecutive output frames that are
  near-identical, counted where both frames fall in *moving stretches* of the input: frames
  whose drawing changes within ``max_hold`` frames inside one shot (``drawing_spans`` is not
  None), i.e. not in a pause, not the last drawing before a cut or the end. Also over whole
  shots (pauses included). Near-identical is the detector's held-drawing test
  (:mod:`animeinterp_cli.schedule.detect`: at most 0.07 % of thumbnail pixels change) with
  two change levels: 6 grey levels, the figure the bar is read on — our crf-17 output
  repeats a frame to within a few levels, while the in-between steps of a small motion (a
  mouth opening over six output frames) change its pixels by more than that — and the
  detector's default 16 levels, which is built to ignore heavy compression noise in inputs
  and so also counts such small steps as "identical".
* **mixing at the cut** — each output frame O around the cut is fitted by least squares on
  thumbnails as a combination of the last four input frames of the first shot and the
  first five of the second; w = the first shot's share of the weights. A copy or an
  in-between within one shot has w ≈ 1 or ≈ 0 (a 3–5 px shifted frame: within 0.06); a
  cross-fade at t has w = 1 − t. Mixed = 0.1 < w < 0.9.
* **the still end** — output frames from the start of the final still: are consecutive
  frames near-identical, and how far (mean absolute difference, 0–255) from the input frame
  at the same time.
* **duration and audio** — video end (last pts + duration), audio duration, frame count, vs
  the input; each must stay within one output frame.

Usage (from the repository root)::

    .venv/bin/python bench/timing_bench.py [--clip PATH] [--model classic] [--factor 2] [--keep DIR]

Measured 2026-11-22 with the defaults (onepiece_demo.mp4, --model classic, --factor 2; 2-core
x86-64 CPU, no GPU; about 10 + 8 minutes): near-identical consecutive frames in moving
stretches 8.6 % with --dedup vs 66.0 % with --no-dedup (6 levels; 49.8 % vs 66.7 % at 16
levels); 0 of 12 output frames mixed at the cut (weights 1.00 or 0.00 ± 0.01); the still end
33/33 near-identical, at most 0.96 mean abs difference from the input; 362 frames, video end
and audio duration equal to the input's to the millisecond.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from animeinterp_cli.schedule.detect import DetectConfig, Detector, PairScores, thumbnail
from animeinterp_cli.schedule.plan import drawing_spans

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO.parent / "shared" / "samples" / "clips" / "onepiece_demo.mp4"
CUT_WINDOW = 3  # input frames either side of the cut whose output frames are checked for mixing
REPEAT_TESTS = {"6 levels": DetectConfig(change_level=6.0), "16 levels, the detector default": DetectConfig()}
MIX_THUMB_WIDTH = 96


@dataclass
class Streams:
    """What the bench needs of a video file."""

    times: list[Fraction]
    video_end: Fraction
    audio_duration: Fraction | None
    rate: Fraction


def probe(path: Path) -> Streams:
    """Frame times, video end and audio duration, read from the packets (no decoding)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        times: list[Fraction] = []
        video_end, audio_start, audio_end = Fraction(0), None, Fraction(0)
        for packet in container.demux(*(s for s in (video, audio) if s is not None)):
            if packet.pts is None:
                continue
            start = packet.pts * packet.time_base
            end = (packet.pts + packet.duration) * packet.time_base
            if packet.stream is video:
                times.append(start)
                video_end = max(video_end, end)
            else:
                audio_start = start if audio_start is None else min(audio_start, start)
                audio_end = max(audio_end, end)
        audio_duration = None if audio_start is None else audio_end - audio_start
        return Streams(sorted(times), video_end, audio_duration, Fraction(video.average_rate))


def frames(path: Path):
    """(time, RGB uint8 image) of every frame, in order."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.pts * frame.time_base, frame.to_ndarray(format="rgb24")


def input_timeline(path: Path) -> tuple[list[Fraction], list[PairScores]]:
    detector, times, scores = Detector(), [], []
    for time_, image in frames(path):
        times.append(time_)
        pair = detector.push(image)
        if pair is not None:
            scores.append(pair)
    return times, scores


def first_shot_weight(output: np.ndarray, basis: np.ndarray, first_shot_count: int) -> float:
    """The first shot's share of the least-squares weights of ``output`` on ``basis`` columns."""
    target = thumbnail(output, MIX_THUMB_WIDTH).ravel()
    weights, *_ = np.linalg.lstsq(basis, target, rcond=None)
    first, second = weights[:first_shot_count].sum(), weights[first_shot_count:].sum()
    return float(first / (first + second))


def analyse(output_path: Path, times: list[Fraction], scores: list[PairScores], originals: dict[int, np.ndarray]) -> dict:
    spans = drawing_spans(scores)
    cut = next(i for i, pair in enumerate(scores) if pair.cut)
    still_start = max(i + 1 for i, pair in enumerate(scores) if not pair.hold)
    shot_frames = [originals[i] for i in range(cut - 3, cut + 1)] + [originals[i] for i in range(cut + 1, cut + 6)]
    basis = np.stack([thumbnail(image, MIX_THUMB_WIDTH).ravel() for image in shot_frames], axis=1)

    def source(time_: Fraction) -> int:
        return bisect_right(times, time_) - 1

    detectors = {name: Detector(config) for name, config in REPEAT_TESTS.items()}
    moving = {name: 0 for name in REPEAT_TESTS}
    shots = {name: 0 for name in REPEAT_TESTS}
    moving_pairs = shot_pairs = still_pairs = still_repeats = 0
    still_error = 0.0
    cut_weights: list[float] = []
    previous_source = None
    for time_, image in frames(output_path):
        pairs = {name: detector.push(image) for name, detector in detectors.items()}
        current = source(time_)
        if previous_source is not None:
            same_shot = not any(pair.cut for pair in scores[previous_source:current])
            in_shot = same_shot and current < still_start
            in_motion = same_shot and spans[previous_source] is not None and spans[current] is not None
            shot_pairs += in_shot
            moving_pairs += in_motion
            for name, pair in pairs.items():
                shots[name] += in_shot and pair.hold
                moving[name] += in_motion and pair.hold
            if previous_source >= still_start:
                still_pairs += 1
                still_repeats += pairs["6 levels"].hold
        if current >= still_start:
            still_error = max(still_error, float(np.abs(image.astype(np.int16) - originals[current]).mean()))
        if cut - CUT_WINDOW < current <= cut + CUT_WINDOW:
            cut_weights.append(first_shot_weight(image, basis, 4))
        previous_source = current
    return {
        "moving": {name: (count, moving_pairs) for name, count in moving.items()},
        "shots": {name: (count, shot_pairs) for name, count in shots.items()},
        "still": (still_repeats, still_pairs, still_error),
        "cut": (cut, cut_weights),
    }


def run_cli(clip: Path, output: Path, *, dedup: bool, model: str, factor: int) -> float:
    command = [
        sys.executable, "-m", "animeinterp_cli", "double", str(clip), str(output),
        "--factor", str(factor), "--dedup" if dedup else "--no-dedup",
        "--model", model, "--quiet", "--overwrite",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    return time.perf_counter() - started


def share(count: int, total: int) -> str:
    return f"{count}/{total} = {count / total:.1%}" if total else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--model", default="classic")
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the outputs here instead of a temporary folder")
    args = parser.parse_args()

    times, scores = input_timeline(args.clip)
    source_streams = probe(args.clip)
    cut = next(i for i, pair in enumerate(scores) if pair.cut)
    still_start = max(i + 1 for i, pair in enumerate(scores) if not pair.hold)
    keep = set(range(cut - 3, cut + 6)) | set(range(still_start, len(times)))
    originals = {index: image for index, (_, image) in enumerate(frames(args.clip)) if index in keep}
    print(f"input: {args.clip.name}, {len(times)} frames at {source_streams.rate} fps; cut after frame {cut}; "
          f"final still from frame {still_start}; model {args.model}, factor {args.factor}")

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for dedup in (True, False):
            output = folder / f"{args.clip.stem}_x{args.factor}_{'dedup' if dedup else 'nodedup'}.mp4"
            seconds = run_cli(args.clip, output, dedup=dedup, model=args.model, factor=args.factor)
            figures = analyse(output, times, scores, originals)
            streams = probe(output)
            step = 1 / streams.rate
            label = "--dedup" if dedup else "--no-dedup"
            print(f"\n{label}: {output.name} in {seconds:.0f} s")
            for name in REPEAT_TESTS:
                print(f"  near-identical consecutive frames ({name}): moving stretches {share(*figures['moving'][name])}; "
                      f"whole shots before the still end {share(*figures['shots'][name])}")
            cut_index, weights = figures["cut"]
            mixed = [w for w in weights if 0.1 < w < 0.9]
            print(f"  cut {cut_index}→{cut_index + 1}: {len(weights)} output frames checked, {len(mixed)} mixed; "
                  f"first-shot weights {' '.join(f'{w:.2f}' for w in weights)}")
            repeats, pairs, error = figures["still"]
            print(f"  still end: {share(repeats, pairs)} consecutive pairs near-identical (6 levels); "
                  f"max mean abs difference to the input frame shown {error:.2f}")
            print(f"  frames {len(streams.times)} (input {len(source_streams.times)} × {args.factor} = "
                  f"{len(source_streams.times) * args.factor}); output frame {float(step) * 1000:.2f} ms")
            video_drift = streams.video_end - source_streams.video_end
            print(f"  video end {float(streams.video_end):.4f} s vs {float(source_streams.video_end):.4f} s: "
                  f"{float(video_drift) * 1000:+.2f} ms ({'ok' if abs(video_drift) <= step else 'OVER one frame'})")
            if source_streams.audio_duration is not None:
                if streams.audio_duration is None:
                    print("  audio: MISSING in the output")
                else:
                    audio_drift = streams.audio_duration - source_streams.audio_duration
                    print(f"  audio {float(streams.audio_duration):.4f} s vs {float(source_streams.audio_duration):.4f} s: "
                          f"{float(audio_drift) * 1000:+.2f} ms ({'ok' if abs(audio_drift) <= step else 'OVER one frame'})")


if __name__ == "__main__":
    main()
