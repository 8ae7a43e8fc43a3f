"""Splitting a plan into chunks at scene cuts — a pure function, no video.

A chunk is a run of consecutive output frames (a slice of the plan's actions) that can be
made on its own: it decodes the source frames its actions refer to, interpolates, and
encodes to its own file. Chunks end only at scene cuts: no in-between spans a cut, so the
source frames of two chunks never overlap and each chunk's first output frame is an input
frame shown at its own time. A chunk gathers whole shots until its length is as close as it
gets to ``target`` seconds; a single shot longer than ``LONG_SHOT × target`` is the one
exception: it is cut inside, at input frame times about ``target`` apart (its pieces then
decode a frame or two on both sides of the cut point, which changes nothing in the output:
the plan, not the chunking, says what each output frame shows).

Times are the plan's exact Fractions; ``end_time`` (the end of the last input frame) closes
the last shot.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from animeinterp_cli.schedule.plan import Action, Copy, PairFlags, Synthesize

#: a shot longer than this many chunk lengths is split inside
LONG_SHOT = 4


@dataclass(frozen=True)
class ChunkSpec:
    """``actions[first_action:stop_action]`` of the plan, made from source frames
    ``first_frame..last_frame`` (inclusive), shown from ``start`` (its first output frame's
    time) until ``end`` (the next chunk's start, or the end of the video)."""

    index: int
    first_action: int
    stop_action: int
    first_frame: int
    last_frame: int
    start: Fraction
    end: Fraction
    synthesized: int
    at_cut: bool  # starts at a scene cut (or at the beginning): False only inside a long shot

    @property
    def frames(self) -> int:
        """Output frames in this chunk."""
        return self.stop_action - self.first_action


def _referenced(action: Action) -> tuple[int, int]:
    if isinstance(action, Copy):
        return action.source, action.source
    return action.a, action.b


def split_plan(
    times: Sequence[Fraction],
    scores: Sequence[PairFlags],
    actions: Sequence[Action],
    end_time: Fraction,
    target: Fraction | float,
    *,
    long_shot: int = LONG_SHOT,
) -> list[ChunkSpec]:
    """Chunks of about ``target`` seconds that end at scene cuts (see the module docstring)."""
    if target <= 0:
        raise ValueError(f"chunk length must be positive, got {target}")
    if not actions:
        raise ValueError("no actions to split")
    target = Fraction(target)
    count = len(times)

    def at(frame: int) -> Fraction:
        return end_time if frame >= count else Fraction(times[frame])

    # shots: [start, stop) input frames between cuts
    starts = [0] + [k + 1 for k, pair in enumerate(scores) if pair.cut]
    shots = list(zip(starts, [*starts[1:], count]))

    # units: whole shots, or the pieces of a long one; (first frame, at a cut?)
    units: list[tuple[int, int, bool]] = []
    for start, stop in shots:
        length = at(stop) - at(start)
        if length <= long_shot * target:
            units.append((start, stop, True))
            continue
        pieces = max(2, round(length / target))
        cuts = [start]
        for j in range(1, pieces):
            wanted = at(start) + length * j / pieces
            after = bisect_left(times, wanted, lo=start, hi=stop)  # first frame at or after it
            frame = after - 1 if after == stop or wanted - times[after - 1] < times[after] - wanted else after
            if cuts[-1] < frame < stop:
                cuts.append(frame)
        bounds = [*cuts, stop]
        units += [(a, b, a == start) for a, b in zip(bounds, bounds[1:])]

    # chunks: consecutive units, each chunk as close to the target length as it gets
    groups: list[tuple[int, int, bool]] = []
    first, first_at_cut, stop = units[0][0], units[0][2], units[0][0]
    for start, stop_unit, at_cut in units:
        current, grown = at(stop) - at(first), at(stop_unit) - at(first)
        if stop > first and abs(grown - target) > abs(current - target):
            groups.append((first, stop, first_at_cut))
            first, first_at_cut = start, at_cut
        stop = stop_unit
    groups.append((first, stop, first_at_cut))

    action_times = [action.time for action in actions]
    chunks: list[ChunkSpec] = []
    for first, stop, at_cut in groups:
        begin = bisect_left(action_times, at(first))
        finish = bisect_left(action_times, at(stop)) if stop < count else len(actions)
        if finish <= begin:
            continue  # no output frame falls in this stretch (a target rate coarser than it)
        if chunks and chunks[-1].stop_action != begin:
            raise AssertionError("chunks must tile the plan")
        span = actions[begin:finish]
        referenced = [frame for action in span for frame in _referenced(action)]
        chunks.append(
            ChunkSpec(
                index=len(chunks),
                first_action=begin,
                stop_action=finish,
                first_frame=min(referenced),
                last_frame=max(referenced),
                start=span[0].time,
                end=Fraction(0),  # set below
                synthesized=sum(isinstance(action, Synthesize) for action in span),
                at_cut=at_cut,
            )
        )
    if chunks and chunks[0].first_action != 0:
        # output frames before the first chunk's stretch (cannot happen with a plan from 0)
        raise AssertionError("the first chunk must start at the first action")
    ends = [chunk.start for chunk in chunks[1:]] + [end_time]
    return [replace(chunk, index=k, end=end) for k, (chunk, end) in enumerate(zip(chunks, ends))]
