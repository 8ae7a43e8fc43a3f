"""Feature extractor, forward splatting of the pyramid, GridNet."""

import pytest
import torch

from models.config import AnimeInterpConfig
from models.synthesis import FeatureExtractor, ForwardSplatting, GridNet, ImportanceMetric

TINY = AnimeInterpConfig.tiny().synthesis


def test_feature_pyramid_sizes_follow_the_stride_2_formula():
    levels = FeatureExtractor(TINY)(torch.rand(2, 3, 9, 11))
    assert [tuple(f.shape) for f in levels] == [(2, 4, 9, 11), (2, 6, 5, 6), (2, 8, 3, 3)]


def test_gridnet_maps_the_splatted_pairs_to_a_frame():
    net = GridNet(TINY)
    out = net(torch.rand(1, 6, 12, 20), torch.rand(1, 8, 12, 20), torch.rand(1, 12, 6, 10), torch.rand(1, 16, 3, 5))
    assert out.shape == (1, 3, 12, 20) and out.dtype == torch.float32


def test_each_level_moves_by_its_share_of_the_full_resolution_flow():
    image = torch.rand(1, 3, 16, 16)
    features = (torch.rand(1, 4, 16, 16), torch.rand(1, 6, 8, 8), torch.rand(1, 8, 4, 4))
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 0] = 4.0  # 4 px at full resolution = 2 px at 1/2 and 1 px at 1/4
    image_t, (level1, level2, level3) = ForwardSplatting("avg")(image, features, flow)
    torch.testing.assert_close(image_t[..., 4:], image[..., :-4])
    torch.testing.assert_close(level1[..., 4:], features[0][..., :-4])
    torch.testing.assert_close(level2[..., 2:], features[1][..., :-2])
    torch.testing.assert_close(level3[..., 1:], features[2][..., :-1])
    assert torch.equal(level3[..., :1], torch.zeros(1, 8, 4, 1))  # the hole stays empty


def test_importance_metric_is_zero_where_the_flow_explains_the_other_frame():
    torch.manual_seed(0)
    frame0 = torch.rand(1, 3, 8, 8)
    frame1 = torch.roll(frame0, shifts=1, dims=-1)  # frame 0 moved 1 px right
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0] = 1.0
    metric = ImportanceMetric(20.0)(frame0, frame1, flow)
    assert metric.shape == (1, 1, 8, 8)
    assert torch.allclose(metric[..., :-1], torch.zeros(1, 1, 8, 7), atol=1e-4)
    assert (ImportanceMetric(20.0)(frame0, frame1, torch.zeros_like(flow)) < 0).any()


def test_softmax_splatting_needs_a_metric_and_methods_are_checked():
    with pytest.raises(ValueError, match="importance metric"):
        ForwardSplatting("soft")(torch.rand(1, 3, 4, 4), (torch.rand(1, 2, 4, 4),), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="unknown splatting method"):
        ForwardSplatting("linear")


def test_disagreement_is_the_saturated_difference_spread_over_a_square_window():
    """Known answer: one pixel of full disagreement spreads to the 5×5 square around it (and
    no further); a hole counts as full disagreement; elsewhere it is the difference / threshold."""
    from models.synthesis.splatting import disagreement

    warped0 = torch.zeros(1, 3, 12, 12)
    warped1 = torch.full((1, 3, 12, 12), 0.01)
    warped1[..., 6, 6] = 1.0
    cover = torch.ones(1, 1, 12, 12)
    hole = cover.clone()
    hole[..., 0, 11] = 0.0
    gate = disagreement({"warped0": warped0, "warped1": warped1, "cover0": cover, "cover1": hole}, 0.1)[0, 0]
    assert torch.equal(gate[4:9, 4:9], torch.ones(5, 5)) and torch.equal(gate[0:3, 9:12], torch.ones(3, 3))
    assert torch.allclose(gate[3, 4:9], torch.tensor(0.1)) and torch.allclose(gate[6, 3], torch.tensor(0.1))
    assert torch.allclose(gate[11, 0], torch.tensor(0.1))
