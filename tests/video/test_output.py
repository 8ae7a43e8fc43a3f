"""atomic_output / atomic_output_dir: validation, rename on success, cleanup on failure."""

from __future__ import annotations

import os

import pytest

from animeinterp_cli.errors import OutputError
from animeinterp_cli.video.output import atomic_output, atomic_output_dir


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_output_appears_only_on_success_under_its_name(tmp_path):
    target = tmp_path / "out.mp4"
    with atomic_output(target, overwrite=False) as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".out.partial-") and temporary.suffix == ".mp4"
        temporary.write_bytes(b"video")
        assert not target.exists()
    assert target.read_bytes() == b"video"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_removes_the_partial_file_and_keeps_the_old_output(tmp_path, error):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_output(target, overwrite=True) as temporary:
        temporary.write_bytes(b"half a video")
        raise error
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_existing_output_needs_overwrite(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"output exists: .*out\.mp4 \(use --overwrite\)"):
        with atomic_output(target, overwrite=False):
            pytest.fail("must not start")
    with atomic_output(target, overwrite=True) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_output_that_is_the_input_is_refused_even_with_overwrite(tmp_path, monkeypatch):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"input")
    monkeypatch.chdir(tmp_path)
    os.symlink(source, tmp_path / "link.mp4")
    for target in (source, tmp_path / "." / "in.mp4", tmp_path / "link.mp4"):
        with pytest.raises(OutputError, match="output is the input itself"):
            with atomic_output(target, overwrite=True, input_path=source):
                pytest.fail("must not start")
    assert source.read_bytes() == b"input"


def test_missing_output_folder(tmp_path):
    with pytest.raises(OutputError, match="output folder does not exist: .*nowhere"):
        with atomic_output(tmp_path / "nowhere" / "out.mp4", overwrite=False):
            pytest.fail("must not start")


def test_output_folder_that_is_a_file(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OutputError, match="output folder is not a folder: .*notes.txt"):
        with atomic_output(blocker / "out.mp4", overwrite=False):
            pytest.fail("must not start")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(OutputError, match="output folder is not writable"):
            with atomic_output(locked / "out.mp4", overwrite=False):
                pytest.fail("must not start")
    finally:
        locked.chmod(0o700)


def test_target_that_is_a_folder(tmp_path):
    (tmp_path / "out.mp4").mkdir()
    with pytest.raises(OutputError, match="output is a folder"):
        with atomic_output(tmp_path / "out.mp4", overwrite=True):
            pytest.fail("must not start")


def test_nothing_written_is_an_error(tmp_path):
    with pytest.raises(OutputError, match="nothing was written"), atomic_output(tmp_path / "out.mp4", overwrite=False):
        pass
    assert list(tmp_path.iterdir()) == []


def test_folder_output_appears_on_success(tmp_path):
    target = tmp_path / "frames"
    with atomic_output_dir(target, overwrite=False) as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".frames.partial-")
        (temporary / "0001.png").write_bytes(b"png")
        assert not target.exists()
    assert [p.name for p in target.iterdir()] == ["0001.png"]
    assert leftovers(tmp_path) == []


def test_folder_output_over_an_existing_folder(tmp_path):
    target = tmp_path / "frames"
    target.mkdir()
    (target / "old.png").write_bytes(b"old")
    with pytest.raises(OutputError, match="output exists: .*frames"):
        with atomic_output_dir(target, overwrite=False):
            pytest.fail("must not start")
    with atomic_output_dir(target, overwrite=True) as temporary:
        (temporary / "new.png").write_bytes(b"new")
    assert [p.name for p in target.iterdir()] == ["new.png"]
    assert leftovers(tmp_path) == []


def test_folder_output_into_an_empty_existing_folder(tmp_path):
    target = tmp_path / "frames"
    target.mkdir()
    with atomic_output_dir(target, overwrite=False) as temporary:
        (temporary / "a.png").write_bytes(b"a")
    assert [p.name for p in target.iterdir()] == ["a.png"]


def test_folder_output_failure_removes_the_partial_folder(tmp_path):
    target = tmp_path / "frames"
    target.mkdir()
    (target / "old.png").write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_output_dir(target, overwrite=True) as temporary:
        (temporary / "half.png").write_bytes(b"half")
        raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["old.png"]
    assert leftovers(tmp_path) == []


def test_folder_output_checks(tmp_path):
    afile = tmp_path / "frames"
    afile.write_text("a file")
    with pytest.raises(OutputError, match="not a folder"):
        with atomic_output_dir(afile, overwrite=True):
            pytest.fail("must not start")
    with pytest.raises(OutputError, match="output is the input itself"):
        with atomic_output_dir(tmp_path, overwrite=True, input_path=tmp_path):
            pytest.fail("must not start")
    with pytest.raises(OutputError, match="output folder does not exist"):
        with atomic_output_dir(tmp_path / "a" / "b", overwrite=False):
            pytest.fail("must not start")
    (tmp_path / "out" / "in").mkdir(parents=True)
    with pytest.raises(OutputError, match="output folder contains the input"):
        with atomic_output_dir(tmp_path / "out", overwrite=True, input_path=tmp_path / "out" / "in"):
            pytest.fail("must not start")
