"""Reading triplet data sets laid out like ATD-12K's test set (spec §9.2).

The ATD-12K layout, given its root (``DATASET_DIR``)::

    test_2k_540p/<name>/frame1.png frame2.png frame3.png      frame2 is the ground truth
    test_2k_annotations/<name>/<name>.json                    level, motion_RoI, image_size, …
    test_2k_pre_calc_sgm_flows/<name>/guide_flo13.npy guide_flo31.npy

Variants that are read as well:

- ``DATASET_DIR`` is the frame folder itself (``test_2k_540p``); annotations and SGM flows
  are then looked for in its sibling folders;
- another ``test_2k_*`` frame folder (e.g. a JPEG variant) when there is no ``test_2k_540p``;
- frames in any of :data:`animeinterp_cli.video.images.IMAGE_SUFFIXES` (PNG, JPEG, WebP);
- annotations as ``test_2k_annotations/<name>.json`` or beside the frames as ``<name>/<name>.json``
  (``test_2k_ann`` is accepted for the annotation folder, the name the upstream README uses);
- SGM flows beside the frames;
- no annotations at all, and a plain folder of triplet folders (or a single triplet folder).

A sub-folder is a triplet when it holds at least one ``frame1|2|3`` image; a triplet that lacks a
frame is still listed so that loading it names the problem (see :class:`BadTripletError`).
Triplets are sorted by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from animeinterp_cli.errors import InputError
from animeinterp_cli.video.images import IMAGE_SUFFIXES, read_image
from models.ops.grid import resize_flow

FRAME_STEMS = ("frame1", "frame2", "frame3")
FRAME_FOLDER = "test_2k_540p"
ANNOTATION_FOLDERS = ("test_2k_annotations", "test_2k_ann")
SGM_FOLDER = "test_2k_pre_calc_sgm_flows"
SGM_FILES = ("guide_flo13.npy", "guide_flo31.npy")
LEVEL_NAMES = ("easy", "medium", "hard")


class BadTripletError(InputError):
    """A triplet whose frames are missing, unreadable or of different sizes."""


class AnnotationError(ValueError):
    """An annotation file that is missing or cannot be used (the triplet degrades to whole-image metrics)."""


@dataclass(frozen=True)
class Triplet:
    """One test triplet: frame1 and frame3 are the inputs, frame2 the ground truth (t = 0.5).

    A frame path is None when the file is missing. ``annotation`` is the JSON file to read
    (None when the data set has no annotation for it); ``sgm_dir`` holds the precomputed SGM
    flows when the data set has them.
    """

    name: str
    frames: tuple[Path | None, Path | None, Path | None]
    annotation: Path | None = None
    sgm_dir: Path | None = None


@dataclass(frozen=True)
class Dataset:
    """The triplets of a data set and where they were found."""

    root: Path
    triplets: tuple[Triplet, ...]
    #: True when the data set has an annotation folder or any triplet has an annotation file
    annotated: bool


@dataclass(frozen=True)
class Annotation:
    """What one ATD-12K annotation says about its triplet.

    ``roi`` = (x, y, width, height) of the motion region in pixels of the *original* image of
    size ``image_size`` = (width, height); ``level`` 0/1/2 = easy/medium/hard. Fields that are
    absent or malformed are None / empty and listed in ``problems``.
    """

    level: int | None
    roi: tuple[float, float, float, float] | None
    image_size: tuple[float, float] | None
    motion_types: tuple[str, ...]
    behaviors: tuple[str, ...]
    problems: tuple[str, ...] = ()

    @property
    def level_name(self) -> str | None:
        return None if self.level is None else LEVEL_NAMES[self.level]

    def roi_box(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The RoI as (x, y, w, h) in pixels of a frame of ``width``×``height``, clipped to it.

        Scaling is the released script's: float floor division by original/actual size, then
        ``int`` (the script divides by 960/540 because it resizes every frame to 960×540).
        None when the annotation has no usable RoI or the box lies outside the frame.
        """
        if self.roi is None or self.image_size is None:
            return None
        scale_w, scale_h = self.image_size[0] / width, self.image_size[1] / height
        x, y, w, h = self.roi
        x0, y0 = int(x // scale_w), int(y // scale_h)
        x1, y1 = x0 + int(w // scale_w), y0 + int(h // scale_h)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1 - x0, y1 - y0


def find_dataset(root: Path) -> Dataset:
    """The triplets under ``root``; a one-line :class:`InputError` when there are none."""
    if not root.exists():
        raise InputError(f"data set folder {root} does not exist")
    if not root.is_dir():
        raise InputError(f"{root} is not a folder (expected an ATD-12K-style data set folder)")
    frames_dir, side_dir = _frame_folder(root)
    annotation_dir = next((side_dir / n for n in ANNOTATION_FOLDERS if (side_dir / n).is_dir()), None)
    sgm_dir = side_dir / SGM_FOLDER if (side_dir / SGM_FOLDER).is_dir() else None
    folders = [frames_dir] if _is_triplet(frames_dir) else sorted(p for p in frames_dir.iterdir() if _is_triplet(p))
    if not folders:
        raise InputError(
            f"no triplets found in {root} (expected {FRAME_FOLDER}/<name>/frame1.png, frame2.png, "
            "frame3.png, or folders of such triplets)"
        )
    triplets = tuple(_triplet(folder, annotation_dir, sgm_dir) for folder in folders)
    annotated = annotation_dir is not None or any(t.annotation is not None for t in triplets)
    return Dataset(root, triplets, annotated)


def load_frames(triplet: Triplet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame1, frame2, frame3) as (H, W, 3) uint8 RGB; :class:`BadTripletError` naming the problem."""
    frames = []
    for stem, path in zip(FRAME_STEMS, triplet.frames):
        if path is None:
            raise BadTripletError(f"triplet {triplet.name}: {stem} is missing")
        try:
            frames.append(read_image(path))
        except InputError:
            raise BadTripletError(f"triplet {triplet.name}: cannot read {path.name} as an image") from None
    sizes = {f.shape[:2] for f in frames}
    if len(sizes) > 1:
        shown = ", ".join(f"{f.shape[1]}x{f.shape[0]}" for f in frames)
        raise BadTripletError(f"triplet {triplet.name}: frames differ in size ({shown})")
    return frames[0], frames[1], frames[2]


def load_annotation(triplet: Triplet) -> Annotation:
    """Parse the triplet's annotation; :class:`AnnotationError` when it is absent or unusable."""
    if triplet.annotation is None:
        raise AnnotationError("no annotation file")
    try:
        data = json.loads(triplet.annotation.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"cannot read {triplet.annotation.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise AnnotationError(f"{triplet.annotation.name} is not a JSON object")
    problems: list[str] = []
    level = _parse_level(data.get("level"), problems)
    roi = _parse_numbers(data.get("motion_RoI"), ("x", "y", "width", "height"), "motion_RoI", problems)
    image_size = _parse_numbers(data.get("image_size"), None, "image_size", problems)
    if image_size is not None and min(image_size) <= 0:
        problems.append("image_size is not positive")
        image_size = None
    return Annotation(
        level=level,
        roi=roi,
        image_size=image_size,
        motion_types=_parse_labels(data.get("general_motion_type"), "general_motion_type", problems),
        behaviors=_parse_labels(data.get("behavior"), "behavior", problems),
        problems=tuple(problems),
    )


def load_sgm_flows(triplet: Triplet, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Precomputed SGM flows (frame1→frame3, frame3→frame1), each (2, height, width) float32 pixels.

    Files are (2, H_sgm, W_sgm) arrays, channel 0 = x (spec §9.3). Other sizes are
    nearest-resized (legacy nearest) and their vectors rescaled, as the released loader does.
    """
    if triplet.sgm_dir is None:
        raise BadTripletError(f"triplet {triplet.name}: no precomputed SGM flows ({SGM_FOLDER}/{triplet.name}/)")
    flows = []
    for file in SGM_FILES:
        path = triplet.sgm_dir / file
        try:
            flow = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise BadTripletError(f"triplet {triplet.name}: cannot read SGM flow {file}: {exc}") from exc
        if flow.ndim != 3 or flow.shape[0] != 2 or min(flow.shape[1:]) == 0:
            raise BadTripletError(f"triplet {triplet.name}: SGM flow {file} has shape {flow.shape}, expected (2, H, W)")
        tensor = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32))[None]
        flows.append(resize_flow(tensor, (height, width), mode="nearest")[0].numpy())
    return flows[0], flows[1]


def _frame_folder(root: Path) -> tuple[Path, Path]:
    """(folder holding the triplet folders, folder to look in for annotation/SGM folders)."""
    if (root / FRAME_FOLDER).is_dir():
        return root / FRAME_FOLDER, root
    side_folders = {*ANNOTATION_FOLDERS, SGM_FOLDER}
    variants = sorted(
        p for p in root.glob("test_2k_*") if p.is_dir() and p.name not in side_folders and not _is_triplet(p)
    )
    if variants:
        return variants[0], root
    if root.name.startswith("test_2k_"):
        return root, root.parent
    return root, root


def _is_triplet(folder: Path) -> bool:
    return folder.is_dir() and any(_frame(folder, stem) for stem in FRAME_STEMS)


def _frame(folder: Path, stem: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def _triplet(folder: Path, annotation_dir: Path | None, sgm_dir: Path | None) -> Triplet:
    name = folder.name
    annotation_candidates = [folder / f"{name}.json"]
    if annotation_dir is not None:
        annotation_candidates[:0] = [annotation_dir / name / f"{name}.json", annotation_dir / f"{name}.json"]
    sgm_candidates = ([sgm_dir / name] if sgm_dir is not None else []) + [folder]
    return Triplet(
        name=name,
        frames=(_frame(folder, "frame1"), _frame(folder, "frame2"), _frame(folder, "frame3")),
        annotation=next((p for p in annotation_candidates if p.is_file()), None),
        sgm_dir=next((d for d in sgm_candidates if (d / SGM_FILES[0]).is_file()), None),
    )


def _parse_level(value: object, problems: list[str]) -> int | None:
    if value is None:
        problems.append("no level")
        return None
    if isinstance(value, str) and value.lower() in ("mid", *LEVEL_NAMES):
        return 1 if value.lower() == "mid" else LEVEL_NAMES.index(value.lower())
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1, 2):
        return int(value)
    problems.append(f"level {value!r} is not 0, 1 or 2")
    return None


def _parse_numbers(value: Any, keys: tuple[str, ...] | None, field: str, problems: list[str]) -> tuple[Any, ...] | None:
    """A tuple of finite numbers (as many as ``keys``, or 2) from a dict (with ``keys``) or a
    2-list (``keys`` None) read from JSON, else None."""
    if value is None:
        problems.append(f"no {field}")
        return None
    try:
        items = [value[k] for k in keys] if keys is not None else list(value)
        numbers = tuple(float(v) for v in items if not isinstance(v, bool))
    except (KeyError, TypeError, ValueError):
        numbers = ()
    expected = len(keys) if keys is not None else 2
    if len(numbers) != expected or not all(np.isfinite(numbers)):
        problems.append(f"{field} is malformed")
        return None
    return numbers


def _parse_labels(value: object, field: str, problems: list[str]) -> tuple[str, ...]:
    """A label or list of labels (the data set's files use either) as a tuple of strings."""
    if value is None:
        return ()
    labels = [value] if isinstance(value, str) else value
    if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
        problems.append(f"{field} is malformed")
        return ()
    return tuple(v.strip().lower() for v in labels if v.strip())
