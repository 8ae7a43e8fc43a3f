"""split_plan: chunks end only at scene cuts, tile the plan, and are about the target length."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest

from animeinterp_cli.chunks.split import split_plan
from animeinterp_cli.schedule.plan import Copy, Synthesize, Target, plan


@dataclass(frozen=True)
class Pair:
    identical: bool = False
    hold: bool = False
    cut: bool = False


def timeline(shots: list[int], rate: Fraction = Fraction(24), hold_every: int = 0):
    """Times, pair flags and the cut frames of shots of the given lengths (frames)."""
    count = sum(shots)
    times = [Fraction(i) / rate for i in range(count)]
    cuts, position = set(), 0
    for length in shots[:-1]:
        position += length
        cuts.add(position)
    scores = [Pair(cut=k + 1 in cuts, hold=bool(hold_every) and k % hold_every == 0) for k in range(count - 1)]
    return times, scores, sorted(cuts), times[-1] + 1 / rate


def referenced(action) -> set[int]:
    return {action.source} if isinstance(action, Copy) else {action.a, action.b}


def check_tiling(chunks, actions, end):
    assert chunks[0].first_action == 0 and chunks[-1].stop_action == len(actions)
    for chunk, following in zip(chunks, chunks[1:]):
        assert chunk.stop_action == following.first_action
        assert chunk.end == following.start
    assert chunks[-1].end == end
    for chunk in chunks:
        span = actions[chunk.first_action : chunk.stop_action]
        assert chunk.start == span[0].time
        assert chunk.synthesized == sum(isinstance(a, Synthesize) for a in span)
        frames = set().union(*(referenced(a) for a in span))
        assert (min(frames), max(frames)) == (chunk.first_frame, chunk.last_frame)


@pytest.mark.parametrize("dedup", [True, False])
@pytest.mark.parametrize("target", [Fraction(2), Fraction(5), Fraction(3, 4), Fraction(30)])
def test_chunks_start_only_at_cuts_and_never_share_a_frame(dedup, target):
    shots = [60, 72, 48, 60]  # 10 s at 24 fps, 3 cuts
    times, scores, cuts, end = timeline(shots, hold_every=2)
    actions = plan(times, scores, Target(factor=2), end_time=end, dedup=dedup)
    chunks = split_plan(times, scores, actions, end, target)
    check_tiling(chunks, actions, end)
    starts = [0, *cuts]
    for chunk in chunks:
        assert chunk.at_cut
        assert chunk.start in {times[f] for f in starts}
        shot_start = max(f for f in starts if times[f] <= chunk.start)
        assert chunk.first_frame == shot_start  # decodes from the cut: nothing before it
    for chunk, following in zip(chunks, chunks[1:]):
        assert chunk.last_frame < following.first_frame  # independent: no frame in common


def test_shots_are_grouped_to_the_length_closest_to_the_target():
    times, scores, _, end = timeline([60, 72, 48, 60])  # 2.5, 3, 2, 2.5 s
    actions = plan(times, scores, Target(factor=2), end_time=end)
    assert [c.end - c.start for c in split_plan(times, scores, actions, end, 2)] == [2.5, 3, 2, 2.5]
    assert [c.end - c.start for c in split_plan(times, scores, actions, end, 5)] == [5.5, 4.5]
    assert [c.end - c.start for c in split_plan(times, scores, actions, end, 60)] == [10]


def test_many_short_shots_make_chunks_of_about_the_target_length():
    times, scores, _, end = timeline([12] * 40)  # 20 s of half-second shots
    actions = plan(times, scores, Target(factor=2), end_time=end)
    chunks = split_plan(times, scores, actions, end, 3)
    check_tiling(chunks, actions, end)
    assert all(c.end - c.start == 3 for c in chunks[:-1]) and len(chunks) == 7


def test_a_shot_up_to_four_chunks_long_is_never_cut():
    times, scores, _, end = timeline([24 * 8, 24])  # an 8 s shot, then 1 s; target 2 s
    actions = plan(times, scores, Target(factor=2), end_time=end)
    chunks = split_plan(times, scores, actions, end, 2)
    assert [c.end - c.start for c in chunks] == [8, 1]


def test_a_shot_longer_than_four_chunks_is_cut_inside_at_frame_times():
    times, scores, cuts, end = timeline([24, 24 * 9 + 5, 24])  # a 9.2 s shot between 1 s ones; target 2 s
    actions = plan(times, scores, Target(factor=3), end_time=end)
    chunks = split_plan(times, scores, actions, end, 2)
    check_tiling(chunks, actions, end)
    long_shot = (times[cuts[0]], times[cuts[1]])
    inside = [c for c in chunks if not c.at_cut]
    assert len(inside) >= 3 and all(long_shot[0] < c.start < long_shot[1] for c in inside)
    for chunk in chunks:
        assert chunk.start in times  # an input frame shown at its own time
        assert isinstance(actions[chunk.first_action], Copy)
        assert 1 <= chunk.end - chunk.start <= 3
        assert chunk.first_frame == times.index(chunk.start)
    assert {c.start for c in chunks if c.at_cut} <= {Fraction(0), *long_shot}


def test_a_target_rate_puts_chunk_starts_on_the_output_grid():
    times, scores, cuts, end = timeline([50, 37, 61])
    actions = plan(times, scores, Target(fps=Fraction(60)), end_time=end)
    chunks = split_plan(times, scores, actions, end, 1)
    check_tiling(chunks, actions, end)
    for chunk in chunks:
        assert (chunk.start * 60).denominator == 1
    for chunk, following in zip(chunks, chunks[1:]):
        assert chunk.last_frame < following.first_frame


def test_bad_targets_are_refused():
    times, scores, _, end = timeline([10])
    actions = plan(times, scores, Target(factor=2), end_time=end)
    with pytest.raises(ValueError):
        split_plan(times, scores, actions, end, 0)
