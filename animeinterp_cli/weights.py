"""Where weights live and whether they are intact.

The project's own default weights ship in the repository's ``weights/`` folder, described by
``weights/manifest.toml``: one table per entry with ``file``, ``sha256``, ``guidance`` (the
initial flow the model was trained with) and provenance. ``ANIMEINTERP_WEIGHTS`` may name
another folder laid out the same way. User checkpoints (e.g. the official
``anime_interp_full.ckpt``) may sit there too; they are listed but have no checksum to verify.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from animeinterp_cli.errors import WeightsError

WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt")


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

    @property
    def present(self) -> bool:
        return self.path.is_file()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path | None = None) -> list[WeightsEntry]:
    """The entries of ``manifest.toml`` in ``folder`` (none when there is no manifest)."""
    folder = folder or weights_dir()
    manifest = folder / "manifest.toml"
    if not manifest.is_file():
        return []
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WeightsError(f"{manifest} is not valid TOML: {error}") from None
    entries = []
    for key, table in data.items():
        if not isinstance(table, dict) or "file" not in table:
            raise WeightsError(f"{manifest}: entry [{key}] has no 'file'")
        entries.append(
            WeightsEntry(
                key=key,
                name=table.get("name", key),
                path=folder / table["file"],
                sha256=table.get("sha256"),
                guidance=table.get("guidance", "sgm"),
            )
        )
    return entries


def verify(entry: WeightsEntry) -> None:
    """Raise a one-line :class:`WeightsError` naming the file if it is missing or corrupt."""
    if not entry.present:
        raise WeightsError(f"weights file {entry.path} listed in the manifest is missing")
    if entry.sha256 and sha256_of(entry.path) != entry.sha256:
        raise WeightsError(f"weights file {entry.path} is corrupt: its sha256 does not match the manifest")


def default_weights() -> WeightsEntry | None:
    """The verified ``[default]`` entry, or None when no default weights are shipped."""
    for entry in read_manifest():
        if entry.key == "default":
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
