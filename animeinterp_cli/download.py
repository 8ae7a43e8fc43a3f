"""``animeinterp weights download NAME``: fetch, validate and record the paper's weights.

Two files can be fetched, the way torchvision, huggingface_hub and ComfyUI's frame
interpolation nodes fetch models (standard library only: ``urllib``):

- ``official``: the authors' AnimeInterp checkpoint, ``anime_interp_full.ckpt``, into the
  weights folder (:func:`animeinterp_cli.weights.weights_dir`);
- ``vgg19``: torchvision's ImageNet VGG-19 (SGM's segment descriptors), into torch hub's cache
  (``torch.hub.get_dir()/checkpoints``), where SGM already looks.

Mirrors are tried in order (``--url`` replaces them). Bytes go to a hidden ``.NAME.part`` file
beside the target, with a ``.NAME.part.json`` note of its URL and validators; an interrupted
transfer is resumed with an HTTP ``Range`` request (a server that ignores it sends the whole
file again, and the part restarts). Only a complete file that passes validation (the
checkpoint must load strictly into the paper configuration, VGG-19 must have every tensor SGM
needs at its torchvision shape; problems are named) is renamed to its final name, and its
sha256 is recorded in the git-ignored ``downloads.toml`` beside ``manifest.toml``, so that
``animeinterp weights`` verifies it later. A failure before any byte arrived (offline, refused,
404, an HTML page instead of the file) leaves nothing behind; a transfer broken after some
bytes keeps its part file for the next run to resume, and says so.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.weights import (
    WeightsEntry,
    read_manifest,
    record_download,
    sha256_of,
    weights_dir,
)

OFFICIAL_MIRRORS = (
    # the authors' link (README of lisiyao21/AnimeInterp)
    "https://www.dropbox.com/s/oc8juclx1775qib/anime_interp_full.ckpt?dl=1",
    # the copy ComfyUI-Frame-Interpolation publishes in its GitHub release "models"
    "https://github.com/Fannovel16/ComfyUI-Frame-Interpolation/releases/download/models/eisai_anime_interp_full.ckpt",
)
VGG19_MIRRORS = ("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",)
OFFICIAL_FILE = "anime_interp_full.ckpt"
CHUNK = 1 << 20
ATTEMPTS = 4  # tries per mirror while a transfer keeps breaking off mid-way (each resumes)
TIMEOUT = 30.0  # seconds without a byte before a connection counts as broken
USER_AGENT = "animeinterp-weights/1 (python urllib)"
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save: zip, or a legacy pickle
_HUB_NAME = re.compile(r"^vgg19-([0-9a-f]{8,})\.pth$")  # torch.hub: the name carries a sha256 prefix


class DownloadError(AnimeInterpError):
    """A download that failed (one line: the URL and the reason)."""


class _MirrorFailed(Exception):
    """This mirror cannot give the file; ``kept`` when a resumable part stays on disk."""

    def __init__(self, reason: str, kept: bool = False) -> None:
        super().__init__(reason)
        self.kept = kept


@dataclass(frozen=True)
class Callbacks:
    """What the download reports (the CLI renders it; tests collect it)."""

    note: Callable[[str], None] = lambda message: None
    #: a transfer starts: (URL, total bytes or None, bytes already on disk)
    start: Callable[[str, int | None, int], None] = lambda url, total, done: None
    advance: Callable[[int], None] = lambda count: None
    stop: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Outcome:
    """What the command did: ``status`` is "downloaded", "present" (already there and valid,
    nothing done) or "recorded" (there, unrecorded, now validated and recorded)."""

    key: str
    path: Path
    sha256: str
    status: str
    url: str | None = None


# --------------------------------------------------------------------------- validation


def validate_official(path: Path) -> None:
    """Raise :class:`DownloadError` unless ``path`` loads strictly into the paper network."""
    from models.animeinterp import load_animeinterp
    from models.checkpoint import CheckpointError
    from models.config import AnimeInterpConfig

    try:
        load_animeinterp(path, AnimeInterpConfig.paper())
    except CheckpointError as error:
        raise DownloadError(f"not the AnimeInterp checkpoint: {error}") from None


def _vgg19_shapes() -> dict[str, tuple[int, ...]]:
    import torch
    from torchvision.models import vgg19

    with torch.device("meta"):  # shapes only, no 548 MB of initialisation
        return {key: tuple(value.shape) for key, value in vgg19(weights=None).state_dict().items()}


def validate_vgg19(path: Path) -> None:
    """Raise :class:`DownloadError` unless ``path`` is a torchvision VGG-19 state dict with every
    tensor SGM uses (conv1_1 … conv4_1) at its shape, and no tensor VGG-19 does not have."""
    import torch

    from models.sgm.descriptors import VGG_CONVS

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file: one line
        raise DownloadError(f"not a VGG-19 state dict: cannot read it ({type(error).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DownloadError("not a VGG-19 state dict: it holds something other than a dict of tensors")
    shapes = _vgg19_shapes()
    needed = [f"features.{index}.{part}" for index in VGG_CONVS for part in ("weight", "bias")]
    missing = [key for key in needed if key not in state]
    unexpected = [key for key in state if key not in shapes]
    mismatched = [
        f"{key}: file {list(value.shape)} vs VGG-19 {list(shapes[key])}"
        for key, value in state.items()
        if key in shapes and tuple(value.shape) != shapes[key]
    ]
    problems = [
        f"{len(items)} {what} ({', '.join(items[:3])}{', …' if len(items) > 3 else ''})"
        for items, what in ((missing, "missing key(s)"), (unexpected, "unexpected key(s)"), (mismatched, "shape mismatch(es)"))
        if items
    ]
    if problems:
        raise DownloadError("not torchvision's VGG-19: " + "; ".join(problems))


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One downloadable file: where it goes and how it is checked."""

    key: str
    name: str
    mirrors: tuple[str, ...]
    folder: Callable[[], Path]
    validate: Callable[[Path], None]
    guidance: str

    def final_path(self, url: str, sha256: str) -> Path:
        """The file's name once complete (VGG-19: torch hub's ``vgg19-<sha256 prefix>.pth``)."""
        if self.key == "official":
            return self.folder() / OFFICIAL_FILE
        base = _url_basename(url)
        if _HUB_NAME.match(base):
            return self.folder() / base
        return self.folder() / f"vgg19-{sha256[:8]}.pth"

    def existing(self) -> list[Path]:
        """Files already where this target goes (the official name; hub's ``vgg19-*.pth``)."""
        folder = self.folder()
        if self.key == "official":
            return [folder / OFFICIAL_FILE] if (folder / OFFICIAL_FILE).is_file() else []
        return sorted(folder.glob("vgg19-*.pth")) if folder.is_dir() else []


def _hub_checkpoints() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


TARGETS = {
    "official": Target(
        "official", "AnimeInterp (official checkpoint, CVPR 2021)", OFFICIAL_MIRRORS, weights_dir, validate_official, "sgm"
    ),
    "vgg19": Target("vgg19", "VGG-19 ImageNet (SGM descriptors)", VGG19_MIRRORS, _hub_checkpoints, validate_vgg19, "-"),
}


def _url_basename(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _check_hub_prefix(path: Path, sha256: str) -> None:
    match = _HUB_NAME.match(path.name)
    if match and not sha256.startswith(match.group(1)):
        raise DownloadError(f"sha256 {sha256[:12]}… does not match the {match.group(1)} its name promises")


# --------------------------------------------------------------------------- transfer


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}".strip()
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        if isinstance(reason, socket.timeout | TimeoutError):
            return "timed out"
        if isinstance(reason, OSError) and reason.strerror:
            return reason.strerror  # "Connection refused", "Name or service not known", …
        return str(reason)
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, http.client.IncompleteRead):
        return "connection closed early"
    if isinstance(error, ConnectionError):
        return error.strerror or str(error) or type(error).__name__
    return str(error) or type(error).__name__


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<!--", b"<?xml"))


class _Part:
    """The hidden partial file of a target and its note (URL, validators, total)."""

    def __init__(self, folder: Path, key: str) -> None:
        self.path = folder / f".{key}.part"
        self.note_path = folder / f".{key}.part.json"

    def note(self) -> dict:
        try:
            return json.loads(self.note_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def size(self) -> int:
        return self.path.stat().st_size if self.path.is_file() else 0

    def write_note(self, url: str, total: int | None, validator: str | None) -> None:
        self.note_path.write_text(json.dumps({"url": url, "total": total, "validator": validator}), encoding="utf-8")

    def remove(self) -> None:
        for path in (self.path, self.note_path):
            path.unlink(missing_ok=True)


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    """(first byte, total or None) of a ``Content-Range: bytes a-b/total`` header."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not match:
        return None
    return int(match.group(1)), (None if match.group(3) == "*" else int(match.group(3)))


def _transfer_once(url: str, part: _Part, callbacks: Callbacks) -> bool:
    """One request: resume or (re)start ``part`` from ``url``. True when the file is complete."""
    note = part.note()
    offset = part.size() if note.get("url") == url else 0
    if offset == 0:
        part.remove()
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if note.get("validator"):
            headers["If-Range"] = note["validator"]
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310 - https/http URLs the user chose
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the part is stale or already whole: start again
            part.remove()
            return False
        raise
    with response:
        total = None
        if response.status == 206:
            span = _content_range(response.headers.get("Content-Range"))
            if span is None or span[0] != offset:
                raise _MirrorFailed("the server answered the resume request with the wrong range")
            total = span[1]
            if note.get("total") is not None and total is not None and total != note["total"]:
                part.remove()  # the file changed on the server: start again
                return False
        else:  # 200: the whole file, whatever we asked for
            offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if "text/html" in (response.headers.get("Content-Type") or "").lower():
            raise _MirrorFailed("the server sent an HTML page, not the file (a sign-in or error page?)")
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if offset:
            callbacks.start(url, total, offset)
        done = offset
        with open(part.path, "r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            part.write_note(url, total, validator)
            first = offset == 0
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                if first:
                    if _looks_like_html(block[:512]):
                        raise _MirrorFailed("the server sent an HTML page, not the file (a sign-in or error page?)")
                    if not block.startswith(_TORCH_MAGIC):
                        raise _MirrorFailed("the server sent something that is not a PyTorch file")
                    first = False
                    callbacks.start(url, total, 0)  # the bar appears once the bytes look right
                out.write(block)
                done += len(block)
                callbacks.advance(len(block))
        if total is not None and done < total:
            raise ConnectionResetError(f"connection closed after {done:,} of {total:,} bytes")
        if total is not None and done > total:
            raise _MirrorFailed(f"the server sent {done:,} bytes for a {total:,}-byte file")
        if done == 0:
            raise _MirrorFailed("the server sent an empty file")
        return True


def _fetch(url: str, part: _Part, callbacks: Callbacks) -> None:
    """Bring ``part`` to the complete file from ``url``, resuming across broken transfers."""
    last = ""
    for _ in range(ATTEMPTS):
        try:
            if _transfer_once(url, part, callbacks):
                return
            continue  # restarted (stale part): not a failure of the mirror
        except _MirrorFailed:
            part.remove()
            raise
        except urllib.error.HTTPError as error:
            kept = part.size() > 0 and part.note().get("url") == url
            if not kept:
                part.remove()
            raise _MirrorFailed(_describe(error), kept=kept) from None
        except urllib.error.URLError as error:  # never connected (offline, refused, DNS)
            kept = part.size() > 0 and part.note().get("url") == url
            if not kept:
                part.remove()
            raise _MirrorFailed(_describe(error), kept=kept) from None
        except (OSError, http.client.HTTPException) as error:  # broken mid-way: resume
            last = _describe(error)
        finally:
            callbacks.stop()
    kept = part.size() > 0
    if not kept:
        part.remove()
    raise _MirrorFailed(f"the transfer kept breaking off ({last})", kept=kept)


# --------------------------------------------------------------------------- the command


def _recorded(key: str, folder: Path) -> WeightsEntry | None:
    return next((entry for entry in read_manifest(folder) if entry.key == key), None)


def _adopt(target: Target, path: Path, manifest_folder: Path, url: str | None) -> str:
    """Validate a file already in place and record it; returns its sha256."""
    target.validate(path)
    sha256 = sha256_of(path)
    _check_hub_prefix(path, sha256)
    record_download(manifest_folder, target.key, target.name, path, sha256, url, target.guidance)
    return sha256


def download(key: str, url: str | None = None, callbacks: Callbacks = Callbacks()) -> Outcome:
    """Fetch, validate and record the file ``key`` ("official" or "vgg19"); see the module docstring.

    Raises :class:`DownloadError` (one line: the URLs tried and why each failed).
    """
    if key not in TARGETS:
        raise DownloadError(f"unknown weights {key!r}; choose one of {', '.join(TARGETS)}")
    target = TARGETS[key]
    manifest_folder = weights_dir()
    folder = target.folder()

    # already there? verified against its record, or validated and recorded now
    entry = _recorded(key, manifest_folder)
    if entry is not None and entry.present and entry.sha256 and sha256_of(entry.path) == entry.sha256:
        return Outcome(key, entry.path, entry.sha256, "present", entry.url)
    for path in target.existing():
        try:
            sha256 = _adopt(target, path, manifest_folder, None)
        except DownloadError as error:
            callbacks.note(f"{path} is there but unusable ({error}): downloading a fresh copy")
            continue
        return Outcome(key, path, sha256, "recorded")

    folder.mkdir(parents=True, exist_ok=True)
    part = _Part(folder, key)
    mirrors = [url] if url else list(target.mirrors)
    pending = part.note().get("url")
    if pending in mirrors and part.size():  # resume where the last run stopped
        mirrors.insert(0, mirrors.pop(mirrors.index(pending)))
    failures = []
    for mirror in mirrors:
        try:
            _fetch(mirror, part, callbacks)
            target.validate(part.path)
            sha256 = sha256_of(part.path)
            final = target.final_path(mirror, sha256)
            _check_hub_prefix(final, sha256)
        except _MirrorFailed as failure:
            failures.append((mirror, str(failure), failure.kept))
            continue
        except DownloadError as error:  # complete but not the right file
            part.remove()
            failures.append((mirror, f"downloaded, but {error}", False))
            continue
        os.replace(part.path, final)
        part.note_path.unlink(missing_ok=True)
        record_download(manifest_folder, key, target.name, final, sha256, mirror, target.guidance)
        return Outcome(key, final, sha256, "downloaded", mirror)
    kept = any(k for _, _, k in failures) and part.size() > 0
    message = "; ".join(f"{m}: {reason}" for m, reason, _ in failures)
    suffix = f" (partial download kept as {part.path}: run the command again to resume)" if kept else ""
    if not kept:
        part.remove()
    raise DownloadError(f"could not download {key}: {message}{suffix}")
