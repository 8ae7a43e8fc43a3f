"""Detector + planner on the real sample clip ``onepiece_demo.mp4`` (no model, no encoding).

The clip: 181 frames at 1199/50 fps, animated on threes, a hard cut between frames 99 and
100, a still at the end, burned-in subtitles.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from animeinterp_cli.schedule.detect import Detector, PairScores
from animeinterp_cli.schedule.plan import Copy, Synthesize, Target, drawing_spans, plan

pytestmark = pytest.mark.slow

CLIP = Path(__file__).resolve().parents[3] / "shared" / "samples" / "clips" / "onepiece_demo.mp4"
CUT = 99  # the pair (99, 100)


@pytest.fixture(scope="module")
def clip() -> tuple[list[Fraction], Fraction, list[PairScores]]:
    """(frame times, end time, pair scores), decoded once for the module."""
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} is not there")
    detector, times, scores = Detector(), [], []
    with av.open(str(CLIP)) as container:
        for frame in container.decode(video=0):
            times.append(frame.pts * frame.time_base)
            end_time = (frame.pts + frame.duration) * frame.time_base
            pair = detector.push(frame.to_ndarray(format="rgb24"))
            if pair is not None:
                scores.append(pair)
    return times, end_time, scores


def test_the_cut_threes_and_the_still_end(clip):
    _, _, scores = clip
    assert len(scores) == 180
    assert [i for i, pair in enumerate(scores) if pair.cut] == [CUT]
    changes = [i for i, pair in enumerate(scores) if not pair.hold]
    # animated on threes: most drawings are held for exactly three frames
    assert np.mean(np.diff(changes) == 3) > 0.75
    assert 40 <= len(changes) <= 60
    # the end is a still: nothing changes after the subtitle line changes at 163 → 164
    assert changes[-1] == 163
    assert all(pair.hold for pair in scores[164:])


def shown_drawing(action: Copy | Synthesize, drawing: list[int]) -> int | None:
    """The drawing an output frame shows, or None for an in-between of two drawings."""
    if isinstance(action, Copy):
        return drawing[action.source]
    return drawing[action.a] if drawing[action.a] == drawing[action.b] else None


@pytest.mark.parametrize("dedup", [True, False])
def test_doubling_plan(clip, dedup):
    times, end_time, scores = clip
    actions = plan(times, scores, Target(factor=2), end_time=end_time, dedup=dedup)
    assert len(actions) == 2 * len(times)
    assert actions[-1].time < end_time <= actions[-1].time + (end_time - times[-1]) / 2

    # nothing crosses the cut: every output frame between the two shots' frames is a copy
    for action in actions:
        if isinstance(action, Synthesize):
            assert not action.a <= CUT < action.b
    around_cut = [a for a in actions if times[CUT] <= a.time < times[CUT + 1]]
    assert around_cut == [Copy(times[CUT], CUT, "original"), Copy(around_cut[1].time, CUT, "hold")]

    # the still end stays still: one drawing; with dedup the frames as they are, then held
    drawing = np.cumsum([0] + [not pair.hold for pair in scores]).tolist()
    for action in actions:
        if action.time >= times[164]:
            assert shown_drawing(action, drawing) == drawing[-1]
            if dedup:
                assert isinstance(action, Copy)
                assert action.source == max(k for k, time in enumerate(times) if time <= action.time)

    # within the moving stretches, the share of consecutive output frames showing the same
    # drawing: about two thirds pair-wise on threes, none with dedup
    moving = [span is not None for span in drawing_spans(scores)]
    inside = [
        (first, second)
        for first, second in zip(actions, actions[1:])
        if moving[int(np.searchsorted(times, first.time, side="right")) - 1]
        and moving[int(np.searchsorted(times, second.time, side="right")) - 1]
    ]
    repeated = [
        first for first, second in inside if shown_drawing(first, drawing) is not None and shown_drawing(first, drawing) == shown_drawing(second, drawing)
    ]
    share = len(repeated) / len(inside)
    if dedup:
        assert share < 0.05
    else:
        assert 0.55 < share < 0.75


def test_sixty_fps_plan(clip):
    times, end_time, scores = clip
    actions = plan(times, scores, Target(fps=Fraction(60)), end_time=end_time)
    assert len(actions) == math.ceil((end_time - times[0]) * 60)
    assert [action.time for action in actions] == [times[0] + Fraction(k, 60) for k in range(len(actions))]
    assert not any(isinstance(a, Synthesize) and a.a <= CUT < a.b for a in actions)
