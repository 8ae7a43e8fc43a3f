"""Piece-wise flow from matched segments (spec §6.9), with one DIS call per direction (or, as
the original, one per matched pair).

Flows are (2, H, W) float32 in pixels of the label maps, channel 0 = x; 0 where invalid.

The original cuts, for each valid match (i → j), grey patches at both segments' bounding boxes
(pixels outside the segment set to 0, dark segments brightened to 0.8·g + 40), centres them
in a common canvas of max(h, 16) + 10 by max(w, 16) + 10 pixels, runs OpenCV DIS on the pair,
keeps the result when the forward-splatted mask of i overlaps j by more than 80 %, and gives
each pixel of i the flow (placement offset) + DIS. One DIS call per segment is what makes it
slow, so here all segments share one DIS call per direction by default; ``flow_layout``
chooses between:

- ``"aligned"`` (default): every matched segment j of frame 1 is pasted back by its placement
  offset onto a canvas the size of the frame, so it lies over its partner i; DIS runs between
  frame 0 (valid segments only, zero elsewhere) and that canvas. Cost: one frame-sized DIS.
  Segments are not isolated from their neighbours as in the original, so DIS may smear a few
  pixels across touching segments.
- ``"patches"``: the original itself: one DIS call per pair on its own canvas (DIS's pyramid
  then fits each canvas), the consistency gate on the bilinearly splatted mask, and the
  box-centre offset. The ``faithful`` setting uses it; it costs a DIS call per matched segment.

In the "aligned" layout the consistency gate moves every pixel of i to its nearest landing
pixel and counts the share that lands on j (the original splats bilinearly and counts landed
pixels; the two agree up to the one-pixel rim of the splat), and the offset added to DIS is the
exact offset between the two patches' placements (the original's box-centre formula can be off
by 0.5 px). The "patches" layout does both as the original does.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.guidance import DIS_PRESETS
from models.sgm.config import SGMConfig
from models.sgm.descriptors import SegmentStats

MIN_PATCH = 16  # canvas side before the margin
PATCH_MARGIN = 10  # canvas = max(size, MIN_PATCH) + this
DARK_MEAN = 20  # segments darker than this on average are brightened for DIS


def valid_matches(
    match: np.ndarray,
    accepted: np.ndarray,
    source: SegmentStats,
    target: SegmentStats,
    frame_size: tuple[int, int],
    config: SGMConfig,
) -> np.ndarray:
    """(N_source,) bool: matches that may get a flow (rank sum, shift, area and size-ratio gates)."""
    width, height = frame_size
    area_source = source.areas.astype(np.float64)
    area_target = np.maximum(target.areas[match], 1).astype(np.float64)
    shift = np.hypot(*(target.centroids[match] - source.centroids).T)
    ratio = np.maximum(area_source / area_target, area_target / np.maximum(area_source, 1))
    return (
        accepted
        & (shift <= config.max_shift * config.scale)
        & (area_source > config.min_segment_area)
        & (area_source < config.max_segment_fraction * width * height)
        & (ratio < config.max_size_ratio)
    )


def dis_gray(image: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """(H, W) uint8 grey of an RGB frame as the flow step feeds it to DIS: every segment whose
    mean grey is below DARK_MEAN is mapped to 0.8·g + 40 (as the original does per patch), so
    dark, ink-coloured segments keep some contrast."""
    gray = np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    flat = labels.ravel()
    dark = np.bincount(flat, weights=gray.ravel(), minlength=count) < DARK_MEAN * np.bincount(flat, minlength=count)
    if not dark.any():
        return gray
    lighter = (0.8 * np.arange(256) + 40).astype(np.uint8)
    return np.where(dark[labels], lighter[gray], gray)


def _dis(config: SGMConfig):
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[config.dis_preset])  # pyright: ignore[reportAttributeAccessIssue] - not in OpenCV's stubs
    dis.setFinestScale(config.dis_finest_scale)
    dis.setVariationalRefinementIterations(config.dis_variational_iterations)
    dis.setGradientDescentIterations(config.dis_gradient_descent_iterations)
    return dis


def _aligned_layout(gray0, gray1, source_pairs, labels1, targets, shift):
    """DIS images (see the module docstring): (image0, image1, image1's pair ids (−1 = none)),
    all frame-sized. ``source_pairs`` is frame 0's pair-id map."""
    height, width = source_pairs.shape
    image0 = np.where(source_pairs >= 0, gray0, 0).astype(np.uint8)
    pair_of_target = np.full(int(labels1.max()) + 1, -1, np.int32)
    pair_of_target[targets] = np.arange(targets.size)
    target_ids = pair_of_target[labels1].ravel()
    index = np.flatnonzero(target_ids >= 0)
    pair = target_ids[index]
    ys, xs = np.divmod(index, width)
    cx, cy = xs - shift[pair, 0], ys - shift[pair, 1]
    inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
    canvas = (cy * width + cx)[inside]
    image1 = np.zeros_like(image0)
    ids1 = np.full(source_pairs.shape, -1, np.int32)
    image1.ravel()[canvas] = gray1.ravel()[index[inside]]
    ids1.ravel()[canvas] = pair[inside]
    return image0, image1, ids1


def _patch(gray: np.ndarray, labels: np.ndarray, segment: int, box: np.ndarray, tile: np.ndarray, pad: np.ndarray):
    """(canvas, mask) of one segment as the original cuts it: its box of ``gray`` with the
    pixels outside the segment set to 0, placed at ``pad`` = (x, y) on a (w, h) = ``tile`` canvas."""
    x0, y0, x1, y1 = box
    mask = labels[y0:y1 + 1, x0:x1 + 1] == segment
    canvas = np.zeros((tile[1], tile[0]), np.uint8)
    mask_canvas = np.zeros((tile[1], tile[0]), bool)
    window = (slice(pad[1], pad[1] + mask.shape[0]), slice(pad[0], pad[0] + mask.shape[1]))
    canvas[window][mask] = gray[y0:y1 + 1, x0:x1 + 1][mask]
    mask_canvas[window] = mask
    return canvas, mask_canvas


def _splatted_overlap(mask0: np.ndarray, mask1: np.ndarray, flow: np.ndarray) -> float:
    """The original's consistency score: ``mask0`` average-splatted along ``flow`` (H, W, 2)
    (bilinear, weights from the flow's fractional part, Σwm / Σw where Σw > 0), values below
    0.05 dropped; the share of the landed pixels that lie on ``mask1`` (NaN when nothing
    landed, which fails any threshold). numpy, not torch: the patches are small, and a
    contended torch thread pool cost more than the work here."""
    height, width = mask0.shape
    u, v = flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32)
    finite = np.isfinite(u) & np.isfinite(v)
    u, v = np.where(finite, u, -(width + height)), np.where(finite, v, -(width + height))
    floor_u, floor_v = np.floor(u), np.floor(v)
    ax, ay = (u - floor_u).ravel(), (v - floor_v).ravel()
    ys, xs = np.divmod(np.arange(height * width), width)
    x0 = xs + np.clip(floor_u, -2 * width, 2 * width).astype(np.int64).ravel()
    y0 = ys + np.clip(floor_v, -2 * height, 2 * height).astype(np.int64).ravel()
    values = mask0.ravel().astype(np.float64)
    total = np.zeros(height * width)
    weight = np.zeros(height * width)
    for dx, dy, share in ((0, 0, (1 - ax) * (1 - ay)), (1, 0, ax * (1 - ay)), (0, 1, (1 - ax) * ay), (1, 1, ax * ay)):
        cx, cy = x0 + dx, y0 + dy
        inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
        index = (cy * width + cx)[inside]
        total += np.bincount(index, weights=(share * values)[inside], minlength=height * width)
        weight += np.bincount(index, weights=share[inside], minlength=height * width)
    average = np.divide(total, weight, out=np.zeros_like(total), where=weight > 0)
    landed = average >= 0.05
    count = int(landed.sum())
    return float((landed & mask1.ravel()).sum()) / count if count else float("nan")


def _patches_flow(gray0, gray1, labels0, labels1, sources, targets, box0, box1, tile, pad0, pad1, config, flow):
    """The "patches" layout (see the module docstring): writes into ``flow``, returns the
    (H, W) bool mask of the pixels that got one."""
    valid = np.zeros(labels0.shape, bool)
    dis = _dis(config)
    # the original's offset: the difference of the two boxes' centres
    offsets = ((box1[:, :2] + box1[:, 2:]) - (box0[:, :2] + box0[:, 2:])) / 2.0
    for pair, (source, target) in enumerate(zip(sources, targets)):
        canvas0, mask0 = _patch(gray0, labels0, source, box0[pair], tile[pair], pad0[pair])
        canvas1, mask1 = _patch(gray1, labels1, target, box1[pair], tile[pair], pad1[pair])
        patch_flow = dis.calc(canvas0, canvas1, None)
        if not _splatted_overlap(mask0, mask1, patch_flow) > config.min_overlap:
            continue
        x0, y0, x1, y1 = box0[pair]
        inside = labels0[y0:y1 + 1, x0:x1 + 1] == source
        window = (slice(pad0[pair, 1], pad0[pair, 1] + inside.shape[0]),
                  slice(pad0[pair, 0], pad0[pair, 0] + inside.shape[1]))
        moved = patch_flow[window][inside]  # row-major over the segment, like the frame's pixels
        for channel in range(2):
            flow[channel, y0:y1 + 1, x0:x1 + 1][inside] = moved[:, channel] + offsets[pair, channel]
        valid[y0:y1 + 1, x0:x1 + 1] |= inside
    return valid


def piecewise_flow(
    gray0: np.ndarray,
    gray1: np.ndarray,
    labels0: np.ndarray,
    labels1: np.ndarray,
    stats0: SegmentStats,
    stats1: SegmentStats,
    match: np.ndarray,
    valid: np.ndarray,
    config: SGMConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Flow frame 0 → frame 1 for the segments of frame 0 with ``valid`` matches ``match``.

    ``gray*`` are (H, W) uint8 DIS inputs (:func:`dis_gray`), ``labels*`` (H, W) int segment
    maps 0..N−1, ``match``/``valid``
    (N0,) from the matching. A target claimed by several sources keeps its first source.
    Returns (flow (2, H, W) float32, valid (H, W) bool).
    """
    height, width = labels0.shape
    flow = np.zeros((2, height, width), np.float32)
    sources = np.flatnonzero(valid)
    sources = sources[np.unique(match[sources], return_index=True)[1]]
    if sources.size == 0:
        return flow, np.zeros((height, width), bool)
    targets = match[sources]
    box0, box1 = stats0.boxes[sources], stats1.boxes[targets]
    # both segments centred in a common canvas, as the original places its patches; shift =
    # (frame-1 position) − (frame-0 position) of a canvas point
    size0 = box0[:, 2:] - box0[:, :2] + 1  # (w, h)
    size1 = box1[:, 2:] - box1[:, :2] + 1
    tile = np.maximum(np.maximum(size0, size1), MIN_PATCH) + PATCH_MARGIN
    pad0, pad1 = (tile - size0) // 2, (tile - size1) // 2
    shift = (box1[:, :2] - pad1) - (box0[:, :2] - pad0)

    if config.flow_layout == "patches":
        valid_pixels = _patches_flow(
            gray0, gray1, labels0, labels1, sources, targets, box0, box1, tile, pad0, pad1, config, flow
        )
        return flow, valid_pixels

    pair_of_source = np.full(stats0.areas.size, -1, np.int32)
    pair_of_source[sources] = np.arange(sources.size)
    source_pairs = pair_of_source[labels0]
    image0, image1, ids1 = _aligned_layout(gray0, gray1, source_pairs, labels1, targets, shift)
    index = np.flatnonzero(source_pairs >= 0)  # the pixels of frame 0 that may get a flow
    pair = source_pairs.ravel()[index]
    dis_flow = _dis(config).calc(image0, image1, None)  # (Hd, Wd, 2)

    # where DIS moves each pixel (the DIS images are frame-aligned)
    ys, xs = np.divmod(index, width)
    moved = dis_flow.reshape(-1, 2)[index]
    # consistency gate: the share of each source segment's pixels that lands on its partner
    tx = np.rint(xs + moved[:, 0]).astype(np.int64)
    ty = np.rint(ys + moved[:, 1]).astype(np.int64)
    inside = (tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)
    on_partner = np.zeros(pair.size, bool)
    on_partner[inside] = ids1.ravel()[(ty * width + tx)[inside]] == pair[inside]
    pixels = np.bincount(pair, minlength=sources.size)
    accepted = np.bincount(pair[on_partner], minlength=sources.size) > config.min_overlap * pixels

    keep = accepted[pair]
    index, pair, moved = index[keep], pair[keep], moved[keep]
    flow[0].ravel()[index] = moved[:, 0] + shift[pair, 0]
    flow[1].ravel()[index] = moved[:, 1] + shift[pair, 1]
    valid_pixels = np.zeros((height, width), bool)
    valid_pixels.ravel()[index] = True
    return flow, valid_pixels
