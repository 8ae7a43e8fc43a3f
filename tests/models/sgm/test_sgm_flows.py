"""sgm_flows end to end: known motion on rendered cartoons, argument checks, odd frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from sgm_cartoons import render_pair, shape_report

from models.ops.grid import resize_flow
from models.sgm import SGMConfig, SGMInputError, sgm_flows
from models.sgm.descriptors import segment_stats
from models.sgm.flow import piecewise_flow
from models.sgm.sgm import STAGES, _to_input

FAST = SGMConfig(working_size=(480, 270), descriptor="color")


def check_result(result, height, width):
    for flow, valid in ((result.flow01, result.valid01), (result.flow10, result.valid10)):
        assert flow.shape == (2, height, width) and flow.dtype == np.float32
        assert valid.shape == (height, width) and valid.dtype == bool
        assert np.isfinite(flow).all()
        assert not flow[:, ~valid].any()  # zero where invalid
    assert set(result.timings) == set(STAGES)


def test_translated_shapes_are_matched_with_small_error():
    rng = np.random.default_rng(11)
    pair = render_pair(rng, 480, 270, shapes=5, max_shift=75, max_rotation=0, scale_range=(1, 1), radius_range=(16, 30))
    config = SGMConfig(working_size=(480, 270), descriptor="color")
    result = sgm_flows(pair.frame0, pair.frame1, config)
    check_result(result, 270, 480)
    report = shape_report(pair, result.flow01, result.valid01)
    assert report["correct"] >= 0.9 * report["shapes"]
    assert report["epe"] <= 1.0  # at half the bench size: the bench's 2 px target halved


def test_backward_flow_undoes_the_forward_one():
    pair = render_pair(np.random.default_rng(5), 480, 270, shapes=4, max_shift=60, max_rotation=0,
                       scale_range=(1, 1), radius_range=(16, 30))
    result = sgm_flows(pair.frame0, pair.frame1, FAST)
    for shape in range(1, int(pair.shape_ids0.max()) + 1):
        forward = np.median(result.flow01[:, (pair.shape_ids0 == shape) & result.valid01], axis=1)
        backward = np.median(result.flow10[:, (pair.shape_ids1 == shape) & result.valid10], axis=1)
        np.testing.assert_allclose(forward, -backward, atol=1.0)


def test_flows_come_back_at_the_input_size_in_input_pixels():
    # a 640×360 pair worked on at 320×180: vectors must be doubled on the way back
    pair = render_pair(np.random.default_rng(8), 640, 360, shapes=4, max_shift=100, max_rotation=0,
                       scale_range=(1, 1), radius_range=(30, 50))
    result = sgm_flows(pair.frame0, pair.frame1, SGMConfig(working_size=(320, 180), descriptor="color"))
    check_result(result, 360, 640)
    report = shape_report(pair, result.flow01, result.valid01)
    assert report["correct"] >= 3 and report["epe"] < 3.0


def test_identical_frames_give_near_zero_flow():
    pair = render_pair(np.random.default_rng(2), 480, 270, shapes=4, radius_range=(16, 30))
    result = sgm_flows(pair.frame0, pair.frame0, FAST)
    check_result(result, 270, 480)
    assert result.valid01.any()
    assert np.abs(result.flow01[:, result.valid01]).max() < 1.0


@pytest.mark.parametrize(
    "frame0, frame1, message",
    [
        (np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), "shape"),
        (np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 4), np.uint8), "shape"),
        (np.zeros((0, 8, 3), np.uint8), np.zeros((0, 8, 3), np.uint8), "shape"),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8), "differ"),
        ([[0]], [[0]], "numpy"),
    ],
)
def test_invalid_frames_are_value_errors(frame0, frame1, message):
    with pytest.raises(SGMInputError, match=message) as caught:
        sgm_flows(frame0, frame1, FAST)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"working_size": (8, 540)}, "at least"),
        ({"descriptor": "sift"}, "descriptor"),
        ({"dis_preset": "slow"}, "DIS"),
        ({"vgg_precision": "int8"}, "precision"),
    ],
)
def test_invalid_config_is_a_value_error(fields, message):
    with pytest.raises(SGMInputError, match=message):
        SGMConfig(**fields)


def noise(rng, height, width, grain):
    small = rng.integers(0, 256, (height // grain, width // grain, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, grain, 0), grain, 1)


ODD_FRAMES = {
    "flat": lambda rng: (np.full((270, 480, 3), 128, np.uint8),) * 2,
    "all lines": lambda rng: ((np.indices((270, 480)).sum(0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, 2),) * 2,
    "tiny": lambda rng: (rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)),
    "one pixel": lambda rng: (np.zeros((1, 1, 3), np.uint8),) * 2,
    "film grain": lambda rng: (noise(rng, 270, 480, 1), noise(rng, 270, 480, 1)),
    "blocky noise": lambda rng: (noise(rng, 270, 480, 3), noise(rng, 270, 480, 3)),
    "unrelated": lambda rng: (render_pair(rng, 480, 270).frame0, noise(rng, 270, 480, 5)),
}


@pytest.mark.parametrize("name", ODD_FRAMES)
def test_odd_frames_give_valid_flows(name):
    frame0, frame1 = ODD_FRAMES[name](np.random.default_rng(0))
    result = sgm_flows(frame0, frame1, FAST)
    check_result(result, *frame0.shape[:2])
    if name == "flat":  # one segment covering everything: nothing to match
        assert not result.valid01.any() and not result.valid10.any()


def test_4k_frames_are_worked_on_at_the_working_size():
    pair = render_pair(np.random.default_rng(4), 960, 540, shapes=3)
    big = [np.repeat(np.repeat(frame, 4, 0), 4, 1) for frame in (pair.frame0, pair.frame1)]  # 3840×2160
    result = sgm_flows(big[0], big[1], FAST)
    check_result(result, 2160, 3840)
    report = shape_report(pair, result.flow01[:, 1::4, 1::4] / 4, result.valid01[1::4, 1::4])
    assert report["correct"] >= 2


def textured_square_pair(shift=(7, 3)):
    """Grey frames with one textured 20×20 square moved by ``shift`` and its label maps."""
    rng = np.random.default_rng(0)
    texture = rng.integers(60, 200, (20, 20)).astype(np.uint8)
    texture = cv2.GaussianBlur(texture, (5, 5), 1.5)
    gray0, gray1 = np.zeros((60, 80), np.uint8), np.zeros((60, 80), np.uint8)
    labels0, labels1 = np.zeros((60, 80), np.int32), np.zeros((60, 80), np.int32)
    gray0[10:30, 10:30] = texture
    labels0[10:30, 10:30] = 1
    gray1[10 + shift[1]:30 + shift[1], 10 + shift[0]:30 + shift[0]] = texture
    labels1[10 + shift[1]:30 + shift[1], 10 + shift[0]:30 + shift[0]] = 1
    return gray0, gray1, labels0, labels1


def test_piecewise_flow_of_a_moved_square():
    gray0, gray1, labels0, labels1 = textured_square_pair((7, 3))
    stats0, stats1 = segment_stats(labels0, 2), segment_stats(labels1, 2)
    config = SGMConfig(working_size=(80, 60))
    valid = np.array([False, True])  # the background (segment 0) is not matched
    flow, mask = piecewise_flow(gray0, gray1, labels0, labels1, stats0, stats1, np.array([0, 1]), valid, config)
    assert (mask == (labels0 == 1)).all()
    np.testing.assert_allclose(flow[0][mask], 7, atol=0.5)
    np.testing.assert_allclose(flow[1][mask], 3, atol=0.5)
    assert not flow[:, ~mask].any()


def test_piecewise_flow_rejects_a_match_that_lands_elsewhere():
    # segment 1 of frame 1 is a different, flat square: DIS cannot carry the texture onto it
    gray0, gray1, labels0, labels1 = textured_square_pair((0, 0))
    gray1[:] = 0
    labels1[:] = 0
    labels1[40:44, 60:64] = 1
    gray1[40:44, 60:64] = 255
    stats0, stats1 = segment_stats(labels0, 2), segment_stats(labels1, 2)
    flow, mask = piecewise_flow(gray0, gray1, labels0, labels1, stats0, stats1, np.array([0, 1]),
                                np.array([False, True]), SGMConfig(working_size=(80, 60)))
    assert not mask.any() and not flow.any()


def test_resizing_back_samples_like_resize_flow():
    rng = np.random.default_rng(0)
    valid = rng.random((54, 96)) > 0.3
    flow = (rng.normal(size=(2, 54, 96)) * valid).astype(np.float32)
    for size in [(40, 64), (108, 192), (16, 16)]:
        resized, mask = _to_input(flow, valid, size)
        expected = resize_flow(torch.from_numpy(flow)[None], size, mode="nearest")[0].numpy()
        np.testing.assert_allclose(resized, expected, rtol=1e-6)
        assert not resized[:, ~mask].any()
