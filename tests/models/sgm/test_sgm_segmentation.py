"""Line map and segmentation (spec §6.1–6.5) on hand-made and rendered frames."""

from __future__ import annotations

import cv2
import numpy as np
from sgm_cartoons import render_pair

from models.sgm import SGMConfig
from models.sgm.line_map import line_map
from models.sgm.segmentation import (
    assign_line_pixels,
    merge_small_regions,
    region_adjacency,
    relabel_by_area,
    segment,
    trapped_ball_fill,
)

SMALL = SGMConfig(working_size=(320, 180))


def outlined_square(size=64, ink=(20, 20, 30), fill=(240, 140, 40), paper=(170, 200, 235)):
    image = np.empty((size, size, 3), np.uint8)
    image[:] = paper
    image[16:48, 16:48] = ink
    image[18:46, 18:46] = fill
    return image


def test_line_map_marks_the_outline_not_the_fills():
    lines = line_map(outlined_square(), SMALL)
    assert lines[16:48, 16].mean() > 0.9 and lines[17, 16:48].mean() > 0.9  # the ink ring
    assert not lines[24:40, 24:40].any()  # inside the fill
    assert not lines[:8].any() and not lines[:, :8].any()  # paper far from the ink


def test_line_map_of_a_flat_frame_is_empty():
    assert not line_map(np.full((40, 50, 3), 128, np.uint8), SMALL).any()


def test_hysteresis_drops_a_weak_edge_that_touches_no_strong_one():
    image = np.full((60, 120, 3), 128, np.uint8)
    image[:, 20:22] = 0  # strong ink stroke
    image[:, 90:] = 134  # faint step far away
    lines = line_map(image, SMALL)
    assert lines[:, 18:24].any()
    assert not lines[:, 80:].any()


def test_trapped_ball_does_not_leak_through_a_narrow_gap():
    fillable = np.ones((40, 80), bool)
    fillable[:, 30] = False  # wall between a small and a large room ...
    fillable[20, 30] = True  # ... with a 1-pixel gap that a plain flood fill would pass
    labels = trapped_ball_fill(fillable, (3, 2, 1))
    small_room, large_room = labels[5:35, 5:25], labels[5:35, 40:75]
    assert np.unique(small_room).size == 1 and np.unique(large_room).size == 1
    assert small_room[0, 0] != large_room[0, 0] and small_room[0, 0] > 0


def test_region_adjacency_counts_ring_pixels_by_hand():
    labels = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]], np.int32)
    region, neighbour, count = region_adjacency(labels)
    found = {(int(r), int(n)): int(c) for r, n, c in zip(region, neighbour, count)}
    # region 1's outer ring: two pixels of 2 (right column), two of 3 (bottom-left); and so on
    assert found == {(1, 2): 2, (1, 3): 2, (2, 1): 2, (2, 3): 1, (3, 1): 2, (3, 2): 1}


def test_region_adjacency_ignores_label_zero():
    labels = np.array([[1, 0, 2]], np.int32)
    region, _, _ = region_adjacency(labels)
    assert region.size == 0


def test_small_speck_merges_into_its_surrounding_region_and_big_regions_stay():
    image = np.zeros((60, 60, 3), np.uint8)
    image[:, :30] = (200, 30, 30)
    image[:, 30:] = (30, 30, 200)
    image[10:13, 10:13] = (190, 40, 40)  # 9-pixel speck of nearly the same red
    labels = np.where(np.arange(60)[None, :] < 30, 1, 2) * np.ones((60, 1), np.int32)
    labels[10:13, 10:13] = 3
    merged = merge_small_regions(labels, image, SGMConfig(working_size=(960, 540)))
    assert set(np.unique(merged)) == {1, 2}
    assert (merged[10:13, 10:13] == 1).all()


def test_two_small_regions_that_pick_each_other_merge_into_the_higher_label():
    """Known answer: regions 2 and 3 (60 px each, the same red, side by side across the border
    of a blue and a green region) each pick the other as merge target (best colour match,
    6 ring pixels). The original merges 2 into 3 (label order, written at once) and the
    merged piece, with two unlike neighbours, stays; a cancelled 2-cycle would leave both."""
    labels = np.ones((40, 40), np.int32)
    labels[20:] = 4
    labels[17:23, 10:20] = 2
    labels[17:23, 20:30] = 3
    image = np.empty((40, 40, 3), np.uint8)
    image[:20] = (40, 60, 200)
    image[20:] = (30, 190, 60)
    image[17:23, 10:30] = (220, 30, 30)
    merged = merge_small_regions(labels, image, SGMConfig(working_size=(960, 540)))
    expected = labels.copy()
    expected[labels == 2] = 3
    np.testing.assert_array_equal(merged, expected)


def test_a_cycle_of_three_picks_is_cut_at_its_highest_label():
    from models.sgm.segmentation import _follow

    mapping = np.array([0, 2, 3, 1, 1, 5, 4])  # 1 → 2 → 3 → 1; 4 → 1; 6 → 4; 5 stays
    np.testing.assert_array_equal(_follow(mapping), [0, 3, 3, 3, 3, 5, 3])
    np.testing.assert_array_equal(_follow(np.array([0, 2, 1])), [0, 2, 2])  # the 2-cycle


def test_line_pixels_go_to_the_nearest_region():
    labels = np.array([[1, 1, 0, 0, 2, 2]] * 3, np.int32)
    assigned = assign_line_pixels(labels)
    assert (assigned[:, :3] == 1).all() and (assigned[:, 3:] == 2).all()
    assert (assign_line_pixels(np.zeros((4, 4), np.int32)) == 0).all()  # nothing to give: one segment


def test_thinning_takes_the_first_neighbour_in_the_originals_order():
    from models.sgm.segmentation import thin_line_pixels

    labels = np.array([
        [1, 1, 1, 1, 1],
        [1, 0, 0, 0, 2],
        [3, 3, 0, 2, 2],
        [3, 3, 3, 2, 2],
    ])
    thinned = thin_line_pixels(labels)
    # row 0 and column 0 are never taken (the original's "y − 1 > 0", "x − 1 > 0"), so
    # (1,1) skips W, NW, N, NE; E and SE are lines: S = 3. (1,2): W line, NW/N/NE in row 0,
    # E line, SE = 2. (1,3): E = 2. (2,2): W = 3
    np.testing.assert_array_equal(thinned[1, 1:4], [3, 2, 2])
    assert thinned[2, 2] == 3
    lone = np.zeros((3, 3), np.int64)
    lone[:, 0] = 5  # only column 0 is filled: the quirk leaves the zeros as they are
    np.testing.assert_array_equal(thin_line_pixels(lone), lone)


def test_relabel_ranks_segments_by_area_ascending():
    labels = np.array([[7, 7, 7, 2, 2, 5]], np.int32)
    ranked, areas = relabel_by_area(labels)
    assert ranked.tolist() == [[2, 2, 2, 1, 1, 0]]
    assert areas.tolist() == [1, 2, 3]


def test_rendered_shapes_become_pure_segments():
    pair = render_pair(np.random.default_rng(3), 320, 180, shapes=4, radius_range=(18.0, 30.0))
    labels, areas = segment(pair.frame0, SMALL)
    shapes = int(pair.shape_ids0.max())
    assert labels.shape == (180, 320) and areas.sum() == 320 * 180
    assert shapes + 1 <= areas.size <= shapes + 3  # the shapes, the paper, at most a stray piece or two
    for shape in range(1, shapes + 1):
        inside = pair.shape_ids0 == shape
        values, counts = np.unique(labels[inside], return_counts=True)
        main = values[np.argmax(counts)]
        with_outline = cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        assert counts.max() / inside.sum() > 0.9  # the shape is one segment ...
        assert with_outline[labels == main].mean() > 0.97  # ... which holds nothing but the shape and its outline
