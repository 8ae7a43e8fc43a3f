"""Forward splatting: known answers on tiny inputs."""

import pytest
import torch

from models.ops.splat import forward_splat


def shift_flow(b, h, w, dx, dy):
    flow = torch.zeros(b, 2, h, w)
    flow[:, 0], flow[:, 1] = dx, dy
    return flow


def test_one_pixel_shift_moves_values_exactly():
    values = torch.arange(1, 1 + 2 * 4 * 5, dtype=torch.float32).view(1, 2, 4, 5)
    for mode in ("sum", "avg"):
        out = forward_splat(values, shift_flow(1, 4, 5, 1, 0), mode)
        assert torch.equal(out[..., 1:], values[..., :-1]), mode
        assert torch.equal(out[..., 0], torch.zeros(1, 2, 4)), mode  # the hole column


def test_fractional_shift_spreads_bilinearly():
    values = torch.zeros(1, 1, 3, 3)
    values[0, 0, 0, 0] = 1.0
    flow = shift_flow(1, 3, 3, 0.25, 0.5)
    out = forward_splat(values, flow, "sum")
    expected = torch.zeros(1, 1, 3, 3)
    expected[0, 0, 0, 0] = 0.75 * 0.5
    expected[0, 0, 0, 1] = 0.25 * 0.5
    expected[0, 0, 1, 0] = 0.75 * 0.5
    expected[0, 0, 1, 1] = 0.25 * 0.5
    torch.testing.assert_close(out, expected)


def test_collisions_add_for_sum_and_average_for_avg():
    values = torch.tensor([[[[2.0, 6.0, 0.0]]]])
    flow = torch.zeros(1, 2, 1, 3)
    flow[0, 0, 0, 0] = 1.0  # pixel 0 lands on pixel 1, which stays put
    assert forward_splat(values, flow, "sum")[0, 0, 0, 1] == 8.0
    assert forward_splat(values, flow, "avg")[0, 0, 0, 1] == 4.0


def test_holes_stay_empty_and_have_zero_weight():
    values = torch.rand(1, 3, 4, 4) + 1
    out, weight = forward_splat(values, shift_flow(1, 4, 4, 0, 2), "avg", return_weight=True)
    assert torch.equal(out[:, :, :2], torch.zeros(1, 3, 2, 4))
    assert torch.equal(weight[:, :, :2], torch.zeros(1, 1, 2, 4))
    assert torch.equal(out[:, :, 2:], values[:, :, :2])


def test_sum_conserves_mass_for_flows_inside_the_image():
    torch.manual_seed(0)
    values = torch.rand(2, 3, 12, 12)
    flow = (torch.rand(2, 2, 12, 12) - 0.5) * 4
    flow[..., :3, :] = flow[..., -3:, :] = 0  # keep every target inside the image
    flow[..., :, :3] = flow[..., :, -3:] = 0
    out = forward_splat(values, flow, "sum")
    torch.testing.assert_close(out.sum(dim=(2, 3)), values.sum(dim=(2, 3)))


def test_outside_targets_and_non_finite_flows_move_nothing():
    values = torch.ones(1, 1, 2, 2)
    flow = torch.zeros(1, 2, 2, 2)
    flow[0, 0, 0, 0] = 10.0
    flow[0, 0, 0, 1] = float("nan")
    flow[0, 1, 1, 0] = float("inf")
    out = forward_splat(values, flow, "sum")
    assert torch.equal(out, torch.tensor([[[[0.0, 0.0], [0.0, 1.0]]]]))


def test_softmax_splatting_prefers_the_higher_metric():
    values = torch.tensor([[[[2.0, 6.0]]]])
    flow = torch.zeros(1, 2, 1, 2)
    flow[0, 0, 0, 0] = 1.0
    metric = torch.tensor([[[[0.0, 10.0]]]])
    out = forward_splat(values, flow, "soft", metric)
    assert out[0, 0, 0, 1] == pytest.approx(6.0, abs=1e-3)
    metric = torch.tensor([[[[10.0, 0.0]]]])
    assert forward_splat(values, flow, "soft", metric)[0, 0, 0, 1] == pytest.approx(2.0, abs=1e-3)


def test_autocast_and_low_precision_inputs_accumulate_in_fp32():
    torch.manual_seed(1)
    values = torch.rand(1, 4, 8, 8)
    flow = (torch.rand(1, 2, 8, 8) - 0.5) * 3
    reference = forward_splat(values, flow, "avg")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = forward_splat(values, flow, "avg")
    from_bf16 = forward_splat(values.bfloat16(), flow, "avg")
    assert under_autocast.dtype == from_bf16.dtype == torch.float32
    torch.testing.assert_close(under_autocast, reference)
    torch.testing.assert_close(from_bf16, reference, atol=1e-2, rtol=1e-2)


def test_gradients_reach_values_and_flow():
    values = torch.rand(1, 2, 5, 5, requires_grad=True)
    flow = torch.full((1, 2, 5, 5), 0.3, requires_grad=True)
    forward_splat(values, flow, "avg").sum().backward()
    assert values.grad is not None and flow.grad is not None
    assert flow.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "median"}, "unknown splat mode"),
        ({"mode": "soft"}, "needs an importance metric"),
        ({"flow": torch.zeros(1, 2, 3, 3)}, "does not match"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    arguments = {"values": torch.zeros(1, 1, 4, 4), "flow": torch.zeros(1, 2, 4, 4), **kwargs}
    with pytest.raises(ValueError, match=message):
        forward_splat(**arguments)


def test_channels_last_input_gives_the_same_result():
    torch.manual_seed(2)
    values = torch.rand(2, 5, 6, 7)
    flow = (torch.rand(2, 2, 6, 7) - 0.5) * 4
    reference = forward_splat(values, flow, "avg")
    channels_last = forward_splat(values.contiguous(memory_format=torch.channels_last), flow, "avg")
    torch.testing.assert_close(channels_last, reference, rtol=0, atol=0)


def test_soft_mode_reports_plain_coverage():
    """Whatever the metric, the returned weight is Σ wᵢ: 2 where two unit sources collide."""
    values = torch.zeros(1, 1, 1, 4)
    values[0, 0, 0, 0], values[0, 0, 0, 1] = 1.0, 3.0
    flow = torch.zeros(1, 2, 1, 4)
    flow[0, 0, 0, 0] = 1.0  # pixel 0 lands on pixel 1
    metric = torch.tensor([[[[-30.0, 0.0, 0.0, 0.0]]]])
    out, coverage = forward_splat(values, flow, "soft", metric, return_weight=True)
    torch.testing.assert_close(coverage[0, 0, 0], torch.tensor([0.0, 2.0, 1.0, 1.0]))
    assert out[0, 0, 0, 1] == pytest.approx(3.0, abs=1e-6)  # the higher metric wins the collision


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["sum", "avg", "soft"])
def test_cuda_splats_like_the_cpu_and_accumulates_in_fp32_under_fp16_autocast(mode):
    generator = torch.Generator().manual_seed(0)
    values = torch.rand(2, 3, 24, 32, generator=generator)
    flow = torch.randn(2, 2, 24, 32, generator=generator) * 4  # collisions, holes, some out of frame
    metric = torch.randn(2, 1, 24, 32, generator=generator) if mode == "soft" else None
    expected, coverage = forward_splat(values, flow, mode, metric, return_weight=True)
    cuda = torch.device("cuda")
    on_gpu, gpu_coverage = forward_splat(
        values.to(cuda), flow.to(cuda), mode, None if metric is None else metric.to(cuda), return_weight=True
    )
    torch.testing.assert_close(on_gpu.cpu(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gpu_coverage.cpu(), coverage, rtol=1e-5, atol=1e-5)
    with torch.autocast("cuda", dtype=torch.float16):
        half = forward_splat(
            values.to(cuda).half(), flow.to(cuda), mode, None if metric is None else metric.to(cuda).half()
        )
    assert half.dtype == torch.float32
    # the same fp16 inputs splatted in fp32 on the CPU: sums accumulated in fp16 would be ~1e-3 off
    rounded = forward_splat(values.half().float(), flow, mode, None if metric is None else metric.half().float())
    torch.testing.assert_close(half.cpu(), rounded, rtol=1e-5, atol=1e-5)


def _splat_float64(values, flow):
    """Reference bilinear summation splat in float64, one source pixel at a time (numpy)."""
    import numpy as np

    values, flow = values.double().numpy(), flow.double().numpy()
    b, c, h, w = values.shape
    out = np.zeros((b, c, h, w))
    for n in range(b):
        for y in range(h):
            for x in range(w):
                tx, ty = x + flow[n, 0, y, x], y + flow[n, 1, y, x]
                x0, y0 = int(np.floor(tx)), int(np.floor(ty))
                ax, ay = tx - x0, ty - y0
                for cx, cy, weight in ((x0, y0, (1 - ax) * (1 - ay)), (x0 + 1, y0, ax * (1 - ay)),
                                       (x0, y0 + 1, (1 - ax) * ay), (x0 + 1, y0 + 1, ax * ay)):
                    if 0 <= cx < w and 0 <= cy < h:
                        out[n, :, cy, cx] += weight * values[n, :, y, x]
    return out


def test_sub_pixel_shift_of_a_4k_row_matches_float64():
    """Weights from the flow's own fractional part: no precision loss at large column indices
    (x + u in float32 is 2⁻¹² coarse above x = 2048, a ~1e-4 weight error at 4K)."""
    import numpy as np

    torch.manual_seed(0)
    width = 3840
    values = torch.rand(1, 2, 2, width)
    flow = torch.zeros(1, 2, 2, width)
    flow[:, 0] = 0.3 + 0.05 * torch.rand(1, 2, width)  # sub-pixel, not exactly representable
    flow[:, 1, 1] = -0.37
    expected = _splat_float64(values, flow)
    for mode in ("sum", "avg"):
        out = forward_splat(values, flow, mode).double().numpy()
        reference = expected
        if mode == "avg":
            weight = _splat_float64(torch.ones(1, 1, 2, width), flow)
            reference = np.where(weight > 0, expected / np.where(weight > 0, weight, 1), 0)
        error = np.abs(out - reference).max()
        assert error < 2e-6, (mode, error)  # float32 rounding of the products only
