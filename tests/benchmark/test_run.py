"""run_benchmark on generated ATD-layout triplets whose scores are known by construction."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from animeinterp_cli.benchmark.datasets import BadTripletError, find_dataset
from animeinterp_cli.benchmark.metrics import score
from animeinterp_cli.benchmark.run import Contender, build_contenders, run_benchmark
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.errors import AnimeInterpError, OutputError
from models.interpolator import LinearBlend
from tests.benchmark.atd import GREY, HEIGHT, WIDTH, annotation, checker, write_annotation, write_triplet

ROI = (8, 6, 12, 12)  # x, y, w, h in frame pixels: big enough for both SSIM windows


@pytest.fixture
def blend(cpu_fp32) -> Contender:
    return Contender("blend", PairRunner(LinearBlend(), cpu_fp32))


@pytest.fixture
def atd(tmp_path):
    """`noisy`: the blend is off by 4 levels everywhere; `roi`: only inside the annotated RoI."""
    frames = tmp_path / "test_2k_540p"
    write_triplet(frames / "noisy", error=4)
    write_annotation(tmp_path, "noisy", annotation(level=1, motion="rotation"))
    write_triplet(frames / "roi", error=4, box=ROI)
    # the annotation is in pixels of a 2× larger original: the reader must scale it back
    write_annotation(tmp_path, "roi", annotation(box=ROI, scale=2.0, level=2))
    return tmp_path


def by_name(method_result):
    return {t.name: t for t in method_result.triplets}


@pytest.mark.parametrize("protocol", ["paper", "standard"])
def test_scores_match_the_construction(atd, blend, protocol):
    result = run_benchmark(find_dataset(atd), [blend], protocols=(protocol,))
    triplets = by_name(result.methods[0])
    four_levels = 20 * math.log10(255 / 4)
    assert triplets["noisy"].whole[protocol].psnr == pytest.approx(four_levels)
    # all of the error lies in the RoI: there it is the full 4 levels, diluted over the frame
    roi = triplets["roi"]
    assert roi.roi[protocol].psnr == pytest.approx(four_levels)
    area_ratio = (ROI[2] * ROI[3]) / (WIDTH * HEIGHT)
    assert roi.whole[protocol].psnr == pytest.approx(four_levels - 10 * math.log10(area_ratio))
    assert roi.roi[protocol].ssim < roi.whole[protocol].ssim < 1
    # the RoI crop scores like an image that is all error
    x, y, w, h = ROI
    error = (GREY + 4 * checker()).astype(np.float64)[y : y + h, x : x + w].repeat(3, axis=2) / 255
    truth = np.full((h, w, 3), GREY, np.uint8)
    assert roi.roi[protocol].ssim == pytest.approx(score(protocol, error, truth).ssim)
    assert (roi.level, roi.motion_types, roi.behaviors) == ("hard", ("translation",), ("walking",))
    assert result.warnings == [] and result.skipped == []


def test_identical_frames_score_infinite_psnr_and_ssim_one(tmp_path, blend):
    write_triplet(tmp_path / "still")
    result = run_benchmark(find_dataset(tmp_path), [blend], protocols=("paper", "standard"))
    (still,) = result.methods[0].triplets
    for protocol in ("paper", "standard"):
        assert math.isinf(still.whole[protocol].psnr)
        assert still.whole[protocol].ssim == pytest.approx(1.0)
    assert still.roi == {} and still.seconds >= 0


def test_a_missing_annotation_degrades_to_whole_image_metrics_with_a_warning(atd, blend):
    (atd / "test_2k_annotations" / "roi" / "roi.json").unlink()
    warnings = []
    result = run_benchmark(find_dataset(atd), [blend], on_warning=warnings.append)
    roi = by_name(result.methods[0])["roi"]
    assert roi.roi == {} and roi.level is None
    assert "paper" in roi.whole
    assert warnings == ["triplet roi: no annotation file; whole-image metrics only"]


@pytest.mark.parametrize(
    ("content", "warning"),
    [("{broken", "cannot read roi.json"), ({"level": 1, "motion_RoI": "everywhere"}, "motion_RoI is malformed")],
)
def test_a_malformed_annotation_degrades_with_a_warning(atd, blend, content, warning):
    write_annotation(atd, "roi", content)
    result = run_benchmark(find_dataset(atd), [blend])
    assert by_name(result.methods[0])["roi"].roi == {}
    assert len(result.warnings) == 1 and warning in result.warnings[0] and "triplet roi" in result.warnings[0]


def test_a_roi_too_small_for_ssim_is_left_out_with_one_warning(atd, blend, cpu_fp32):
    write_annotation(atd, "roi", annotation(box=(0, 0, 8, 8)))
    contenders = [blend, Contender("again", PairRunner(LinearBlend(), cpu_fp32))]
    result = run_benchmark(find_dataset(atd), contenders, protocols=("paper", "standard"))
    for method in result.methods:
        assert set(by_name(method)["roi"].roi) == {"paper"}  # 8 px fits the 7×7 window, not the 11×11 one
    assert result.warnings == ["triplet roi: motion RoI 8x8 is too small for standard SSIM; no RoI metrics"]


def test_a_bad_triplet_stops_the_run_unless_skipped_and_counted(atd, blend):
    (atd / "test_2k_540p" / "noisy" / "frame1.png").unlink()
    with pytest.raises(BadTripletError, match="noisy"):
        run_benchmark(find_dataset(atd), [blend])
    done = []
    result = run_benchmark(find_dataset(atd), [blend], skip_bad=True, on_progress=done.append)
    assert [t.name for t in result.methods[0].triplets] == ["roi"]
    assert result.skipped == [("noisy", "triplet noisy: frame1 is missing")]
    assert done == ["noisy", "roi"]


def test_limit_takes_the_first_triplets_by_name(atd, blend):
    result = run_benchmark(find_dataset(atd), [blend], limit=1)
    assert [t.name for t in result.methods[0].triplets] == ["noisy"]


def test_an_unknown_protocol_fails_before_any_work(atd, blend):
    with pytest.raises(ValueError, match="unknown protocol"):
        run_benchmark(find_dataset(atd), [blend], protocols=("psnr-y",))
    assert blend.runner.pairs_estimated == 0


class RecordingBlend(LinearBlend):
    """A blend that records the initial flows the engine hands to ``estimate``."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def estimate(self, img0, img1, init01=None, init10=None):
        self.seen.append(None if init01 is None else (init01.clone(), init10.clone()))
        return {}


def test_precomputed_sgm_flows_reach_only_the_methods_that_use_them(atd, blend, cpu_fp32):
    for name, value in (("noisy", 1.5), ("roi", -2.0)):
        folder = atd / "test_2k_pre_calc_sgm_flows" / name
        folder.mkdir(parents=True)
        np.save(folder / "guide_flo13.npy", np.full((2, HEIGHT // 2, WIDTH // 2), value))
        np.save(folder / "guide_flo31.npy", np.full((2, HEIGHT // 2, WIDTH // 2), -value))
    guided = RecordingBlend()
    contenders = [Contender("guided", PairRunner(guided, cpu_fp32), uses_sgm_flows=True), blend]
    run_benchmark(find_dataset(atd), contenders, sgm_flows=True)
    warm_up, noisy, roi = guided.seen
    assert warm_up is None
    # half-size flows come back at frame size with their vectors doubled
    assert noisy[0].shape == (1, 2, HEIGHT, WIDTH)
    assert (noisy[0] == 3.0).all() and (noisy[1] == -3.0).all() and (roi[0] == -4.0).all()


def test_missing_precomputed_flows_are_a_bad_triplet(atd, blend):
    with pytest.raises(BadTripletError, match="no precomputed SGM flows"):
        run_benchmark(find_dataset(atd), [blend], sgm_flows=True)


def test_saved_images_are_the_rounded_outputs_and_are_not_overwritten(atd, blend):
    out = atd / "out"
    run_benchmark(find_dataset(atd), [blend], save_images=out)
    saved = cv2.cvtColor(cv2.imread(str(out / "blend" / "noisy.png")), cv2.COLOR_BGR2RGB)
    expected = cv2.cvtColor(cv2.imread(str(atd / "test_2k_540p" / "noisy" / "frame1.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(saved, expected)  # frame1 = frame3 here, so the blend is frame1
    assert sorted(p.name for p in (out / "blend").iterdir()) == ["noisy.png", "roi.png"]
    with pytest.raises(OutputError, match="--overwrite"):
        run_benchmark(find_dataset(atd), [blend], save_images=out)
    run_benchmark(find_dataset(atd), [blend], save_images=out, overwrite=True)


def test_several_contenders_score_the_same_triplets(atd, blend, cpu_fp32):
    contenders = [blend, Contender("again", PairRunner(LinearBlend(), cpu_fp32))]
    result = run_benchmark(find_dataset(atd), contenders)
    first, second = (by_name(m) for m in result.methods)
    assert [m.name for m in result.methods] == ["blend", "again"]
    assert first["roi"].whole == second["roi"].whole


def test_build_contenders_builds_engine_methods_and_refuses_unknown_names(cpu_fp32):
    (contender,) = build_contenders(["blend"], placement=cpu_fp32)
    assert contender.name == "blend" and contender.weights is None and not contender.uses_sgm_flows
    with pytest.raises(AnimeInterpError, match="unknown method 'dain'"):
        build_contenders(["dain"], placement=cpu_fp32)


def test_fast_contenders_carry_the_preset(cpu_fp32):
    (fast,) = build_contenders(["classic"], placement=cpu_fp32, fast=True)
    (full,) = build_contenders(["classic"], placement=cpu_fp32)
    assert fast.name == "classic-fast" and fast.runner.method.config.dis.preset == "fast"
    assert full.name == "classic" and full.runner.method.config.dis.preset == "medium"
