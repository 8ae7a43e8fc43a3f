"""atomic_output / atomic_output_dir: validation, rename on success, cleanup on failure."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

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


def run_unprivileged(function) -> int:
    """Run ``function()`` in a forked child that is not root (root drops to nobody there, so
    that permissions mean what they mean for a user); its exit status (99: it raised)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            code = function()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


NOBODY = 65534


@pytest.fixture
def open_folder():
    """A folder everyone can enter (pytest's own tmp_path is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="animeinterp-test-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unwritable_output_folder(open_folder):
    locked = open_folder / "locked"
    locked.mkdir()
    locked.chmod(0o555)  # nobody may write here but root, and the child is not root

    def attempt() -> int:
        try:
            with atomic_output(locked / "out.mp4", overwrite=False):
                return 1  # must not start
        except OutputError as error:
            return 0 if "output folder is not writable" in str(error) else 2
        return 3

    assert run_unprivileged(attempt) == 0
    assert list(locked.iterdir()) == []


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


# --- leftovers of runs that were killed (SIGKILL, power cut) --------------------------------


def aged(path, seconds=60):
    """Make ``path`` look ``seconds`` old (an earlier run's)."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def leftover(path, data=b"half a video"):
    """A file an earlier run left at ``path``."""
    path.write_bytes(data)
    return aged(path)


def test_the_partial_is_locked_while_the_run_lives(tmp_path):
    import fcntl

    with atomic_output(tmp_path / "out.mp4", overwrite=False) as temporary:
        assert temporary.exists()  # created in advance, empty, locked
        with open(temporary, "rb") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        temporary.write_bytes(b"video")


def test_stale_partials_of_the_target_are_removed_and_said_so(tmp_path):
    stale = leftover(tmp_path / ".out.partial-0123abcd.mp4")
    keep = {
        ".other.partial-0123abcd.mp4": b"another target's",
        ".out.partial-0123abcd.mkv": b"another container's",
        ".out.partial-xyz.mp4": b"not our naming",
        "out.partial-0123abcd.mp4": b"not hidden",
    }
    for name, data in keep.items():
        leftover(tmp_path / name, data)
    notes = []
    with atomic_output(tmp_path / "out.mp4", overwrite=False, note=notes.append) as temporary:
        temporary.write_bytes(b"video")
    assert not stale.exists()
    assert len(notes) == 1 and ".out.partial-0123abcd.mp4" in notes[0] and "earlier run" in notes[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "out.mp4"])


def test_a_live_runs_partial_and_a_newer_one_are_kept(tmp_path):
    import fcntl

    live = leftover(tmp_path / ".out.partial-0000aaaa.mp4", b"being written")
    newer = tmp_path / ".out.partial-0000bbbb.mp4"  # appears as this run starts: not stale
    newer.write_bytes(b"just created")
    os.utime(newer, (time.time() + 5, time.time() + 5))
    with open(live, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as the run writing it holds it
        notes = []
        with atomic_output(tmp_path / "out.mp4", overwrite=False, note=notes.append) as temporary:
            temporary.write_bytes(b"video")
    assert live.exists() and newer.exists() and notes == []


def test_stale_partial_folders_are_removed_but_old_outputs_kept(tmp_path):
    stale = tmp_path / ".frames.partial-0123abcd"
    stale.mkdir()
    (stale / "00000001.png").write_bytes(b"png")
    aged(stale)
    old_output = tmp_path / ".frames.old-0123abcd"  # a previous output mid-swap: the user's
    old_output.mkdir()
    aged(old_output)
    notes = []
    with atomic_output_dir(tmp_path / "frames", overwrite=False, note=notes.append) as temporary:
        (temporary / "a.png").write_bytes(b"a")
    assert not stale.exists() and old_output.exists() and len(notes) == 1
