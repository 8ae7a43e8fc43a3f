"""Chunks on Ray: a local ``ray.init(num_cpus=2)``, two workers, two short clips.

Skipped only when Ray (the ``cluster`` extra) is not installed; CI installs it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from animeinterp_cli.chunks import driver  # noqa: E402
from animeinterp_cli.video.decode import read_frames  # noqa: E402
from tests.chunks.clips import make_shots_clip  # noqa: E402
from tests.chunks.test_chunked_run import decodes_cleanly, described  # noqa: E402
from tests.test_cli import run_cli  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return (
        make_shots_clip(folder / "a.mp4", [20, 26, 18, 24]),
        make_shots_clip(folder / "b.mkv", [30, 22], subtitles=True),
    )


def one_piece(capsys, source, out):
    code, err = run_cli(capsys, "double", source, out, "--model", "blend", "--crf", "0", "--chunk-seconds", "0", "-q")
    assert code == 0, err
    return out


def test_batch_on_two_workers_writes_two_valid_outputs(capsys, tmp_path, clips, monkeypatch):
    """The bar: `batch a.mp4 b.mkv --out-dir out --workers 2` on a local Ray; each worker's
    model loaded once and used for all its chunks."""
    summaries = []
    original = driver.run_chunked
    monkeypatch.setattr(driver, "run_chunked", lambda *a, **k: summaries.extend(original(*a, **k)) or summaries)
    out_dir = tmp_path / "out"
    code, err = run_cli(
        capsys, "batch", *clips, "--out-dir", out_dir, "--workers", "2", "--model", "blend", "--crf", "0",
        "--chunk-seconds", "0.5",
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.mp4", "b.mkv"]  # no work folder left
    assert "done: a.mp4: 88 frames in" in err and "done: b.mkv: 52 frames in" in err
    for source in clips:
        result = out_dir / source.name
        expected = one_piece(capsys, source, tmp_path / f"one-{source.name}")
        assert described(result) == described(expected)
        assert decodes_cleanly(result) == ""
        for a, b in zip(read_frames(expected), read_frames(result), strict=True):
            np.testing.assert_array_equal(a.image, b.image)

    chunks = sum(s.chunks for s in summaries)
    assert chunks == 4 + 2
    workers: dict[str, int] = {}
    for summary in summaries:
        for name, made in summary.workers.items():
            workers[name] = max(made, workers.get(name, 0))
    # a worker's count of chunks made by its model reached the number it made: one model each
    assert len(workers) == 2 and sum(workers.values()) == chunks


def test_a_chunk_that_fails_on_a_worker_is_retried_then_reported(capsys, tmp_path, clips, monkeypatch):
    original = driver._tasks

    def one_broken(file):
        tasks = original(file)
        tasks[0] = replace(tasks[0], source=tmp_path / "gone.mp4")  # chunk 1 reads a file no worker has
        return tasks

    monkeypatch.setattr(driver, "_tasks", one_broken)
    out = tmp_path / "a.mp4"
    code, err = run_cli(capsys, "double", clips[0], out, "--workers", "2", "--model", "blend", "--chunk-seconds", "1")
    assert code == 1
    assert "chunk a.mp4 1/4 failed (input not found" in err and "trying it once more" in err
    assert err.strip().splitlines()[-1].startswith("error: chunk a.mp4 1/4 failed twice: input not found")
    assert "a.mp4: 3 of 4 chunks done, kept in" in err and not out.exists()


def test_a_worker_that_cannot_load_the_model_is_one_line(capsys, tmp_path, clips):
    bad = tmp_path / "bad.ckpt"
    bad.write_text("not weights")
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", clips[0], out, "--workers", "2", "--model", "animeinterp", "--weights", bad)
    assert code == 1 and err.strip().splitlines()[-1] == f"error: not a PyTorch checkpoint: {bad}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ckpt"]


def test_the_workers_warnings_reach_the_user_once_even_with_quiet(capsys, tmp_path):
    """A truncated input (said by pass 1, on a worker) and an odd size (said by every chunk's
    encoder, on both workers): one warning line each, under -q too, and nothing else."""
    from tests.clipgen import faststart, make_clip, truncated

    whole = make_clip(tmp_path / "whole.mp4", frames=96, size=(65, 37), pix_fmt="yuv444p", moving="noise", audio=False)
    cut = truncated(faststart(whole, tmp_path / "fast.mp4"), tmp_path / "cut.mp4", 0.5)
    out = tmp_path / "out.mp4"
    code, err = run_cli(capsys, "double", cut, out, "--workers", "2", "--model", "blend", "--chunk-seconds", "0.3", "-q")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and len(err.strip().splitlines()) == 2, err
    assert any("cut.mp4 looks truncated" in line for line in warnings)
    assert any("65×37" in line and "64×36" in line for line in warnings)
