"""execute_plan: order, batching, guidance prepared ahead in a worker thread, bounded memory."""

import os
import threading
from fractions import Fraction

import numpy as np
import pytest
import torch

from animeinterp_cli.engine.device import cpu_to_spare
from animeinterp_cli.engine.execute import execute_plan
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.schedule.plan import Copy, Synthesize
from models.interpolator import LinearBlend


class GuidedBlend(LinearBlend):
    """A blend whose "guidance" is a flow filled with the pair's first pixel value; it records
    which thread computed it and what reached ``estimate``."""

    def __init__(self, fail_on: int | None = None):
        super().__init__()
        self.guidance_threads: list[str] = []
        self.estimated_with: list[float] = []
        self.fail_on = fail_on

    def guidance(self, frame0, frame1):
        self.guidance_threads.append(threading.current_thread().name)
        if self.fail_on is not None and frame0[0, 0, 0] == self.fail_on:
            raise ValueError("guidance failed")
        flow = np.full((2, *frame0.shape[:2]), float(frame0[0, 0, 0]), np.float32)
        return flow, -flow

    def estimate(self, img0, img1, init01=None, init10=None):
        self.estimated_with.extend(init01[:, 0, 0, 0].tolist())
        return {}


def interleaved_plan(count: int) -> list:
    """2× plan of ``count`` frames: original, middle, original, …"""
    actions = []
    for i in range(count):
        actions.append(Copy(Fraction(i), i, "original"))
        if i + 1 < count:
            actions.append(Synthesize(Fraction(2 * i + 1, 2), i, i + 1, Fraction(1, 2)))
    return actions


def numbered_frames(count: int, pulled: list[int] | None = None):
    for i in range(count):
        if pulled is not None:
            pulled.append(i)
        yield i, np.full((4, 6, 3), (10 * i) % 250, np.uint8)


def test_outputs_in_plan_order_with_guidance_from_a_worker_thread(cpu_fp32):
    method = GuidedBlend()
    runner = PairRunner(method, cpu_fp32, batch_size=2)
    actions = interleaved_plan(6)
    out = list(execute_plan(actions, numbered_frames(6), runner))
    assert [a for a, _ in out] == actions
    for action, image in out:
        expected = 10 * action.source if isinstance(action, Copy) else 10 * action.a + 5
        assert image.dtype == np.uint8 and np.all(image == expected)
    # every pair's guidance reached its estimate, computed off the main thread
    assert method.estimated_with == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert method.guidance_threads and all(name.startswith("guidance") for name in method.guidance_threads)


def test_next_batch_guidance_runs_while_the_network_runs(cpu_fp32):
    both_started = threading.Barrier(2, timeout=10)

    class Overlapping(GuidedBlend):
        def guidance(self, frame0, frame1):
            if frame0[0, 0, 0] == 10:  # the second pair's guidance waits for the first estimate
                both_started.wait()
            return super().guidance(frame0, frame1)

        def estimate(self, img0, img1, init01=None, init10=None):
            if init01[0, 0, 0, 0] == 0:  # the first estimate waits for the second guidance
                both_started.wait()
            return super().estimate(img0, img1, init01, init10)

    runner = PairRunner(Overlapping(), cpu_fp32, batch_size=1)
    runner.overlap_guidance = True
    # deadlocks (BrokenBarrierError after 10 s) unless the two really run at the same time
    assert len(list(execute_plan(interleaved_plan(3), numbered_frames(3), runner))) == 5


def test_without_cpu_to_spare_guidance_waits_for_the_network(cpu_fp32):
    events = []

    class Recording(GuidedBlend):
        def guidance(self, frame0, frame1):
            events.append(("guidance", int(frame0[0, 0, 0]) // 10))
            return super().guidance(frame0, frame1)

        def estimate(self, img0, img1, init01=None, init10=None):
            events.append(("estimate", int(init01[0, 0, 0, 0]) // 10))
            return super().estimate(img0, img1, init01, init10)

    runner = PairRunner(Recording(), cpu_fp32)
    runner.overlap_guidance = False
    list(execute_plan(interleaved_plan(4), numbered_frames(4), runner))
    assert events == [(kind, k) for k in range(3) for kind in ("guidance", "estimate")]


def test_cpu_to_spare_follows_the_torch_threads(cpu_fp32, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # two cores, whatever runs the test
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert not cpu_to_spare(cpu_fp32)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert cpu_to_spare(cpu_fp32)


def test_a_long_still_is_not_pulled_into_memory_ahead(cpu_fp32):
    # pairs (0, 1) and (40, 41), 38 held originals in between: preparing the second pair
    # while the first runs would hold 40 frames
    actions = [Copy(Fraction(0), 0, "original"), Synthesize(Fraction(1, 2), 0, 1, Fraction(1, 2))]
    actions += [Copy(Fraction(i), i, "original") for i in range(1, 41)]
    actions += [Synthesize(Fraction(81, 2), 40, 41, Fraction(1, 2)), Copy(Fraction(41), 41, "original")]
    pulled: list[int] = []
    runner = PairRunner(GuidedBlend(), cpu_fp32)
    runner.overlap_guidance = True
    outputs = execute_plan(actions, numbered_frames(42, pulled), runner)
    next(outputs), next(outputs)  # the first pair is done
    assert max(pulled) <= 1
    assert len(list(outputs)) == len(actions) - 2


def test_a_guidance_error_reaches_the_caller(cpu_fp32):
    runner = PairRunner(GuidedBlend(fail_on=20), cpu_fp32)
    with pytest.raises(ValueError, match="guidance failed"):
        list(execute_plan(interleaved_plan(5), numbered_frames(5), runner))


def test_a_plan_beyond_the_input_is_an_error(cpu_fp32):
    runner = PairRunner(GuidedBlend(), cpu_fp32)
    with pytest.raises(RuntimeError, match="source frame 3"):
        list(execute_plan(interleaved_plan(4), numbered_frames(3), runner))


def test_uint16_frames_are_guided_on_their_8_bit_view(cpu_fp32):
    method = GuidedBlend()
    runner = PairRunner(method, cpu_fp32)
    frames = [(i, np.full((4, 4, 3), 257 * 10 * (i + 1), np.uint16)) for i in range(2)]
    out = list(execute_plan(interleaved_plan(2), iter(frames), runner))
    assert method.estimated_with == [10.0]  # 2570 / 65535 of full scale = 10 / 255
    assert out[1][1].dtype == np.uint16 and np.all(out[1][1] == 257 * 15)
