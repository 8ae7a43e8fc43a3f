"""Issue 14's guarantees on the chunked path of issue 16: a chunked run loses and hides no
more than a one-piece run.

Stop signals keep the finished chunks for ``--resume`` and remove the chunk being made; the
leftover clean-up never touches a work folder; the source's pixel shape, tags, dispositions,
chapters, title and rotation reach the stitched output as they reach a one-piece one; a
truncated input is warned about once (refused with ``--strict``); ``-q`` prints only errors
and warnings; ``batch`` takes the same options and refuses the same contradictions.
"""

from __future__ import annotations

import json
import os
import signal
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from animeinterp_cli.chunks import worker
from animeinterp_cli.chunks.workdir import work_folder_for
from animeinterp_cli.video.output import atomic_output
from tests.chunks.clips import make_shots_clip
from tests.clipgen import faststart, make_clip, truncated
from tests.test_cli import no_partial_files, run_cli
from tests.video.test_output import aged, leftover

FAST = ("--model", "blend", "--preset", "ultrafast")


def lines(err: str, prefix: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(prefix)]


def manifest_of(out: Path) -> dict:
    return json.loads((work_folder_for(out) / "manifest.json").read_text())


def frames_of(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """4 s, 4 shots: 4 chunks at --chunk-seconds 1."""
    return make_shots_clip(tmp_path_factory.mktemp("shots") / "in.mp4", [24, 24, 24, 24])


# --- stop signals ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_stop_signal_keeps_the_finished_chunks_and_removes_the_one_being_made(
    capsys, tmp_path, monkeypatch, shots, default_stop_signals, name, status
):
    out = tmp_path / "out.mp4"
    original = worker.ChunkMaker.make
    seen = {}

    def signalled(self, task, dest, tick=lambda n: None):
        if task.chunk != 2:
            return original(self, task, dest, tick)

        def killed(count: int) -> None:  # as `kill` would, once the chunk's file holds frames
            seen["partial"] = dest.exists() and dest.stat().st_size > 0
            os.kill(os.getpid(), getattr(signal, name))
            time.sleep(5)  # the handler raises here
            raise AssertionError("the signal was not handled")

        return original(self, task, dest, killed)

    monkeypatch.setattr(worker.ChunkMaker, "make", signalled)
    code, err = run_cli(capsys, "double", shots, out, *FAST, "--chunk-seconds", "1", "-q")
    assert code == status, err
    assert seen["partial"]  # the chunk being made had a file …
    work = work_folder_for(out)
    assert not list(work.glob("*.partial*"))  # … which is gone
    assert sorted(c["index"] for c in manifest_of(out)["chunks"] if c["done"]) == [0, 1]
    assert sorted(p.name for p in work.glob("chunk-*")) == ["chunk-00000.mp4", "chunk-00001.mp4"]
    assert not out.exists() and no_partial_files(tmp_path)
    (warning,) = lines(err, "warning:")  # shown under -q: files stay on disk
    assert "2 of 4 chunks done" in warning and str(work) in warning and "--resume" in warning
    assert err.strip().splitlines()[-1] == f"error: stopped by {name}" and len(err.strip().splitlines()) == 2
    assert signal.getsignal(getattr(signal, name)) is signal.SIG_DFL  # handed back

    monkeypatch.setattr(worker.ChunkMaker, "make", original)
    # --strict changes what is accepted, not the output: the interrupted run's settings still match
    code, err = run_cli(capsys, "double", shots, out, *FAST, "--chunk-seconds", "1", "--resume", "--strict")
    assert code == 0, err
    assert "(2 made by the interrupted run)" in err
    assert frames_of(out) == 192 and not work.exists() and no_partial_files(tmp_path)


# --- leftovers of killed runs --------------------------------------------------------------


def test_the_leftover_clean_up_never_touches_a_work_folder(tmp_path):
    target = tmp_path / "out.mp4"
    work = work_folder_for(target)
    work.mkdir()
    (work / "manifest.json").write_text("{}")
    aged(work / "manifest.json")
    aged(work)  # old, unlocked: as a killed run leaves it
    stale = leftover(tmp_path / ".out.partial-0badf00d.mp4")
    said = []
    with atomic_output(target, overwrite=False, note=said.append) as partial:
        partial.write_bytes(b"video")
    assert not stale.exists() and len(said) == 1 and str(stale) in said[0]
    assert work.is_dir() and (work / "manifest.json").exists()


def test_after_a_kill_the_resumed_run_removes_the_dead_partial_and_keeps_its_chunks(capsys, tmp_path, monkeypatch, shots):
    out = tmp_path / "out.mp4"
    original = worker.ChunkMaker.make
    calls = []

    def dies(self, task, dest, tick=lambda n: None):
        calls.append(task.key)
        if len(calls) > 1:
            raise KeyboardInterrupt  # (stands in for the kill: the state below is what SIGKILL leaves)
        return original(self, task, dest, tick)

    monkeypatch.setattr(worker.ChunkMaker, "make", dies)
    code, _ = run_cli(capsys, "double", shots, out, *FAST, "--chunk-seconds", "1")
    assert code == 130
    work = work_folder_for(out)
    done = [c["index"] for c in manifest_of(out)["chunks"] if c["done"]]
    assert len(done) == 1
    # what a SIGKILL adds: the run's empty output partial, and the chunk it was making
    stale = leftover(tmp_path / ".out.partial-0badf00d.mp4", b"")
    leftover(work / "chunk-00001.partial.mp4")
    for path in (work, *work.iterdir()):
        aged(path)

    made = []
    monkeypatch.setattr(worker.ChunkMaker, "make", lambda self, task, *rest: made.append(task.chunk) or original(self, task, *rest))
    code, err = run_cli(capsys, "double", shots, out, *FAST, "--chunk-seconds", "1", "--resume")
    assert code == 0, err
    assert not stale.exists() and len(lines(err, "note: removed")) == 1 and str(stale) in err
    assert sorted(made) == sorted(set(range(4)) - set(done))
    assert frames_of(out) == 192 and not work.exists() and no_partial_files(tmp_path)


# --- carried over ------------------------------------------------------------------------


def described(path: Path) -> dict:
    """What a player sees of a file besides its pictures: every stream's codec, tag, tags,
    dispositions and pixel shape, the file's tags and chapters, the display rotation, the
    video timestamps."""
    from animeinterp_cli.video.decode import probe_video

    with av.open(str(path)) as container:
        result: dict = {"file": dict(container.metadata), "chapters": [c["metadata"] for c in container.chapters()]}
        for stream in container.streams:
            context = stream.codec_context
            result[f"stream {stream.index}"] = {
                "type": stream.type, "codec": getattr(context, "name", None), "tag": getattr(stream, "codec_tag", None),
                "tags": dict(stream.metadata), "disposition": int(stream.disposition),
                "sar": getattr(stream, "sample_aspect_ratio", None), "size": (getattr(stream, "width", None), getattr(stream, "height", None)),
                "pix_fmt": getattr(context, "pix_fmt", None), "profile": getattr(stream, "profile", None),
            }  # fmt: skip
    with av.open(str(path)) as container:
        result["pts"] = [frame.pts for frame in container.decode(video=0)]
    result["rotation"] = probe_video(path).rotation
    return result


def rich(folder: Path, name: str) -> Path:
    return make_clip(
        folder / name, frames=48, size=(160, 96), subtitles=name.endswith(".mkv"), sample_aspect_ratio=Fraction(32, 27),
        tags={"file": {"title": "Episode 1"}, "video": {"title": "Main"}, "audio": {"language": "eng", "title": "Stereo"},
              **({"subtitle": {"language": "jpn", "title": "Signs"}} if name.endswith(".mkv") else {})},
        dispositions={"audio": av.stream.Disposition.default,
                      **({"subtitle": av.stream.Disposition.forced} if name.endswith(".mkv") else {})},
        chapters=[(Fraction(0), Fraction(1), "Opening"), (Fraction(1), Fraction(2), "Part A")],
    )  # fmt: skip


SOURCES = {
    "release mkv": (lambda folder: rich(folder, "rich.mkv"), "out.mkv"),
    "release mp4": (lambda folder: rich(folder, "rich.mp4"), "out.mp4"),
    "anamorphic mp4 into mkv": (lambda folder: make_clip(folder / "sar.mp4", frames=48, sample_aspect_ratio=Fraction(3, 4)), "out.mkv"),
    "rotated": (lambda folder: make_clip(folder / "rot.mp4", frames=48, rotation=90, audio=False), "out.mp4"),
    "odd size": (lambda folder: make_clip(folder / "odd.mkv", frames=48, size=(65, 37), pix_fmt="yuv444p", audio=False), "out.mp4"),
    "10-bit": (lambda folder: make_clip(folder / "deep.mp4", frames=48, pix_fmt="yuv420p10le", audio=False), "out.mp4"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(SOURCES))
def test_the_stitched_output_carries_what_a_one_piece_run_carries(capsys, tmp_path, kind):
    make, name = SOURCES[kind]
    if kind == "10-bit" and "libx265" not in av.codecs_available:
        pytest.skip("libx265 is not in this FFmpeg build")
    source = make(tmp_path)
    said = {}
    for mode, seconds in (("one", "0"), ("chunked", "0.4")):
        (tmp_path / mode).mkdir()
        code, err = run_cli(capsys, "double", source, tmp_path / mode / name, *FAST, "--chunk-seconds", seconds)
        assert code == 0, err
        assert (", 5 chunks" in err) == (mode == "chunked"), err  # 2 s: one shot, cut in 5
        said[mode] = lines(err, "warning:")
    one, chunked = described(tmp_path / "one" / name), described(tmp_path / "chunked" / name)
    assert chunked == one
    assert said["chunked"] == said["one"]  # the same warnings, each once (odd size: one line, not one per chunk)
    if kind == "odd size":
        assert len(said["one"]) == 1 and "64×36" in said["one"][0]


# --- truncated input, -q, batch --------------------------------------------------------------


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("truncated")
    whole = make_clip(folder / "whole.mp4", frames=180, size=(96, 64), moving="noise")
    return truncated(faststart(whole, folder / "fast.mp4"), folder / "cut.mp4", 0.3)


def test_a_truncated_input_is_warned_about_once_in_chunks_and_quiet_shows_only_that(capsys, tmp_path, cut_clip):
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", cut_clip, out, "--chunk-seconds", "0.5", "-q")  # --model auto: a note, hidden
    assert code == 0, err
    (warning,) = lines(err, "warning:")
    assert "cut.mp4" in warning and "7.50 s" in warning and len(err.strip().splitlines()) == 1
    assert frames_of(out) < 2 * 24 * 5 and not work_folder_for(out).exists()
    code, err = run_cli(capsys, "double", cut_clip, tmp_path / "strict.mp4", *FAST, "--chunk-seconds", "0.5", "--strict")
    assert code == 1 and "--strict" in lines(err, "error:")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no output, no work folder, no partial


def test_chunked_double_says_what_it_chose_unless_quiet(capsys, tmp_path, shots):
    code, err = run_cli(capsys, "double", shots, tmp_path / "a.mp4", "--chunk-seconds", "1")  # --model auto
    assert code == 0, err
    assert lines(err, "note:") and "4 chunks" in err
    code, err = run_cli(capsys, "double", shots, tmp_path / "b.mp4", "--chunk-seconds", "1", "-q")
    assert code == 0 and err == "", err


def test_batch_takes_doubles_options_and_refuses_the_same_contradictions(capsys, tmp_path, shots, cut_clip):
    out_dir = tmp_path / "out"
    code, err = run_cli(capsys, "batch", shots, "--out-dir", out_dir, "--fps", "60", "--factor", "4")
    assert code == 2 and "--fps" in err and "--factor" in err and not out_dir.exists()
    code, err = run_cli(capsys, "batch", shots, "--out-dir", out_dir, "--fps", "12", *FAST)
    assert code == 2 and "--allow-drop" in err and not (out_dir / "in.mp4").exists()
    code, err = run_cli(capsys, "batch", shots, cut_clip, "--out-dir", out_dir, "--chunk-seconds", "1", "-q")
    assert code == 0, err
    (warning,) = lines(err, "warning:")  # the truncated one, said; nothing else under -q
    assert "cut.mp4" in warning and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["cut.mp4", "in.mp4"]
    code, err = run_cli(capsys, "batch", shots, "--out-dir", tmp_path / "strict", "--strict", "--fps", "12", "--allow-drop",
                        *FAST, "--crf", "30", "--codec", "libx264")  # fmt: skip
    assert code == 0, err
    assert frames_of(tmp_path / "strict" / "in.mp4") == 48


def test_weights_that_auto_would_pick_now_but_did_not_then_are_refused_on_resume(capsys, tmp_path, monkeypatch, shots):
    """--model auto takes the official checkpoint once downloaded (else the shipped default):
    resuming after a download would mix two methods' chunks in one output."""
    import torch

    from animeinterp_cli.engine import methods
    from models.animeinterp import AnimeInterp
    from models.checkpoint import save_checkpoint
    from models.config import AnimeInterpConfig

    out = tmp_path / "out.mp4"
    args = ("double", shots, out, "--chunk-seconds", "1", "--preset", "ultrafast")  # --model auto: classic here
    original = worker.ChunkMaker.make
    calls = []

    def stopped(self, task, dest, tick=lambda n: None):
        calls.append(task.key)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return original(self, task, dest, tick)

    with monkeypatch.context() as patch:
        patch.setattr(worker.ChunkMaker, "make", stopped)
        assert run_cli(capsys, *args)[0] == 130
    torch.manual_seed(0)
    downloaded = tmp_path / "official.ckpt"
    save_checkpoint(downloaded, AnimeInterp(AnimeInterpConfig.tiny()), AnimeInterpConfig.tiny().to_dict())
    monkeypatch.setattr(methods, "resolve_weights", lambda weights: methods.ResolvedWeights(weights or downloaded, None, "official"))
    code, err = run_cli(capsys, *args, "--resume")
    assert code == 1 and "settings differ" in err and "weights None → " in err and "official.ckpt" in err, err
    assert work_folder_for(out).is_dir() and not out.exists()  # the interrupted run's chunks are kept
