"""Configuration constraints and the automatic flow scale."""

import pytest

from models.config import AnimeInterpConfig, RFRConfig, SynthesisConfig


def test_paper_defaults():
    config = AnimeInterpConfig.paper()
    assert (config.rfr.iters, config.rfr.corr_levels, config.rfr.corr_radius) == (12, 4, 4)
    assert config.rfr.double_add_init and not config.rfr.use_error_attention
    assert config.splat == "avg" and config.synthesis.feature_dims == (32, 64, 96)


@pytest.mark.parametrize(
    "size, scale", [((540, 960), 1.0), ((360, 640), 1.0), ((1080, 1920), 0.5), ((2160, 3840), 0.25)]
)
def test_automatic_flow_scale_bounds_the_flow_networks_input(size, scale):
    assert AnimeInterpConfig.paper().resolve_flow_scale(*size) == pytest.approx(scale)


def test_fixed_flow_scale_wins():
    assert AnimeInterpConfig(flow_scale=0.75).resolve_flow_scale(2160, 3840) == 0.75


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: RFRConfig(hidden_dim=100), "must equal feature_dim"),
        (lambda: RFRConfig(iters=0), "positive"),
        (lambda: RFRConfig(encoder_dims=(64, -1, 128)), "positive"),
        (lambda: SynthesisConfig(feature_dims=(32, 64)), "exactly 3"),
        (lambda: AnimeInterpConfig(splat="linear"), "splat must be one of"),
        (lambda: AnimeInterpConfig(flow_scale=1.5), r"flow_scale must be in \(0, 1\]"),
        (lambda: AnimeInterpConfig(flow_scale=0), r"flow_scale must be in \(0, 1\]"),
    ],
)
def test_bad_values_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_dict_round_trip_and_unknown_keys():
    config = AnimeInterpConfig.tiny()
    assert AnimeInterpConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown RFRConfig keys: depth"):
        AnimeInterpConfig.from_dict({"rfr": {"depth": 3}})
    with pytest.raises(ValueError, match="unknown AnimeInterpConfig keys: colour"):
        AnimeInterpConfig.from_dict({"colour": "red"})
