"""Backward warping."""

import torch

from models.ops.warp import backward_warp


def test_zero_flow_is_the_identity():
    image = torch.rand(1, 3, 5, 7)
    torch.testing.assert_close(backward_warp(image, torch.zeros(1, 2, 5, 7)), image)


def test_one_pixel_shift_samples_the_right_neighbour():
    image = torch.rand(1, 2, 4, 6)
    flow = torch.zeros(1, 2, 4, 6)
    flow[:, 0] = 1.0
    out = backward_warp(image, flow)
    torch.testing.assert_close(out[..., :-1], image[..., 1:])
    torch.testing.assert_close(out[..., -1], image[..., -1])  # border padding


def test_zero_padding_outside():
    image = torch.ones(1, 1, 3, 3)
    flow = torch.full((1, 2, 3, 3), 10.0)
    assert torch.equal(backward_warp(image, flow, padding_mode="zeros"), torch.zeros(1, 1, 3, 3))
