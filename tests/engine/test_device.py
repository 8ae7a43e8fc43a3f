import pytest
import torch

from animeinterp_cli.engine.device import resolve_placement
from animeinterp_cli.errors import AnimeInterpError


def test_cpu_fp32_has_no_autocast():
    placement = resolve_placement("cpu", "fp32")
    assert placement.device == torch.device("cpu") and placement.autocast_dtype is None


def test_auto_picks_a_known_precision():
    placement = resolve_placement("auto", "auto")
    assert placement.precision in {"fp32", "bf16", "fp16"}
    if not torch.cuda.is_available():
        assert placement.device.type == "cpu" and placement.precision != "fp16"


@pytest.mark.parametrize(
    "device, precision",
    [("tpu", "auto"), ("cpu", "int8"), ("cpu", "fp16")]
    + ([("cuda", "auto")] if not torch.cuda.is_available() else []),
)
def test_bad_device_or_precision_is_a_one_line_error(device, precision):
    with pytest.raises(AnimeInterpError) as info:
        resolve_placement(device, precision)
    assert "\n" not in str(info.value)
