"""Image files: the one place frames are read from and written to images (``frames``,
``benchmark``).

Images are H×W×3 RGB ``uint8`` arrays, like 8-bit video frames. Files are read and written
through byte buffers (``np.fromfile`` + ``cv2.imdecode``) so that any path the OS accepts
works, whatever its characters. Orientation: pixels are read as stored, an EXIF orientation
tag is ignored, as the video path keeps a rotation as metadata and never turns pixels (and as
PIL, the loader of AnimeInterp's evaluation, reads them): a triplet's annotated boxes stay
where they are, and an output frame matches its input pixel for pixel.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from animeinterp_cli.errors import InputError, OutputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def natural_key(name: str) -> tuple:
    """Sort key that orders runs of digits by value: ``frame2`` before ``frame10``.

    Letters compare without case; names equal that way are ordered by their exact text.
    """
    parts = tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", name)
        if part
    )
    return parts, name


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (suffix case ignored), in natural order.

    Hidden files (names starting with '.') are skipped. Raises :class:`InputError` when the
    folder is missing, is not a folder, or holds no image.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"input folder not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"input is not a folder: {folder}")
    images = [
        path
        for path in folder.iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()
    ]
    if not images:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return sorted(images, key=lambda path: natural_key(path.name))


def read_image(path: Path) -> np.ndarray:
    """Read an image as H×W×3 RGB uint8 (grey is expanded, alpha dropped, 16-bit scaled down)."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise InputError(f"cannot read image {path}: {error.strerror}") from error
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    if bgr is None:
        raise InputError(f"cannot read image {path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_rgba(path: Path) -> np.ndarray | None:
    """Read an image with its alpha channel as H×W×4 RGBA uint8; None when it has no alpha
    (or cannot be read: for optional material such as sprite frames)."""
    try:
        data = np.fromfile(Path(path), dtype=np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    if image is None or image.ndim != 3 or image.shape[2] != 4 or image.dtype != np.uint8:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


def encode_png(image: np.ndarray) -> bytes:
    """An H×W×3 RGB uint8 (or uint16) image as the bytes of a lossless PNG."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an H×W×3 uint8 or uint16 RGB image, got {image.shape} {image.dtype}")
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError("cannot encode the image as PNG")
    return encoded.tobytes()


def write_png(path: Path, image: np.ndarray, *, name: Path | None = None) -> None:
    """Write an H×W×3 RGB uint8 (or uint16) image as a lossless PNG (inside an atomic output
    folder; for a lone file see :func:`animeinterp_cli.video.output.write_atomically`);
    messages show ``name`` (the real output's, as ``path`` lies in the temporary folder)."""
    data = encode_png(image)
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise OutputError(f"cannot write {name if name is not None else path}: {error.strerror}") from error
