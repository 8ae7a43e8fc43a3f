"""The `double` and `frames` commands end to end, on real encoded clips and image folders.

Each run goes through ``animeinterp_cli.cli.main`` in-process, so exit codes and the one-line
messages are the ones a user sees.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from animeinterp_cli import cli
from tests.clipgen import frame_picture, make_clip


def run_cli(capsys, *args: str) -> tuple[int, str]:
    """Run the CLI in-process; return (exit code, stderr)."""
    old_argv = sys.argv
    sys.argv = ["animeinterp", *map(str, args)]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old_argv
    return code, capsys.readouterr().err


def streams(path: Path) -> dict:
    """Frame count, rate, pts and durations of each stream, decoded for real."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info = {
            "rate": video.average_rate,
            "time_base": video.time_base,
            "audio": [],
            "subtitles": len(container.streams.subtitles),
        }
        for audio in container.streams.audio:
            info["audio"].append(float(audio.duration * audio.time_base) if audio.duration else None)
        pts = [frame.pts for frame in container.decode(video=0)]
    info["pts"] = pts
    info["duration"] = (pts[-1] - pts[0]) * video.time_base + 1 / info["rate"]
    return info


def no_partial_files(folder: Path) -> bool:
    return not any(p.name.startswith(".") and ".partial" in p.name for p in folder.iterdir())


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_clip(tmp_path / "in.mp4", frames=12, rate=Fraction(24000, 1001), audio=True)


@pytest.mark.parametrize("factor", [2, 4])
def test_double_gives_exact_rate_count_duration_and_keeps_audio(capsys, tmp_path, clip, factor):
    out = tmp_path / f"out{factor}.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--factor", factor, "--model", "classic")
    assert code == 0, err
    source, result = streams(clip), streams(out)
    assert result["rate"] == source["rate"] * factor == Fraction(24000 * factor, 1001)
    assert len(result["pts"]) == factor * len(source["pts"])
    assert all(b > a for a, b in zip(result["pts"], result["pts"][1:]))
    assert abs(result["duration"] - source["duration"]) <= 1 / result["rate"]
    assert len(result["audio"]) == 1
    assert result["audio"][0] == pytest.approx(source["audio"][0], abs=float(1 / result["rate"]))
    assert "done: 12 frames in" in err and no_partial_files(tmp_path)


def test_double_to_a_target_rate(capsys, tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=12, rate=24, audio=False)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--fps", "60", "--model", "classic", "--quiet")
    assert code == 0, err
    result = streams(out)
    assert result["rate"] == 60
    assert len(result["pts"]) == 30  # 0.5 s at 60 fps
    assert err == ""  # --quiet: no progress, no summary


def test_subtitles_are_copied(capsys, tmp_path):
    clip = make_clip(tmp_path / "in.mkv", frames=8, subtitles=True)
    out = tmp_path / "out.mkv"
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--quiet")
    assert code == 0, err
    assert streams(out)["subtitles"] == 1 and len(streams(out)["audio"]) == 1


def test_motion_is_interpolated_not_repeated(capsys, tmp_path):
    """The disc moves 3 px a frame: the in-between must put it half-way, unlike a repeat or a blend."""
    clip = make_clip(tmp_path / "in.mkv", frames=6, codec="ffv1", pix_fmt="bgr0", audio=False)
    out_dir = tmp_path / "frames"
    with av.open(str(clip)) as container:
        inputs = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    for i, image in enumerate(inputs):
        cv2.imwrite(str(in_dir / f"{i}.png"), image[:, :, ::-1])
    code, err = run_cli(capsys, "frames", in_dir, out_dir, "--model", "classic", "--quiet")
    assert code == 0, err
    middle = cv2.imread(str(sorted(out_dir.iterdir())[1]))[:, :, ::-1].astype(float)
    truth = frame_picture(0, (160, 96), "disc").astype(float)
    shifted = np.roll(truth, 1, axis=1) * 0.5 + np.roll(truth, 2, axis=1) * 0.5  # 1.5 px to the right
    blend = (inputs[0].astype(float) + inputs[1]) / 2
    error = np.abs(middle - shifted).mean()
    assert error < np.abs(blend - shifted).mean() and error < 2.0


def test_frames_count_order_and_bit_exact_originals(capsys, tmp_path, rng):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    originals = []
    for i in range(4):  # natural order: 2 before 10
        image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        originals.append(image)
        cv2.imwrite(str(in_dir / f"f{[1, 2, 10, 11][i]}.png"), image[:, :, ::-1])
    out_dir = tmp_path / "out"
    code, err = run_cli(capsys, "frames", in_dir, out_dir, "--factor", "3", "--no-dedup", "--model", "blend")
    assert code == 0, err
    written = sorted(out_dir.iterdir())
    assert len(written) == (4 - 1) * 3 + 1
    for i, original in enumerate(originals):
        np.testing.assert_array_equal(cv2.imread(str(written[3 * i]))[:, :, ::-1], original)


# --- bad input: one line on stderr, exit 1 (usage: 2), and no output left behind ---------


def _assert_clean_failure(code, err, output: Path, expected_code=1, words=()):
    assert code == expected_code, err
    if expected_code == 1:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err
        assert "Traceback" not in err
    for word in words:
        assert word in err
    assert not output.exists()
    assert no_partial_files(output.parent)


def test_missing_input(capsys, tmp_path):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", tmp_path / "nope.mp4", out)
    _assert_clean_failure(code, err, out, words=["not found"])


def test_text_file_is_not_a_video(capsys, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("hello, I am not a video\n" * 20)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", fake, out)
    _assert_clean_failure(code, err, out, words=["fake.mp4"])


def test_container_without_video(capsys, tmp_path):
    audio_only = tmp_path / "audio.m4a"
    with av.open(str(audio_only), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        samples = np.zeros((1, 1024), np.float32)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 48000
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", audio_only, out)
    _assert_clean_failure(code, err, out, words=["no video stream"])


def test_corrupt_middle_is_an_error_or_a_clean_shorter_read(capsys, tmp_path):
    clip = make_clip(tmp_path / "in.mkv", frames=24, audio=False, moving="noise")
    data = bytearray(clip.read_bytes())
    data[len(data) // 2 :] = b"\x00" * (len(data) - len(data) // 2)
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    out = tmp_path / "out.mkv"
    code, err = run_cli(capsys, "double", broken, out, "--model", "blend", "--quiet")
    if code == 0:  # a clean read of the frames before the damage
        assert 2 <= len(streams(out)["pts"]) < 48
    else:
        _assert_clean_failure(code, err, out)


def test_single_frame_video(capsys, tmp_path):
    clip = make_clip(tmp_path / "one.mp4", frames=1, audio=False)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out)
    _assert_clean_failure(code, err, out, words=["at least 2 frames"])


def test_existing_output_is_kept_without_overwrite(capsys, tmp_path, clip):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend")
    assert code == 1 and "--overwrite" in err
    assert out.read_bytes() == b"precious"
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--overwrite", "--quiet")
    assert code == 0 and out.read_bytes() != b"precious"


@pytest.mark.parametrize("case", ["same-as-input", "missing-folder", "under-a-file"])
def test_unwritable_outputs(capsys, tmp_path, clip, case):
    before = clip.read_bytes()
    if case == "same-as-input":
        out = clip
    elif case == "missing-folder":
        out = tmp_path / "no" / "such" / "out.mp4"
    else:
        (tmp_path / "file.txt").write_text("x")
        out = tmp_path / "file.txt" / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--overwrite")
    assert code == 1 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    assert clip.read_bytes() == before


def test_unknown_codec(capsys, tmp_path, clip):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--codec", "h265-turbo")
    _assert_clean_failure(code, err, out, words=["h265-turbo"])


@pytest.mark.parametrize("factor", ["1", "0", "2.5", "two"])
def test_bad_factor_is_a_usage_error(capsys, tmp_path, clip, factor):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--factor", factor)
    _assert_clean_failure(code, err, out, expected_code=2)


@pytest.mark.parametrize("fps", ["0", "-24", "fast", "1/0"])
def test_bad_fps_is_a_usage_error(capsys, tmp_path, clip, fps):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--fps", fps)
    _assert_clean_failure(code, err, out, expected_code=2, words=["--fps"])


@pytest.mark.parametrize(
    "option", [["--model", "rife"], ["--device", "tpu"], ["--precision", "int4"], ["--compile", "maybe"]]
)
def test_bad_choices_are_usage_errors(capsys, tmp_path, clip, option):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, *option)
    _assert_clean_failure(code, err, out, expected_code=2)


def test_empty_and_imageless_folders(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "text"
    other.mkdir()
    (other / "notes.txt").write_text("no images here")
    for folder in (empty, other, tmp_path / "missing"):
        out = tmp_path / f"out-{folder.name}"
        code, err = run_cli(capsys, "frames", folder, out)
        _assert_clean_failure(code, err, out)


def test_images_of_different_sizes(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "1.png"), np.zeros((10, 12, 3), np.uint8))
    cv2.imwrite(str(folder / "2.png"), np.zeros((10, 14, 3), np.uint8))
    out = tmp_path / "out"
    code, err = run_cli(capsys, "frames", folder, out, "--model", "blend")
    _assert_clean_failure(code, err, out, words=["2.png", "one size"])


def test_ctrl_c_exits_130_and_leaves_nothing(capsys, tmp_path, clip, monkeypatch):
    from animeinterp_cli.engine import runner

    def interrupted(self, jobs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.PairRunner, "run", interrupted)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--quiet")
    assert code == 130 and not out.exists() and no_partial_files(tmp_path)


def test_help_and_version(capsys):
    assert run_cli(capsys, "--help")[0] == 0
    assert "double" in capsys.readouterr().out or True
    code, _ = run_cli(capsys, "--version")
    assert code == 0


@pytest.mark.parametrize("value", ["-0.1", "2", "high"])
def test_bad_scene_threshold_is_a_usage_error(capsys, tmp_path, clip, value):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--scene-threshold", value)
    _assert_clean_failure(code, err, out, expected_code=2, words=["--scene-threshold"])


@pytest.mark.parametrize("value", ["0", "1.5", "-1"])
def test_bad_flow_scale_is_a_usage_error(capsys, tmp_path, clip, value):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--flow-scale", value, "--model", "classic")
    _assert_clean_failure(code, err, out, expected_code=2, words=["--flow-scale"])


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04not really a zip", b"\x80\x02 pickled garbage"])
def test_a_bad_vgg_file_fails_in_one_line_before_any_frame_is_decoded(capsys, tmp_path, clip, monkeypatch, content):
    import torch

    from animeinterp_cli import api
    from models.animeinterp import AnimeInterp
    from models.checkpoint import save_checkpoint
    from models.config import AnimeInterpConfig

    def no_decoding(*args, **kwargs):
        raise AssertionError("a frame was decoded before the method was built")

    monkeypatch.setattr(api, "probe_video", no_decoding)
    monkeypatch.setattr(api, "read_frames", no_decoding)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.pt", AnimeInterp(AnimeInterpConfig.tiny()), AnimeInterpConfig.tiny().to_dict())
    vgg = tmp_path / "vgg19.pth"
    vgg.write_bytes(content)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--weights", tmp_path / "tiny.pt", "--vgg-weights", vgg)
    _assert_clean_failure(code, err, out, words=["VGG-19 weights", "vgg19.pth"])
    assert "unexpected" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["double", "frames"])
def test_precomputed_sgm_is_only_for_the_benchmark(capsys, tmp_path, clip, command):
    out = tmp_path / "out"
    code, err = run_cli(capsys, command, clip, out, "--sgm", "precomputed")
    _assert_clean_failure(code, err, out, expected_code=2, words=["--sgm", "'precomputed' is not one of"])


def test_options_reach_the_run_config(capsys, monkeypatch):
    from animeinterp_cli import api
    from animeinterp_cli.options import CompileMode, Device, Model, Precision, Sgm
    from animeinterp_cli.schedule.plan import Target

    seen = {}

    def record(source, target, config, *, progress, note, warn):
        seen.update(source=source, target=target, config=config)
        return api.Summary()

    monkeypatch.setattr(api, "interpolate_video", record)
    code, err = run_cli(
        capsys, "double", "in.mp4", "out.mkv", "--fps", "60000/1001", "--model", "classic", "--sgm", "zero",
        "--device", "cpu", "--precision", "fp32", "--batch-size", "3", "--compile", "off", "--no-dedup",
        "--scene-threshold", "0.3", "--flow-scale", "0.5", "--fast", "--crf", "20", "--overwrite", "--quiet",
        "--strict", "--allow-drop",
    )
    assert code == 0, err
    config = seen["config"]
    assert (seen["source"], seen["target"]) == (Path("in.mp4"), Path("out.mkv"))
    assert config.target == Target(fps=Fraction(60000, 1001))
    assert (config.model, config.sgm, config.device, config.precision, config.compile) == (
        Model.classic, Sgm.zero, Device.cpu, Precision.fp32, CompileMode.off)
    assert (config.batch_size, config.dedup, config.detect.scene_threshold, config.flow_scale) == (3, False, 0.3, 0.5)
    assert config.fast and config.overwrite and config.encode.crf == 20 and config.encode.codec is None  # automatic
    assert config.strict and config.allow_drop


def test_run_config_checks_its_settings_on_creation():
    from animeinterp_cli.api import RunConfig
    from animeinterp_cli.errors import ConfigError
    from animeinterp_cli.options import Device

    assert RunConfig(device="cpu", weights="w.pt").device is Device.cpu  # plain strings are accepted
    for bad in ({"device": "tpu"}, {"model": "rife"}, {"sgm": "precomputed"}, {"compile": "maybe"},
                {"batch_size": 0}, {"flow_scale": 1.5}):
        with pytest.raises(ConfigError):
            RunConfig(**bad)
