"""Descriptors, affinity and mutual matching (spec §6.6–6.8) on small hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from models.sgm import SGMConfig
from models.sgm.descriptors import SegmentStats, _soft_histogram, color_descriptors, segment_stats
from models.sgm.matching import affinity, histogram_intersection, mutual_match


def stats(areas, centroids):
    count = len(areas)
    return SegmentStats(np.asarray(areas), np.asarray(centroids, float), np.zeros((count, 4), int), np.zeros((count, 3)))


def test_segment_stats_by_hand():
    labels = np.array([[0, 0, 1], [0, 0, 1], [2, 2, 2]], np.int32)
    result = segment_stats(labels, 3)
    assert result.areas.tolist() == [4, 2, 3]
    np.testing.assert_allclose(result.centroids, [[0.5, 0.5], [2, 0.5], [1, 2]])
    assert result.boxes.tolist() == [[0, 0, 1, 1], [2, 0, 2, 1], [0, 2, 2, 2]]
    np.testing.assert_allclose(result.covariances[2], [2 / 3, 0, 0], atol=1e-12)  # a horizontal bar


def test_soft_histogram_splits_between_neighbouring_bins():
    labels = np.array([0, 1, 1])
    values = np.array([0.5, 0.25, 1.0])
    histogram = _soft_histogram(labels, values, 2, 3)  # bin centres 0, 0.5, 1
    np.testing.assert_allclose(histogram, [[0, 1, 0], [0.5, 0.5, 1]])


def test_color_descriptors_are_unit_mass_and_tell_colours_apart():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = (220, 40, 40)
    image[:, 20:] = (40, 40, 220)
    labels = np.zeros((20, 40), np.int32)
    labels[:, 20:] = 1
    descriptors = color_descriptors(image, labels, segment_stats(labels, 2), SGMConfig())
    assert descriptors.min() >= 0
    np.testing.assert_allclose(descriptors.sum(1), 1, rtol=1e-5)
    same = histogram_intersection(descriptors, descriptors)
    np.testing.assert_allclose(np.diag(same), 1, rtol=1e-5)
    assert same[0, 1] < 0.5  # red vs blue: only shape and part of the position agree


def test_histogram_intersection_by_hand():
    first = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    second = np.array([[0.25, 0.25, 0.5]])
    np.testing.assert_allclose(histogram_intersection(first, second), [[0.5], [0.25]], rtol=1e-6)


def test_affinity_penalises_size_ratio_and_distance():
    descriptors = np.array([[1.0, 0.0]])
    frame = (300, 400)  # diagonal 500
    near_same = affinity(descriptors, descriptors, stats([100], [(0, 0)]), stats([100], [(0, 0)]), frame, 3.0, 0.14)
    assert near_same[0, 0] == pytest.approx(1.0)
    ratio_four = affinity(descriptors, descriptors, stats([100], [(0, 0)]), stats([400], [(0, 0)]), frame, 3.0, 0.14)
    assert ratio_four[0, 0] == pytest.approx(1.0 - 4 / 20)
    far = affinity(descriptors, descriptors, stats([100], [(0, 0)]), stats([100], [(300, 400)]), frame, 3.0, 0.14)
    assert far[0, 0] == pytest.approx(1.0 - 1.0 / 5)  # δ = 500 / 500
    close = affinity(descriptors, descriptors, stats([100], [(0, 0)]), stats([100], [(30, 40)]), frame, 3.0, 0.14)
    assert close[0, 0] == pytest.approx(1.0)  # δ = 0.1: below the threshold, no penalty


def test_mutual_match_recovers_a_permutation():
    rng = np.random.default_rng(0)
    permutation = rng.permutation(6)
    scores = rng.uniform(0, 0.5, (6, 6))
    scores[np.arange(6), permutation] = 0.9
    match01, accepted01, match10, accepted10 = mutual_match(scores)
    assert match01.tolist() == permutation.tolist() and accepted01.all()
    assert match10[permutation].tolist() == list(range(6)) and accepted10.all()


def test_mutual_match_by_hand():
    scores = np.array([[0.9, 0.8], [0.95, 0.1]])
    # row 0 prefers column 0, but column 0 prefers row 1: only (1, 0) is mutual
    match01, accepted01, match10, accepted10 = mutual_match(scores)
    assert match01.tolist() == [0, 0] and accepted01.tolist() == [False, True]
    assert match10.tolist() == [1, 0] and accepted10.tolist() == [True, False]


def _ranks(values: np.ndarray, axis: int) -> np.ndarray:
    """Rank of each entry along ``axis`` by descending value (0 = largest), by sorting."""
    return np.argsort(np.argsort(-values, axis=axis, kind="stable"), axis=axis, kind="stable")


def test_mutual_nearest_neighbours_equal_rank_sum_zero():
    # the spec's definition: accepted iff the best rank sum R(i, j) = rank in row + rank in column is 0
    scores = np.random.default_rng(1).uniform(size=(30, 40))
    rank_sum = _ranks(scores, 1) + _ranks(scores, 0)
    _, accepted01, _, accepted10 = mutual_match(scores)
    assert accepted01.tolist() == (rank_sum.min(1) == 0).tolist()
    assert accepted10.tolist() == (rank_sum.min(0) == 0).tolist()


def test_mutual_match_of_an_empty_side():
    match01, accepted01, match10, accepted10 = mutual_match(np.zeros((3, 0)))
    assert match01.shape == (3,) and not accepted01.any() and match10.size == 0 and accepted10.size == 0
