"""Rendered cartoon frame pairs with known motion, for the SGM tests and bench/sgm_bench.py.

Flat-colour shapes (ellipses, rectangles, stars) with dark outlines over a flat or gradient
background. Each shape moves by its own similarity transform about its centre (translation,
rotation, scale), and shapes never overlap in either frame, so the true flow of every shape
pixel of frame 0 is known exactly: flow(p) = c1 + s·R(θ)·(p − c0) − p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

OUTLINE = (25, 20, 30)


@dataclass
class CartoonPair:
    frame0: np.ndarray  # (H, W, 3) uint8 RGB
    frame1: np.ndarray
    flow01: np.ndarray  # (2, H, W) float32 true flow on shape pixels of frame 0 (inside the outline), 0 elsewhere
    shape_ids0: np.ndarray  # (H, W) int: shape index + 1 inside each shape's fill in frame 0, 0 elsewhere
    shape_ids1: np.ndarray  # same for frame 1
    colors: list  # fill colour of each shape


def _outline(kind: str, radius: float, aspect: float, rng: np.random.Generator) -> np.ndarray:
    """(K, 2) polygon of a shape centred at the origin."""
    if kind == "ellipse":
        angles = np.linspace(0, 2 * math.pi, 96, endpoint=False)
        return np.stack([radius * np.cos(angles), radius * aspect * np.sin(angles)], 1)
    if kind == "rectangle":
        return np.array([[-radius, -radius * aspect], [radius, -radius * aspect], [radius, radius * aspect], [-radius, radius * aspect]])
    points = int(rng.integers(5, 8))
    angles = np.linspace(0, 2 * math.pi, 2 * points, endpoint=False)
    radii = np.where(np.arange(2 * points) % 2 == 0, radius, radius * 0.55)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


def _background(width: int, height: int, gradient: bool, rng: np.random.Generator) -> np.ndarray:
    base = rng.integers(150, 240, 3).astype(np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[:] = base
    if gradient:
        ramp = np.linspace(-35, 35, width, dtype=np.float32)[None, :, None] * rng.uniform(0.5, 1.0, 3)
        image += ramp
    return np.clip(image, 0, 255).astype(np.uint8)


def _distinct_colors(count: int, rng: np.random.Generator) -> list:
    hues = (np.arange(count) * 180 // max(count, 1) + rng.integers(0, 180)) % 180
    hsv = np.stack([hues, rng.integers(140, 255, count), rng.integers(120, 255, count)], 1).astype(np.uint8)
    return [tuple(int(v) for v in c) for c in cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]]


def render_pair(
    rng: np.random.Generator,
    width: int = 960,
    height: int = 540,
    shapes: int = 6,
    max_shift: float = 150.0,
    max_rotation: float = 30.0,
    scale_range: tuple[float, float] = (0.8, 1.25),
    gradient: bool = False,
    radius_range: tuple[float, float] = (28.0, 60.0),
) -> CartoonPair:
    """A frame pair with ``shapes`` moving shapes (fewer if they cannot be placed apart)."""
    frame0 = _background(width, height, gradient, rng)
    frame1 = frame0.copy()
    ids0 = np.zeros((height, width), np.int32)
    ids1 = np.zeros((height, width), np.int32)
    flow = np.zeros((2, height, width), np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    colors = _distinct_colors(shapes, rng)
    placed: list[tuple[np.ndarray, float, np.ndarray, float]] = []
    kinds = ("ellipse", "rectangle", "star")
    for index in range(shapes):
        for _ in range(200):
            radius = rng.uniform(*radius_range)
            scale = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
            reach0, reach1 = radius + 4, radius * scale + 4
            centre0 = rng.uniform([reach0, reach0], [width - reach0, height - reach0])
            direction = rng.uniform(0, 2 * math.pi)
            shift = rng.uniform(0, max_shift) * np.array([math.cos(direction), math.sin(direction)])
            centre1 = centre0 + shift
            inside = reach1 <= centre1[0] <= width - reach1 and reach1 <= centre1[1] <= height - reach1
            apart = all(
                np.hypot(*(c - other_c)) > r + other_r + 6
                for other_c0, other_r0, other_c1, other_r1 in placed
                for c, r, other_c, other_r in ((centre0, reach0, other_c0, other_r0), (centre1, reach1, other_c1, other_r1),
                                               (centre0, reach0, other_c1, other_r1), (centre1, reach1, other_c0, other_r0))
            )
            if inside and apart:
                break
        else:
            continue
        placed.append((centre0, reach0, centre1, reach1))
        polygon = _outline(kinds[index % 3], radius, rng.uniform(0.6, 1.0), rng)
        angle0 = rng.uniform(0, 2 * math.pi)
        rotation = math.radians(rng.uniform(-max_rotation, max_rotation))
        for frame, ids, centre, angle, size in ((frame0, ids0, centre0, angle0, 1.0), (frame1, ids1, centre1, angle0 + rotation, scale)):
            turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            points = (polygon @ turn.T) * size + centre
            contour = np.round(points * 16).astype(np.int32)  # 4 fractional bits
            cv2.fillPoly(frame, [contour], colors[index], cv2.LINE_AA, shift=4)
            cv2.polylines(frame, [contour], True, OUTLINE, 3, cv2.LINE_AA, shift=4)
            fill = np.zeros((height, width), np.uint8)
            cv2.fillPoly(fill, [contour], 1, cv2.LINE_8, shift=4)
            fill = cv2.erode(fill, np.ones((5, 5), np.uint8)) > 0  # inside the outline
            ids[fill] = index + 1
        # similarity transform about the centre: p → c1 + s·R(rotation)·(p − c0)
        cos, sin = math.cos(rotation) * scale, math.sin(rotation) * scale
        dx, dy = xs - centre0[0], ys - centre0[1]
        inside0 = ids0 == index + 1
        flow[0][inside0] = (centre1[0] + cos * dx - sin * dy - xs)[inside0]
        flow[1][inside0] = (centre1[1] + sin * dx + cos * dy - ys)[inside0]
    return CartoonPair(frame0, frame1, flow, ids0, ids1, colors)


def shape_report(pair: CartoonPair, flow: np.ndarray, valid: np.ndarray, min_valid: float = 0.5) -> dict:
    """Per-pair scores of an estimated frame 0 → 1 flow against the truth.

    A shape is *matched* when at least ``min_valid`` of its pixels have a valid flow, and
    *correctly matched* when, in addition, the median estimated flow moves its pixels onto
    the same shape in frame 1. EPE is the mean end-point error over the valid pixels of the
    correctly matched shapes.
    """
    shapes = int(pair.shape_ids0.max())
    matched = correct = 0
    errors = []
    height, width = valid.shape
    for shape in range(1, shapes + 1):
        pixels = pair.shape_ids0 == shape
        if not pixels.any():
            continue
        covered = valid & pixels
        if covered.sum() < min_valid * pixels.sum():
            continue
        matched += 1
        ys, xs = np.nonzero(covered)
        tx = np.clip(np.round(xs + np.median(flow[0][covered])), 0, width - 1).astype(int)
        ty = np.clip(np.round(ys + np.median(flow[1][covered])), 0, height - 1).astype(int)
        if np.mean(pair.shape_ids1[ty, tx] == shape) < 0.5:
            continue
        correct += 1
        errors.append(np.hypot(*(flow[:, covered] - pair.flow01[:, covered])))
    present = len([s for s in range(1, shapes + 1) if (pair.shape_ids0 == s).any()])
    return {
        "shapes": present,
        "matched": matched,
        "correct": correct,
        "epe": float(np.concatenate(errors).mean()) if errors else float("nan"),
    }
