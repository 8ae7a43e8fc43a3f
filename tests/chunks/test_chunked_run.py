"""`double` in chunks, end to end: same output as one piece, the work folder, --resume, failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from animeinterp_cli.chunks import driver, pool, worker
from animeinterp_cli.chunks.workdir import work_folder_for
from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.video.decode import read_frames
from tests.chunks.clips import cut_frames, make_shots_clip
from tests.conftest import stop_signals_as_from_a_terminal
from tests.test_cli import no_partial_files, run_cli

SHOTS = [60, 72, 48, 60]  # 10 s at 24 fps with 3 cuts: 2.5, 3, 2 and 2.5 s


def described(path: Path) -> dict:
    """Frame count, video timestamps and every audio/subtitle packet, as decoded and demuxed."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        result = {"time_base": video.time_base, "rate": video.average_rate, "duration": container.duration}
        others = [s for s in container.streams if s.type != "video"]
        result["copied"] = [(p.stream.index, p.pts, p.dts, bytes(p)) for p in container.demux(*others) if p.size]
    with av.open(str(path)) as container:
        result["pts"] = [frame.pts for frame in container.decode(video=0)]
    return result


def decodes_cleanly(path: Path) -> str:
    """What the bundled ffmpeg says when decoding the whole file (nothing when clean)."""
    import imageio_ffmpeg

    run = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return run.stderr.strip() + ("" if run.returncode == 0 else f" (exit {run.returncode})")


@pytest.fixture
def splits(monkeypatch):
    """The chunks each run of the driver made."""
    made = []
    original = driver.split_plan

    def recording(*args, **kwargs):
        chunks = original(*args, **kwargs)
        made.append(chunks)
        return chunks

    monkeypatch.setattr(driver, "split_plan", recording)
    return made


@pytest.fixture
def made_chunks(monkeypatch):
    """(file, chunk) of every chunk made in this process."""
    made = []
    original = worker.ChunkMaker.make

    def counting(self, task, dest, tick=lambda n: None):
        made.append(task.key)
        return original(self, task, dest, tick)

    monkeypatch.setattr(worker.ChunkMaker, "make", counting)
    return made


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_shots_clip(tmp_path_factory.mktemp("clip") / "cuts.mp4", SHOTS, rate=Fraction(24))


@pytest.fixture(scope="module")
def one_piece(clip, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "one.mp4"
    code, err = _cli(None, "double", clip, out, "--model", "classic", "--crf", "0", "--chunk-seconds", "0", "-q")
    assert code == 0, err
    return out


def _cli(capsys, *args):
    if capsys is not None:
        return run_cli(capsys, *args)
    run = subprocess.run([sys.executable, "-m", "animeinterp_cli", *map(str, args)], capture_output=True, text=True)
    return run.returncode, run.stderr


def test_chunks_at_cuts_give_the_same_output_as_one_piece(capsys, tmp_path, clip, one_piece, splits):
    """The bar: --chunk-seconds 2 on a 10 s clip with 3 cuts: same frames, timestamps and audio."""
    out = tmp_path / "chunked.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--model", "classic", "--crf", "0", "--chunk-seconds", "2")
    assert code == 0, err
    assert "4 chunks" in err and "3 scene cuts" in err
    [chunks] = splits
    cut_times = [Fraction(f, 24) for f in cut_frames(SHOTS)]
    assert [c.start for c in chunks] == [0, *cut_times]  # chunk boundaries only at cuts
    assert all(c.at_cut for c in chunks)
    assert described(out) == described(one_piece)
    assert decodes_cleanly(out) == ""
    for a, b in zip(read_frames(one_piece), read_frames(out), strict=True):  # lossless: the same pictures
        np.testing.assert_array_equal(a.image, b.image)
    assert not work_folder_for(out).exists() and no_partial_files(tmp_path)


def test_mkv_with_subtitles_and_a_target_rate(capsys, tmp_path):
    clip = make_shots_clip(tmp_path / "in.mkv", [30, 20, 25], subtitles=True)
    one, chunked = tmp_path / "one.mkv", tmp_path / "chunked.mkv"
    for out, seconds in ((one, "0"), (chunked, "1")):
        code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--fps", "60", "--chunk-seconds", seconds, "-q")
        assert code == 0, err
    result = described(chunked)
    assert result == described(one) and len(result["pts"]) == 188  # ceil(75 / 24 × 60)
    assert decodes_cleanly(chunked) == ""


def test_a_video_that_fits_in_one_chunk_is_made_in_one_piece(capsys, tmp_path, monkeypatch):
    clip = make_shots_clip(tmp_path / "in.mp4", [12, 12])
    monkeypatch.setattr(driver, "run_chunked", lambda *a, **k: pytest.fail("chunked"))
    code, err = run_cli(capsys, "double", clip, tmp_path / "out.mp4", "--model", "blend", "--chunk-seconds", "5", "-q")
    assert code == 0, err


# --- the work folder and --resume -----------------------------------------------------


def interrupt_after(monkeypatch, chunks_made: int, error: BaseException | None = None):
    """Make ChunkMaker.make raise ``error`` once ``chunks_made`` chunks are done."""
    original = worker.ChunkMaker.make
    calls = []

    def interrupted(self, task, dest, tick=lambda n: None):
        calls.append(task.key)
        if len(calls) > chunks_made:
            raise error or KeyboardInterrupt()
        return original(self, task, dest, tick)

    monkeypatch.setattr(worker.ChunkMaker, "make", interrupted)


def manifest_of(out: Path) -> dict:
    return json.loads((work_folder_for(out) / "manifest.json").read_text())


def test_ctrl_c_keeps_finished_chunks_and_resume_makes_only_the_rest(capsys, tmp_path, clip, one_piece, monkeypatch):
    out = tmp_path / "out.mp4"
    args = ("double", clip, out, "--model", "classic", "--crf", "0", "--chunk-seconds", "2")
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        code, err = run_cli(capsys, *args)
    assert code == 130 and not out.exists() and no_partial_files(tmp_path)
    work = work_folder_for(out)
    assert "2 of 4 chunks done" in err and "--resume" in err
    done = [c["index"] for c in manifest_of(out)["chunks"] if c["done"]]
    assert len(done) == 2 and not list(work.glob("*.partial*"))
    kept = {i: (work / f"chunk-{i:05d}.mp4").stat().st_ino for i in done}

    code, err = run_cli(capsys, *args)  # without --resume: refused, the folder untouched
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: an interrupted run of out.mp4 left")
    assert "add --resume" in err and len(err.strip().splitlines()) == 1
    assert {i: (work / f"chunk-{i:05d}.mp4").stat().st_ino for i in done} == kept

    made = []
    original = worker.ChunkMaker.make
    monkeypatch.setattr(
        worker.ChunkMaker, "make", lambda self, task, *rest: made.append(task.chunk) or original(self, task, *rest)
    )
    code, err = run_cli(capsys, *args, "--resume")
    assert code == 0, err
    assert sorted(made) == sorted(set(range(4)) - set(done))  # no finished chunk made again
    assert "(2 made by the interrupted run)" in err
    assert described(out) == described(one_piece)
    for a, b in zip(read_frames(one_piece), read_frames(out), strict=True):
        np.testing.assert_array_equal(a.image, b.image)
    assert not work.exists() and no_partial_files(tmp_path)


def test_ctrl_c_before_any_chunk_is_done_leaves_nothing(capsys, tmp_path, clip, monkeypatch):
    interrupt_after(monkeypatch, 0)
    out = tmp_path / "out.mp4"
    code, _ = run_cli(capsys, "double", clip, out, "--model", "blend", "--chunk-seconds", "2")
    assert code == 130 and sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sigint_in_a_real_process_then_resume_redoes_no_finished_chunk(capsys, tmp_path, clip, made_chunks):
    out = tmp_path / "out.mp4"
    args = ["double", str(clip), str(out), "--model", "classic", "--chunk-seconds", "2"]
    process = subprocess.Popen([sys.executable, "-m", "animeinterp_cli", *args, "-q"], stderr=subprocess.PIPE, text=True,
                               preexec_fn=stop_signals_as_from_a_terminal)
    manifest = work_folder_for(out) / "manifest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if any(c["done"] for c in json.loads(manifest.read_text())["chunks"]):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    process.send_signal(2)  # SIGINT, as Ctrl-C
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    done = {c["index"] for c in manifest_of(out)["chunks"] if c["done"]}
    assert 1 <= len(done) < 4 and no_partial_files(tmp_path)
    code, err = run_cli(capsys, *args, "--resume")
    assert code == 0, err
    assert {chunk for _, chunk in made_chunks}.isdisjoint(done) and len(made_chunks) == 4 - len(done)
    assert len(described(out)["pts"]) == 2 * sum(SHOTS)


def test_a_changed_source_is_refused(capsys, tmp_path, monkeypatch):
    clip = make_shots_clip(tmp_path / "in.mp4", [30, 30, 30])
    out = tmp_path / "out.mp4"
    args = ("double", clip, out, "--model", "blend", "--chunk-seconds", "1")
    with monkeypatch.context() as patch:
        interrupt_after(patch, 1)
        assert run_cli(capsys, *args)[0] == 130
    make_shots_clip(clip, [30, 30, 31])  # another video under the same name
    code, err = run_cli(capsys, *args, "--resume")
    assert code == 1 and "in.mp4 changed since the interrupted run" in err and "delete" in err
    assert work_folder_for(out).exists() and not out.exists()
    os.utime(clip, ns=(0, 0))  # even the same size with another mtime
    code, err = run_cli(capsys, *args, "--resume")
    assert code == 1 and "modification time" in err


def test_changed_settings_are_refused(capsys, tmp_path, monkeypatch):
    clip = make_shots_clip(tmp_path / "in.mp4", [30, 30, 30])
    out = tmp_path / "out.mp4"
    args = ("double", clip, out, "--model", "blend", "--chunk-seconds", "1")
    with monkeypatch.context() as patch:
        interrupt_after(patch, 1)
        assert run_cli(capsys, *args)[0] == 130
    code, err = run_cli(capsys, *args, "--resume", "--crf", "20")
    assert code == 1 and "settings differ" in err and "encode.crf 17 → 20" in err
    code, err = run_cli(capsys, *args[:-1], "2", "--resume")
    assert code == 1 and "chunk_seconds 1.0 → 2.0" in err
    code, err = run_cli(capsys, *args, "--resume", "--batch-size", "3")  # speed only: accepted
    assert code == 0, err


def test_a_damaged_chunk_or_a_partial_one_is_made_again(capsys, tmp_path, monkeypatch, made_chunks):
    clip = make_shots_clip(tmp_path / "in.mp4", [30, 30, 30])
    out = tmp_path / "out.mp4"
    args = ("double", clip, out, "--model", "blend", "--chunk-seconds", "1")
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        assert run_cli(capsys, *args)[0] == 130
    work = work_folder_for(out)
    done = sorted(c["index"] for c in manifest_of(out)["chunks"] if c["done"])
    damaged = work / f"chunk-{done[0]:05d}.mp4"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    (work / "chunk-00009.partial.mp4").write_bytes(b"left by a power cut")
    made_chunks.clear()
    code, err = run_cli(capsys, *args, "--resume")
    assert code == 0, err
    assert "is damaged: making it again" in err
    assert sorted(chunk for _, chunk in made_chunks) == sorted({0, 1, 2} - set(done[1:]))
    assert len(described(out)["pts"]) == 180 and not work.exists()


def test_a_failed_chunk_is_tried_once_more(capsys, tmp_path, monkeypatch):
    clip = make_shots_clip(tmp_path / "in.mp4", [30, 30, 30])
    out = tmp_path / "out.mp4"
    original = worker.ChunkMaker.make
    failures = []

    def flaky(self, task, dest, tick=lambda n: None):
        if task.chunk == 1 and not failures:
            failures.append(task.key)
            dest.write_bytes(b"half a chunk")
            raise RuntimeError("device lost")
        return original(self, task, dest, tick)

    monkeypatch.setattr(worker.ChunkMaker, "make", flaky)
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--chunk-seconds", "1")
    assert code == 0, err
    assert "chunk out.mp4 2/3 failed (RuntimeError: device lost): trying it once more" in err
    assert len(described(out)["pts"]) == 180


def test_a_chunk_that_fails_twice_is_reported_and_the_others_kept(capsys, tmp_path, monkeypatch):
    clip = make_shots_clip(tmp_path / "in.mp4", [30, 30, 30])
    out = tmp_path / "out.mp4"
    original = worker.ChunkMaker.make

    def broken(self, task, dest, tick=lambda n: None):
        if task.chunk == 1:
            raise RuntimeError("out of memory")
        return original(self, task, dest, tick)

    monkeypatch.setattr(worker.ChunkMaker, "make", broken)
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--chunk-seconds", "1")
    assert code == 1
    assert err.strip().splitlines()[-1] == "error: chunk out.mp4 2/3 failed twice: RuntimeError: out of memory"
    assert not out.exists() and sorted(c["done"] for c in manifest_of(out)["chunks"]) == [False, True, True]
    monkeypatch.setattr(worker.ChunkMaker, "make", original)
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--chunk-seconds", "1", "--resume")
    assert code == 0, err


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(capsys, tmp_path, monkeypatch):
    clip = make_shots_clip(tmp_path / "in.mp4", [30, 30, 30])
    out = tmp_path / "out.mp4"
    original = worker.ChunkMaker.make
    second = []

    def meanwhile(self, task, dest, tick=lambda n: None):
        if not second:
            second.append(run_cli(capsys, "double", clip, out, "--model", "blend", "--chunk-seconds", "1", "--resume"))
        return original(self, task, dest, tick)

    monkeypatch.setattr(worker.ChunkMaker, "make", meanwhile)
    code, err = run_cli(capsys, "double", clip, out, "--model", "blend", "--chunk-seconds", "1")
    assert code == 0, err
    assert second[0][0] == 1 and "another animeinterp run is using" in second[0][1]


# --- workers without Ray; batch in this process -----------------------------------------


def test_more_workers_without_ray_say_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "ray_or_none", lambda: None)
    clip = make_shots_clip(tmp_path / "in.mp4", [12, 12])
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--workers", "2")
    assert code == 1 and '--workers 2 needs Ray, which is not installed: pip install -e ".[cluster]"' in err
    code, err = run_cli(capsys, "batch", clip, "--out-dir", tmp_path / "o", "--ray-address", "auto")
    assert code == 1 and "--ray-address auto needs Ray" in err
    assert not out.exists() and not (tmp_path / "o").exists()


def test_batch_in_this_process(capsys, tmp_path):
    a = make_shots_clip(tmp_path / "a.mp4", [20, 30])
    b = make_shots_clip(tmp_path / "b.mkv", [25, 15], subtitles=True)
    out_dir = tmp_path / "out"
    code, err = run_cli(capsys, "batch", a, b, "--out-dir", out_dir, "--model", "blend", "--chunk-seconds", "1")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.mp4", "b.mkv"]
    assert len(described(out_dir / "a.mp4")["pts"]) == 100 and len(described(out_dir / "b.mkv")["pts"]) == 80
    assert "done: a.mp4: 50 frames in" in err and "done: b.mkv: 40 frames in" in err
    code, err = run_cli(capsys, "batch", a, b, "--out-dir", out_dir, "--model", "blend")
    assert code == 1 and "output exists" in err
    code, err = run_cli(capsys, "batch", a, b, "--out-dir", out_dir, "--model", "blend", "--resume")
    assert code == 0 and err.count("already there: skipped") == 2


def test_batch_refuses_two_inputs_with_one_output_name(capsys, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = make_shots_clip(tmp_path / "x" / "ep.mp4", [12, 12])
    b = shutil.copy(a, tmp_path / "y" / "ep.mp4")
    code, err = run_cli(capsys, "batch", a, b, "--out-dir", tmp_path / "out")
    assert code == 1 and "would both be written to" in err


def test_an_unreachable_cluster_address_fails_at_once():
    with pytest.raises(AnimeInterpError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1: "):
        pool._check_reachable("127.0.0.1:1")
    pool._check_reachable("auto")  # left to Ray
