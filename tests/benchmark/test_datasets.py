"""The ATD-12K reader: the layout and its variants, annotations, SGM flows, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from animeinterp_cli.benchmark.datasets import (
    AnnotationError,
    BadTripletError,
    Triplet,
    find_dataset,
    load_annotation,
    load_frames,
    load_sgm_flows,
)
from animeinterp_cli.errors import InputError
from tests.benchmark.atd import GREY, HEIGHT, WIDTH, annotation, write_annotation, write_image, write_triplet


def test_the_atd_layout_is_read_with_annotations_and_sgm_flows(tmp_path):
    for name in ("Japan_v2_1", "Disney_v4_0"):
        write_triplet(tmp_path / "test_2k_540p" / name)
        write_annotation(tmp_path, name, annotation())
    (tmp_path / "test_2k_pre_calc_sgm_flows" / "Japan_v2_1").mkdir(parents=True)
    for file in ("guide_flo13.npy", "guide_flo31.npy"):
        np.save(tmp_path / "test_2k_pre_calc_sgm_flows" / "Japan_v2_1" / file, np.zeros((2, HEIGHT, WIDTH)))
    dataset = find_dataset(tmp_path)
    assert [t.name for t in dataset.triplets] == ["Disney_v4_0", "Japan_v2_1"]  # sorted by name
    assert dataset.annotated
    disney, japan = dataset.triplets
    assert japan.annotation == tmp_path / "test_2k_annotations" / "Japan_v2_1" / "Japan_v2_1.json"
    assert japan.sgm_dir == tmp_path / "test_2k_pre_calc_sgm_flows" / "Japan_v2_1"
    assert disney.sgm_dir is None
    frame1, frame2, frame3 = load_frames(japan)
    assert frame2.shape == (HEIGHT, WIDTH, 3) and frame2.dtype == np.uint8 and (frame2 == GREY).all()


def test_the_frame_folder_itself_finds_annotations_beside_it(tmp_path):
    write_triplet(tmp_path / "test_2k_540p" / "a")
    write_annotation(tmp_path, "a", annotation())
    dataset = find_dataset(tmp_path / "test_2k_540p")
    assert dataset.triplets[0].annotation is not None


def test_variants_jpeg_frames_annotations_beside_frames_and_a_plain_folder(tmp_path):
    write_triplet(tmp_path / "clip_a", suffix=".jpg")
    (tmp_path / "clip_a" / "clip_a.json").write_text(json.dumps(annotation()))
    write_triplet(tmp_path / "clip_b")
    (tmp_path / "notes").mkdir()  # a folder without frames is not a triplet
    dataset = find_dataset(tmp_path)
    assert [t.name for t in dataset.triplets] == ["clip_a", "clip_b"]
    assert dataset.triplets[0].frames[0].suffix == ".jpg"
    assert dataset.triplets[0].annotation == tmp_path / "clip_a" / "clip_a.json"
    assert dataset.triplets[1].annotation is None
    assert dataset.annotated


def test_a_dataset_without_annotations_and_a_single_triplet_folder(tmp_path):
    write_triplet(tmp_path / "only")
    for root in (tmp_path, tmp_path / "only"):
        dataset = find_dataset(root)
        assert [t.name for t in dataset.triplets] == ["only"]
        assert not dataset.annotated


def test_another_test_2k_frame_folder_is_used_when_there_is_no_540p_one(tmp_path):
    write_triplet(tmp_path / "test_2k_original" / "a", suffix=".jpg")
    write_annotation(tmp_path, "a", annotation())
    dataset = find_dataset(tmp_path)
    assert [t.name for t in dataset.triplets] == ["a"] and dataset.triplets[0].annotation is not None


@pytest.mark.parametrize("kind", ["empty", "missing", "file"])
def test_an_empty_missing_or_wrong_folder_is_a_one_line_error(tmp_path, kind):
    target = {"empty": tmp_path, "missing": tmp_path / "nope", "file": tmp_path / "f.txt"}[kind]
    if kind == "file":
        target.write_text("x")
    with pytest.raises(InputError) as info:
        find_dataset(target)
    assert "\n" not in str(info.value) and str(target) in str(info.value)


def test_a_missing_frame_names_the_triplet(tmp_path):
    write_triplet(tmp_path / "gap")
    (tmp_path / "gap" / "frame2.png").unlink()
    triplet = find_dataset(tmp_path).triplets[0]
    with pytest.raises(BadTripletError, match="triplet gap: frame2 is missing"):
        load_frames(triplet)


def test_an_unreadable_image_names_the_triplet_and_file(tmp_path):
    write_triplet(tmp_path / "broken")
    (tmp_path / "broken" / "frame3.png").write_bytes(b"not a png")
    with pytest.raises(BadTripletError, match="triplet broken: cannot read frame3.png"):
        load_frames(find_dataset(tmp_path).triplets[0])


def test_frames_of_different_sizes_are_refused(tmp_path):
    write_triplet(tmp_path / "odd")
    write_image(tmp_path / "odd" / "frame3.png", np.zeros((HEIGHT, WIDTH + 2, 3), np.uint8))
    with pytest.raises(BadTripletError, match="differ in size"):
        load_frames(find_dataset(tmp_path).triplets[0])


def test_frames_are_rgb(tmp_path):
    folder = tmp_path / "t"
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    for stem in ("frame1", "frame2", "frame3"):
        write_image(folder / f"{stem}.png", red)
    assert (load_frames(find_dataset(tmp_path).triplets[0])[0][..., 0] == 255).all()


def _annotation_file(tmp_path, content) -> Triplet:
    path = write_annotation(tmp_path, "t", content)
    return Triplet("t", (None, None, None), annotation=path)


def test_annotation_fields_are_parsed_and_lists_of_labels_accepted(tmp_path):
    content = annotation(level=2, motion=["Rotation", "scaling"], behavior="Speaking")
    parsed = load_annotation(_annotation_file(tmp_path, content))
    assert parsed.level_name == "hard"
    assert parsed.motion_types == ("rotation", "scaling") and parsed.behaviors == ("speaking",)
    assert parsed.problems == ()


def test_roi_scaling_uses_float_floor_division_of_the_original_size(tmp_path):
    content = annotation()
    content.update(image_size=[1920, 1080], motion_RoI={"x": 101, "y": 99, "width": 63, "height": 41})
    parsed = load_annotation(_annotation_file(tmp_path, content))
    # a 960×540 frame: scale 2.0 → 101 // 2.0 = 50, 99 // 2.0 = 49, 63 // 2.0 = 31, 41 // 2.0 = 20
    assert parsed.roi_box(960, 540) == (50, 49, 31, 20)


@pytest.mark.parametrize(("x", "expected"), [(30, (30, 20, 10, 10)), (45, None)])
def test_the_roi_is_clipped_to_the_frame_and_none_outside_it(tmp_path, x, expected):
    content = annotation()
    content.update(image_size=[40, 30], motion_RoI={"x": x, "y": 20, "width": 20, "height": 20})
    assert load_annotation(_annotation_file(tmp_path, content)).roi_box(40, 30) == expected


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"motion_RoI": {"x": 1, "y": 2}}, "motion_RoI is malformed"),
        ({"motion_RoI": None}, "no motion_RoI"),
        ({"image_size": [0, 540]}, "image_size is not positive"),
        ({"image_size": "960x540"}, "image_size is malformed"),
        ({"level": 7}, "level 7 is not 0, 1 or 2"),
        ({"behavior": 3}, "behavior is malformed"),
    ],
)
def test_malformed_annotation_fields_are_reported_and_left_out(tmp_path, change, problem):
    content = annotation()
    content.update(change)
    parsed = load_annotation(_annotation_file(tmp_path, content))
    assert problem in parsed.problems


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_an_unreadable_annotation_raises_annotation_error(tmp_path, content):
    with pytest.raises(AnnotationError):
        load_annotation(_annotation_file(tmp_path, content))


def test_a_missing_annotation_raises_annotation_error():
    with pytest.raises(AnnotationError, match="no annotation"):
        load_annotation(Triplet("t", (None, None, None)))


def test_sgm_flows_are_nearest_resized_and_rescaled(tmp_path):
    flow = np.zeros((2, 2, 4))
    flow[0] = [[1, 2, 3, 4], [5, 6, 7, 8]]  # x
    flow[1] = 10
    np.save(tmp_path / "guide_flo13.npy", flow)
    np.save(tmp_path / "guide_flo31.npy", -flow)
    flow13, flow31 = load_sgm_flows(Triplet("t", (None, None, None), sgm_dir=tmp_path), 4, 8)
    assert flow13.shape == (2, 4, 8) and flow13.dtype == np.float32
    # legacy nearest: source index floor(dst · in/out); x scaled by 8/4, y by 4/2
    assert flow13[0, 0].tolist() == [2, 2, 4, 4, 6, 6, 8, 8]
    assert flow13[0, 3].tolist() == [10, 10, 12, 12, 14, 14, 16, 16]
    assert (flow13[1] == 20).all() and (flow31 == -flow13).all()


@pytest.mark.parametrize("bad", ["shape", "missing", "none"])
def test_bad_sgm_flows_name_the_triplet(tmp_path, bad):
    if bad == "shape":
        np.save(tmp_path / "guide_flo13.npy", np.zeros((3, 4, 4)))
    sgm_dir = None if bad == "none" else tmp_path
    with pytest.raises(BadTripletError, match="triplet t"):
        load_sgm_flows(Triplet("t", (None, None, None), sgm_dir=sgm_dir), 4, 4)
