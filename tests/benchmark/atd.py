"""Writers of small ATD-12K-layout data sets whose scores are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

HEIGHT, WIDTH = 24, 32
#: the value every ground-truth pixel has in the fixture triplets
GREY = 100


def write_image(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def checker(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """+1/−1 in a checkerboard, (H, W, 1) int."""
    return np.where(np.indices((height, width)).sum(0) % 2 == 0, 1, -1)[..., None]


def write_triplet(folder: Path, error: int = 0, box: tuple[int, int, int, int] | None = None, suffix: str = ".png") -> None:
    """A grey truth; frame1 = frame3 = truth ± ``error`` levels (checkerboard) inside ``box``
    (x, y, w, h; the whole frame when None), so the 50/50 blend is off by exactly ``error``."""
    truth = np.full((HEIGHT, WIDTH, 3), GREY, np.uint8)
    offset = np.zeros((HEIGHT, WIDTH, 1), int)
    x, y, w, h = box if box is not None else (0, 0, WIDTH, HEIGHT)
    offset[y : y + h, x : x + w] = error * checker()[y : y + h, x : x + w]
    moved = (truth + offset).astype(np.uint8)
    write_image(folder / f"frame1{suffix}", moved)
    write_image(folder / f"frame2{suffix}", truth)
    write_image(folder / f"frame3{suffix}", moved)


def annotation(box=(0, 0, WIDTH, HEIGHT), scale: float = 1.0, level: int = 0, motion="translation", behavior="walking") -> dict:
    """An ATD-12K annotation whose original image was ``scale`` times the fixture's frame size."""
    x, y, w, h = box
    return {
        "level": level,
        "motion_RoI": {"x": x * scale, "y": y * scale, "width": w * scale, "height": h * scale},
        "general_motion_type": motion,
        "behavior": behavior,
        "image_size": [WIDTH * scale, HEIGHT * scale],
    }


def write_annotation(root: Path, name: str, content) -> Path:
    """``root/test_2k_annotations/<name>/<name>.json`` with ``content`` (a dict, or raw text)."""
    path = root / "test_2k_annotations" / name / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path
