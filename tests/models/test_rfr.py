"""Recurrent Flow Refinement: correlation, lookup, upsampling, the refinement loop's quirks."""

import math

import pytest
import torch

from models.config import AnimeInterpConfig, RFRConfig
from models.rfr import RFR, convex_upsample
from models.rfr.corr import correlation_pyramid, correlation_volume, lookup_pyramid

TINY = AnimeInterpConfig.tiny().rfr


def bilinear_zero_padded(image: torch.Tensor, x: float, y: float) -> float:
    """Brute force: bilinear value of a 2-D tensor at (x, y), zero outside."""
    h, w = image.shape
    x0, y0 = math.floor(x), math.floor(y)
    total = 0.0
    for cx, cy, weight in (
        (x0, y0, (x0 + 1 - x) * (y0 + 1 - y)),
        (x0 + 1, y0, (x - x0) * (y0 + 1 - y)),
        (x0, y0 + 1, (x0 + 1 - x) * (y - y0)),
        (x0 + 1, y0 + 1, (x - x0) * (y - y0)),
    ):
        if 0 <= cx < w and 0 <= cy < h:
            total += weight * float(image[cy, cx])
    return total


def test_correlation_volume_is_the_scaled_dot_product_of_every_pixel_pair():
    torch.manual_seed(0)
    f1, f2 = torch.randn(1, 5, 3, 4), torch.randn(1, 5, 3, 4)
    corr = correlation_volume(f1, f2)
    assert corr.shape == (1, 12, 3, 4)
    i, (y, x) = 7, (2, 1)  # source pixel 7 = (row 1, column 3)
    expected = (f1[0, :, 1, 3] * f2[0, :, y, x]).sum() / math.sqrt(5)
    assert corr[0, i, y, x].item() == pytest.approx(expected.item(), rel=1e-5)


def test_lookup_matches_brute_force_bilinear_sampling():
    torch.manual_seed(0)
    h, w, radius, levels = 4, 6, 2, 2
    corr = torch.randn(1, h * w, h, w)
    pyramid = correlation_pyramid(corr, levels)
    assert [tuple(p.shape[-2:]) for p in pyramid] == [(4, 6), (2, 3)]
    coords = torch.rand(1, 2, h, w) * torch.tensor([w, h]).view(1, 2, 1, 1) - 0.5
    out = lookup_pyramid(pyramid, coords, radius)
    side = 2 * radius + 1
    assert out.shape == (1, levels * side * side, h, w)
    for py, px in ((0, 0), (1, 4), (3, 5)):
        source = py * w + px
        cx, cy = coords[0, :, py, px].tolist()
        for level in range(levels):
            volume = pyramid[level][source, 0]
            for a in range(side):  # x offset is the slow index
                for b in range(side):
                    x = cx / 2**level + a - radius
                    y = cy / 2**level + b - radius
                    channel = level * side * side + a * side + b
                    assert out[0, channel, py, px].item() == pytest.approx(
                        bilinear_zero_padded(volume, x, y), abs=1e-5
                    )


def test_convex_upsampling_with_a_centre_one_hot_mask_repeats_each_vector():
    flow = torch.randn(1, 2, 3, 4)
    mask = torch.zeros(1, 9 * 64, 3, 4)
    mask[:, 4 * 64 : 5 * 64] = 100.0  # tap 4 = the coarse pixel itself
    fine = convex_upsample(flow, mask)
    expected = 8 * flow.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)
    torch.testing.assert_close(fine, expected)


def test_convex_upsampling_weights_are_a_convex_combination():
    flow = torch.full((1, 2, 3, 3), 1.5)
    fine = convex_upsample(flow, torch.randn(1, 9 * 64, 3, 3))
    # the centre coarse pixel has all 9 neighbours inside: a convex mix of equal vectors
    torch.testing.assert_close(fine[..., 8:16, 8:16], torch.full((1, 2, 8, 8), 12.0))


def test_working_size_resizes_to_a_multiple_of_8_and_respects_the_pyramid():
    paper = RFR(RFRConfig())
    assert paper.working_size(540, 960) == (536, 960)
    assert paper.working_size(1080, 1920, 0.5) == (536, 960)
    assert paper.working_size(20, 30) == (64, 64)  # 4 levels need an 8×8 grid


def frozen_rfr(config: RFRConfig) -> RFR:
    """An RFR whose updates are zero and whose upsampling repeats each coarse vector."""
    rfr = RFR(config)
    with torch.no_grad():
        rfr.update_block.flow_head.conv2.weight.zero_()
        rfr.update_block.flow_head.conv2.bias.zero_()
        rfr.update_block.mask[2].weight.zero_()
        rfr.update_block.mask[2].bias.zero_()
        rfr.update_block.mask[2].bias[4 * 64 : 5 * 64] = 100.0
    return rfr


@pytest.mark.parametrize("double_add, factor", [(True, 2.0), (False, 1.0)])
def test_initial_flow_is_added_twice_as_the_released_code_does(double_add, factor):
    config = RFRConfig(**{**TINY.__dict__, "double_add_init": double_add, "iters": 1})
    rfr = frozen_rfr(config).eval()
    images = torch.rand(2, 3, 32, 48) * 2 - 1
    init = torch.zeros(1, 2, 32, 48)
    init[:, 0], init[:, 1] = 3.0, -2.0
    with torch.no_grad():
        flow01, flow10 = rfr(images[:1], images[1:], init, -init)
    torch.testing.assert_close(flow01, factor * init)
    torch.testing.assert_close(flow10, -factor * init)


def test_shapes_dtypes_for_odd_sizes_and_reduced_scale():
    torch.manual_seed(0)
    rfr = RFR(TINY).eval()
    a, b = torch.rand(2, 3, 37, 53) * 2 - 1, torch.rand(2, 3, 37, 53) * 2 - 1
    with torch.no_grad():
        for scale in (1.0, 0.5):
            flow01, flow10 = rfr(a, b, scale=scale)
            assert flow01.shape == flow10.shape == (2, 2, 37, 53)
            assert flow01.dtype == torch.float32 and torch.isfinite(flow01).all()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            flow01, _ = rfr(a, b)
    assert flow01.dtype == torch.float32


def test_both_directions_at_once_equal_two_separate_passes():
    # direction 1→0 reuses the transposed 0→1 correlation volume; swapping the inputs makes
    # it the directly computed direction, so the two must agree
    torch.manual_seed(0)
    rfr = RFR(TINY).eval()
    a, b = torch.rand(1, 3, 40, 48) * 2 - 1, torch.rand(1, 3, 40, 48) * 2 - 1
    init01, init10 = torch.randn(1, 2, 40, 48), torch.randn(1, 2, 40, 48)
    with torch.no_grad():
        flow01, flow10 = rfr(a, b, init01, init10)
        swapped10, swapped01 = rfr(b, a, init10, init01)
    torch.testing.assert_close(flow01, swapped01, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(flow10, swapped10, atol=1e-4, rtol=1e-4)


def test_error_attention_is_applied_only_when_configured():
    torch.manual_seed(0)
    faithful = RFR(TINY).eval()
    attending = RFR(RFRConfig(**{**TINY.__dict__, "use_error_attention": True})).eval()
    attending.load_state_dict(faithful.state_dict())
    a, b = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    init = torch.randn(1, 2, 32, 32) * 3
    with torch.no_grad():
        plain = faithful(a, b, init, init)[0]
        masked = attending(a, b, init, init)[0]
        faithful.attention2.conv3.bias.add_(5.0)  # the faithful model ignores these weights
        assert torch.equal(faithful(a, b, init, init)[0], plain)
    assert not torch.allclose(plain, masked)


def test_zero_iterations_are_refused():
    with pytest.raises(ValueError, match="at least one iteration"):
        RFR(TINY)(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32), iters=0)


def test_correlation_volume_into_a_buffer_and_its_reverse_is_the_transpose():
    torch.manual_seed(0)
    f1, f2 = torch.randn(2, 5, 3, 4), torch.randn(2, 5, 3, 4)
    buffer = torch.empty(4, 12, 3, 4)
    correlation_volume(f1, f2, out=buffer[:2])
    correlation_volume(f2, f1, out=buffer[2:])
    torch.testing.assert_close(buffer[:2], correlation_volume(f1, f2))
    torch.testing.assert_close(buffer[2:].view(2, 12, 12), buffer[:2].view(2, 12, 12).transpose(1, 2))


def test_correlation_volume_into_a_buffer_keeps_gradients():
    f1 = torch.randn(1, 5, 3, 4, requires_grad=True)
    f2 = torch.randn(1, 5, 3, 4)
    buffer = torch.zeros(2, 12, 3, 4)
    correlation_volume(f1, f2, out=buffer[:1])
    buffer.sum().backward()
    expected = torch.autograd.grad(correlation_volume(f1, f2).sum(), f1)[0]
    torch.testing.assert_close(f1.grad, expected)


def test_update_block_skips_only_the_mask_when_asked():
    from models.config import AnimeInterpConfig
    from models.rfr.update import UpdateBlock

    config = AnimeInterpConfig.tiny().rfr
    torch.manual_seed(0)
    block = UpdateBlock(config).eval()
    corr_channels = config.corr_levels * (2 * config.corr_radius + 1) ** 2
    inputs = (torch.randn(1, config.hidden_dim, 3, 4), torch.randn(1, config.context_dim, 3, 4),
              torch.randn(1, corr_channels, 3, 4), torch.randn(1, 2, 3, 4))
    hidden, mask, delta = block(*inputs)
    hidden_no_mask, no_mask, delta_no_mask = block(*inputs, with_mask=False)
    assert mask.shape == (1, 9 * 64, 3, 4) and no_mask is None
    torch.testing.assert_close(hidden_no_mask, hidden)
    torch.testing.assert_close(delta_no_mask, delta)
