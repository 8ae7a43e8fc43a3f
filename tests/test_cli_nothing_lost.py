"""Nothing lost, nothing silent: what a user only notices later, checked end to end.

Stop signals, leftovers of killed runs, truncated and damaged inputs, the source's pixel
shape, languages, dispositions and chapters, options that contradict each other or the input,
odd sizes, deep colour, and what each message level prints. Runs go through the CLI, in
process (``run_cli``) or, where a signal or a user without root's rights is the point, in a
process of their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import pytest

from tests.clipgen import faststart, make_clip, truncated, with_corrupt_packet
from tests.conftest import REPO, stop_signals_as_from_a_terminal
from tests.test_cli import no_partial_files, run_cli, streams
from tests.video.test_output import leftover, open_folder, run_unprivileged  # noqa: F401 - a fixture


def lines(err: str, prefix: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(prefix)]


# --- SIGTERM, SIGHUP and Ctrl-C: a clean stop, nothing left behind ----------------------------


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory):
    """Long enough that a run is still encoding a few seconds in."""
    return make_clip(tmp_path_factory.mktemp("signals") / "long.mp4", frames=600, size=(160, 96))


@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_stop_signal_in_process_unwinds_like_ctrl_c(capsys, tmp_path, monkeypatch, default_stop_signals, name, status):
    from animeinterp_cli.engine import runner

    def signalled(self, jobs):  # as `kill` would, while the first pair is interpolated
        os.kill(os.getpid(), getattr(signal, name))
        time.sleep(5)  # the handler raises here
        raise AssertionError("the signal was not handled")

    monkeypatch.setattr(runner.PairRunner, "run", signalled)
    clip = make_clip(tmp_path / "in.mp4", frames=12, audio=False)
    code, err = run_cli(capsys, "double", clip, tmp_path / "out.mp4", "--model", "blend", "-q")
    assert code == status and err.strip() == f"error: stopped by {name}", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    assert signal.getsignal(getattr(signal, name)) is signal.SIG_DFL  # handed back


@pytest.mark.slow
@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_stop_signal_mid_run_stops_cleanly_and_leaves_nothing(tmp_path, slow_clip, name, status):
    out = tmp_path / "out.mp4"
    run = subprocess.Popen(
        [sys.executable, "-m", "animeinterp_cli", "double", str(slow_clip), str(out), "--model", "blend", "-q"],
        stderr=subprocess.PIPE, text=True, cwd=REPO,
        preexec_fn=stop_signals_as_from_a_terminal,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".out.partial-") and p.stat().st_size > 0 for p in tmp_path.iterdir()):
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before it was encoding"
        time.sleep(0.05)
    run.send_signal(getattr(signal, name))  # while it encodes: the partial has data
    _, err = run.communicate(timeout=60)
    assert run.returncode == status, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and err.startswith("error:"), err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_ignored_hangup_stays_ignored(tmp_path):
    # `nohup` ignores SIGHUP so that a run survives its terminal: the tool must not undo that
    clip = make_clip(tmp_path / "in.mp4", frames=120, size=(160, 96), audio=False)
    out = tmp_path / "out.mp4"
    run = subprocess.Popen(
        [sys.executable, "-m", "animeinterp_cli", "double", str(clip), str(out), "--model", "blend", "-q"],
        stderr=subprocess.PIPE, text=True, cwd=REPO, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    while not any(p.name.startswith(".out.partial-") for p in tmp_path.iterdir()) and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGHUP)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert out.exists()


def test_the_partial_of_a_killed_run_is_removed_by_the_next_and_said_so(capsys, tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=6, audio=False)
    stale = leftover(tmp_path / ".out.partial-0badf00d.mp4")  # as SIGKILL leaves it: nobody holds it
    code, err = run_cli(capsys, "double", clip, tmp_path / "out.mp4", "--model", "blend")
    assert code == 0, err
    assert not stale.exists() and no_partial_files(tmp_path)
    assert len(lines(err, "note: removed")) == 1 and str(stale) in err


# --- truncated and damaged input -----------------------------------------------------------


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("truncated")
    whole = make_clip(folder / "whole.mp4", frames=180, size=(96, 64), moving="noise")
    return truncated(faststart(whole, folder / "fast.mp4"), folder / "cut.mp4", 0.3)


def test_a_truncated_input_is_warned_about_with_both_durations(capsys, tmp_path, cut_clip):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", cut_clip, out, "--model", "blend", "-q")
    assert code == 0, err
    (warning,) = lines(err, "warning:")
    assert "cut.mp4" in warning and "7.50 s" in warning and "truncated" in warning
    decoded = float(streams(out)["duration"])
    assert f"{decoded:.2f} s" in warning and decoded < 5  # the output is the short one; and so it says


def test_strict_refuses_a_truncated_input_and_writes_nothing(capsys, tmp_path, cut_clip):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", cut_clip, out, "--model", "blend", "--strict")
    assert code == 1, err
    assert len(lines(err, "error:")) == 1 and "7.50 s" in err and "--strict" in err and "Traceback" not in err
    assert not out.exists() and no_partial_files(tmp_path)


def test_a_decoder_error_midway_is_warned_about_with_its_time(capsys, tmp_path):
    clip = make_clip(tmp_path / "clip.mkv", frames=48, audio=False, moving="noise")
    bad = with_corrupt_packet(clip, tmp_path / "bad.mkv")
    out = tmp_path / "out.mkv"
    code, err = run_cli(capsys, "double", bad, out, "--model", "blend", "-q")
    assert code == 0, err
    (warning,) = lines(err, "warning:")
    assert "decoding failed at " in warning and " s (frame " in warning and "2.00 s" in warning
    code, err = run_cli(capsys, "double", bad, tmp_path / "strict.mkv", "--model", "blend", "-q", "--strict")
    assert code == 1 and "decoding failed at" in err and not (tmp_path / "strict.mkv").exists()


# --- carried over --------------------------------------------------------------------------


def test_pixel_shape_languages_dispositions_chapters_and_title_survive_a_run(capsys, tmp_path):
    source = make_clip(
        tmp_path / "dvd.mkv", frames=12, size=(160, 96), subtitles=True, sample_aspect_ratio=Fraction(32, 27),
        tags={"file": {"title": "Episode 1"}, "audio": {"language": "eng", "title": "Stereo"},
              "subtitle": {"language": "jpn", "title": "Signs"}},
        dispositions={"audio": av.stream.Disposition.default, "subtitle": av.stream.Disposition.forced},
        chapters=[(Fraction(0), Fraction(1, 4), "Opening"), (Fraction(1, 4), Fraction(1, 2), "Part A")],
    )  # fmt: skip
    out = tmp_path / "out.mkv"
    code, err = run_cli(capsys, "double", source, out, "--model", "blend", "-q")
    assert code == 0, err
    with av.open(str(out)) as container:
        video, audio, subtitle = container.streams.video[0], container.streams.audio[0], container.streams.subtitles[0]
        assert video.sample_aspect_ratio == Fraction(32, 27)
        assert video.display_aspect_ratio == Fraction(32, 27) * Fraction(160, 96)
        assert (audio.language, audio.metadata.get("title"), audio.disposition) == ("eng", "Stereo", av.stream.Disposition.default)
        assert (subtitle.language, subtitle.metadata.get("title"), subtitle.disposition) == ("jpn", "Signs", av.stream.Disposition.forced)
        assert container.metadata.get("title") == "Episode 1"
        assert [c["metadata"]["title"] for c in container.chapters()] == ["Opening", "Part A"]


# --- options that contradict each other or the input ----------------------------------------


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "in.mp4", frames=12, rate=24, audio=False)


def test_fps_with_an_explicit_factor_is_a_usage_error(capsys, tmp_path, clip):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--fps", "60", "--factor", "4")
    assert code == 2 and "--fps" in err and "--factor" in err and not out.exists()
    code, err = run_cli(capsys, "double", clip, out, "--fps", "60", "--factor", "2")  # even the default's value
    assert code == 2 and not out.exists()


def test_fps_below_the_source_rate_needs_allow_drop(capsys, tmp_path, clip):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--fps", "12", "--model", "blend")
    assert code == 2 and "--allow-drop" in err and "24" in err and not out.exists() and no_partial_files(tmp_path)
    assert "Traceback" not in err
    code, err = run_cli(capsys, "double", clip, out, "--fps", "12", "--allow-drop", "--model", "blend", "-q")
    assert code == 0, err
    assert streams(out)["rate"] == 12 and len(streams(out)["pts"]) == 6
    code, err = run_cli(capsys, "double", clip, tmp_path / "same.mp4", "--fps", "24", "--model", "blend", "-q")
    assert code == 0, err  # the source's own rate drops nothing


# --- pixel formats -------------------------------------------------------------------------


def test_an_odd_size_stays_420_and_plays(capsys, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    clip = make_clip(tmp_path / "odd.mkv", frames=4, size=(65, 37), codec="libx264", pix_fmt="yuv444p", audio=False)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--model", "classic", "-q")
    assert code == 0, err
    (warning,) = lines(err, "warning:")
    assert "65×37" in warning and "64×36" in warning
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height, video.codec_context.pix_fmt) == (64, 36, "yuv420p")
    played = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )
    assert played.returncode == 0 and played.stderr == "", played.stderr


def test_a_ten_bit_source_becomes_hevc_main_10(capsys, tmp_path):
    if "libx265" not in av.codecs_available:
        pytest.skip("libx265 is not in this FFmpeg build")
    clip = make_clip(tmp_path / "deep.mp4", frames=3, pix_fmt="yuv420p10le", audio=False)
    code, err = run_cli(capsys, "double", clip, tmp_path / "out.mp4", "--model", "blend", "-q", "--preset", "ultrafast")
    assert code == 0 and err == "", err
    with av.open(str(tmp_path / "out.mp4")) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.profile, video.codec_context.pix_fmt) == ("hevc", "Main 10", "yuv420p10le")


# --- messages: the user's path, and each level in its place ---------------------------------


@pytest.mark.parametrize("name", ["out", "out.avi"])
def test_a_bad_output_name_is_refused_by_its_own_name_before_any_work(capsys, tmp_path, clip, name):
    code, err = run_cli(capsys, "double", clip, tmp_path / name, "--model", "blend")
    assert code == 1 and str(tmp_path / name) in err and "partial" not in err, err
    assert "analysing" not in err  # refused before the first pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_quiet_prints_warnings_but_no_notes(capsys, tmp_path, cut_clip):
    # --model auto without weights says which method it uses: a note, which -q hides
    code, err = run_cli(capsys, "double", cut_clip, tmp_path / "a.mp4", "-q")
    assert code == 0, err
    assert lines(err, "note:") == [] and len(lines(err, "warning:")) == 1 and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_encoders_log_only_with_verbose(tmp_path):  # (a process each: -v sets FFmpeg's log up)
    if "libx265" not in av.codecs_available:
        pytest.skip("libx265 is not in this FFmpeg build")
    clip = make_clip(tmp_path / "in.mp4", frames=3, size=(64, 64), audio=False)
    args = [sys.executable, "-m", "animeinterp_cli", "double", str(clip)]
    options = ["--model", "blend", "--codec", "libx265", "--preset", "ultrafast"]
    plain = subprocess.run([*args, str(tmp_path / "b.mkv"), *options], capture_output=True, text=True, cwd=REPO)
    assert plain.returncode == 0 and "x265 [" not in plain.stderr
    verbose = subprocess.run([*args, str(tmp_path / "c.mkv"), *options, "-q", "-v"], capture_output=True, text=True, cwd=REPO)
    assert verbose.returncode == 0 and "x265 [info]" in verbose.stderr


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_unwritable_output_folder_is_one_line_as_a_user_sees_it(capsys, open_folder):  # noqa: F811
    """As root every folder is writable: the CLI runs in a child process that is not root."""
    from animeinterp_cli import cli

    clip = make_clip(open_folder / "in.mp4", frames=4, audio=False)
    # the same run into a missing folder first: what it imports lazily is then imported (the
    # child, not root, could not read Python's own library under /root)
    assert run_cli(capsys, "double", clip, open_folder / "missing" / "out.mp4", "--model", "blend")[0] == 1
    clip.chmod(0o644)
    locked = open_folder / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    read, write = os.pipe()

    def attempt() -> int:
        os.close(read)
        sys.stderr = os.fdopen(write, "w")  # where the console writes (pytest captures the rest)
        sys.argv = ["animeinterp", "double", str(clip), str(locked / "out.mp4"), "--model", "blend"]
        try:
            cli.main()
        except SystemExit as exit:
            return exit.code
        finally:
            sys.stderr.flush()
        return 0

    code = run_unprivileged(attempt)
    os.close(write)
    with os.fdopen(read) as pipe:
        err = pipe.read()
    assert code == 1, err
    assert err.startswith("error: output folder is not writable") and len(err.strip().splitlines()) == 1, err
    assert list(locked.iterdir()) == []


def test_the_readme_example_writes_where_git_does_not_look():
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Run it on a real example", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    command = next(line for line in block.splitlines() if "animeinterp double" in line)
    output = command.split()[-1]
    path = (REPO / output).resolve()
    if REPO not in path.parents:
        return  # outside the repository
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", output], cwd=REPO)
    assert ignored.returncode == 0, f"the README's example writes {output}, which git would show as untracked"
