"""Executes a plan: pulls source frames as needed, batches the syntheses, emits frames in order.

The plan (see :mod:`animeinterp_cli.schedule.plan`) is a list of ``Copy`` and ``Synthesize``
actions in output order. Source frames are pulled lazily from an iterator of
``(index, image)`` and forgotten as soon as no remaining action needs them, so memory holds a
few frames, not the video. Syntheses are gathered ahead, up to ``batch_size`` distinct pairs,
so that each pair's motion is estimated once for all its t.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from animeinterp_cli.engine.adapter import quantize
from animeinterp_cli.engine.runner import PairJob, PairRunner
from animeinterp_cli.schedule.plan import Action, Copy, Synthesize


#: actions scanned ahead per pair of a batch (a pair spans at most a few frames × the factor)
_LOOKAHEAD_PER_PAIR = 16


def _referenced(action: Action) -> int:
    """The lowest source index an action needs."""
    return action.source if isinstance(action, Copy) else action.a


def _suffix_min_references(actions: Sequence[Action]) -> list[int]:
    """needed[k] = lowest source index any of actions[k:] refers to (a sentinel past the end)."""
    needed = [0] * (len(actions) + 1)
    needed[-1] = 1 << 62
    for k in range(len(actions) - 1, -1, -1):
        needed[k] = min(_referenced(actions[k]), needed[k + 1])
    return needed


def execute_plan(
    actions: Sequence[Action],
    frames: Iterable[tuple[int, np.ndarray]],
    runner: PairRunner,
) -> Iterator[tuple[Action, np.ndarray]]:
    """Yield ``(action, image)`` for every action in order; images keep the source dtype."""
    source = iter(frames)
    window: dict[int, np.ndarray] = {}
    needed = _suffix_min_references(actions)
    batch_pairs = runner.batch_size

    def frame(index: int) -> np.ndarray:
        while index not in window:
            try:
                got, image = next(source)
            except StopIteration:
                raise RuntimeError(f"the plan needs source frame {index}, but the input ended before it") from None
            window[got] = image
        return window[index]

    pos = 0
    while pos < len(actions):
        action = actions[pos]
        if isinstance(action, Copy):
            yield action, frame(action.source)
            pos += 1
        else:
            # gather the next syntheses, up to batch_pairs distinct pairs; the look-ahead is
            # bounded so that a long still between two pairs cannot pile frames up in memory
            end, pairs = pos, {}
            while end < len(actions) and end - pos < _LOOKAHEAD_PER_PAIR * batch_pairs:
                candidate = actions[end]
                if isinstance(candidate, Synthesize):
                    key = (candidate.a, candidate.b)
                    if key not in pairs and len(pairs) == batch_pairs:
                        break
                    pairs.setdefault(key, []).append(candidate.t)
                end += 1
            jobs = [PairJob(frame(a), frame(b), tuple(float(t) for t in ts)) for (a, b), ts in pairs.items()]
            results = runner.run(jobs)
            made = {
                (a, b, t): image
                for ((a, b), ts), images in zip(pairs.items(), results)
                for t, image in zip(ts, images)
            }
            dtype = jobs[0].frame0.dtype
            for action in actions[pos:end]:
                if isinstance(action, Copy):
                    yield action, frame(action.source)
                else:
                    yield action, quantize(made[(action.a, action.b, action.t)], dtype)
            pos = end
        for index in [i for i in window if i < needed[pos]]:
            del window[index]
