"""Layered triplets from real material: real pieces moving over real backgrounds, exact flows.

The renderer is the procedural one (:mod:`animeinterp_cli.training.synthetic`: backward-mapped
layers, each with its own affine motion, optional non-rigid deformation and eased timing), fed
with real textures instead of drawn shapes:

- the background is a crop of an illustration or of a cel-animation frame, panned, zoomed and
  rolled like a camera move;
- the pieces are sprite frames (hand-drawn or pixel-art characters with their own alpha), or
  regions cut out of illustrations and animation frames (one to three segments of the SGM
  segmentation of a random window, near its centre, with an ink outline added half the
  time), and now and then a procedural shape.

The material comes from a folder laid out like ``/work/shared/training`` (``art/*.png|jpg``,
``sprites/<name>/*.png`` RGBA, ``clips/*.mp4`` decoded with PyAV); see ``DATA.md`` for which
files are used and their licences. It never includes the validation triplets.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import cv2
import numpy as np

from animeinterp_cli.errors import InputError
from animeinterp_cli.training.dataset import Triplet, check_not_validation
from animeinterp_cli.training.synthetic import (
    Layer,
    Scene,
    random_camera_motion,
    random_field,
    random_motion,
    random_outline,
    random_shape_layer,
    random_t,
    render_scene,
)
from animeinterp_cli.video.images import read_image, read_rgba
from animeinterp_cli.video.sample import spread_frames
from models.sgm.config import SGMConfig
from models.sgm.segmentation import region_adjacency, segment

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class Material:
    """Real images to build layered triplets from.

    ``images``: (h, w, 3) uint8 RGB illustrations and animation frames (backgrounds, and the
    source of cut-out pieces); ``sprites``: (h, w, 4) uint8 RGBA sprite frames, cropped to
    their opaque part; ``names`` and ``sprite_names``: where each came from, relative to the
    material folder (``art/<file>``, ``clips/<file>@<seconds>s``, ``sprites/<name>/<file>``).
    """

    images: list[np.ndarray]
    sprites: list[np.ndarray]
    names: list[str]
    sprite_names: list[str]

    @classmethod
    def load(
        cls, root: Path, frames_per_clip: int = 12, max_side: int = 768, exclude: tuple[str, ...] = ()
    ) -> Material:
        """Read ``root``/art, ``root``/sprites and ``frames_per_clip`` frames of each ``root``/clips video.

        Images and frames are scaled down so that their longer side is at most ``max_side``
        (painted art at full size would give crops with little structure). ``exclude``: glob
        patterns of files to leave out, relative to ``root`` (e.g. ``"sprites/lpc_*"`` to keep
        share-alike material out). One-line :class:`InputError` when no usable image is left.
        """
        root = Path(root)
        check_not_validation(root)
        if not root.is_dir():
            raise InputError(f"training material folder {root} does not exist")

        def files(pattern: str) -> list[Path]:
            found = sorted(root.glob(pattern))
            return [p for p in found if not any(fnmatch(p.relative_to(root).as_posix(), x) for x in exclude)]

        images, names = [], []
        for path in (p for p in files("art/*") if p.suffix.lower() in IMAGE_SUFFIXES):
            images.append(_fit(read_image(path), max_side))
            names.append(f"art/{path.name}")
        for path in files("clips/*.mp4"):
            for seconds, frame in spread_frames(path, frames_per_clip):
                images.append(_fit(frame, max_side))
                names.append(f"clips/{path.name}@{seconds:.2f}s")
        sprites, sprite_names = [], []
        for path in files("sprites/*/*.png"):
            sprite = read_rgba(path)
            if sprite is None:
                continue  # a sprite without alpha cannot be cut out; other frames still serve
            opaque = _opaque_crop(sprite)
            if opaque is not None:
                sprites.append(opaque)
                sprite_names.append(path.relative_to(root).as_posix())
        if not images:
            raise InputError(f"no training images in {root} (expected art/*.png|jpg or clips/*.mp4)")
        return cls(images, sprites, names, sprite_names)


def render_layered(rng: np.random.Generator, size: tuple[int, int], material: Material) -> Triplet:
    """A triplet of ``size`` (H, W): 2–5 real pieces over a real background, exact flows."""
    h, w = size
    if min(h, w) < 16:
        raise ValueError(f"size must be at least 16×16 pixels, got {w}×{h}")
    canvas = (h + h // 2, w + w // 2)
    background = Layer(
        rgba=_premultiplied(_random_crop(rng, material.images[rng.integers(len(material.images))], canvas)),
        anchor=(canvas[1] / 2, canvas[0] / 2),
        motion=random_camera_motion(rng, size),
        border=cv2.BORDER_REFLECT_101,
    )
    layers = [background]
    for _ in range(rng.integers(2, 6)):
        choice = rng.random()
        if choice < 0.5 and material.sprites:
            layers.append(_piece_layer(rng, size, _sprite_piece(rng, material, size)))
        elif choice < 0.85:
            layers.append(_piece_layer(rng, size, _cutout_piece(rng, material, size)))
        else:
            layers.append(random_shape_layer(rng, size))
    return render_scene(Scene(layers, size, t=random_t(rng), source="layered"))


def _piece_layer(rng: np.random.Generator, size: tuple[int, int], rgba: np.ndarray) -> Layer:
    """A layer from a premultiplied RGBA piece, padded so that it can bend and be sampled at its edge."""
    deformable = rng.random() < 0.4
    amplitude = float(rng.uniform(2, 0.08 * max(rgba.shape[:2]) + 2)) if deformable else 0.0
    pad = int(np.ceil(amplitude)) + 2
    rgba = np.pad(rgba, ((pad, pad), (pad, pad), (0, 0)))
    h, w = rgba.shape[:2]
    return Layer(
        rgba=rgba,
        anchor=(w / 2, h / 2),
        motion=random_motion(rng, size, deformable),
        field=random_field(rng, (h, w), amplitude) if deformable else None,
    )


def _sprite_piece(rng: np.random.Generator, material: Material, size: tuple[int, int]) -> np.ndarray:
    """A sprite frame scaled to 20–60 % of the screen height (premultiplied RGBA), maybe mirrored."""
    sprite = material.sprites[rng.integers(len(material.sprites))]
    scale = rng.uniform(0.2, 0.6) * min(size) / max(sprite.shape[:2])
    new = (max(2, round(sprite.shape[1] * scale)), max(2, round(sprite.shape[0] * scale)))
    # resize premultiplied colour, so that transparent pixels do not bleed their colour into edges
    rgba = cv2.resize(_premultiplied_rgba(sprite), new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return rgba[:, ::-1].copy() if rng.random() < 0.5 else rgba


def _cutout_piece(rng: np.random.Generator, material: Material, size: tuple[int, int]) -> np.ndarray:
    """A region cut out of a real image (premultiplied RGBA): SGM segments, or a random shape when none fits."""
    side = int(rng.uniform(0.15, 0.5) * min(size))
    window = _random_crop(rng, material.images[rng.integers(len(material.images))], (side, side))
    mask = _segment(rng, window)
    if mask is None:  # no piece of a useful size: cut a random shape of the real texture instead
        outline = random_outline(rng, side / 2 * rng.uniform(0.6, 0.95)) + side / 2
        mask = np.zeros((side, side), np.uint8)
        cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    alpha = cv2.GaussianBlur(mask, (0, 0), 0.6).astype(np.float32) / 255  # about one pixel of soft edge
    colour = window.astype(np.float32)
    if rng.random() < 0.5:  # ink line around the piece, as a cel would have
        contours, _ = cv2.findContours((mask > 127).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        line = np.zeros((side, side), np.uint8)
        cv2.drawContours(line, contours, -1, 255, int(rng.integers(1, 3)), cv2.LINE_AA)
        ink = line.astype(np.float32)[..., None] / 255
        colour = colour * (1 - ink) + rng.uniform(10, 45) * ink
        alpha = np.maximum(alpha, ink[..., 0])
    return np.concatenate([colour * alpha[..., None], alpha[..., None]], axis=2).astype(np.float32)


def _segment(rng: np.random.Generator, window: np.ndarray) -> np.ndarray | None:
    """A (side, side) uint8 mask (255 inside) of adjacent SGM segments grown from one near the centre.

    The segments are those of the SGM stage (line map, trapped-ball fill, merging of small
    regions: :func:`models.sgm.segmentation.segment`), so pieces end at drawn lines and colour
    edges as a cel's parts do. From the segment under a seed near the window centre, random
    neighbouring segments are added until the piece covers a random 15–60 % of the window.
    Holes are filled (a piece is opaque). None when the piece ends up over 85 % of the window
    (a flat window is one segment).
    """
    side = window.shape[0]
    labels, areas = segment(np.ascontiguousarray(window), SGMConfig())
    labels = labels + 1  # region_adjacency ignores label 0
    region, neighbour, _ = region_adjacency(labels)
    x, y = rng.normal(side / 2, side / 8, 2).clip(0, side - 1).astype(int)
    piece = {int(labels[y, x])}
    covered, target = areas[labels[y, x] - 1], rng.uniform(0.15, 0.6) * side * side
    while covered < target:
        frontier = sorted(set(neighbour[np.isin(region, list(piece))].tolist()) - piece)
        if not frontier:
            break
        added = frontier[rng.integers(len(frontier))]
        piece.add(added)
        covered += areas[added - 1]
    mask = np.isin(labels, list(piece)).astype(np.uint8) * 255
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 255, cv2.FILLED)
    return filled if (filled > 0).mean() <= 0.85 else None


def _random_crop(rng: np.random.Generator, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A crop of ``image`` resampled to ``size`` (h, w) at a random scale (0.5–1.5× where the image allows)."""
    h, w = size
    image_h, image_w = image.shape[:2]
    # crop extent in image pixels: the output size divided by the zoom, never beyond the image
    zoom = max(rng.uniform(0.5, 1.5), h / image_h, w / image_w)
    crop_h, crop_w = min(image_h, round(h / zoom)), min(image_w, round(w / zoom))
    top, left = rng.integers(0, image_h - crop_h + 1), rng.integers(0, image_w - crop_w + 1)
    crop = image[top : top + crop_h, left : left + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    interpolation = cv2.INTER_AREA if crop_h > h else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=interpolation)


def _premultiplied(rgb: np.ndarray) -> np.ndarray:
    """Opaque (h, w, 3) uint8 colour → premultiplied (h, w, 4) float32 RGBA (alpha 1)."""
    return np.concatenate([rgb.astype(np.float32), np.ones((*rgb.shape[:2], 1), np.float32)], axis=2)


def _premultiplied_rgba(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8 straight-alpha RGBA → premultiplied float32 (colour 0–255, alpha 0–1)."""
    alpha = rgba[..., 3:].astype(np.float32) / 255
    return np.concatenate([rgba[..., :3].astype(np.float32) * alpha, alpha], axis=2)


def _opaque_crop(rgba: np.ndarray) -> np.ndarray | None:
    """The sprite cropped to the bounding box of its visible pixels; None when it is empty or tiny."""
    visible = np.argwhere(rgba[..., 3] > 0)
    if len(visible) < 16:
        return None
    (top, left), (bottom, right) = visible.min(0), visible.max(0) + 1
    return rgba[top:bottom, left:right]


def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down (area interpolation) so that its longer side is at most ``max_side``."""
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    new = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, new, interpolation=cv2.INTER_AREA)
