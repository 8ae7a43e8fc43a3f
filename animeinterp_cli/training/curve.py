"""A PNG of a run's curves from its ``log.jsonl``: training losses (left) and validation PSNR (right).

Drawn with OpenCV (matplotlib is not a dependency). Reference lines on the validation panel
are given by the caller (e.g. the classic method's PSNR on the same triplets).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from animeinterp_cli.video.images import encode_png
from animeinterp_cli.video.output import write_atomically

PANEL = (420, 560)  # height, width of one panel
MARGIN = (40, 60, 30, 20)  # top, left, bottom, right
COLOURS = [(200, 80, 30), (40, 150, 40), (30, 30, 200), (150, 50, 150), (0, 140, 200)]  # BGR


def read_log(path: Path) -> list[dict]:
    """The records of a ``log.jsonl`` (a torn last line, from an interrupted write, is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _panel(title: str, series: dict[str, list[tuple[float, float]]], references: dict[str, float]) -> np.ndarray:
    height, width = PANEL
    top, left, bottom, right = MARGIN
    image = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(image, title, (left, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    points = [p for values in series.values() for p in values]
    if not points:
        return image
    xs = [x for x, _ in points]
    ys = [y for _, y in points] + list(references.values())
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y0, y1 = min(ys), max(ys)
    pad = 0.05 * (y1 - y0 or 1.0)
    y0, y1 = y0 - pad, y1 + pad

    def to_pixel(x: float, y: float) -> tuple[int, int]:
        px = left + (x - x0) / (x1 - x0) * (width - left - right)
        py = height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)
        return int(round(px)), int(round(py))

    cv2.rectangle(image, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    for value in np.linspace(y0, y1, 5):
        _, py = to_pixel(x0, value)
        cv2.putText(image, f"{value:.4g}", (2, py + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, f"step {x0:.0f}", (left, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, f"{x1:.0f}", (width - right - 40, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                cv2.LINE_AA)
    legend_y = top + 15
    for colour_index, (name, value) in enumerate(references.items()):
        colour = (150, 150, 150) if colour_index % 2 else (90, 90, 90)
        (ax, ay), (bx, _) = to_pixel(x0, value), to_pixel(x1, value)
        for start in range(ax, bx, 12):  # dashed
            cv2.line(image, (start, ay), (min(start + 6, bx), ay), colour, 1)
        cv2.putText(image, f"{name} {value:.2f}", (bx - 150, ay - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                    cv2.LINE_AA)
    for colour, (name, values) in zip(COLOURS, series.items()):
        pixels = np.array([to_pixel(x, y) for x, y in values], np.int32)
        if len(pixels) > 1:
            cv2.polylines(image, [pixels], False, colour, 2, cv2.LINE_AA)
        for p in pixels:
            cv2.circle(image, tuple(int(v) for v in p), 2, colour, -1)
        cv2.putText(image, name, (left + 8, legend_y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
        legend_y += 16
    return image


def plot_curves(log_path: Path, png_path: Path, references: dict[str, float] | None = None) -> None:
    """Write ``png_path``: losses per logged step, and validation PSNR with ``references`` as dashed lines."""
    records = read_log(log_path)
    losses: dict[str, list[tuple[float, float]]] = {}
    for record in records:
        if "loss" in record:
            for key, label in (("frame", "frame loss"), ("loss", "total loss")):
                if key in record:
                    losses.setdefault(label, []).append((record["step"], record[key]))
            if "flow" in record:  # pixels: a hundred times the frame loss's scale
                losses.setdefault("flow EPE / 100", []).append((record["step"], record["flow"] / 100))
    validation = {"validation PSNR (dB)": [(r["step"], r["val_psnr"]) for r in records if "val_psnr" in r]}
    image = np.concatenate([
        _panel("training losses", losses, {}),
        _panel("validation PSNR, sample triplets", validation, references or {}),
    ], axis=1)
    write_atomically(Path(png_path), encode_png(image[..., ::-1]))  # drawn in OpenCV's BGR
