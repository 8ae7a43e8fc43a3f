"""Atomic outputs: a run either produces the whole output or leaves nothing behind.

The output is built under a hidden temporary name in the target's own folder (same file
system, so the final rename is atomic; same extension, so muxers pick the right container),
then renamed onto the target on success. On any exception, Ctrl-C included, the temporary
file or folder is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from animeinterp_cli.errors import OutputError


@contextmanager
def atomic_output(target: Path, *, overwrite: bool, input_path: Path | None = None) -> Iterator[Path]:
    """Yield a temporary file path next to ``target``; rename it onto ``target`` on success.

    The temporary name is ``.<stem>.partial-<random><suffix>`` in the target's folder. It is
    not created in advance: the writer creates it. Raises :class:`OutputError` before
    yielding when the target exists (without ``overwrite``) or is a folder, is the input
    itself, or its folder is missing or not writable.
    """
    target = Path(target)
    check_output_file(target, overwrite=overwrite, input_path=input_path)
    temporary = target.with_name(f".{target.stem}.partial-{secrets.token_hex(4)}{target.suffix}")
    try:
        yield temporary
        if not temporary.exists():
            raise OutputError(f"nothing was written to {target}")
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to the file ``target`` (replacing it) through :func:`atomic_output`; a
    one-line :class:`OutputError` when it cannot be written."""
    try:
        with atomic_output(target, overwrite=True) as temporary:
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
def atomic_output_dir(target: Path, *, overwrite: bool, input_path: Path | None = None) -> Iterator[Path]:
    """Yield a new empty temporary folder next to ``target``; rename it onto ``target`` on success.

    An existing non-empty ``target`` folder is an error without ``overwrite``, and is replaced
    as a whole with it (the old folder is deleted only after the new one is in place).
    ``input_path`` is the input folder: a target that is it, or holds it, is refused.
    """
    target = Path(target)
    if target.exists() and target.is_dir() and not any(target.iterdir()):
        overwrite = True  # an empty folder holds nothing to lose
    _check_target(target, overwrite=overwrite, input_path=input_path)
    if target.exists() and not target.is_dir():
        raise OutputError(f"output exists and is not a folder: {target}")
    if input_path is not None and target.resolve() in Path(input_path).resolve().parents:
        # Replacing the output folder would delete the input inside it.
        raise OutputError(f"output folder contains the input: {target}")
    temporary = _make_hidden_dir(target, "partial")
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
