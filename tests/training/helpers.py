"""Hand-made layers and a warp check shared by the training-data tests."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from animeinterp_cli.training.synthetic import Layer, Motion
from models.ops import backward_warp


def static_background(size: tuple[int, int], colour=(200, 210, 220)) -> Layer:
    """A flat, still background layer covering a screen of ``size`` (H, W)."""
    h, w = size
    rgba = np.zeros((h, w, 4), np.float32)
    rgba[..., :3] = colour
    rgba[..., 3] = 1
    centre = (w / 2, h / 2)
    return Layer(rgba, anchor=centre, motion=Motion(centre, centre), border=cv2.BORDER_REFLECT_101)


def block_layer(side: int, colour, motion: Motion) -> Layer:
    """An opaque ``side``×``side`` square with hard edges, on a canvas with a 2-pixel transparent margin.

    The anchor is the canvas centre, so at an integer position (x, y) the square covers screen
    columns x − side/2 … x + side/2 − 1 (``side`` even) exactly, and rows likewise.
    """
    canvas = side + 4
    rgba = np.zeros((canvas, canvas, 4), np.float32)
    rgba[2 : 2 + side, 2 : 2 + side, :3] = colour
    rgba[2 : 2 + side, 2 : 2 + side, 3] = 1
    return Layer(rgba, anchor=(canvas / 2, canvas / 2), motion=motion)


def smooth_layer(rng: np.random.Generator, side: int, motion: Motion, field: np.ndarray | None = None) -> Layer:
    """An opaque square of smooth colour noise (small second derivatives, so bilinear sampling is near exact)."""
    noise = rng.uniform(0, 255, (side // 8, side // 8, 3)).astype(np.float32)
    colour = cv2.resize(noise, (side, side), interpolation=cv2.INTER_CUBIC)
    colour = cv2.GaussianBlur(colour, (0, 0), 6)
    rgba = np.concatenate([colour, np.ones((side, side, 1), np.float32)], axis=2)
    return Layer(rgba, anchor=(side / 2, side / 2), motion=motion, field=field)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp an (H, W, 3) uint8 image with a (2, H, W) flow → (H, W, 3) float32 (0–255)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).float().permute(2, 0, 1)[None]
    return backward_warp(tensor, torch.from_numpy(flow)[None])[0].permute(1, 2, 0).numpy()


def warp_error(target: np.ndarray, source: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Per-pixel mean absolute difference (0–255) between ``target`` and ``source`` warped by ``flow``."""
    return np.abs(warp(source, flow) - target.astype(np.float32)).mean(axis=2)
