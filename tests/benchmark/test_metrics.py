"""Both metric protocols against independent computations on tiny images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from animeinterp_cli.benchmark.metrics import score


def direct_ssim(x: np.ndarray, y: np.ndarray, weights: np.ndarray, data_range: float, ddof: int) -> float:
    """SSIM by a double loop over every window inside the image: weighted moments per window."""
    k = weights.shape[0]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    channel_means = []
    for c in range(x.shape[2]):
        values = []
        for i in range(x.shape[0] - k + 1):
            for j in range(x.shape[1] - k + 1):
                a = x[i : i + k, j : j + k, c].astype(np.float64)
                b = y[i : i + k, j : j + k, c].astype(np.float64)
                mean_a, mean_b = (weights * a).sum(), (weights * b).sum()
                n = a.size
                norm = n / (n - ddof)
                var_a = norm * (weights * (a - mean_a) ** 2).sum()
                var_b = norm * (weights * (b - mean_b) ** 2).sum()
                cov = norm * (weights * (a - mean_a) * (b - mean_b)).sum()
                values.append(
                    (2 * mean_a * mean_b + c1) * (2 * cov + c2) / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
                )
        channel_means.append(np.mean(values))
    return float(np.mean(channel_means))


def gaussian_window() -> np.ndarray:
    offsets = np.arange(-5, 6)
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * 1.5**2))
    return window / window.sum()


@pytest.fixture
def pair(rng):
    """A 12×14 ground truth and a float estimate near it."""
    truth = rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)
    estimate = np.clip(truth / 255 + rng.normal(0, 0.05, truth.shape), 0, 1).astype(np.float32)
    return estimate, truth


def test_paper_ssim_matches_a_direct_uniform_window_sample_covariance_range_2_computation(pair):
    estimate, truth = pair
    # skimage ≤ 0.17 on float images: uniform 7×7, data range 2 (dtype range −1..1), sample
    # covariance, SSIM map cropped by 3 px = exactly the windows that lie inside the image
    expected = direct_ssim(estimate, truth.astype(np.float32) / 255, np.full((7, 7), 1 / 49), 2.0, ddof=1)
    assert score("paper", estimate, truth).ssim == pytest.approx(expected, abs=1e-9)


def test_standard_ssim_matches_a_direct_gaussian_window_computation_on_the_rounded_estimate(pair):
    estimate, truth = pair
    rounded = np.floor(estimate.astype(np.float64) * 255 + 0.5)
    expected = direct_ssim(rounded, truth, gaussian_window(), 255.0, ddof=0)
    assert score("standard", estimate, truth).ssim == pytest.approx(expected, abs=1e-9)


def test_paper_and_standard_ssim_differ_on_the_same_pair(pair):
    # the paper's range-2 constants inflate SSIM: a protocol mix-up would show here
    assert score("paper", *pair).ssim > score("standard", *pair).ssim


def test_identical_images_score_infinite_psnr_and_ssim_one(rng):
    truth = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for protocol in ("paper", "standard"):
        result = score(protocol, truth.astype(np.float32) / 255, truth)
        assert math.isinf(result.psnr)
        assert result.ssim == pytest.approx(1.0)


def test_a_known_error_gives_the_known_psnr_under_both_protocols():
    truth = np.full((16, 16, 3), 128, np.uint8)
    signs = np.where((np.indices((16, 16)).sum(0) % 2)[..., None] == 0, 1.0, -1.0)
    estimate = (truth / 255 + signs * 5 / 255).astype(np.float32)
    # every pixel is off by exactly 5 levels: MSE = (5/255)² on [0, 1], 25 on [0, 255]
    assert score("paper", estimate, truth).psnr == pytest.approx(10 * math.log10(1 / (5 / 255) ** 2), abs=1e-4)
    assert score("standard", estimate, truth).psnr == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-9)


def test_standard_rounds_the_estimate_to_8_bits_and_paper_does_not():
    truth = np.full((16, 16, 3), 100, np.uint8)
    estimate = ((truth + 0.3) / 255).astype(np.float32)  # rounds back to the truth
    assert math.isinf(score("standard", estimate, truth).psnr)
    assert score("paper", estimate, truth).psnr == pytest.approx(20 * math.log10(255 / 0.3), abs=1e-3)


def test_paper_clamps_the_estimate_to_0_1():
    truth = np.zeros((8, 8, 3), np.uint8)
    assert math.isinf(score("paper", np.full((8, 8, 3), -0.5, np.float32), truth).psnr)


@pytest.mark.parametrize(
    ("protocol", "shape", "message"),
    [("paper", (6, 20, 3), "at least 7"), ("standard", (10, 20, 3), "at least 11"), ("nope", (16, 16, 3), "unknown protocol")],
)
def test_bad_input_is_refused(protocol, shape, message):
    with pytest.raises(ValueError, match=message):
        score(protocol, np.zeros(shape, np.float32), np.zeros(shape, np.uint8))


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        score("paper", np.zeros((8, 8, 3), np.float32), np.zeros((8, 9, 3), np.uint8))
