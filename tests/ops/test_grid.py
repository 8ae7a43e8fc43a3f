"""Pixel grids and flow resizing."""

import pytest
import torch

from models.ops.grid import coords_grid, resize_flow


def test_coords_grid_holds_x_then_y():
    grid = coords_grid(2, 3, 4)
    assert grid.shape == (2, 2, 3, 4)
    assert torch.equal(grid[1, 0, 2], torch.arange(4.0))
    assert torch.equal(grid[0, 1, :, 3], torch.arange(3.0))


def test_nearest_resize_takes_every_other_pixel_and_scales_vectors():
    flow = torch.arange(2 * 4 * 6, dtype=torch.float32).view(1, 2, 4, 6)
    small = resize_flow(flow, (2, 3), mode="nearest")
    torch.testing.assert_close(small, flow[..., ::2, ::2] * 0.5)


def test_anisotropic_bilinear_resize_scales_each_axis():
    flow = torch.ones(1, 2, 8, 8)
    out = resize_flow(flow, (4, 16))
    assert torch.allclose(out[:, 0], torch.full((1, 4, 16), 2.0))
    assert torch.allclose(out[:, 1], torch.full((1, 4, 16), 0.5))


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown resize mode"):
        resize_flow(torch.zeros(1, 2, 4, 4), (2, 2), mode="bicubic")
