import numpy as np
import pytest
import torch

from animeinterp_cli.engine.runner import PairJob, PairRunner
from models.interpolator import LinearBlend


class CountingBlend(LinearBlend):
    """A blend that counts motion estimates and records the sizes it sees."""

    size_multiple = 8

    def __init__(self):
        super().__init__()
        self.estimates = 0
        self.sizes = []

    def estimate(self, img0, img1, init01=None, init10=None):
        self.estimates += img0.shape[0]
        self.sizes.append(tuple(img0.shape[-2:]))
        return {"marker": torch.arange(img0.shape[0], dtype=torch.float32)}


def test_three_times_reuse_one_estimate(cpu_fp32):
    method = CountingBlend()
    runner = PairRunner(method, cpu_fp32, batch_size=2)
    a = np.zeros((13, 21, 3), np.uint8)
    b = np.full((13, 21, 3), 200, np.uint8)
    outputs = runner.interpolate(a, b, [0.25, 0.5, 0.75])
    assert method.estimates == 1 and runner.pairs_estimated == 1
    assert method.sizes == [(16, 24)]  # padded to the method's multiple
    assert [o.shape for o in outputs] == [(13, 21, 3)] * 3
    for t, out in zip([0.25, 0.5, 0.75], outputs):
        np.testing.assert_allclose(out, 200 / 255 * t, atol=1e-6)


def test_batches_keep_job_order(cpu_fp32):
    method = CountingBlend()
    runner = PairRunner(method, cpu_fp32, batch_size=2)
    jobs = [
        PairJob(np.full((4, 4, 3), 10 * k, np.uint8), np.full((4, 4, 3), 10 * k + 100, np.uint8), ts)
        for k, ts in enumerate([(0.5,), (0.25, 0.75), (0.5,)])
    ]
    results = runner.run(jobs)
    assert method.estimates == 3
    assert [len(r) for r in results] == [1, 2, 1]
    np.testing.assert_allclose(results[1][1], (10 + 0.75 * 100) / 255, atol=1e-6)
    np.testing.assert_allclose(results[2][0], (20 + 50) / 255, atol=1e-6)


def test_initial_flows_reach_the_method_padded(cpu_fp32):
    seen = {}

    class Recorder(CountingBlend):
        def estimate(self, img0, img1, init01=None, init10=None):
            seen.update(init01=init01, init10=init10)
            return super().estimate(img0, img1)

    runner = PairRunner(Recorder(), cpu_fp32)
    frame = np.zeros((10, 10, 3), np.uint8)
    flow = np.ones((2, 10, 10), np.float32)
    runner.interpolate(frame, frame, [0.5], init_flows=(flow, -flow))
    assert seen["init01"].shape == (1, 2, 16, 16)
    assert torch.all(seen["init10"] == -1)


def test_batch_size_must_be_positive(cpu_fp32):
    with pytest.raises(ValueError):
        PairRunner(LinearBlend(), cpu_fp32, batch_size=0)
