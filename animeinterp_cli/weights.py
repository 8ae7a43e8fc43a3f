"""Where weights live and whether they are intact.

The project's own default weights ship in the repository's ``weights/`` folder, described by
``weights/manifest.toml``: one table per entry with ``file``, ``sha256``, ``guidance`` (the
initial flow the model was trained with) and provenance. ``ANIMEINTERP_WEIGHTS`` may name
another folder laid out the same way.

Files fetched by ``animeinterp weights download`` (the official checkpoint ``[official]``,
torchvision's VGG-19 ``[vgg19]``) are recorded in ``downloads.toml`` beside the manifest, in the
same format: the manifest is tracked by git and must not change on a user's machine, the
downloads file is git-ignored. :func:`read_manifest` reads both (a manifest entry wins over a
download of the same key). Other user checkpoints may sit in the folder too; they are listed
but have no checksum to verify.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from animeinterp_cli.errors import WeightsError

WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt")
MANIFEST = "manifest.toml"
DOWNLOADS = "downloads.toml"
OFFICIAL_KEY = "official"


def weights_dir() -> Path:
    """The weights folder: ``$ANIMEINTERP_WEIGHTS`` if set, else ``weights/`` of this checkout."""
    override = os.environ.get("ANIMEINTERP_WEIGHTS")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "weights"


@dataclass(frozen=True)
class WeightsEntry:
    """One manifest entry."""

    key: str
    name: str
    path: Path
    sha256: str | None
    guidance: str
    #: "manifest" (the project's, tracked) or "download" (recorded by ``weights download``)
    origin: str = "manifest"
    url: str | None = None

    @property
    def present(self) -> bool:
        return self.path.is_file()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_entries(path: Path, origin: str) -> list[WeightsEntry]:
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WeightsError(f"{path} is not valid TOML: {error}") from None
    entries = []
    for key, table in data.items():
        if not isinstance(table, dict) or "file" not in table:
            raise WeightsError(f"{path}: entry [{key}] has no 'file'")
        entries.append(
            WeightsEntry(
                key=key,
                name=table.get("name", key),
                path=path.parent / table["file"],  # an absolute file (torch hub's cache) stays absolute
                sha256=table.get("sha256"),
                guidance=table.get("guidance", "sgm"),
                origin=origin,
                url=table.get("url"),
            )
        )
    return entries


def read_manifest(folder: Path | None = None) -> list[WeightsEntry]:
    """The entries of ``manifest.toml`` and then ``downloads.toml`` in ``folder`` (none when
    neither exists); a download whose key the manifest already has is ignored."""
    folder = folder or weights_dir()
    entries = _read_entries(folder / MANIFEST, "manifest")
    keys = {entry.key for entry in entries}
    return entries + [entry for entry in _read_entries(folder / DOWNLOADS, "download") if entry.key not in keys]


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def record_download(
    folder: Path, key: str, name: str, path: Path, sha256: str, url: str | None, guidance: str
) -> None:
    """Add or replace entry ``[key]`` of ``folder/downloads.toml`` (written atomically).

    ``path`` is stored relative to the folder when inside it, else absolute.
    """
    target = folder / DOWNLOADS
    tables = {entry.key: entry for entry in _read_entries(target, "download")}
    tables[key] = WeightsEntry(key, name, Path(path), sha256, guidance, "download", url)
    lines = ["# Written by `animeinterp weights download`: the files it fetched and their sha256.", ""]
    for entry in tables.values():
        lines.append(f"[{entry.key}]")
        lines.append(f"name = {_toml_string(entry.name)}")
        lines.append(f"file = {_toml_string(_stored_file(entry.path, folder))}")
        if entry.sha256:
            lines.append(f"sha256 = {_toml_string(entry.sha256)}")
        lines.append(f"guidance = {_toml_string(entry.guidance)}")
        if entry.url:
            lines.append(f"url = {_toml_string(entry.url)}")
        lines.append("")
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{DOWNLOADS}.tmp"
    temporary.write_text("\n".join(lines), encoding="utf-8")
    os.replace(temporary, target)


def _stored_file(path: Path, folder: Path) -> str:
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path)


def verify(entry: WeightsEntry) -> None:
    """Raise a one-line :class:`WeightsError` naming the file if it is missing or corrupt."""
    where = DOWNLOADS if entry.origin == "download" else "the manifest"
    if not entry.present:
        raise WeightsError(f"weights file {entry.path} listed in {where} is missing")
    if entry.sha256 and sha256_of(entry.path) != entry.sha256:
        raise WeightsError(f"weights file {entry.path} is corrupt: its sha256 does not match {where}")


def default_weights() -> WeightsEntry | None:
    """The verified ``[default]`` entry, or None when no default weights are shipped."""
    for entry in read_manifest():
        if entry.key == "default":
            verify(entry)
            return entry
    return None


def official_weights() -> WeightsEntry | None:
    """The official checkpoint when ``weights download official`` recorded it and it is still
    there (verified: a corrupt file is an error naming it); None otherwise."""
    for entry in read_manifest():
        if entry.key == OFFICIAL_KEY:
            if not entry.present:
                return None
            verify(entry)
            return entry
    return None


def user_checkpoints(folder: Path | None = None) -> list[Path]:
    """Weight files in the folder that the manifest does not describe (e.g. the official one)."""
    folder = folder or weights_dir()
    if not folder.is_dir():
        return []
    listed = {entry.path.name for entry in read_manifest(folder)}
    return sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.name not in listed)
