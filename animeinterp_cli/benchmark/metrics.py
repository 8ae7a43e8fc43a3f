"""PSNR and SSIM of an interpolated frame against the ground truth, under two protocols.

Inputs: ``estimate`` is the method's output, (H, W, 3) float RGB in [0, 1], *not* quantised;
``truth`` is the ground-truth frame as read from disk, (H, W, 3) uint8 RGB. Metrics are on RGB.

``paper`` — what AnimeInterp's released test script computes (skimage ≤ 0.17, spec §9.1),
quirks included, so that numbers are comparable with the paper's table:

- the estimate stays float (no quantisation); the truth is ``uint8 / 255``;
- PSNR: data range 1.0, MSE over all pixels and channels: ``10·log10(1 / MSE)``;
- SSIM: per RGB channel with a **uniform 7×7** window (the script's ``gaussian=True`` is a
  misspelt keyword that skimage ignored), data range **2.0** (skimage's range of a float dtype,
  −1..1), so C1 = (0.01·2)² and C2 = (0.03·2)², **sample** covariances (N/(N − 1), N = 49),
  float64; each channel's SSIM map is cropped by 3 px per side (exactly the windows that fit
  inside the image) and averaged, then the three channel means are averaged.

``standard`` — the common protocol of Wang et al. (IEEE TIP 2004) on 8-bit images, what
most other interpolation papers and tools report:

- the estimate is quantised to uint8 with rounding (as it would be saved);
- PSNR: data range 255;
- SSIM: per RGB channel with an 11×11 Gaussian window (σ = 1.5), data range 255, so
  C1 = (0.01·255)² and C2 = (0.03·255)², population covariances, averaged over the windows
  that fit inside the image (the reference MATLAB code's ``'valid'`` filtering), then over
  the channels. No automatic down-sampling of large images.

An exact match has an infinite PSNR (and averages that include it are infinite too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from animeinterp_cli.engine.adapter import quantize
from animeinterp_cli.errors import ConfigError
from animeinterp_cli.options import MetricProtocol, choices


@dataclass(frozen=True)
class Scores:
    """PSNR (dB) and SSIM of one image or crop."""

    psnr: float
    ssim: float


@dataclass(frozen=True)
class _SSIMWindow:
    """A separable SSIM window (1-D weights summing to 1) and its covariance normalisation."""

    weights: np.ndarray
    sample_covariance: bool

    @property
    def size(self) -> int:
        return self.weights.size


_PAPER_WINDOW = _SSIMWindow(np.full(7, 1 / 7), sample_covariance=True)
_GAUSSIAN_OFFSETS = np.arange(-5, 6, dtype=np.float64)
_GAUSSIAN = np.exp(-(_GAUSSIAN_OFFSETS**2) / (2 * 1.5**2))
_STANDARD_WINDOW = _SSIMWindow(_GAUSSIAN / _GAUSSIAN.sum(), sample_covariance=False)


def min_side(protocol: str) -> int:
    """The smallest image side SSIM accepts under ``protocol`` (the window size)."""
    return _window(protocol).size


def score(protocol: str, estimate: np.ndarray, truth: np.ndarray) -> Scores:
    """PSNR and SSIM of ``estimate`` (float in [0, 1]) against ``truth`` (uint8) under ``protocol``."""
    if estimate.shape != truth.shape:
        raise ValueError(f"estimate {estimate.shape} and truth {truth.shape} differ in shape")
    window = _window(protocol)
    if min(truth.shape[:2]) < window.size:
        raise ValueError(f"SSIM needs at least {window.size}×{window.size} pixels, got {truth.shape[:2]}")
    if protocol == "paper":
        est = np.clip(estimate, 0, 1).astype(np.float32)
        ref = truth.astype(np.float32) / 255
        return Scores(psnr(est, ref, data_range=1.0), ssim(est, ref, window, data_range=2.0))
    est = quantize(estimate, np.uint8)
    return Scores(psnr(est, truth, data_range=255.0), ssim(est, truth, window, data_range=255.0))


def psnr(estimate: np.ndarray, truth: np.ndarray, *, data_range: float) -> float:
    """10·log10(range² / MSE), MSE over every pixel and channel, in float64."""
    mse = np.mean(np.square(estimate.astype(np.float64) - truth.astype(np.float64)))
    if mse == 0:
        return float("inf")
    return float(10 * np.log10(data_range**2 / mse))


def ssim(estimate: np.ndarray, truth: np.ndarray, window: _SSIMWindow, *, data_range: float) -> float:
    """Mean over channels of each channel's mean SSIM over the windows inside the image."""
    channels = [
        _ssim_channel(estimate[..., c].astype(np.float64), truth[..., c].astype(np.float64), window, data_range)
        for c in range(estimate.shape[-1])
    ]
    return float(np.mean(channels))


def _ssim_channel(x: np.ndarray, y: np.ndarray, window: _SSIMWindow, data_range: float) -> float:
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    n = window.size**2
    cov_norm = n / (n - 1) if window.sample_covariance else 1.0
    mean_x, mean_y = _filter_valid(x, window.weights), _filter_valid(y, window.weights)
    var_x = cov_norm * (_filter_valid(x * x, window.weights) - mean_x * mean_x)
    var_y = cov_norm * (_filter_valid(y * y, window.weights) - mean_y * mean_y)
    cov_xy = cov_norm * (_filter_valid(x * y, window.weights) - mean_x * mean_y)
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(ssim_map.mean())


def _filter_valid(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over every k×k window that fits inside ``image`` (separable weights)."""
    rows = sliding_window_view(image, weights.size, axis=0) @ weights
    return sliding_window_view(rows, weights.size, axis=1) @ weights


def _window(protocol: str) -> _SSIMWindow:
    if protocol == "paper":
        return _PAPER_WINDOW
    if protocol == "standard":
        return _STANDARD_WINDOW
    raise ConfigError(f"unknown protocol {protocol!r}; choose one of {choices(MetricProtocol)}")
