"""The JSON document (schema, strictness, breakdowns, peers) and the tables."""

from __future__ import annotations

import json
import math

import pytest
from rich.console import Console

from animeinterp_cli.benchmark.datasets import find_dataset
from animeinterp_cli.benchmark.report import breakdown_table, dumps, summary_table, to_document
from animeinterp_cli.benchmark.run import Contender, run_benchmark
from animeinterp_cli.engine.runner import PairRunner
from models.interpolator import FrameInterpolator, LinearBlend
from tests.benchmark.atd import annotation, write_annotation, write_triplet

SUMMARY_KEYS = {
    "method", "weights", "protocol", "count", "psnr", "ssim", "roi_count", "roi_psnr", "roi_ssim",
    "seconds", "psnr_delta_to_best_peer", "by_level", "by_motion", "by_behavior", "per_triplet",
}  # fmt: skip
TRIPLET_KEYS = {"name", "psnr", "ssim", "roi_psnr", "roi_ssim", "seconds", "level", "motion", "behavior"}


class Black(FrameInterpolator):
    """Returns black frames: a far weaker peer than the blend."""

    method_name = "black"

    def estimate(self, img0, img1, init01=None, init10=None):
        return {}

    def synthesize(self, img0, img1, motion, t):
        return img0 * 0


@pytest.fixture
def result(tmp_path, cpu_fp32):
    frames = tmp_path / "test_2k_540p"
    specs = {
        "a": dict(error=2, level=0, motion=["translation", "rotation"], behavior="walking"),
        "b": dict(error=6, level=2, motion="translation", behavior="eating"),
        "c": dict(error=3, level=0, motion="scaling", behavior="walking"),
    }
    for name, spec in specs.items():
        write_triplet(frames / name, error=spec["error"])
        write_annotation(tmp_path, name, annotation(level=spec["level"], motion=spec["motion"], behavior=spec["behavior"]))
    write_triplet(frames / "d", error=1)  # no annotation: whole-image only, in no group
    contenders = [
        Contender("blend", PairRunner(LinearBlend(), cpu_fp32)),
        Contender("black", PairRunner(Black(), cpu_fp32), weights="none really"),
    ]
    return run_benchmark(find_dataset(tmp_path), contenders, protocols=("paper", "standard"))


def strict_loads(text: str) -> dict:
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_document_follows_the_schema(result):
    document = strict_loads(dumps(to_document(result, "paper", sgm="inline", placement="cpu fp32")))
    assert SUMMARY_KEYS <= set(document)
    assert {"peers", "dataset", "skipped", "skipped_triplets", "sgm", "placement"} <= set(document)
    assert (document["method"], document["protocol"], document["count"], document["roi_count"]) == ("blend", "paper", 4, 3)
    for group in ("by_level", "by_motion", "by_behavior"):
        for entry in document[group].values():
            assert set(entry) == {"count", "psnr", "ssim"}
    assert [set(row) for row in document["per_triplet"]] == [TRIPLET_KEYS] * 4
    (peer,) = document["peers"]
    assert set(peer) == SUMMARY_KEYS and peer["method"] == "black" and peer["weights"] == "none really"


def test_means_and_breakdowns_are_over_the_right_triplets(result):
    document = to_document(result, "paper", sgm="inline", placement="cpu fp32")
    rows = {row["name"]: row for row in document["per_triplet"]}
    assert document["psnr"] == pytest.approx(sum(r["psnr"] for r in rows.values()) / 4)
    assert document["roi_psnr"] == pytest.approx((rows["a"]["roi_psnr"] + rows["b"]["roi_psnr"] + rows["c"]["roi_psnr"]) / 3)
    assert list(document["by_level"]) == ["easy", "hard"]
    assert document["by_level"]["easy"] == {
        "count": 2,
        "psnr": pytest.approx((rows["a"]["psnr"] + rows["c"]["psnr"]) / 2),
        "ssim": pytest.approx((rows["a"]["ssim"] + rows["c"]["ssim"]) / 2),
    }
    # a triplet with two motion types counts in both
    assert {k: v["count"] for k, v in document["by_motion"].items()} == {"rotation": 1, "scaling": 1, "translation": 2}
    assert {k: v["count"] for k, v in document["by_behavior"].items()} == {"eating": 1, "walking": 2}
    assert rows["d"]["roi_psnr"] is None and rows["d"]["level"] is None and rows["d"]["motion"] == []
    assert rows["a"]["motion"] == ["translation", "rotation"]


def test_each_method_is_compared_with_the_best_other_one(result):
    document = to_document(result, "standard", sgm="inline", placement="cpu fp32")
    (peer,) = document["peers"]
    assert document["psnr_delta_to_best_peer"] == pytest.approx(document["psnr"] - peer["psnr"])
    assert peer["psnr_delta_to_best_peer"] == pytest.approx(-document["psnr_delta_to_best_peer"])
    assert document["psnr_delta_to_best_peer"] > 10


def test_a_single_method_has_no_delta(result):
    result.methods = result.methods[:1]
    document = to_document(result, "paper", sgm="inline", placement="cpu fp32")
    assert document["psnr_delta_to_best_peer"] is None and document["peers"] == []


def test_infinite_psnr_is_written_as_a_string_and_the_text_is_strict_json():
    document = {"psnr": math.inf, "per_triplet": [{"psnr": math.inf, "ssim": 1.0}], "roi_psnr": math.nan}
    parsed = strict_loads(dumps(document))
    assert parsed == {"psnr": "inf", "per_triplet": [{"psnr": "inf", "ssim": 1.0}], "roi_psnr": None}


def test_tables_show_every_method_and_group(result):
    console = Console(record=True, width=200)
    console.print(summary_table(result, ("paper", "standard")))
    console.print(breakdown_table(result, "paper"))
    text = console.export_text()
    for word in ("blend", "black", "PSNR (standard)", "RoI SSIM (paper)", "Δ PSNR", "level: easy", "behaviour: eating"):
        assert word in text


def test_no_breakdown_table_without_annotations(tmp_path, cpu_fp32):
    write_triplet(tmp_path / "x", error=1)
    result = run_benchmark(find_dataset(tmp_path), [Contender("blend", PairRunner(LinearBlend(), cpu_fp32))])
    assert breakdown_table(result, "paper") is None
