"""Summaries of a :class:`~animeinterp_cli.benchmark.run.BenchmarkResult`: the JSON document and
the rich tables.

JSON schema (``animeinterp benchmark --json``), for one protocol. The top level describes the
first ``--method``; ``peers`` holds the same summary for every other method::

    method      str            "animeinterp", "classic", "blend", "minterpolate", "rife"
    weights     str | null     weights file or label; null for methods without weights
    protocol    str            "paper" or "standard" (see animeinterp_cli.benchmark.metrics)
    count       int            triplets scored
    psnr, ssim  float          means over all triplets, whole image
    roi_count   int            triplets with a usable motion RoI
    roi_psnr, roi_ssim  float | null   means over those triplets (null when there are none)
    seconds     float          mean seconds per interpolated frame
    psnr_delta_to_best_peer float | null   psnr minus the best other method's psnr
    by_level    {"easy"|"medium"|"hard": {count, psnr, ssim}}      whole-image means
    by_motion   {motion type: {count, psnr, ssim}}   a triplet with several types counts in each
    by_behavior {behaviour: {count, psnr, ssim}}
    per_triplet [{name, psnr, ssim, roi_psnr, roi_ssim, seconds, level, motion, behavior}]
                roi_* null without a usable RoI; level null, motion/behavior [] without annotation
    peers       [summary like the above, without the keys below]       (first method only)
    dataset     str            the data set folder
    skipped     int,  skipped_triplets [{name, reason}]
    sgm         str            "inline", "zero" or "precomputed"
    placement   str            device and precision, e.g. "cpu bf16"

Breakdown maps only hold the groups that occur. An exact reconstruction has an infinite PSNR;
JSON has no infinity, so such values (and means that include them) are written as the string
``"inf"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence

from rich.table import Table

from animeinterp_cli.benchmark.datasets import LEVEL_NAMES
from animeinterp_cli.benchmark.run import BenchmarkResult, MethodResult, TripletResult


def summarize(method: MethodResult, protocol: str, others: Sequence[MethodResult] = ()) -> dict:
    """The JSON summary of one method under ``protocol`` (``others``: the methods it is compared with)."""
    triplets = method.triplets
    with_roi = [t for t in triplets if protocol in t.roi]
    psnr = _mean(t.whole[protocol].psnr for t in triplets)
    best_other = max((_mean(t.whole[protocol].psnr for t in m.triplets) for m in others), default=None, key=_order)
    return {
        "method": method.name,
        "weights": method.weights,
        "protocol": protocol,
        "count": len(triplets),
        "psnr": psnr,
        "ssim": _mean(t.whole[protocol].ssim for t in triplets),
        "roi_count": len(with_roi),
        "roi_psnr": _mean(t.roi[protocol].psnr for t in with_roi),
        "roi_ssim": _mean(t.roi[protocol].ssim for t in with_roi),
        "seconds": _mean(t.seconds for t in triplets),
        "psnr_delta_to_best_peer": _difference(psnr, best_other),
        "by_level": _groups(triplets, protocol, lambda t: [t.level] if t.level else [], order=LEVEL_NAMES),
        "by_motion": _groups(triplets, protocol, lambda t: t.motion_types),
        "by_behavior": _groups(triplets, protocol, lambda t: t.behaviors),
        "per_triplet": [_triplet_row(t, protocol) for t in triplets],
    }


def to_document(result: BenchmarkResult, protocol: str, *, sgm: str, placement: str) -> dict:
    """The ``--json`` document (schema in this module's docstring)."""
    first, *rest = result.methods
    document = summarize(first, protocol, rest)
    document["peers"] = [summarize(m, protocol, [o for o in result.methods if o is not m]) for m in rest]
    document["dataset"] = str(result.dataset.root)
    document["skipped"] = len(result.skipped)
    document["skipped_triplets"] = [{"name": name, "reason": reason} for name, reason in result.skipped]
    document["sgm"] = sgm
    document["placement"] = placement
    return document


def dumps(document: dict) -> str:
    """Strict JSON text: infinities become ``"inf"``/``"-inf"``, NaN becomes null."""
    return json.dumps(_json_safe(document), indent=2, allow_nan=False) + "\n"


def summary_table(result: BenchmarkResult, protocols: Sequence[str]) -> Table:
    """Methods side by side: means per protocol, whole and RoI, Δ PSNR to the best other method, speed."""
    count = len(result.methods[0].triplets) if result.methods else 0
    title = f"{result.dataset.root}: {count} triplets, {' and '.join(protocols)} protocol"
    if result.skipped:
        title += f", {len(result.skipped)} skipped"
    table = Table(title=title, caption="Δ PSNR: difference to the best other method" if len(result.methods) > 1 else None)
    table.add_column("method")
    show_roi = any(t.roi for m in result.methods for t in m.triplets)
    compare = len(result.methods) > 1
    for protocol in protocols:
        suffix = f" ({protocol})" if len(protocols) > 1 else ""
        for name in ("PSNR", "SSIM") + (("RoI PSNR", "RoI SSIM") if show_roi else ()):
            table.add_column(name + suffix, justify="right")
        if compare:
            table.add_column("Δ PSNR" + suffix, justify="right")
    table.add_column("s/frame", justify="right")
    for method in result.methods:
        others = [m for m in result.methods if m is not method]
        cells = [method.name]
        for protocol in protocols:
            s = summarize(method, protocol, others)
            cells += [_db(s["psnr"]), _unit(s["ssim"])]
            if show_roi:
                cells += [_db(s["roi_psnr"]), _unit(s["roi_ssim"])]
            if compare:
                delta = s["psnr_delta_to_best_peer"]
                cells.append("–" if delta is None else f"{delta:+.2f}")
        cells.append(_seconds(summarize(method, protocols[0])["seconds"]))
        table.add_row(*cells)
    return table


def breakdown_table(result: BenchmarkResult, protocol: str) -> Table | None:
    """Whole-image PSNR / SSIM per difficulty level, motion type and behaviour; None without annotations."""
    summaries = [summarize(m, protocol) for m in result.methods]
    rows = []
    for key, label in (("by_level", "level"), ("by_motion", "motion"), ("by_behavior", "behaviour")):
        for group in summaries[0][key] if summaries else ():
            rows.append((f"{label}: {group}", [s[key][group] for s in summaries]))
    if not rows:
        return None
    table = Table(title=f"by group ({protocol}, whole image, PSNR / SSIM)")
    table.add_column("group")
    table.add_column("n", justify="right")
    for s in summaries:
        table.add_column(s["method"], justify="right")
    for label, cells in rows:
        table.add_row(label, str(cells[0]["count"]), *(f"{_db(c['psnr'])} / {_unit(c['ssim'])}" for c in cells))
    return table


def _triplet_row(triplet: TripletResult, protocol: str) -> dict:
    roi = triplet.roi.get(protocol)
    return {
        "name": triplet.name,
        "psnr": triplet.whole[protocol].psnr,
        "ssim": triplet.whole[protocol].ssim,
        "roi_psnr": roi.psnr if roi else None,
        "roi_ssim": roi.ssim if roi else None,
        "seconds": triplet.seconds,
        "level": triplet.level,
        "motion": list(triplet.motion_types),
        "behavior": list(triplet.behaviors),
    }


def _groups(triplets: Sequence[TripletResult], protocol: str, labels_of, order: Sequence[str] = ()) -> dict:
    members: dict[str, list[TripletResult]] = {}
    for triplet in triplets:
        for label in labels_of(triplet):
            members.setdefault(label, []).append(triplet)
    ordered = [g for g in order if g in members] + sorted(g for g in members if g not in order)
    return {
        group: {
            "count": len(members[group]),
            "psnr": _mean(t.whole[protocol].psnr for t in members[group]),
            "ssim": _mean(t.whole[protocol].ssim for t in members[group]),
        }
        for group in ordered
    }


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def _order(value: float | None) -> float:
    return -math.inf if value is None else value


def _difference(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None:
        return None
    difference = value - reference
    return None if math.isnan(difference) else difference


def _json_safe(value):
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _db(value: float | None) -> str:
    if value is None:
        return "–"
    return "∞" if math.isinf(value) else f"{value:.2f}"


def _unit(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
