"""Atomic outputs: a run either produces the whole output or leaves nothing behind.

The output is built under a hidden temporary name in the target's own folder (same file
system, so the final rename is atomic; same extension, so muxers pick the right container),
then renamed onto the target on success. On any exception, Ctrl-C included (and SIGTERM or
SIGHUP, which the CLI turns into the same interruption), the temporary file or folder is
removed and the target is left as it was.

Only a kill that cannot be caught (SIGKILL, a power cut) leaves a partial behind. The run
holds an exclusive ``flock`` on its partial for its whole life, so the next run for the same
target can tell such a leftover from a live run's work: a partial of our naming
(``.<stem>.partial-<8 hex><suffix>``, or ``.<name>.partial-<8 hex>`` for folders), older
than the current run and locked by nobody, is removed, and ``note`` says so.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so leftovers are never judged stale
    fcntl = None

from animeinterp_cli.errors import OutputError

Note = Callable[[str], None]


def _quiet(message: str) -> None:
    """Default ``note``: say nothing."""


@contextmanager
def atomic_output(
    target: Path, *, overwrite: bool, input_path: Path | None = None, note: Note = _quiet, clean: bool = True
) -> Iterator[Path]:
    """Yield a temporary file path next to ``target``; rename it onto ``target`` on success.

    The temporary name is ``.<stem>.partial-<random><suffix>`` in the target's folder. It is
    created empty (and locked) in advance; the writer opens it by name and writes over it.
    Raises :class:`OutputError` before yielding when the target exists (without
    ``overwrite``) or is a folder, is the input itself, or its folder is missing or not
    writable. Stale partials of earlier runs for this target are removed first (see above),
    unless not ``clean``.
    """
    target = Path(target)
    started = time.time()
    check_output_file(target, overwrite=overwrite, input_path=input_path)
    if clean:
        _remove_stale_partials(target, _partial_file_pattern(target), started, note)
    temporary, lock = _make_partial_file(target)
    try:
        yield temporary
        if not temporary.exists() or temporary.stat().st_size == 0:
            raise OutputError(f"nothing was written to {target}")
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        os.close(lock)


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to the file ``target`` (replacing it) through :func:`atomic_output`; a
    one-line :class:`OutputError` when it cannot be written."""
    try:  # no look for leftovers: a quick write's partial lives for a moment, and a folder of
        # thousands of saved images would be listed once for each
        with atomic_output(target, overwrite=True, clean=False) as temporary:
            temporary.write_bytes(data)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {error.strerror}") from None


def check_output_file(target: Path, *, overwrite: bool, input_path: Path | None = None) -> None:
    """Raise :class:`OutputError` unless ``target`` can be written as a file: its folder exists
    and is writable, it is not a folder nor the input, and it is absent unless ``overwrite``."""
    _check_target(target, overwrite=overwrite, input_path=input_path)
    if target.is_dir():
        raise OutputError(f"output is a folder, not a file: {target}")


@contextmanager
def atomic_output_dir(
    target: Path, *, overwrite: bool, input_path: Path | None = None, note: Note = _quiet
) -> Iterator[Path]:
    """Yield a new empty temporary folder next to ``target``; rename it onto ``target`` on success.

    An existing non-empty ``target`` folder is an error without ``overwrite``, and is replaced
    as a whole with it (the old folder is deleted only after the new one is in place).
    ``input_path`` is the input folder: a target that is it, or holds it, is refused.
    """
    target = Path(target)
    started = time.time()
    if target.exists() and target.is_dir() and not any(target.iterdir()):
        overwrite = True  # an empty folder holds nothing to lose
    _check_target(target, overwrite=overwrite, input_path=input_path)
    if target.exists() and not target.is_dir():
        raise OutputError(f"output exists and is not a folder: {target}")
    if input_path is not None and target.resolve() in Path(input_path).resolve().parents:
        # Replacing the output folder would delete the input inside it.
        raise OutputError(f"output folder contains the input: {target}")
    _remove_stale_partials(target, _partial_dir_pattern(target), started, note)
    temporary = _make_hidden_dir(target, "partial")
    lock = _lock_new(temporary)
    try:
        yield temporary
        if target.exists():
            old = _hidden_name(target, "old")
            os.replace(target, old)
            try:
                os.replace(temporary, target)
            except BaseException:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)


def _check_target(target: Path, *, overwrite: bool, input_path: Path | None) -> None:
    folder = target.parent
    if not folder.exists():
        raise OutputError(f"output folder does not exist: {folder}")
    if not folder.is_dir():
        raise OutputError(f"output folder is not a folder: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder is not writable: {folder}")
    if input_path is not None and _same_path(target, Path(input_path)):
        raise OutputError(f"output is the input itself: {target}")
    if target.exists() and not overwrite:
        raise OutputError(f"output exists: {target} (use --overwrite)")


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _hidden_name(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{secrets.token_hex(4)}")


def _make_hidden_dir(target: Path, kind: str) -> Path:
    """Create a fresh hidden folder next to ``target`` (os.mkdir honours the umask)."""
    while True:
        path = _hidden_name(target, kind)
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as error:
            raise OutputError(f"cannot create a folder next to {target}: {error.strerror}") from error


# -- partials: created locked, and leftovers of dead runs removed ---------------------------


def _partial_file_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.stem)}\.partial-[0-9a-f]{{8}}{re.escape(target.suffix)}")


def _partial_dir_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.partial-[0-9a-f]{{8}}")


def _make_partial_file(target: Path) -> tuple[Path, int]:
    """Create ``.<stem>.partial-<random><suffix>`` next to ``target``, empty and locked: the
    path and the descriptor that holds the lock (close it when done)."""
    while True:
        path = target.with_name(f".{target.stem}.partial-{secrets.token_hex(4)}{target.suffix}")
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as error:
            raise OutputError(f"cannot create a file next to {target}: {error.strerror}") from error
        _lock(descriptor)
        return path, descriptor


def _lock_new(path: Path) -> int | None:
    """Lock the folder we just created (a descriptor to close when done; None without locks)."""
    if fcntl is None:
        return None
    descriptor = os.open(path, os.O_RDONLY)
    _lock(descriptor)
    return descriptor


def _lock(descriptor: int) -> None:
    if fcntl is not None:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a file system without locks: the partial then never looks stale
            pass


def _owned_by_a_live_run(path: Path) -> bool:
    """Whether a running process holds the lock on ``path`` (True when that cannot be told)."""
    if fcntl is None:
        return True
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # locked: its run is alive (or the file system cannot lock)
    finally:
        os.close(descriptor)  # releases our probe lock, if we got it
    return False


def _remove_stale_partials(target: Path, pattern: re.Pattern[str], started: float, note: Note) -> None:
    """Remove partials of ``target`` that earlier runs left (older than ``started``, unlocked)."""
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in sorted(names):
        if not pattern.fullmatch(name):
            continue
        path = target.parent / name
        try:
            if path.is_symlink() or path.lstat().st_mtime >= started or _owned_by_a_live_run(path):
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue  # not ours to remove after all (another user's, read-only): leave it
        note(f"removed {path}, the partial output of an earlier run that did not finish")
