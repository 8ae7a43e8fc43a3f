"""The training cache of the residual synthesis stage: frozen motion, computed once per triplet.

The learned default (``AnimeInterpConfig.guided()``) trains only its synthesis stage on top of
the DIS guidance, which never changes while it trains. Everything that does not depend on the
trained weights is therefore computed once per triplet, with the functions inference uses
(:func:`models.guidance.dis_flows`, the network's own importance metric and
:func:`models.synthesis.splatting.splat_frames`), and stored as ``.npy`` files that training
memory-maps: a step then costs only the feature extractor, the feature splatting and GridNet.

Layout: ``CACHE/index.json`` (format version and the settings the entries were made with) and
one folder per triplet, ``CACHE/<name>/``:

- ``frames.npy``  (3, H, W, 3) uint8 RGB: frame 0, the true frame at t, frame 1;
- ``flows.npy``   (2, 2, H, W) fp16 pixels: DIS flow 0→1, 1→0 (channel 0 = x);
- ``metrics.npy`` (2, H, W) fp16: the softmax-splatting importance of frame 0, frame 1;
- ``warped.npy``  (2, 3, H, W) fp16: both frames softmax-splatted to t;
- ``covers.npy``  (2, H, W) fp16: their coverages;
- ``meta.json``: t, the source ("clip" or "layered") and where it came from.

An entry is written under a temporary name and renamed when complete, so an interrupted
``prepare`` resumes where it stopped. About 14 MB per 720×540 triplet (fp16 splats and flows).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from animeinterp_cli.errors import InputError
from animeinterp_cli.training.dataset import Triplet, check_not_validation
from models.animeinterp import AnimeInterp
from models.guidance import DISConfig, dis_flows
from models.synthesis.splatting import splat_frames

CACHE_VERSION = 1
INDEX = "index.json"
ARRAYS = ("frames", "flows", "metrics", "warped", "covers")


@dataclass(frozen=True)
class CacheSettings:
    """What the cached values depend on: a cache made with other settings is refused."""

    dis: DISConfig
    importance_scale: float

    def to_dict(self) -> dict:
        return {"version": CACHE_VERSION, "dis_preset": self.dis.preset, "dis_max_side": self.dis.max_side,
                "importance_scale": self.importance_scale}

    @classmethod
    def of(cls, model: AnimeInterp) -> CacheSettings:
        if not model.config.synthesis.residual or model.importance is None:
            raise ValueError("the training cache is for residual synthesis networks (AnimeInterpConfig.guided())")
        return cls(DISConfig(), float(model.importance.alpha.detach()))


def _to_tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255


@torch.no_grad()
def frozen_motion(model: AnimeInterp, frame0: np.ndarray, frame1: np.ndarray, t: float) -> dict[str, np.ndarray]:
    """Everything of one pair that the residual synthesis does not learn, as cached arrays."""
    flow01, flow10 = dis_flows(frame0, frame1)
    img0, img1 = _to_tensor(frame0), _to_tensor(frame1)
    f01, f10 = torch.from_numpy(flow01)[None], torch.from_numpy(flow10)[None]
    importance = model.importance
    assert importance is not None  # CacheSettings.of(model) checked it
    metric0, metric1 = importance(img0, img1, f01), importance(img1, img0, f10)
    splats = splat_frames(img0, img1, f01, f10, metric0, metric1, torch.tensor(float(t)).view(1, 1, 1, 1))
    half = lambda *tensors: torch.cat(tensors).numpy().astype(np.float16)  # noqa: E731
    return {
        "flows": np.stack((flow01, flow10)).astype(np.float16),
        "metrics": half(metric0, metric1)[:, 0],
        "warped": half(splats["warped0"], splats["warped1"]),
        "covers": half(splats["cover0"], splats["cover1"])[:, 0],
    }


def write_entry(folder: Path, model: AnimeInterp, triplet: Triplet, origin: str) -> None:
    """Compute and store one triplet's entry (atomically: a temporary folder renamed)."""
    temporary = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    arrays = frozen_motion(model, triplet.frame0, triplet.frame1, triplet.t)
    arrays["frames"] = np.stack((triplet.frame0, triplet.frame_t, triplet.frame1))
    for name in ARRAYS:
        np.save(temporary / f"{name}.npy", arrays[name])
    meta = {"t": float(triplet.t), "source": triplet.source, "origin": origin}
    (temporary / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    os.replace(temporary, folder)


def _check_settings(folder: Path, settings: CacheSettings) -> None:
    index = Path(folder) / INDEX
    if not index.is_file():
        raise InputError(f"{folder} is not a training cache (no {INDEX}); make one with `animeinterp train prepare`")
    try:
        recorded = json.loads(index.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{index} is damaged; delete the cache and prepare it again") from None
    if recorded != settings.to_dict():
        raise InputError(f"training cache {folder} was made with other settings ({recorded}); prepare it again")


def open_cache(folder: Path, settings: CacheSettings | None = None) -> list[Path]:
    """The complete entries of a cache (sorted); with ``settings``, refuse a cache made with others."""
    if settings is not None:
        _check_settings(folder, settings)
    elif not (Path(folder) / INDEX).is_file():
        raise InputError(f"{folder} is not a training cache (no {INDEX}); make one with `animeinterp train prepare`")
    entries = sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))
    if not entries:
        raise InputError(f"training cache {folder} holds no triplets")
    return entries


def layered_triplets(material: Path, count: int, size: int = 288, seed: int = 0) -> Iterator[tuple[str, Triplet]]:
    """``count`` layered triplets (real pieces over real backgrounds, random t) of ``size``²,
    rendered from the training material; triplet i is the same for a given ``seed``."""
    from animeinterp_cli.training.dataset import _material
    from animeinterp_cli.training.layered import render_layered

    for index in range(count):
        yield f"layered_{seed}_{index:05d}", render_layered(np.random.default_rng([seed, index]), (size, size), _material(material))


def prepare(
    out: Path,
    model: AnimeInterp,
    triplets: Iterable[tuple[str, Triplet]],
    on_entry: Callable[[str, bool], None] | None = None,
) -> int:
    """Add ``triplets`` ((name, triplet) pairs) to the cache ``out``; entries already there are
    kept (a resumed prepare). Returns how many entries the cache holds."""
    out = Path(out)
    check_not_validation(out)
    settings = CacheSettings.of(model)
    out.mkdir(parents=True, exist_ok=True)
    index = out / INDEX
    if index.exists():
        _check_settings(out, settings)
    else:
        index.write_text(json.dumps(settings.to_dict()), encoding="utf-8")
    for name, triplet in triplets:
        folder = out / name
        done = folder.is_dir()
        if not done:
            write_entry(folder, model, triplet, name)
        if on_entry:
            on_entry(name, done)
    return sum(1 for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def augment(
    sample: dict[str, np.ndarray], t: float, *, reverse: bool, hflip: bool, vflip: bool
) -> tuple[dict[str, np.ndarray], float]:
    """A sample (arrays (C, H, W), keys as :class:`CachedTriplets` gives them) time-reversed
    (the frames swap roles and t becomes 1 − t) and/or mirrored (the flows' x or y negated).
    The cached splats transform the same way, since splatting commutes with both."""
    if reverse:
        sample = {key: sample[_swapped(key)] for key in sample}
        t = 1 - t
    for flip, axis, component in ((hflip, 2, 0), (vflip, 1, 1)):
        if flip:
            sample = {key: np.flip(value, axis) for key, value in sample.items()}
            for key in ("flow01", "flow10"):
                sample[key] = sample[key].copy()
                sample[key][component] *= -1
    return sample, t


def _swapped(key: str) -> str:
    """The key of the other frame's array: frame0 ↔ frame1, flow01 ↔ flow10, warped0 ↔ warped1…;
    the arrays of the middle frame ("frame_t", "loss_mask") are their own."""
    if not key.endswith(("0", "1")):
        return key
    if key.startswith("flow"):
        return "flow10" if key == "flow01" else "flow01"
    return key[:-1] + ("1" if key.endswith("0") else "0")


class CachedTriplets(torch.utils.data.Dataset):
    """Random crops of cached entries, with flips and time reversal, as training samples.

    A sample is a window of ``crop + 2·margin`` pixels a side (the network sees the margin, so
    that motion entering the crop has its source; the loss covers the centre ``crop`` only):
    "frame0", "frame1", "frame_t" (3, S, S) float32 in [0, 1], "flow01", "flow10" (2, S, S),
    "metric0", "metric1", "cover0", "cover1" (1, S, S), "warped0", "warped1" (3, S, S) and
    "t" (scalar), and "loss_mask" (1, S, S), 1 where the loss applies: the centre, and on a
    side where the window is flush with the frame's edge the margin too (the network sees
    there what it sees at inference: the frame ends). ``edge_windows`` is the probability, per
    axis, that a window is drawn flush with one of the frame's two edges on that axis, so that
    the correction is trained up to the frame's edges. ``pad_multiple``: the multiple the
    network pads its correction's inputs to at inference, replicating the frame's last row and
    column (:attr:`models.animeinterp.AnimeInterp.correction_multiple`); a window flush with the
    frame's bottom (right) edge then has its last k rows (columns) of every map replaced by the
    row (column) before them, k drawn from 0 … ``pad_multiple`` − 1, as a frame k short of a
    multiple is padded, and out of the loss (at inference they are cropped off). Index i always
    gives the same sample for a given ``seed``.
    """

    def __init__(
        self, entries: list[Path], crop: int = 192, margin: int = 16, seed: int = 0, edge_windows: float = 0.0,
        pad_multiple: int = 1,
    ) -> None:
        if (crop + 2 * margin) % 4:
            raise ValueError("crop + 2·margin must be a multiple of 4 (GridNet's levels)")
        if not 0 <= edge_windows <= 1:
            raise ValueError(f"edge_windows is a probability, got {edge_windows}")
        self.entries, self.window, self.margin, self.seed = entries, crop + 2 * margin, margin, seed
        self.edge_windows, self.pad_multiple = edge_windows, pad_multiple
        self.usable = [e for e in entries if min(self._shape(e)) >= self.window]
        if not self.usable:
            raise InputError(f"no cached triplet is at least {self.window} pixels a side")

    @staticmethod
    def _shape(entry: Path) -> tuple[int, int]:
        return np.load(entry / "covers.npy", mmap_mode="r").shape[1:]

    def __len__(self) -> int:
        return len(self.usable)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.sample(index % len(self.usable), index)

    def sample(self, entry_index: int, visit: int) -> dict[str, torch.Tensor]:
        """A window of entry ``entry_index``; ``visit`` seeds its crop and augmentation."""
        rng = np.random.default_rng([self.seed, visit])
        entry = self.usable[entry_index]
        arrays = {name: np.load(entry / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        height, width = arrays["covers"].shape[1:]
        y, x = int(rng.integers(height - self.window + 1)), int(rng.integers(width - self.window + 1))
        if self.edge_windows:
            y, x = self._snap_to_edge(rng, y, height), self._snap_to_edge(rng, x, width)
        rows, cols = slice(y, y + self.window), slice(x, x + self.window)
        frames = np.asarray(arrays["frames"][:, rows, cols]).astype(np.float32).transpose(0, 3, 1, 2) / 255
        flows = np.asarray(arrays["flows"][:, :, rows, cols], dtype=np.float32)
        metrics = np.asarray(arrays["metrics"][:, None, rows, cols], dtype=np.float32)
        warped = np.asarray(arrays["warped"][:, :, rows, cols], dtype=np.float32)
        covers = np.asarray(arrays["covers"][:, None, rows, cols], dtype=np.float32)
        t = json.loads((entry / "meta.json").read_text(encoding="utf-8"))["t"]
        sample = {
            "frame0": frames[0], "frame_t": frames[1], "frame1": frames[2],
            "flow01": flows[0], "flow10": flows[1], "metric0": metrics[0], "metric1": metrics[1],
            "warped0": warped[0], "warped1": warped[1], "cover0": covers[0], "cover1": covers[1],
            "loss_mask": self._loss_mask(y, x, height, width),
        }
        sample, t = augment(sample, t, reverse=rng.random() < 0.5, hflip=rng.random() < 0.5, vflip=rng.random() < 0.5)
        if self.pad_multiple > 1:
            sample = self._padded_as_at_inference(sample, rng)
        out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sample.items()}
        out["t"] = torch.tensor(float(t))
        return out

    def _snap_to_edge(self, rng: np.random.Generator, start: int, size: int) -> int:
        """``start``, or with probability ``edge_windows`` the first or the last window position."""
        if rng.random() >= self.edge_windows:
            return start
        return 0 if rng.random() < 0.5 else size - self.window

    def _padded_as_at_inference(self, sample: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``sample`` (after augmentation, so that the pad lands where inference puts it: at the
        bottom and the right) with its last k rows / columns edge-replicated where the window is
        flush with the frame's bottom / right edge (its loss mask reaches it), and masked out."""
        centre = self.window // 2
        mask = sample["loss_mask"]
        for axis, flush in ((1, bool(mask[0, -1, centre])), (2, bool(mask[0, centre, -1]))):
            pad = int(rng.integers(self.pad_multiple)) if flush else 0
            if pad:
                kept = self.window - pad
                rows = np.minimum(np.arange(self.window), kept - 1)  # the last kept row, repeated
                sample = {key: value.take(rows, axis=axis) for key, value in sample.items()}
                sample["loss_mask"][(slice(None),) * axis + (slice(kept, None),)] = 0
        return sample

    def _loss_mask(self, y: int, x: int, height: int, width: int) -> np.ndarray:
        """(1, S, S) float32: 1 on the centre, and on the margin of each side flush with the frame's edge."""
        m, end = self.margin, self.window - self.margin
        mask = np.zeros((1, self.window, self.window), np.float32)
        top, bottom = 0 if y == 0 else m, self.window if y + self.window == height else end
        left, right = 0 if x == 0 else m, self.window if x + self.window == width else end
        mask[:, top:bottom, left:right] = 1
        return mask
