"""Procedural triplets: exact flows, occlusion masks, timing, determinism, shapes."""

from __future__ import annotations

import numpy as np
import pytest

from animeinterp_cli.training.synthetic import (
    EASE_KINDS,
    Motion,
    Scene,
    Timing,
    random_field,
    random_scene,
    random_travel,
    render_scene,
    render_synthetic,
)
from tests.training.helpers import block_layer, smooth_layer, static_background, warp_error

SIZE = (48, 72)


def square(x: int, y: int, side: int, size=SIZE) -> np.ndarray:
    """(H, W) bool mask of the screen pixels a ``block_layer`` square covers at integer position (x, y)."""
    mask = np.zeros(size, bool)
    mask[y - side // 2 : y + side // 2, x - side // 2 : x + side // 2] = True
    return mask


def test_pure_translation_gives_the_translation_as_flow_on_the_shape():
    dx, dy = 12.25, -5.5
    motion = Motion((20, 24), (20 + dx, 24 + dy))
    scene = Scene([static_background(SIZE), block_layer(10, (250, 120, 30), motion)], SIZE)
    triplet = render_scene(scene)
    shape = square(20, 24, 10)
    assert np.array_equal(triplet.flow01[0][shape], np.full(shape.sum(), dx, np.float32))
    assert np.array_equal(triplet.flow01[1][shape], np.full(shape.sum(), dy, np.float32))
    untouched = ~square(20, 24, 14) & ~square(32, 18, 16)  # background far from the square in both frames
    assert np.all(triplet.flow01[:, untouched] == 0) and np.all(triplet.flow10[:, untouched] == 0)
    # in frame1 the square sits between pixels: its inner pixels carry the reverse motion
    inner = square(32, 19, 8) & square(32, 18, 8)
    assert np.allclose(triplet.flow10[:, inner], np.array([[-dx], [-dy]]), atol=1e-4)


def test_middle_frame_follows_eased_timing_not_the_linear_midpoint():
    timing = Timing("in", 2.0)  # progress(0.5) = 0.25
    motion = Motion((16, 24), (48, 24), timing=timing)
    scene = Scene([static_background(SIZE), block_layer(8, (20, 200, 90), motion)], SIZE, t=0.5)
    triplet = render_scene(scene)
    middle = square(16 + 8, 24, 8)  # a quarter of the way: x = 24
    assert np.allclose(triplet.flow_t0[0][middle], -8) and np.allclose(triplet.flow_t1[0][middle], 24)
    assert np.all(triplet.frame_t[middle] == (20, 200, 90))
    assert not np.any(triplet.frame_t[square(32, 24, 8) & ~middle] == (20, 200, 90))  # not at the linear midpoint


@pytest.mark.parametrize("kind", EASE_KINDS)
def test_timing_runs_from_start_to_end(kind):
    timing = Timing(kind, 2.5)
    assert timing.progress(0.0) == pytest.approx(0) and timing.progress(1.0) == pytest.approx(1)
    assert (timing.progress(0.5) == pytest.approx(0.5)) == (kind in ("linear", "in_out"))


def test_occlusion_masks_of_two_overlapping_layers():
    still = block_layer(20, (240, 60, 60), Motion((20, 32), (20, 32)))
    sliding = block_layer(12, (60, 60, 240), Motion((50, 32), (26, 32)))  # slides over the left square
    triplet = render_scene(Scene([static_background(SIZE), still, sliding], SIZE))
    covered_in_frame1 = square(26, 32, 12)
    uncovered_in_frame1 = square(50, 32, 12)
    assert np.array_equal(triplet.valid01, ~covered_in_frame1)
    assert np.array_equal(triplet.valid10, ~uncovered_in_frame1)
    # hidden pixels keep their own layer's motion: the still square's stay 0, the sliding one's −24
    hidden = covered_in_frame1 & square(20, 32, 20)
    assert np.all(triplet.flow01[:, hidden] == 0)
    assert np.allclose(triplet.flow01[0][square(50, 32, 12)], -24)


def test_rotation_scale_and_deformation_flows_warp_frame1_onto_frame0(rng):
    size = (64, 64)
    field = random_field(rng, (128, 128), amplitude=6.0)
    motion = Motion((32, 32), (38, 27), angle0=0, angle1=20, scale0=1.0, scale1=1.2, strength0=-1, strength1=1)
    layer = smooth_layer(rng, 128, motion, field)  # covers the screen in all three frames
    triplet = render_scene(Scene([static_background(size), layer], size, t=0.4))
    def lands_on_screen(flow: np.ndarray) -> np.ndarray:
        ys, xs = np.mgrid[0:64, 0:64]
        x1, y1 = np.rint(xs + flow[0]), np.rint(ys + flow[1])
        return (x1 >= 0) & (x1 < 64) & (y1 >= 0) & (y1 < 64)

    # one layer everywhere: a pixel is hidden in the other frame only when it leaves the screen
    assert np.array_equal(triplet.valid01, lands_on_screen(triplet.flow01))
    assert np.array_equal(triplet.valid10, lands_on_screen(triplet.flow10))
    inside = np.zeros(size, bool)
    inside[8:-8, 8:-8] = True
    for target, source, flow in [
        (triplet.frame0, triplet.frame1, triplet.flow01),
        (triplet.frame1, triplet.frame0, triplet.flow10),
        (triplet.frame_t, triplet.frame0, triplet.flow_t0),
        (triplet.frame_t, triplet.frame1, triplet.flow_t1),
    ]:
        where = lands_on_screen(flow) & inside
        error = warp_error(target, source, flow)[where]
        # what is left is rounding to uint8 and bilinear error on a smooth texture (a 0.2 px
        # error in the flows would show as 3 or more where the texture is steepest)
        assert error.max() < 3.0 and error.mean() < 0.5, (error.max(), error.mean())


def test_rotation_and_scale_flows_match_the_closed_form(rng):
    size = (40, 40)
    motion = Motion((20, 20), (23, 18), angle0=10, angle1=-15, scale0=0.9, scale1=1.1)
    triplet = render_scene(Scene([static_background(size), smooth_layer(rng, 128, motion)], size))
    layer_pose = lambda tau: np.vstack([motion.pose(tau)[0], [0, 0, 1]])  # noqa: E731  anchor → screen
    screen_0_to_1 = layer_pose(1.0) @ np.linalg.inv(layer_pose(0.0))
    ys, xs = np.mgrid[0:40, 0:40]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    expected = (screen_0_to_1 @ points)[:2] - points[:2]
    assert np.allclose(triplet.flow01.reshape(2, -1), expected, atol=1e-3)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_triplets_warp_back_where_valid(seed):
    triplet = render_synthetic(np.random.default_rng(seed), (96, 96))
    for target, source, flow, valid in [
        (triplet.frame0, triplet.frame1, triplet.flow01, triplet.valid01),
        (triplet.frame1, triplet.frame0, triplet.flow10, triplet.valid10),
    ]:
        error = warp_error(target, source, flow)
        unwarped = np.abs(target.astype(np.float32) - source).mean(axis=2)
        assert valid.mean() > 0.3
        # only interpolation error is left on ink lines and texture edges
        assert error[valid].mean() < 1.5
        assert error[valid].mean() < 0.5 * unwarped[valid].mean() or unwarped[valid].mean() < 1.0


def test_same_seed_same_triplet_other_seed_other_triplet():
    first = render_synthetic(np.random.default_rng(7), (40, 40))
    again = render_synthetic(np.random.default_rng(7), (40, 40))
    other = render_synthetic(np.random.default_rng(8), (40, 40))
    for name in vars(first):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert not np.array_equal(first.frame0, other.frame0)


@pytest.mark.parametrize("seed", range(3))
def test_shapes_dtypes_and_ranges(seed):
    h, w = 40, 56
    triplet = render_synthetic(np.random.default_rng(seed), (h, w))
    for frame in (triplet.frame0, triplet.frame_t, triplet.frame1):
        assert frame.shape == (h, w, 3) and frame.dtype == np.uint8
    for flow in (triplet.flow01, triplet.flow10, triplet.flow_t0, triplet.flow_t1):
        assert flow.shape == (2, h, w) and flow.dtype == np.float32 and np.isfinite(flow).all()
    for valid in (triplet.valid01, triplet.valid10):
        assert valid.shape == (h, w) and valid.dtype == bool
    assert 0 < triplet.t < 1 and triplet.source == "synthetic"


def test_scenes_have_two_to_six_shapes_and_many_samples_at_the_midpoint():
    scenes = [random_scene(np.random.default_rng(seed), (32, 32)) for seed in range(40)]
    assert {len(scene.layers) - 1 for scene in scenes} <= set(range(2, 7))
    share_mid = np.mean([scene.t == 0.5 for scene in scenes])
    assert 0.5 < share_mid < 1


def test_travel_includes_very_large_motion_and_stays_bounded():
    rng = np.random.default_rng(0)
    lengths = np.array([np.hypot(*random_travel(rng, (256, 256))) for _ in range(500)])
    assert (lengths >= 100).mean() > 0.05
    assert lengths.max() <= 180
    half = np.array([np.hypot(*random_travel(rng, (128, 128))) for _ in range(500)])
    assert half.max() <= 90  # motion scales with the screen


def test_deformation_field_is_gentle_enough_to_invert(rng):
    field = random_field(rng, (50, 70), amplitude=30.0)
    assert field.shape == (50, 70, 2)
    steepest = max(np.abs(np.gradient(field[..., c], axis=a)).max() for c in range(2) for a in range(2))
    assert steepest <= 0.2 + 1e-6


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="ease kind"):
        Timing("wobble").progress(0.5)
    with pytest.raises(ValueError, match="t must be"):
        Scene([static_background(SIZE)], SIZE, t=1.0)
    with pytest.raises(ValueError, match="at least 16"):
        random_scene(np.random.default_rng(0), (8, 64))
