"""The network against the released code's outputs (../shared/reference/golden/README.md).

The seeded random checkpoint in the official layout is loaded through our public loader and
every stage is compared with the original's tensors, each fed from our own previous stage
(end to end, nothing borrowed from the reference): the initial flows on the 1/8 grid, the
feature pyramid, the RFR flow on the 1/8 grid after the last iteration and at full size, the
splatted images and features, GridNet's output, and the final frame. Tolerance 1e-3 (on the
[0, 1] scale, in pixels for flows), 20× the original's own float32 noise (README).
"""

from __future__ import annotations

import pytest
import torch

import models.rfr.rfr as rfr_module
from models.animeinterp import LEVELS, load_animeinterp
from models.ops.grid import resize_flow

TOLERANCE = 1e-3
SMALL_CASES = ("smooth_224x128_zero_init", "smooth_224x128_smooth_init")


@pytest.fixture(scope="module")
def model(golden_dir):
    return load_animeinterp(golden_dir / "checkpoint_seed0.ckpt")


def _case(network_cases, name):
    return next(case for case in network_cases["cases"] if case["name"] == name)


def _images(case):
    if "I1" in case:
        return case["I1"], case["I2"]
    return case["I1_u8"].float().div(255), case["I2_u8"].float().div(255)


def _stored(case, key, ours):
    """Our full tensor reduced to the channels the reference stores (every 32nd for big maps)."""
    channels = case.get(f"{key}_channels")
    if channels is not None:
        assert ours.shape[1] == case[f"{key}_num_channels"]
        ours = ours[:, channels]
    return ours


def _close(case, key, ours, tolerance=TOLERANCE):
    expected = case[key]
    ours = _stored(case, key, ours)
    assert ours.shape == expected.shape, (key, ours.shape, expected.shape)
    error = (ours.float() - expected).abs().max().item()
    assert error <= tolerance, f"{case['name']} {key}: max abs difference {error:.3g} > {tolerance}"
    return error


def _run(model, case, monkeypatch):
    """Every stage of our forward pass on the case, with the RFR's last 1/8-grid flow captured."""
    image1, image2 = _images(case)
    coarse = []
    original_upsample = rfr_module.convex_upsample

    def capture(flow, mask):
        coarse.append(flow)
        return original_upsample(flow, mask)

    monkeypatch.setattr(rfr_module, "convex_upsample", capture)
    with torch.no_grad():
        motion = model.estimate(image1, image2, case["F12i"], case["F21i"])
        t = case["t"].reshape(1)
        tensors = {"F12": motion["flow01"], "F21": motion["flow10"]}
        tensors["F12_1_8"], tensors["F21_1_8"] = coarse[-1].chunk(2)
        grid = tuple(case["F12i_1_8"].shape[-2:])
        tensors["F12i_1_8"] = resize_flow(case["F12i"], grid, mode="nearest")
        tensors["F21i_1_8"] = resize_flow(case["F21i"], grid, mode="nearest")
        for level in LEVELS:
            tensors[f"feat1_l{level}"] = motion[f"features0_{level}"]
            tensors[f"feat2_l{level}"] = motion[f"features1_{level}"]
        splats = [
            model.splatting(image, tuple(motion[f"features{i}_{level}"] for level in LEVELS), scale * flow)
            for i, (image, scale, flow) in enumerate(((image1, t, motion["flow01"]), (image2, 1 - t, motion["flow10"])))
        ]
        (image_a, features_a), (image_b, features_b) = splats
        tensors["splat_image"] = torch.cat((image_a, image_b), 1)
        for level, a, b in zip(LEVELS, features_a, features_b):
            tensors[f"splat_l{level}"] = torch.cat((a, b), 1)
        tensors["gridnet_out"] = model.synnet(
            tensors["splat_image"], *(tensors[f"splat_l{level}"] for level in LEVELS)
        )
        tensors["frame"] = model.synthesize(image1, image2, motion, t)
    return tensors


@pytest.mark.parametrize("name", SMALL_CASES)
def test_every_stage_matches_the_released_code(model, network_cases, name, monkeypatch):
    case = _case(network_cases, name)
    ours = _run(model, case, monkeypatch)
    keys = [key for key in ours if key in case]
    # 4 initial / 1-8 grid flows, 2 full flows, 6 feature maps, 4 splats, GridNet, the frame
    assert len(keys) == 18, keys
    for key in keys:
        _close(case, key, ours[key])


@pytest.mark.slow  # the paper network at 640×480 on the CPU: 5–15 s
def test_real_640x480_case_flows_and_frame(model, network_cases, monkeypatch):
    case = _case(network_cases, "real_onepiece_640x480_smooth_init")
    ours = _run(model, case, monkeypatch)
    for key in ("F12i_1_8", "F21i_1_8", "F12_1_8", "F21_1_8", "F12", "F21", "frame"):
        _close(case, key, ours[key])


def test_forward_gives_the_reference_frame(model, network_cases):
    """The one-call path (``forward``, t defaulting to ½) gives the same frame."""
    case = _case(network_cases, "smooth_224x128_smooth_init")
    with torch.no_grad():
        out = model(case["I1"], case["I2"], case["F12i"], case["F21i"])
    _close(case, "frame", out["frame"])
