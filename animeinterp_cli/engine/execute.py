"""Executes a plan: pulls source frames as needed, batches the syntheses, emits frames in order.

The plan (see :mod:`animeinterp_cli.schedule.plan`) is a list of ``Copy`` and ``Synthesize``
actions in output order. Source frames are pulled lazily from an iterator of
``(index, image)`` and forgotten as soon as no remaining action needs them, so memory holds a
few frames, not the video. Syntheses are gathered into batches of up to ``batch_size``
distinct pairs, so that each pair's motion is estimated once for all its t.

Overlap: when the runner has CPU to spare (``runner.overlap_guidance``: on CUDA, or with
fewer torch threads than cores), the CPU-side guidance of a batch (SGM or DIS flows,
:meth:`PairRunner.prepare`) runs in a worker thread while the network runs the batch before
it, one batch ahead, so the network does not wait for it (the decoder already runs in its own
thread), unless a long still lies between the two batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from animeinterp_cli.engine.adapter import quantize
from animeinterp_cli.engine.runner import PairJob, PairRunner
from animeinterp_cli.schedule.plan import Action, Copy, Synthesize

#: actions scanned ahead per pair of a batch (a pair spans at most a few frames × the factor)
_LOOKAHEAD_PER_PAIR = 16
#: the next batch is prepared ahead only if it needs no source frame further than this past
#: the current batch's: the frames in between (a long still) would all be held in memory
_PREPARE_AHEAD_FRAMES = 8


@dataclass
class _Segment:
    """actions[start:end]: a lone Copy (no pairs), or a batch whose syntheses use ``pairs``
    ((a, b) → the ts wanted, in plan order; Copies inside the span are emitted in place)."""

    start: int
    end: int
    pairs: dict[tuple[int, int], list[float]] = field(default_factory=dict)


def _segments(actions: Sequence[Action], batch_pairs: int) -> list[_Segment]:
    """Cut the plan into lone Copies and batches of up to ``batch_pairs`` distinct pairs; the
    look-ahead is bounded so that a long still between two pairs cannot pile frames up."""
    segments, pos = [], 0
    while pos < len(actions):
        if isinstance(actions[pos], Copy):
            segments.append(_Segment(pos, pos + 1))
            pos += 1
            continue
        segment = _Segment(pos, pos)
        while segment.end < len(actions) and segment.end - pos < _LOOKAHEAD_PER_PAIR * batch_pairs:
            candidate = actions[segment.end]
            if isinstance(candidate, Synthesize):
                key = (candidate.a, candidate.b)
                if key not in segment.pairs and len(segment.pairs) == batch_pairs:
                    break
                segment.pairs.setdefault(key, []).append(float(candidate.t))
            segment.end += 1
        segments.append(segment)
        pos = segment.end
    return segments


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
    segments = _segments(actions, runner.batch_size)
    batches = [k for k, segment in enumerate(segments) if segment.pairs]
    following = {  # batch → the next batch, to prepare ahead while this one runs
        k: n for k, n in zip(batches, batches[1:])
        if runner.overlap_guidance
        and max(b for _, b in segments[n].pairs) <= max(b for _, b in segments[k].pairs) + _PREPARE_AHEAD_FRAMES
    }

    def frame(index: int) -> np.ndarray:
        while index not in window:
            try:
                got, image = next(source)
            except StopIteration:
                raise RuntimeError(f"the plan needs source frame {index}, but the input ended before it") from None
            window[got] = image
        return window[index]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="guidance") as worker:
        prepared: dict[int, Future[list[PairJob]]] = {}

        def prepare(k: int) -> None:
            jobs = [PairJob(frame(a), frame(b), tuple(ts)) for (a, b), ts in segments[k].pairs.items()]
            prepared[k] = worker.submit(runner.prepare, jobs)

        try:
            for k, segment in enumerate(segments):
                span = actions[segment.start : segment.end]
                if not segment.pairs:
                    (copy,) = span
                    assert isinstance(copy, Copy)  # a segment without pairs is a lone Copy
                    yield copy, frame(copy.source)
                else:
                    if k not in prepared:
                        prepare(k)
                    if k in following:
                        prepare(following[k])
                    jobs = prepared.pop(k).result()
                    results = runner.run(jobs)
                    made = {
                        (a, b, t): image
                        for ((a, b), ts), images in zip(segment.pairs.items(), results)
                        for t, image in zip(ts, images)
                    }
                    dtype = jobs[0].frame0.dtype
                    for action in span:
                        if isinstance(action, Copy):
                            yield action, frame(action.source)
                        else:
                            yield action, quantize(made[(action.a, action.b, float(action.t))], dtype)
                for index in [i for i in window if i < needed[segment.end]]:
                    del window[index]
        finally:
            for future in prepared.values():  # an abandoned run must not wait for guidance ahead
                future.cancel()
