"""The planner: which output frame shows what — a pure function, no video, no numpy.

Time is rational (:class:`fractions.Fraction`, seconds) end to end; every output time and
every ``t`` is an exact fraction computed from the input times, never accumulated.

**Output times** come from the :class:`Target`: with ``factor`` N each input interval
[T_i, T_i+1) gets N frames at T_i + k·(T_i+1 − T_i)/N (variable-frame-rate input keeps its
timing); with ``fps`` R the output is the uniform grid T_0 + k/R (up to the end, below).

**What each output time shows** is read off a *keyframe timeline*:

- Without dedup every input frame is a keyframe: plain pair-wise interpolation.
- With dedup, a run of input frames that show the same drawing (``hold`` pairs: anime drawn
  "on twos" or "on threes") collapses to its first frame, which is when that drawing
  appears. In-betweens are synthesised between consecutive *distinct* drawings a and b at
  their true fractional position t = (τ − T_a) / (T_b − T_a), so the motion advances at
  every output frame. The held repeats are therefore *replaced* by in-betweens at their own
  times (a 2× output of a clip on threes has no repeated frame left inside motion).
- A run longer than ``max_hold`` frames is a real pause (a still shot, a character holding
  a pose, the end of a shot): its last frame is a keyframe too, the run stays still, and
  motion resumes from its last frame. The default of 4 frames covers drawings held on ones
  to fours, the cadences of TV and film animation; a drawing held for 5+ frames (≥ 0.2 s at
  24 fps) is a pose meant to be seen. Longer spans would also turn real pauses into slow
  drift and need more frames buffered by the streaming executor. ``max_hold`` counts input
  frames, so it fits 23.976–30 fps sources; raise it for inputs at 50–60 fps.
- A scene cut between i and i+1: nothing is synthesised across it; times in [T_i, T_i+1)
  show frame i. The drawing just before a cut, and the last drawing of the video, have no
  successor to move to, so they stay still too.

In still stretches (pauses, before a cut, the end) every input frame is shown as it is at
its own time and repeated until the next one ("hold"), so small changes in a still (a
subtitle appearing) keep their timing. An input keyframe at its own time is always a
bit-exact ``Copy`` "original". A pair of bit-identical frames never reaches the model:
with dedup it is part of a held run, without dedup its in-betweens are copies
("duplicate").

The end: with ``end_time`` (video: last frame time + its duration) the last frame is held
until ``end_time``, so factor N gives exactly N·len(times) frames and the same duration.
Without it (image sequences) output stops at the last input frame: (len − 1)·N + 1 frames.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol


class PairFlags(Protocol):
    """What the planner reads of a pair's scores (:class:`~.detect.PairScores` has it)."""

    @property
    def identical(self) -> bool: ...
    @property
    def hold(self) -> bool: ...
    @property
    def cut(self) -> bool: ...


@dataclass(frozen=True)
class Copy:
    """The output frame at ``time`` is input frame ``source``, unchanged.

    ``reason``: "original" (an input frame at its own time), "hold" (a held drawing, a
    still, the frame before a cut, the last frame repeated) or "duplicate" (the pair is
    bit-identical, so copying equals synthesising).
    """

    time: Fraction
    source: int
    reason: str


@dataclass(frozen=True)
class Synthesize:
    """The output frame at ``time`` is interpolated between input frames a < b at t in (0, 1)."""

    time: Fraction
    a: int
    b: int
    t: Fraction


Action = Copy | Synthesize

DEFAULT_MAX_HOLD = 4


@dataclass(frozen=True)
class Target:
    """The output rate: ``factor`` × the input rate, or a fixed ``fps``; exactly one of them."""

    factor: int | None = None
    fps: Fraction | None = None

    def __post_init__(self) -> None:
        if (self.factor is None) == (self.fps is None):
            raise ValueError("give exactly one of a factor or a frame rate")
        if self.factor is not None:
            if isinstance(self.factor, bool) or not isinstance(self.factor, int):
                raise ValueError(f"factor must be an integer, got {self.factor!r}")
            if self.factor < 2:
                raise ValueError(f"factor must be at least 2, got {self.factor}")
        if self.fps is not None:
            if isinstance(self.fps, bool) or not isinstance(self.fps, (int, Fraction)):
                raise ValueError(f"frame rate must be an int or a Fraction, got {self.fps!r}")
            if self.fps <= 0:
                raise ValueError(f"frame rate must be positive, got {self.fps}")
            object.__setattr__(self, "fps", Fraction(self.fps))

    def output_rate(self, source_rate: Fraction) -> Fraction:
        """The nominal output rate for a source of nominal rate ``source_rate``."""
        if self.fps is not None:
            return self.fps
        assert self.factor is not None  # exactly one of them, checked on creation
        return source_rate * self.factor


_DECIMAL = re.compile(r"\d+\.(\d+)")


def parse_rate(text: str) -> Fraction:
    """A frame rate from the command line: "60", "60000/1001", "59.94", "23.976".

    Decimals that are the NTSC rates N·1000/1001 rounded (at least two decimals: 23.976,
    29.97, 59.94, 119.88, 47.952…) mean that exact rate, as every broadcast and container
    tool reads them; write a fraction (e.g. 2997/100) for the literal decimal. Raises
    ValueError with a one-line message for text that is not a positive rate.
    """
    cleaned = text.strip()
    try:
        rate = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not a frame rate: {text!r} (write e.g. 60, 60000/1001 or 59.94)") from None
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {text!r}")
    decimal = _DECIMAL.fullmatch(cleaned)
    if decimal and len(decimal.group(1)) >= 2 and rate.denominator != 1:
        ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
        if round(ntsc, len(decimal.group(1))) == rate:
            return ntsc
    return rate


def output_times(times: Sequence[Fraction], target: Target, end_time: Fraction | None) -> list[Fraction]:
    """The output frame times for ``target`` (see the module docstring)."""
    last = times[-1]
    if target.factor is not None:
        bounds = list(times) if end_time is None else [*times, end_time]
        result = [
            start + (stop - start) * k / target.factor
            for start, stop in zip(bounds, bounds[1:])
            for k in range(target.factor)
        ]
        return result if end_time is not None else [*result, last]
    assert target.fps is not None  # a Target has a factor or a rate
    step = 1 / target.fps
    count = (
        (last - times[0]) // step + 1  # every grid time <= the last frame
        if end_time is None
        else -((times[0] - end_time) // step)  # every grid time < end_time (ceiling division)
    )
    return [times[0] + k * step for k in range(count)]


def drawing_spans(
    scores: Sequence[PairFlags], *, dedup: bool = True, max_hold: int = DEFAULT_MAX_HOLD
) -> list[tuple[int, int] | None]:
    """For each input frame k: the keyframes (a, b) whose in-betweens fill [T_k, T_k+1), or
    None where the output stays still (a pause, the last drawing before a cut or the end).

    A pair shows the same drawing when ``hold`` or ``identical`` is set and it is no cut.
    """
    if max_hold < 1:
        raise ValueError(f"max_hold must be at least 1, got {max_hold}")
    count = len(scores) + 1
    if not dedup:
        return [None if k == count - 1 or scores[k].cut else (k, k + 1) for k in range(count)]
    # runs of frames showing one drawing: [start, stop)
    starts = [0] + [k + 1 for k, pair in enumerate(scores) if pair.cut or not (pair.hold or pair.identical)]
    stops = [*starts[1:], count]
    spans: list[tuple[int, int] | None] = []
    for start, stop in zip(starts, stops):
        ends_shot = stop == count or scores[stop - 1].cut
        if ends_shot or stop - start > max_hold:
            spans += [None] * (stop - start)  # still; a pause ...
            if not ends_shot:  # ... after which motion resumes from its last frame
                spans[-1] = (stop - 1, stop)
        else:
            spans += [(start, stop)] * (stop - start)
    return spans


def plan(
    times: Sequence[Fraction],
    scores: Sequence[PairFlags],
    target: Target,
    *,
    end_time: Fraction | None,
    dedup: bool = True,
    max_hold: int = DEFAULT_MAX_HOLD,
) -> list[Action]:
    """The actions that make the output, in output-time order (see the module docstring).

    ``times[i]``: presentation time of input frame i (seconds, strictly increasing);
    ``scores[i]``: the flags of the pair (i, i+1); ``end_time``: end of the last frame, or
    None for an image sequence. Every :class:`Synthesize` has a < b, b − a <= ``max_hold``
    (1 without dedup), 0 < t < 1, and no cut between a and b; the in-betweens of one pair
    are consecutive, so its flows are estimated once and reused for all its t.
    """
    times = [Fraction(time) for time in times]
    if not times:
        raise ValueError("no input frames to plan")
    if len(scores) != len(times) - 1:
        raise ValueError(f"expected {len(times) - 1} pair scores for {len(times)} frames, got {len(scores)}")
    if any(later <= earlier for earlier, later in zip(times, times[1:])):
        raise ValueError("frame times must be strictly increasing")
    if end_time is not None and end_time <= times[-1]:
        raise ValueError(f"end time {end_time} must be after the last frame time {times[-1]}")

    spans = drawing_spans(scores, dedup=dedup, max_hold=max_hold)
    actions: list[Action] = []
    for time in output_times(times, target, end_time):
        frame = bisect_right(times, time) - 1  # the input frame showing at this time
        span = spans[frame]
        if span is None:
            actions.append(Copy(time, frame, "original" if time == times[frame] else "hold"))
            continue
        a, b = span
        if time == times[a]:
            actions.append(Copy(time, a, "original"))
        elif b == a + 1 and scores[a].identical:
            actions.append(Copy(time, a, "duplicate"))
        else:
            actions.append(Synthesize(time, a, b, (time - times[a]) / (times[b] - times[a])))
    return actions
