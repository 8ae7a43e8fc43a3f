"""The VGG-19 descriptor: weights loading (never downloaded), errors, pooled descriptors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.sgm import SGMConfig, VGGWeightsError, sgm_flows
from models.sgm.descriptors import VGG_CONVS, find_vgg_weights, load_vgg, vgg_descriptors


def conv_shapes():
    """The (out, in) channels of the VGG-19 convolutions up to conv4_1, from spec §8."""
    channels = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256), (256, 256), (512, 256)]
    return dict(zip(VGG_CONVS, channels))


def random_state(extra: bool = False) -> dict:
    generator = torch.Generator().manual_seed(0)
    state = {}
    for index, (out, inp) in conv_shapes().items():
        state[f"features.{index}.weight"] = torch.randn(out, inp, 3, 3, generator=generator) * (2 / (9 * inp)) ** 0.5
        state[f"features.{index}.bias"] = torch.zeros(out)
    if extra:  # a full torchvision state dict also carries later layers and the classifier
        state["features.21.weight"] = torch.zeros(512, 512, 3, 3)
        state["classifier.0.bias"] = torch.zeros(4096)
    return state


@pytest.fixture
def weights_file(tmp_path):
    path = tmp_path / "vgg19-test.pth"
    torch.save(random_state(extra=True), path)
    return path


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


def test_vgg_descriptors_pool_per_segment_and_sum_to_one(weights_file):
    model = load_vgg(str(weights_file), "cpu")
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 32:] = (200, 60, 30)
    labels = np.zeros((48, 64), np.int32)
    labels[:, 32:] = 1
    labels[:2, :2] = 2  # kept by one decimation (pixel (1, 1)), gone from relu3_1 and relu4_1
    descriptors = vgg_descriptors(model, image, labels, 3, SGMConfig())
    assert descriptors.shape == (3, 64 + 128 + 256 + 512)
    assert descriptors.min() >= 0
    np.testing.assert_allclose(descriptors.sum(1), 1, rtol=1e-4)
    assert not np.allclose(descriptors[0], descriptors[1])
    assert descriptors[2, : 64 + 128].max() > 0
    assert not descriptors[2, 64 + 128:].any()  # relu outputs are ≥ 0, so the vanished scales stay 0


def test_sgm_uses_vgg_when_weights_are_given(weights_file):
    frame = np.zeros((36, 64, 3), np.uint8)
    frame[8:28, 8:28] = (240, 140, 40)
    result = sgm_flows(frame, frame, SGMConfig(working_size=(64, 36), descriptor="auto", vgg_weights=str(weights_file)))
    assert result.descriptor == "vgg19"


def test_auto_falls_back_to_colour_without_weights(empty_hub):
    assert find_vgg_weights(SGMConfig()) is None
    frame = np.full((20, 20, 3), 90, np.uint8)
    assert sgm_flows(frame, frame, SGMConfig(working_size=(32, 32))).descriptor == "color"


def test_auto_finds_weights_in_the_hub_cache(empty_hub):
    path = empty_hub / "checkpoints" / "vgg19-dcbb9e9d.pth"
    path.write_bytes(b"")
    assert find_vgg_weights(SGMConfig()) == path


def test_vgg_without_weights_is_a_one_line_error(empty_hub):
    frame = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(VGGWeightsError, match="not found") as caught:
        sgm_flows(frame, frame, SGMConfig(descriptor="vgg"))
    assert "\n" not in str(caught.value)
    with pytest.raises(VGGWeightsError, match="not found"):
        sgm_flows(frame, frame, SGMConfig(vgg_weights=str(empty_hub / "nowhere.pth")))


def test_missing_and_misshaped_keys_are_named(tmp_path):
    state = random_state()
    del state["features.19.bias"]
    state["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(VGGWeightsError) as caught:
        load_vgg(str(path), "cpu")
    message = str(caught.value)
    assert "features.19.bias" in message and "features.0.weight" in message and "\n" not in message


def test_unreadable_or_wrong_type_files_are_rejected(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(VGGWeightsError, match="cannot read"):
        load_vgg(str(garbage), "cpu")
    a_list = tmp_path / "list.pth"
    torch.save([1, 2, 3], a_list)
    with pytest.raises(VGGWeightsError, match="not a state dict"):
        load_vgg(str(a_list), "cpu")
    assert issubclass(VGGWeightsError, ValueError)

