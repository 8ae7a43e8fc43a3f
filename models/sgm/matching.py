"""Segment affinity and mutual matching (spec §6.7–6.8), vectorised.

Segment i of frame 0 (rows) against segment j of frame 1 (columns).
"""

from __future__ import annotations

import numpy as np
import torch

from models.sgm.descriptors import SegmentStats

SIZE_PENALTY_SLOPE = 1 / 20  # affinity −= ratio · this when the size ratio is above the threshold
DISTANCE_PENALTY_SLOPE = 1 / 5  # affinity −= δ · this when the normalised distance is above the threshold


def histogram_intersection(descriptors0: np.ndarray, descriptors1: np.ndarray) -> np.ndarray:
    """(N0, N1) Σ_k min(d0[i, k], d1[j, k]) for non-negative descriptors.

    Uses Σ min(a, b) = (Σa + Σb − ‖a − b‖₁) / 2, so the work is one L1 distance matrix.
    """
    first = np.ascontiguousarray(descriptors0, np.float32)
    second = np.ascontiguousarray(descriptors1, np.float32)
    distance = torch.cdist(torch.from_numpy(first)[None], torch.from_numpy(second)[None], p=1)[0].numpy()
    # the rest in numpy: small torch reductions cost more in thread start-up than in work here
    return (first.sum(1)[:, None] + second.sum(1)[None, :] - distance) / 2


def affinity(
    descriptors0: np.ndarray,
    descriptors1: np.ndarray,
    stats0: SegmentStats,
    stats1: SegmentStats,
    frame_size: tuple[int, int],
    size_ratio_threshold: float,
    distance_threshold: float,
) -> np.ndarray:
    """(N0, N1) affinity: histogram intersection minus size and distance penalties.

    Size: ρ = max(n_i/n_j, n_j/n_i); if ρ > ``size_ratio_threshold``, subtract ρ/20.
    Distance: δ = centroid distance / frame diagonal (``frame_size`` = (width, height)); if
    δ > ``distance_threshold``, subtract δ/5.
    """
    result = histogram_intersection(descriptors0, descriptors1)
    areas0 = np.maximum(stats0.areas, 1).astype(np.float32)[:, None]
    areas1 = np.maximum(stats1.areas, 1).astype(np.float32)[None, :]
    ratio = np.maximum(areas0 / areas1, areas1 / areas0)
    result -= np.where(ratio > size_ratio_threshold, ratio * np.float32(SIZE_PENALTY_SLOPE), np.float32(0))
    centroids0 = stats0.centroids.astype(np.float32)
    centroids1 = stats1.centroids.astype(np.float32)
    delta = np.hypot(centroids0[:, None, 0] - centroids1[None, :, 0], centroids0[:, None, 1] - centroids1[None, :, 1])
    delta /= np.float32(np.hypot(*frame_size))
    result -= np.where(delta > distance_threshold, delta * np.float32(DISTANCE_PENALTY_SLOPE), np.float32(0))
    return result


def mutual_match(affinity_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mutual nearest neighbours in both directions (spec §6.8 with the released threshold 0).

    The original accepts a match when R(i, j) = rank of j in row i + rank of i in column j
    (0 = best) is at most its threshold; the released value 0 means exactly "j is row i's best
    and i is column j's best", computed here with two argmax calls instead of sorting.
    Returns (match01 (N0,), accepted01 (N0,) bool, match10 (N1,), accepted10 (N1,) bool).
    """
    rows, columns = affinity_matrix.shape
    if rows == 0 or columns == 0:
        return np.zeros(rows, np.int64), np.zeros(rows, bool), np.zeros(columns, np.int64), np.zeros(columns, bool)
    best_column = affinity_matrix.argmax(1)
    best_row = affinity_matrix.argmax(0)
    accepted01 = best_row[best_column] == np.arange(rows)
    accepted10 = best_column[best_row] == np.arange(columns)
    return best_column, accepted01, best_row, accepted10
