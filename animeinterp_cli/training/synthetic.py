"""Procedurally rendered cartoon triplets with exact ground truth.

A scene is a stack of layers, back to front: a background that covers the whole screen, then
flat-colour shapes with dark ink outlines, cel shading and sometimes a texture. Each layer
has a texture on its own *canvas* and a pose over time: an affine map (translation, rotation,
scale) applied after an optional smooth non-rigid deformation of the canvas,

    x = R(angle) · scale · (w − anchor) + position,    w = u + strength · field(u),

where u is a canvas point, x a screen point (pixels, x = column, y = row, pixel centres at
integer coordinates) and field a smooth (h, w, 2) displacement field of the canvas.

Time: frame0 is τ = 0, frame1 is τ = 1 and the middle frame is the nominal time t. Motion is
not linear in time: each layer's pose is interpolated at progress = ease(τ) (ease in, ease
out, both, or linear, per layer), and its path may bend. So the middle frame is where the
layers truly are at t, which is generally not the linear midpoint.

Every frame is rendered by backward mapping: for each screen pixel and layer the canvas point
u is found by inverting the pose (the deformation is inverted by fixed-point iteration, which
converges because the field's Lipschitz constant is kept small), the layer's premultiplied
RGBA is sampled there, and the layers are composited back to front. The flow of a pixel from
frame a to frame b is where its top-most layer's canvas point goes in frame b, minus the pixel
itself: exact by construction, also where the point is hidden or off-screen in frame b. A
pixel is *valid* (non-occluded) when the layer that owns it in frame a also owns the pixel it
lands on in frame b, and that pixel is on screen. A layer owns a pixel when it is the
top-most layer whose alpha there is at least one half. (OpenCV's bilinear sampling places
samples on a 1/32-pixel lattice, so pictures may sit up to 1/64 px off the exact flows.)

Flows are (2, H, W) float32, channel 0 = x displacement, in pixels; images (H, W, 3) uint8 RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from animeinterp_cli.training.dataset import Triplet

#: fixed-point iterations that invert the non-rigid deformation (contraction ≤ MAX_LIPSCHITZ)
INVERSE_ITERATIONS = 8
#: the deformation field's largest gradient, times the strength (|strength| ≤ 1)
MAX_LIPSCHITZ = 0.4
#: probability that a sample is rendered at t = 0.5 rather than at a random t
MIDPOINT_PROBABILITY = 0.75
_REMAP_ROW = 1024
EASE_KINDS = ("linear", "in", "out", "in_out")


@dataclass(frozen=True)
class Timing:
    """How a layer's progress (0 → 1) follows time τ (0 → 1): ``kind`` of ease and its ``power``."""

    kind: str = "linear"
    power: float = 2.0

    def progress(self, tau: float) -> float:
        p = self.power
        if self.kind == "linear":
            return tau
        if self.kind == "in":  # slow start, fast end
            return tau**p
        if self.kind == "out":  # fast start, slow end
            return 1.0 - (1.0 - tau) ** p
        if self.kind == "in_out":
            return tau**p / (tau**p + (1.0 - tau) ** p)
        raise ValueError(f"unknown ease kind {self.kind!r}; choose one of {EASE_KINDS}")


@dataclass(frozen=True)
class Motion:
    """A layer's pose at τ = 0 and τ = 1, and how it goes from one to the other.

    ``position``: the screen point (x, y) where the canvas ``anchor`` lands; ``angle`` in
    degrees; ``scale`` a factor (interpolated geometrically); ``strength`` multiplies the
    layer's deformation field. ``bend``: the path's sideways offset at mid-progress, in pixels
    (0 = straight line).
    """

    position0: tuple[float, float]
    position1: tuple[float, float]
    angle0: float = 0.0
    angle1: float = 0.0
    scale0: float = 1.0
    scale1: float = 1.0
    strength0: float = 0.0
    strength1: float = 0.0
    bend: float = 0.0
    timing: Timing = Timing()

    def pose(self, tau: float) -> tuple[np.ndarray, float]:
        """(2×3 affine matrix: canvas point relative to the anchor → screen point, strength) at τ."""
        p = self.timing.progress(tau)
        start, end = np.asarray(self.position0, np.float64), np.asarray(self.position1, np.float64)
        travel = end - start
        length = float(np.hypot(*travel))
        normal = np.array([-travel[1], travel[0]]) / length if length > 0 else np.zeros(2)
        position = start + travel * p + normal * self.bend * 4.0 * p * (1.0 - p)
        angle = np.deg2rad(self.angle0 + (self.angle1 - self.angle0) * p)
        scale = self.scale0 * (self.scale1 / self.scale0) ** p
        linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        strength = self.strength0 + (self.strength1 - self.strength0) * p
        return np.concatenate([linear, position[:, None]], axis=1), strength


@dataclass
class Layer:
    """A texture on its own canvas and its motion.

    ``rgba``: (h, w, 4) float32, colour premultiplied by alpha, colour in [0, 255] and alpha in
    [0, 1]. ``anchor``: the canvas point (x, y) that :class:`Motion` positions. ``field``: the
    (h, w, 2) float32 deformation field (x, y) in canvas pixels at strength 1, or None (rigid).
    ``border``: the OpenCV border mode for sampling the canvas (reflect for backgrounds, which
    must cover the screen wherever they move; constant zero for pieces).
    """

    rgba: np.ndarray
    anchor: tuple[float, float]
    motion: Motion
    field: np.ndarray | None = None
    border: int = cv2.BORDER_CONSTANT

    def pose(self, tau: float) -> tuple[np.ndarray, float]:
        """(forward 2×3 affine matrix: deformed canvas point → screen point, deformation strength) at τ."""
        matrix, strength = self.motion.pose(tau)
        matrix[:, 2] -= matrix[:, :2] @ np.asarray(self.anchor, np.float64)  # the anchor lands on the position
        return matrix, strength

    @property
    def field_reach(self) -> float:
        """The longest displacement of the deformation field (0 when rigid), canvas pixels."""
        return 0.0 if self.field is None else float(np.abs(self.field).max()) * np.sqrt(2)


@dataclass
class Scene:
    """Layers back to front (``layers[0]`` covers the screen), the screen ``size`` (H, W) and t.

    ``grid``: the (2, H, W) float32 coordinates (x, y) of the screen pixels.
    """

    layers: list[Layer]
    size: tuple[int, int]
    t: float = 0.5
    source: str = "synthetic"
    grid: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.t < 1.0:
            raise ValueError(f"t must be in (0, 1), got {self.t}")
        h, w = self.size
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        self.grid = np.stack([xs, ys])


def render_synthetic(rng: np.random.Generator, size: tuple[int, int] = (256, 256)) -> Triplet:
    """A random cartoon triplet of ``size`` (H, W) with exact middle frame, flows and occlusions."""
    return render_scene(random_scene(rng, size))


def render_scene(scene: Scene) -> Triplet:
    """Render frame0, the middle frame and frame1 of ``scene`` and their exact flows."""
    taus = (0.0, scene.t, 1.0)
    # per frame and layer: the screen box the layer can cover and the canvas points it shows there
    views = [[_layer_view(layer, tau, scene) for layer in scene.layers] for tau in taus]
    frames, owners = zip(*(_composite(scene, frame_views) for frame_views in views))

    def flow(a: int, b: int) -> np.ndarray:
        """Flow from frame a to frame b: where each pixel's owning layer point goes in frame b."""
        result = np.zeros_like(scene.grid)
        for index, (layer, view) in enumerate(zip(scene.layers, views[a])):
            if view is None:
                continue
            box, canvas = view
            owned = owners[a][box] == index
            if owned.any():
                moved = _screen_coords(layer, taus[b], canvas) - scene.grid[(slice(None), *box)]
                result[(slice(None), *box)] = np.where(owned, moved, result[(slice(None), *box)])
        return result

    flow01, flow10 = flow(0, 2), flow(2, 0)
    return Triplet(
        frame0=frames[0],
        frame_t=frames[1],
        frame1=frames[2],
        t=scene.t,
        flow_t0=flow(1, 0),
        flow_t1=flow(1, 2),
        flow01=flow01,
        flow10=flow10,
        valid01=_visible_in_both(flow01, owners[0], owners[2]),
        valid10=_visible_in_both(flow10, owners[2], owners[0]),
        source=scene.source,
    )


Box = tuple[slice, slice]


def _layer_view(layer: Layer, tau: float, scene: Scene) -> tuple[Box, np.ndarray] | None:
    """(screen box (rows, columns), canvas points (2, box) shown there) of ``layer`` at τ; None if off screen.

    The background's box is the whole screen; a piece's box bounds its canvas on screen
    (deformation included), so pixels outside it see none of the piece.
    """
    h, w = scene.size
    if layer.border != cv2.BORDER_CONSTANT:
        return (slice(0, h), slice(0, w)), _canvas_coords(layer, tau, scene.grid)
    matrix, strength = layer.pose(tau)
    canvas_h, canvas_w = layer.rgba.shape[:2]
    # bilinear sampling reaches one pixel beyond the canvas' outer pixel centres
    corners = np.array([[-1, canvas_w, -1, canvas_w], [-1, -1, canvas_h, canvas_h]], np.float64)
    on_screen = matrix[:, :2] @ corners + matrix[:, 2:]
    reach = abs(strength) * layer.field_reach * np.sqrt(abs(np.linalg.det(matrix[:, :2]))) + 1
    x0, y0 = np.floor(on_screen.min(1) - reach).astype(int)
    x1, y1 = np.ceil(on_screen.max(1) + reach).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    box = (slice(y0, y1), slice(x0, x1))
    return box, _canvas_coords(layer, tau, scene.grid[(slice(None), *box)])


def _canvas_coords(layer: Layer, tau: float, screen: np.ndarray) -> np.ndarray:
    """The canvas point u (2, ...) that each screen point (2, ...) shows of ``layer`` at τ."""
    matrix, strength = layer.pose(tau)
    inverse = cv2.invertAffineTransform(matrix).astype(np.float32)
    deformed = np.einsum("ij,j...->i...", inverse[:, :2], screen) + inverse[:, 2].reshape(2, *[1] * (screen.ndim - 1))
    if layer.field is None or strength == 0.0:
        return deformed
    # solve u + strength·field(u) = deformed: a contraction, since strength·Lip(field) ≤ MAX_LIPSCHITZ
    canvas = deformed
    for _ in range(INVERSE_ITERATIONS):
        canvas = deformed - strength * _sample_field(layer.field, canvas)
    return canvas


def _screen_coords(layer: Layer, tau: float, canvas: np.ndarray) -> np.ndarray:
    """Where canvas points u (2, ...) of ``layer`` are on screen at τ (the forward pose)."""
    matrix, strength = layer.pose(tau)
    deformed = canvas
    if layer.field is not None and strength != 0.0:
        deformed = canvas + strength * _sample_field(layer.field, canvas)
    moved = np.einsum("ij,j...->i...", matrix[:, :2], deformed) + matrix[:, 2].reshape(2, *[1] * (deformed.ndim - 1))
    return moved.astype(np.float32)


def _sample_field(deformation: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The (h, w, 2) field bilinearly sampled at ``points`` (2, ...) → (2, ...); constant beyond the canvas."""
    shape = points.shape[1:]
    count = int(np.prod(shape))
    # cv2.remap wants maps under 32767 columns: lay the points out in rows of _REMAP_ROW
    padded = np.zeros((2, -(-count // _REMAP_ROW) * _REMAP_ROW), np.float32)
    padded[:, :count] = points.reshape(2, count)
    rows = padded.reshape(2, -1, _REMAP_ROW)
    sampled = cv2.remap(deformation, rows[0], rows[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.reshape(-1, 2)[:count].T.reshape(2, *shape)


def _composite(scene: Scene, views: list[tuple[Box, np.ndarray] | None]) -> tuple[np.ndarray, np.ndarray]:
    """Composite the layers back to front: ((H, W, 3) uint8 frame, (H, W) index of the owning layer)."""
    h, w = scene.size
    image = np.zeros((h, w, 3), np.float32)
    owner = np.zeros((h, w), np.int16)  # the background (layer 0) covers the screen
    for index, (layer, view) in enumerate(zip(scene.layers, views)):
        if view is None:
            continue
        box, canvas = view
        sampled = cv2.remap(layer.rgba, canvas[0], canvas[1], cv2.INTER_LINEAR, borderMode=layer.border, borderValue=0)
        alpha = sampled[..., 3:]
        image[box] = sampled[..., :3] + (1.0 - alpha) * image[box]
        owner[box][alpha[..., 0] >= 0.5] = index
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), owner


def _visible_in_both(flow: np.ndarray, owner_a: np.ndarray, owner_b: np.ndarray) -> np.ndarray:
    """Pixels of frame a whose owning layer also owns the (rounded) pixel they land on in frame b."""
    h, w = owner_a.shape
    ys, xs = np.mgrid[0:h, 0:w]
    x1 = np.rint(xs + flow[0]).astype(np.int64)
    y1 = np.rint(ys + flow[1]).astype(np.int64)
    on_screen = (x1 >= 0) & (x1 < w) & (y1 >= 0) & (y1 < h)
    landed = owner_b[np.clip(y1, 0, h - 1), np.clip(x1, 0, w - 1)]
    return on_screen & (landed == owner_a)


# ---------------------------------------------------------------------------------------------
# Random scenes


def random_scene(rng: np.random.Generator, size: tuple[int, int] = (256, 256)) -> Scene:
    """A random scene: a procedural background and 2–6 foreground cartoon shapes."""
    h, w = size
    if min(h, w) < 16:
        raise ValueError(f"size must be at least 16×16 pixels, got {w}×{h}")
    background = Layer(
        rgba=_opaque(random_background(rng, (h + h // 2, w + w // 2))),
        anchor=((w + w // 2) / 2, (h + h // 2) / 2),
        motion=random_camera_motion(rng, size),
        border=cv2.BORDER_REFLECT_101,
    )
    layers = [background] + [random_shape_layer(rng, size) for _ in range(rng.integers(2, 7))]
    return Scene(layers, (h, w), t=random_t(rng))


def random_t(rng: np.random.Generator) -> float:
    """0.5 for most samples, otherwise uniform in [0.15, 0.85] (arbitrary-t training)."""
    return 0.5 if rng.random() < MIDPOINT_PROBABILITY else float(rng.uniform(0.15, 0.85))


def random_timing(rng: np.random.Generator) -> Timing:
    """Linear for 40 % of layers, else ease in, out or both with power 1.5–3."""
    kind = "linear" if rng.random() < 0.4 else str(rng.choice(EASE_KINDS[1:]))
    return Timing(kind, float(rng.uniform(1.5, 3.0)))


def random_travel(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A displacement (dx, dy) from frame0 to frame1: small, medium, large, or very large (100+ px at 256²)."""
    unit = min(size) / 256
    low, high = [(0, 8), (8, 40), (40, 100), (100, 180)][rng.choice(4, p=[0.3, 0.35, 0.23, 0.12])]
    length = rng.uniform(low, high) * unit
    angle = rng.uniform(0, 2 * np.pi)
    return length * np.array([np.cos(angle), np.sin(angle)])


def random_motion(rng: np.random.Generator, size: tuple[int, int], deformable: bool) -> Motion:
    """A foreground layer's motion: anchor on screen at frame0, then any travel, turn, zoom, bend, wobble."""
    h, w = size
    start = rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h])
    travel = random_travel(rng, size)
    angle0 = rng.uniform(-180, 180)
    turn = rng.uniform(-5, 5) if rng.random() < 0.5 else rng.uniform(-30, 30)
    scale0 = rng.uniform(0.85, 1.15)
    bend = rng.normal(0, 0.15 * np.hypot(*travel) + 2) if rng.random() < 0.4 else 0.0
    strength0, strength1 = rng.uniform(-1, 1, 2) if deformable else (0.0, 0.0)
    return Motion(
        position0=tuple(start),
        position1=tuple(start + travel),
        angle0=angle0,
        angle1=angle0 + turn,
        scale0=scale0,
        scale1=scale0 * np.exp(rng.uniform(np.log(0.8), np.log(1.25))),
        strength0=float(strength0),
        strength1=float(strength1),
        bend=float(bend),
        timing=random_timing(rng),
    )


def random_camera_motion(rng: np.random.Generator, size: tuple[int, int]) -> Motion:
    """The background's motion: still (half the time), a pan (small or large), a slight zoom and roll."""
    h, w = size
    centre = np.array([w / 2, h / 2])
    if rng.random() < 0.5:
        return Motion(tuple(centre), tuple(centre))
    unit = min(size) / 256
    pan = rng.uniform(-1, 1, 2) * (15 if rng.random() < 0.7 else 60) * unit
    return Motion(
        position0=tuple(centre),
        position1=tuple(centre + pan),
        angle1=float(rng.uniform(-3, 3)),
        scale1=float(rng.uniform(0.95, 1.05)),
        timing=random_timing(rng),
    )


def random_field(rng: np.random.Generator, canvas: tuple[int, int], amplitude: float) -> np.ndarray:
    """A smooth (h, w, 2) deformation field, at most ``amplitude`` px and MAX_LIPSCHITZ steep."""
    h, w = canvas
    coarse = rng.normal(size=(4, 4, 2)).astype(np.float32)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    smooth *= amplitude / max(float(np.abs(smooth).max()), 1e-6)
    steepest = max(float(np.abs(np.gradient(smooth[..., c], axis=a)).max()) for c in range(2) for a in range(2))
    if steepest > MAX_LIPSCHITZ / 2:  # |∂| per component ≤ Lip/2 keeps the Lipschitz constant ≤ Lip
        smooth *= MAX_LIPSCHITZ / 2 / steepest
    return np.ascontiguousarray(smooth)


def random_colour(rng: np.random.Generator, saturation=(0.2, 0.9), value=(0.45, 1.0)) -> np.ndarray:
    """An RGB colour (float32, 0–255) from a random hue and the given saturation and value ranges."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def ink_colour(rng: np.random.Generator, fill: np.ndarray) -> np.ndarray:
    """Near-black ink, or a much darker tone of the fill (coloured line art)."""
    if rng.random() < 0.7:
        return np.full(3, rng.uniform(10, 45), np.float32)
    return fill * rng.uniform(0.15, 0.35)


def random_outline(rng: np.random.Generator, radius: float) -> np.ndarray:
    """A closed outline (N, 2) around (0, 0): ellipse, polygon, star or wobbly blob."""
    kind = rng.choice(["ellipse", "polygon", "star", "blob"])
    if kind == "polygon":
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 8)))
        radii = radius * rng.uniform(0.6, 1.0, angles.size)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    if kind == "ellipse":
        radii = radius / np.sqrt((np.cos(angles) / 1.0) ** 2 + (np.sin(angles) / rng.uniform(0.4, 1.0)) ** 2)
    elif kind == "star":
        points = rng.integers(4, 9)
        radii = radius * (1 - rng.uniform(0.25, 0.5) * (np.cos(points * angles) < 0))
    else:
        radii = np.ones_like(angles)
        for harmonic in range(2, 6):
            radii += rng.normal(0, 0.25 / harmonic) * np.cos(harmonic * angles + rng.uniform(0, 2 * np.pi))
        radii = radius * np.clip(radii, 0.3, None) / radii.max()
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


def random_shape_layer(rng: np.random.Generator, size: tuple[int, int]) -> Layer:
    """A foreground layer: one ink-outlined, cel-shaded cartoon shape (sometimes textured, with details)."""
    unit = min(size) / 256
    radius = float(np.exp(rng.uniform(np.log(10), np.log(80)))) * unit
    outline = random_outline(rng, radius)
    line = float(rng.uniform(1.0, 3.5) * max(unit, 0.5)) if rng.random() < 0.85 else 0.0
    deformable = rng.random() < 0.4
    amplitude = float(rng.uniform(2, 0.15 * radius + 2)) if deformable else 0.0
    side = int(2 * (radius + line + amplitude) + 8)
    centre = np.array([side / 2, side / 2])
    rgba = draw_shape(rng, outline + centre, (side, side), line)
    return Layer(
        rgba=rgba,
        anchor=tuple(centre),
        motion=random_motion(rng, size, deformable),
        field=random_field(rng, (side, side), amplitude) if deformable else None,
    )


def draw_shape(rng: np.random.Generator, outline: np.ndarray, canvas: tuple[int, int], line: float) -> np.ndarray:
    """Premultiplied RGBA (h, w, 4) of a filled, shaded, outlined polygon ``outline`` (N, 2) on a canvas."""
    h, w = canvas
    fill = random_colour(rng)
    centroid = outline.mean(0)
    extent = float((outline.max(0) - outline.min(0)).mean())
    polygon = [np.round(outline * 16).astype(np.int32)]  # 4 fractional bits (shift=4): sub-pixel edges
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, polygon, 255, cv2.LINE_AA, shift=4)
    inside = inside.astype(np.float32) / 255
    colour = np.broadcast_to(fill, (h, w, 3)).copy()
    if rng.random() < 0.3:
        colour = colour * random_texture(rng, (h, w))[..., None]
    # cel shading: a second, darker tone on the side away from the light
    if rng.random() < 0.7:
        light = rng.uniform(0, 2 * np.pi)
        offset = np.array([np.cos(light), np.sin(light)]) * rng.uniform(0.15, 0.4) * extent
        lit = np.zeros((h, w), np.uint8)
        cv2.fillPoly(lit, [np.round((outline + offset) * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        shadow = inside * (1 - lit.astype(np.float32) / 255)
        tone = fill * rng.uniform(0.55, 0.8) + rng.uniform(-10, 10, 3)
        colour = colour * (1 - shadow[..., None]) + tone * shadow[..., None]
    elif rng.random() < 0.5:  # or a soft shading gradient across the shape
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        direction = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(direction) * xs + np.sin(direction) * ys) / max(h, w)
        colour = colour * (1 + rng.uniform(0.2, 0.5) * (ramp - ramp.mean()))[..., None]
    ink = ink_colour(rng, fill)
    edge = np.zeros((h, w), np.uint8)
    if line > 0:
        cv2.polylines(edge, polygon, True, 255, max(1, int(round(line))), cv2.LINE_AA, shift=4)
    # interior line art (folds, eyes, stripes): short ink strokes, kept inside the shape
    strokes = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(0, 4)):
        start = centroid + (outline[rng.integers(len(outline))] - centroid) * rng.uniform(0.1, 0.7)
        stroke = start + np.cumsum(rng.normal(0, 0.15 * extent, (rng.integers(2, 5), 2)), 0)
        width = max(1, int(round(max(line, 1.5) * 0.7)))
        cv2.polylines(strokes, [np.round(stroke * 16).astype(np.int32)], False, 255, width, cv2.LINE_AA, shift=4)
    lines = np.maximum(edge.astype(np.float32) / 255, strokes.astype(np.float32) / 255 * inside)
    colour = np.clip(colour * (1 - lines[..., None]) + ink * lines[..., None], 0, 255)
    alpha = np.maximum(inside, lines)
    return np.concatenate([colour * alpha[..., None], alpha[..., None]], axis=2).astype(np.float32)


def random_texture(rng: np.random.Generator, canvas: tuple[int, int]) -> np.ndarray:
    """A multiplicative (h, w) float32 texture around 1: stripes, dots, checks or soft noise.

    Pattern edges are about one pixel wide (anti-aliased), as a drawn texture would be.
    """
    h, w = canvas
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = rng.integers(4)
    period = rng.uniform(4, 16)
    contrast = rng.uniform(0.1, 0.35)

    def soft_stripes(along: np.ndarray) -> np.ndarray:
        # near a zero crossing sin(π·s/P)·P/π ≈ the distance to the edge in pixels
        return np.clip(0.5 + np.sin(np.pi * along / period) * period / np.pi, 0, 1)

    if kind == 0:
        angle = rng.uniform(0, np.pi)
        pattern = soft_stripes(np.cos(angle) * xs + np.sin(angle) * ys)
    elif kind == 1:
        distance = np.hypot((xs % period) - period / 2, (ys % period) - period / 2)
        pattern = np.clip(period * rng.uniform(0.15, 0.35) - distance + 0.5, 0, 1)
    elif kind == 2:
        across, down = soft_stripes(xs), soft_stripes(ys)
        pattern = across * down + (1 - across) * (1 - down)
    else:
        coarse = rng.normal(size=(max(2, int(h / period)), max(2, int(w / period)))).astype(np.float32)
        noise = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        return 1 + contrast * np.clip(noise, -1.5, 1.5) / 1.5
    return 1 + contrast * (pattern - 0.5)


def random_background(rng: np.random.Generator, canvas: tuple[int, int]) -> np.ndarray:
    """An (h, w, 3) float32 RGB background: flat, gradient, textured, or simple painted scenery."""
    h, w = canvas
    base = random_colour(rng, saturation=(0.05, 0.6), value=(0.5, 1.0))
    kind = rng.choice(["flat", "gradient", "texture", "scenery"], p=[0.15, 0.3, 0.25, 0.3])
    image = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    if kind in ("gradient", "scenery"):
        other = random_colour(rng, saturation=(0.05, 0.6), value=(0.4, 1.0))
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        if rng.random() < 0.7:
            direction = rng.uniform(0, 2 * np.pi)
            ramp = np.cos(direction) * xs / w + np.sin(direction) * ys / h
        else:
            ramp = np.hypot(xs / w - rng.uniform(0, 1), ys / h - rng.uniform(0, 1))
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        image = image * (1 - ramp[..., None]) + other * ramp[..., None]
    if kind == "texture":
        image = image * random_texture(rng, (h, w))[..., None]
    if kind == "scenery":  # painted props without ink: hills, clouds, windows
        for _ in range(rng.integers(2, 7)):
            radius = rng.uniform(0.05, 0.35) * min(h, w)
            outline = random_outline(rng, radius) + rng.uniform([0, 0], [w, h])
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
            if rng.random() < 0.5:
                mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(1, 4))
            cover = mask.astype(np.float32)[..., None] / 255
            tone = random_colour(rng, saturation=(0.05, 0.6), value=(0.35, 1.0))
            image = image * (1 - cover) + tone * cover
            if rng.random() < 0.3:  # a ground line or a drawn edge in the background art
                edge = np.zeros((h, w), np.uint8)
                cv2.polylines(edge, [np.round(outline * 16).astype(np.int32)], True, 255, 1, cv2.LINE_AA, shift=4)
                weight = edge.astype(np.float32)[..., None] / 255 * rng.uniform(0.3, 0.8)
                image = image * (1 - weight) + tone * 0.4 * weight
    return np.clip(image, 0, 255).astype(np.float32)


def _opaque(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) colour → premultiplied (h, w, 4) RGBA with alpha 1."""
    return np.concatenate([rgb, np.ones((*rgb.shape[:2], 1), np.float32)], axis=2)
