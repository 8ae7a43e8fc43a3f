"""The work folder of a chunked run: ``.NAME.work/`` next to the output, with a JSON manifest.

Layout::

    .episode_48.mkv.work/
        manifest.json        what the run is: source fingerprint, settings, chunks, done flags
        lock                 held (flock) by the run using the folder
        chunk-00000.mp4      one file per finished chunk
        chunk-00001.partial.mp4   the chunk being made (removed if the run stops)

The manifest is rewritten atomically (temporary file, fsync, rename) after every finished
chunk, and a chunk's file is complete (closed, fsynced, renamed from its partial name) before
its ``done`` flag is set, so whatever stops a run (Ctrl-C, a signal, a crash, a power cut)
the folder describes only finished chunks; ``--resume`` still checks each one by decoding
its frames. The source fingerprint is its size, modification time and duration; the
settings are every option that changes the output (a flat ``name → value`` dict, hashed),
so a changed source or changed settings are refused instead of mixing two runs' chunks.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from animeinterp_cli import __version__
from animeinterp_cli.chunks.split import ChunkSpec
from animeinterp_cli.errors import InputError, OutputError

MANIFEST = "manifest.json"
FORMAT = 1

#: RunConfig fields (nested ones as ``a.b``) that do not change the output, left out of the
#: settings: how the run goes, what it accepts or refuses, how much it prints
_NOT_SETTINGS = {"overwrite", "batch_size", "compile", "strict", "allow_drop", "encode.verbose"}


def work_folder_for(output: Path) -> Path:
    """``.NAME.work`` beside ``output``."""
    output = Path(output)
    return output.with_name(f".{output.name}.work")


def fingerprint(source: Path, duration: Fraction | None) -> dict[str, Any]:
    """What identifies the source file: size, modification time (ns) and duration."""
    stat = Path(source).stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "duration": None if duration is None else str(duration)}


def settings_of(config: Any, **extra: Any) -> dict[str, str]:
    """Every setting of ``config`` (a dataclass, nested ones flattened as ``a.b``) that changes the
    output, as strings, plus ``extra``; files named by a setting count with their size and mtime."""
    flat: dict[str, str] = {"version": __version__}

    def walk(prefix: str, value: Any) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for item in dataclasses.fields(value):
                if f"{prefix}{item.name}" in _NOT_SETTINGS:
                    continue
                walk(f"{prefix}{item.name}.", getattr(value, item.name))
            return
        key = prefix[:-1]
        if isinstance(value, Path):
            path = value.expanduser().resolve()
            text = str(path)
            if path.is_file():
                stat = path.stat()
                text += f" ({stat.st_size} bytes, mtime {stat.st_mtime_ns})"
            flat[key] = text
        else:
            flat[key] = str(value)

    walk("", config)
    flat.update({key: str(value) for key, value in extra.items()})
    return flat


def settings_hash(settings: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def chunk_entry(chunk: ChunkSpec, file: str) -> dict[str, Any]:
    return {
        "index": chunk.index,
        "file": file,
        "actions": [chunk.first_action, chunk.stop_action],
        "source_frames": [chunk.first_frame, chunk.last_frame],
        "start": str(chunk.start),
        "end": str(chunk.end),
        "frames": chunk.frames,
        "synthesized": chunk.synthesized,
        "at_cut": chunk.at_cut,
        "done": False,
    }


def _plan_part(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key != "done"}


@dataclass
class WorkFolder:
    """A chunked run's folder; ``manifest`` is the parsed manifest.json (None until created or read)."""

    path: Path
    output: Path
    manifest: dict[str, Any] | None = None
    _lock: Any = None

    @classmethod
    def for_output(cls, output: Path) -> WorkFolder:
        output = Path(output)
        return cls(work_folder_for(output), output)

    @property
    def exists(self) -> bool:
        return self.path.is_dir()

    def name(self) -> str:
        """The folder as the user should type it."""
        return str(self.path)

    # -- locking ------------------------------------------------------------------------

    def lock(self) -> None:
        """Hold the folder for this process (released when it exits, however it exits)."""
        if self._lock is not None:
            return
        handle = open(self.path / "lock", "a")  # noqa: SIM115 - kept open while the run holds the folder
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise OutputError(f"another animeinterp run is using {self.path}: wait for it, or stop it") from None
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- reading ------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        """The manifest, or None when the folder has none that this version can read."""
        try:
            manifest = json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("chunks"), list):
            return None
        self.manifest = manifest
        return manifest

    def recorded(self) -> dict[str, Any]:
        """The manifest, once created or read (a programming error before that)."""
        if self.manifest is None:
            raise RuntimeError(f"{self.path}: no manifest read or created yet")
        return self.manifest

    def done_count(self) -> int:
        return sum(bool(c.get("done")) for c in (self.manifest or {}).get("chunks", []))

    def describe(self) -> str:
        """'2 of 7 chunks done' (or 'no chunk done')."""
        if not self.manifest:
            return "no chunk done"
        return f"{self.done_count()} of {len(self.manifest['chunks'])} chunks done"

    def check_source(self, source: Path, print_: dict[str, Any]) -> None:
        """Refuse a source that is not the one the chunks were made from."""
        recorded = self.recorded()["source"]
        differing = [key for key in ("size", "mtime_ns", "duration") if recorded.get(key) != print_.get(key)]
        if differing:
            what = {"size": "size", "mtime_ns": "modification time", "duration": "duration"}
            raise InputError(
                f"{source} changed since the interrupted run ({', '.join(what[k] for k in differing)} differ): "
                f"delete {self.path} to start over"
            )

    def check_settings(self, settings: dict[str, str]) -> None:
        """Refuse settings other than those the chunks were made with, naming the first differences."""
        if self.recorded().get("settings_hash") == settings_hash(settings):
            return
        recorded: dict[str, str] = self.recorded().get("settings", {})
        keys = sorted(set(recorded) | set(settings))
        changes = [f"{k} {recorded.get(k, '-')} → {settings.get(k, '-')}" for k in keys if recorded.get(k) != settings.get(k)]
        shown = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
        raise InputError(
            f"the settings differ from the interrupted run's ({shown or 'unknown change'}): resume with its "
            f"options, or delete {self.path} to start over"
        )

    def check_plan(self, entries: list[dict[str, Any]]) -> None:
        """Refuse a plan that is not the one of the interrupted run."""
        recorded = [_plan_part(entry) for entry in self.recorded()["chunks"]]
        if recorded != [_plan_part(entry) for entry in entries]:
            raise InputError(
                f"the chunks planned now differ from the interrupted run's in {self.path}: delete it to start over"
            )

    # -- writing ------------------------------------------------------------------------

    def create(self, manifest: dict[str, Any]) -> None:
        try:
            self.path.mkdir()
        except FileExistsError:
            pass
        except OSError as error:
            raise OutputError(f"cannot create the work folder {self.path}: {error.strerror}") from error
        self.lock()
        self.manifest = manifest
        self.save()

    def save(self) -> None:
        """Rewrite manifest.json atomically and durably."""
        temporary = self.path / f".{MANIFEST}.tmp"
        with open(temporary, "w") as handle:
            json.dump(self.manifest, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path / MANIFEST)
        _fsync_dir(self.path)

    def chunk_file(self, index: int) -> Path:
        return self.path / self.recorded()["chunks"][index]["file"]

    def partial_file(self, index: int) -> Path:
        final = self.chunk_file(index)
        return final.with_name(f"{final.stem}.partial{final.suffix}")

    def remove_partials(self) -> None:
        for path in self.path.glob("*.partial*"):
            path.unlink(missing_ok=True)

    def commit_chunk(self, index: int) -> None:
        """Make the chunk's partial file its final file, durably, then mark it done."""
        partial, final = self.partial_file(index), self.chunk_file(index)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, final)
        _fsync_dir(self.path)
        self.recorded()["chunks"][index]["done"] = True
        self.save()

    def undo(self, index: int) -> None:
        self.recorded()["chunks"][index]["done"] = False
        self.chunk_file(index).unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the folder (after success, or when it holds nothing worth resuming)."""
        self.unlock()
        shutil.rmtree(self.path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
