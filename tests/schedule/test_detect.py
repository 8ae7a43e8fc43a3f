"""Detector tests: generated cartoon frames (through a real lossy encoder), flashes, large
motion, cuts; and the large-motion sample triplets (the real clip: test_sample_clip.py)."""

from __future__ import annotations

import io
import json

import av
import cv2
import numpy as np
import pytest

from animeinterp_cli.schedule.detect import DetectConfig, Detector, PairScores

WIDTH, HEIGHT = 320, 240


def panorama(seed: int, width: int = 3 * WIDTH) -> np.ndarray:
    """A flat-colour cartoon background: inked rectangles on a plain wall, ``width`` wide."""
    rng = np.random.default_rng(seed)
    image = np.empty((HEIGHT, width, 3), np.uint8)
    image[:] = rng.integers(120, 230, 3)
    for _ in range(width // 40):
        x, y = int(rng.integers(0, width - 60)), int(rng.integers(0, HEIGHT - 50))
        w, h = int(rng.integers(20, 60)), int(rng.integers(20, 50))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
        cv2.rectangle(image, (x, y), (x + w, y + h), (20, 20, 20), 2)
    return image


def scene(pan: int = 0, character_x: int = 60, seed: int = 0) -> np.ndarray:
    """A 320×240 window of panorama ``seed`` at ``pan`` px with an inked disc at ``character_x``."""
    frame = panorama(seed)[:, pan : pan + WIDTH].copy()
    cv2.circle(frame, (character_x, HEIGHT // 2), 30, (230, 60, 40), -1)
    cv2.circle(frame, (character_x, HEIGHT // 2), 30, (10, 10, 10), 2)
    return frame


def through_x264(frames: list[np.ndarray], crf: int, grain: float) -> list[np.ndarray]:
    """Add film grain, encode with libx264 at ``crf`` (yuv420p), decode: real compression noise."""
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        # x264's output depends on its thread count, which follows the machine's cores unless
        # it is fixed: fixed, the noise (and so this test) is the same on every machine
        stream.options = {"crf": str(crf), "threads": "2"}
        for frame in frames:
            noisy = np.clip(frame + rng.normal(0, grain, frame.shape), 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(noisy, format="rgb24")))
        container.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def pair_scores(frames: list[np.ndarray], config: DetectConfig = DetectConfig()) -> list[PairScores]:
    detector = Detector(config)
    scores = [detector.push(frame) for frame in frames]
    assert scores[0] is None
    return scores[1:]


def brighten(frame: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(frame * gain + offset, 0, 255).astype(np.uint8)


# ---- exact and held ----------------------------------------------------------------------


def test_first_frame_has_no_pair():
    assert Detector().push(scene()) is None


def test_identical_frames():
    (scores,) = pair_scores([scene(), scene()])
    assert scores.identical and scores.hold and not scores.cut
    assert scores.hold_score == 0.0


def test_a_one_level_change_is_held_but_not_identical():
    frame = scene()
    nudged = frame.copy()
    nudged[0, 0, 0] ^= 1
    (scores,) = pair_scores([frame, nudged])
    assert not scores.identical and scores.hold and not scores.cut


def test_a_few_stray_pixels_are_still_the_same_drawing():
    frame = scene()
    speck = frame.copy()
    speck[100:103, 200:203] = 255 - speck[100:103, 200:203]  # a 3×3 speck, about one thumbnail pixel
    (scores,) = pair_scores([frame, speck])
    assert 0 < scores.hold_score <= DetectConfig().hold_threshold
    assert scores.hold and not scores.identical


@pytest.mark.parametrize(("crf", "grain"), [(40, 0.0), (35, 3.0)])
def test_held_drawings_survive_compression_noise(crf, grain):
    # animated on twos and threes, the character moves 6 px per drawing
    cadence = [0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4]
    frames = through_x264([scene(character_x=60 + 6 * drawing) for drawing in cadence], crf=crf, grain=grain)
    scores = pair_scores(frames)
    expected_holds = [a == b for a, b in zip(cadence, cadence[1:])]
    assert [pair.hold for pair in scores] == expected_holds
    assert not any(pair.identical or pair.cut for pair in scores)


def test_hold_threshold_trades_sensitivity():
    frames = [scene(character_x=60), scene(character_x=66)]
    (moved,) = pair_scores(frames)
    assert not moved.hold
    (lenient,) = pair_scores(frames, DetectConfig(hold_threshold=moved.hold_score))
    assert lenient.hold


# ---- cuts --------------------------------------------------------------------------------


def test_a_cut_between_two_scenes():
    first = scene(seed=0)
    other = np.ascontiguousarray(scene(seed=5)[::-1])  # other place, other palette, upside down
    scores = pair_scores(through_x264([first, first, other, other], crf=30, grain=2.0))
    assert [pair.cut for pair in scores] == [False, True, False]
    assert scores[1].cut_score > DetectConfig().scene_threshold
    assert not scores[1].hold


def test_scene_threshold_sets_what_counts_as_a_cut():
    frames = [scene(seed=0), scene(seed=5)]
    (scores,) = pair_scores(frames)
    (strict,) = pair_scores(frames, DetectConfig(scene_threshold=scores.cut_score))
    assert scores.cut and not strict.cut


@pytest.mark.parametrize("pan", [100, 160, 240])
def test_a_fast_camera_pan_is_no_cut(pan):
    (scores,) = pair_scores([scene(pan=0), scene(pan=pan)])
    assert not scores.cut and not scores.hold


def test_a_character_crossing_the_frame_is_no_cut():
    (scores,) = pair_scores([scene(character_x=40), scene(character_x=280)])
    assert not scores.cut and not scores.hold


@pytest.mark.parametrize(("gain", "offset"), [(1.6, 60.0), (1.0, 90.0), (0.4, 0.0)])
def test_a_flash_is_no_cut(gain, offset):
    frame = scene()
    flash = brighten(frame, gain, offset)
    into, back = pair_scores([frame, flash, frame])
    assert not into.cut and not back.cut


def test_a_flash_during_a_slow_pan_is_no_cut():
    (scores,) = pair_scores([scene(pan=0), brighten(scene(pan=10), 1.5, 50.0)])
    assert not scores.cut


def test_a_resolution_change_is_a_cut():
    # same picture, same aspect: only the size tells, and frames of two sizes cannot be interpolated
    (scores,) = pair_scores([scene(), cv2.resize(scene(), (160, 120), interpolation=cv2.INTER_AREA)])
    assert scores.cut and not scores.hold


def test_a_flat_frame_after_a_picture_is_a_cut_and_two_flat_frames_are_held():
    black = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    into_black, black_to_black = pair_scores([scene(), black, black.copy()])
    assert into_black.cut
    assert black_to_black.identical and black_to_black.hold and not black_to_black.cut


# ---- input forms -------------------------------------------------------------------------


def test_uint16_frames_score_like_uint8():
    frames8 = [scene(character_x=60), scene(character_x=70), scene(seed=3)]
    frames16 = [frame.astype(np.uint16) * 257 for frame in frames8]
    for a, b in zip(pair_scores(frames8), pair_scores(frames16)):
        assert (a.identical, a.hold, a.cut) == (b.identical, b.hold, b.cut)
        assert a.hold_score == pytest.approx(b.hold_score, abs=1e-3)
        assert a.cut_score == pytest.approx(b.cut_score, abs=1e-3)


def test_equal_bytes_of_another_layout_are_not_identical():
    frame = scene()
    (scores,) = pair_scores([frame, np.ascontiguousarray(frame.transpose(1, 0, 2))])
    assert not scores.identical


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((8, 8), np.uint8),
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((8, 8, 3), np.float32),
        np.zeros((8, 8, 3), np.int16),
    ],
    ids=["gray", "rgba", "float", "int16"],
)
def test_rejects_frames_that_are_not_rgb_uint8_or_uint16(image):
    with pytest.raises(ValueError, match="H×W×3"):
        Detector().push(image)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scene_threshold": 1.5}, "scene threshold"),
        ({"scene_threshold": -0.1}, "scene threshold"),
        ({"hold_threshold": -0.1}, "hold threshold"),
        ({"hold_threshold": 2.0}, "hold threshold"),
        ({"change_level": 300.0}, "change level"),
        ({"thumb_width": 4}, "thumbnail width"),
        ({"histogram_bins": 1}, "histogram bins"),
        ({"layout_blur": -1.0}, "layout blur"),
    ],
)
def test_config_rejects(options, message):
    with pytest.raises(ValueError, match=message):
        DetectConfig(**options)


# ---- real samples ------------------------------------------------------------------------


@pytest.mark.slow
def test_large_motion_triplets_are_no_cuts(samples):
    checked = 0
    for folder in sorted((samples / "triplets").iterdir()):
        if not json.loads((folder / "meta.json").read_text())["large_motion"]:
            continue
        first, last = (cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB) for name in ("frame1.png", "frame3.png"))
        (scores,) = pair_scores([first, last])
        assert not scores.cut, folder.name
        assert not scores.hold, folder.name
        checked += 1
    assert checked >= 5
