"""Shipping a run's best weights as the default: fp16 file + the ``[default]`` manifest entry.

``export_default(run_dir, weights_dir)`` writes ``weights_dir/DEFAULT_FILE`` (fp16 storage,
with its configuration, as :func:`models.animeinterp.load_animeinterp` reads it) and the
``[default]`` table of ``weights_dir/manifest.toml``: file, sha256, guidance, config, data,
samples seen, training wall time and the validation figures of that checkpoint (from the
run's ``log.jsonl``). Other tables of the manifest are kept as they are.
``reexport_default(weights_dir)`` writes the shipped default again with other weightless
settings or correction scale, keeping its provenance.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections import Counter
from pathlib import Path

from animeinterp_cli.errors import InputError
from animeinterp_cli.training.runlog import RunLog
from animeinterp_cli.weights import sha256_of
from models.animeinterp import load_animeinterp, with_synthesis
from models.checkpoint import load_strict, read_checkpoint, save_checkpoint

DEFAULT_FILE = "animeinterp-guided.pt"


def best_record(run_dir: Path) -> dict:
    """The validation record of the run's ``best.pt`` (the last one marked best)."""
    records = [r for r in RunLog(Path(run_dir) / "log.jsonl").read() if r.get("best")]
    if not records or not (Path(run_dir) / "best.pt").is_file():
        raise InputError(f"{run_dir} has no best.pt with its validation record in log.jsonl")
    return records[-1]


def _record_of(run_dir: Path, step: int | None) -> dict:
    """The run's validation record at ``step`` (that of the checkpoint shipped)."""
    records = [r for r in RunLog(Path(run_dir) / "log.jsonl").read() if "val_psnr" in r and r["step"] == step]
    if not records:
        raise InputError(f"{run_dir}/log.jsonl has no validation record at step {step} of the checkpoint")
    return records[-1]


def data_summary(cache: Path) -> str:
    """What the cache holds, e.g. '2466 clip triplets (popeye_sinbad_1936_p1 456, …) + 400 layered'."""
    sources: Counter[str] = Counter()
    clips: Counter[str] = Counter()
    for meta in sorted(Path(cache).glob("*/meta.json")):
        record = json.loads(meta.read_text(encoding="utf-8"))
        sources[record["source"]] += 1
        if record["source"] != "layered":
            clips[record["origin"].rsplit("_", 1)[0]] += 1
    parts = []
    if clips:
        listed = ", ".join(f"{clip} {count}" for clip, count in sorted(clips.items()))
        parts.append(f"{sum(clips.values())} real triplets cut from clips ({listed})")
    if sources["layered"]:
        parts.append(f"{sources['layered']} layered triplets of the openly licensed material")
    return " + ".join(parts)


def export_default(
    run_dir: Path, weights_dir: Path, cache: Path | None = None, *, source: Path | None = None,
    correction_scale: float | None = None, settings: dict | None = None, quality: dict | None = None,
) -> dict:
    """Ship ``run_dir/best.pt`` (or ``source``, a checkpoint of that run) as the default, its
    correction scaled by ``correction_scale`` and with the weightless synthesis ``settings``
    (see :func:`export_weights`); returns the manifest entry written. ``quality``: figures
    measured on the shipped file (e.g. by bench/default_vs_classic.py) to record."""
    run_dir, weights_dir = Path(run_dir), Path(weights_dir)
    record = best_record(run_dir) if source is None else _record_of(run_dir, read_checkpoint(source).extra.get("step"))
    weights_dir.mkdir(parents=True, exist_ok=True)
    target = weights_dir / DEFAULT_FILE
    digest = export_weights(source or run_dir / "best.pt", target, correction_scale, settings)
    config = load_animeinterp(target).config
    entry = {
        "name": "AnimeInterp residual synthesis on DIS guidance (learned default)",
        "file": DEFAULT_FILE,
        "sha256": digest,
        "guidance": config.guidance,
        "config": _describe(config),
        "sampling": _describe_sampling(_train_settings(run_dir, source)),
        "data": data_summary(cache) if cache else "",
        "samples_seen": int(record["samples"]),
        "steps": int(record["step"]),
        "train_wall_s": round(float(record["elapsed_s"])),
        "correction_scale": exported_correction_scale(target),  # relative to the weights as trained
        **(quality or {}),
    }
    if correction_scale in (None, 1.0) and not settings:  # the run's own validation describes the shipped weights
        entry.update({
            "validation_psnr": round(float(record["val_psnr"]), 3),
            "validation_gain_db": round(float(record["val_gain"]), 3),
            "validation_worst_gain_db": round(float(record["val_worst_gain"]), 3),
            "validation": "12 sample triplets, standard protocol (uint8 PSNR), against classic on each",
        })
    _write_default_entry(weights_dir, entry)
    return entry


#: what a ``[default]`` entry says of how its weights were trained (kept by a re-export)
PROVENANCE_KEYS = ("name", "file", "guidance", "sampling", "data", "samples_seen", "steps", "train_wall_s")


def reexport_default(
    weights_dir: Path, correction_scale: float | None = None, settings: dict | None = None, quality: dict | None = None
) -> dict:
    """Write the shipped default of ``weights_dir`` again, its correction scaled by
    ``correction_scale`` and with the weightless synthesis ``settings`` (as :func:`export_weights`):
    the same trained weights, so the entry keeps its provenance (:data:`PROVENANCE_KEYS`); the
    figures measured on the previous file are dropped, ``quality`` is recorded. Returns the entry."""
    weights_dir = Path(weights_dir)
    manifest = weights_dir / "manifest.toml"
    tables = tomllib.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
    old = tables.get("default")
    if not isinstance(old, dict) or not (weights_dir / str(old.get("file", ""))).is_file():
        raise InputError(f"{weights_dir} has no shipped default to re-export (no [default] entry with its file)")
    target = weights_dir / old["file"]
    temporary = target.with_name(f".{target.name}.tmp")
    digest = export_weights(target, temporary, correction_scale, settings)
    os.replace(temporary, target)
    rewritten = {"sha256": digest, "config": _describe(load_animeinterp(target).config),
                 "correction_scale": exported_correction_scale(target)}
    # the old entry's order, without the figures measured on the old file
    entry = {key: value for key, value in old.items() if key in PROVENANCE_KEYS or key in rewritten}
    entry.update({**rewritten, **(quality or {})})
    _write_default_entry(weights_dir, entry)
    return entry


def _train_settings(run_dir: Path, source: Path | None) -> dict:
    """The settings the run was trained with: stored in ``source`` when it is one of the run's
    ``last.pt`` copies, else in the run's ``last.pt`` (``best.pt`` holds the weights only)."""
    for path in (source, run_dir / "last.pt"):
        if path is not None and Path(path).is_file():
            train = read_checkpoint(path).extra.get("train")
            if train is not None:
                return train
    return {}


def _describe_sampling(train: dict) -> str:
    """The manifest's line on how training windows were drawn, e.g. 'popeye ×0.25, edge windows 0.3'."""
    parts = [f"{name} ×{w}" for name, w in train.get("weights", ())] or ["uniform"]
    if train.get("edge_windows"):
        parts.append(f"edge windows {train['edge_windows']}")
    return ", ".join(parts)


def _describe(config) -> str:
    """The manifest's one-line description of a residual synthesis configuration."""
    synthesis = config.synthesis
    return (f"no RFR, softmax splatting, residual GridNet (features {list(synthesis.feature_dims)}, "
            f"grid {list(synthesis.grid_dims)}), correction {synthesis.correction!r}, "
            f"disagreement gate {synthesis.disagreement_gate}, "
            f"correction at 1/{synthesis.correction_downscale} resolution"
            + (", splatted errors as inputs" if synthesis.error_inputs else "")
            + (f", correction faded out over {synthesis.border_fade} px at the frame's edges" if synthesis.border_fade else ""))


def _write_default_entry(weights_dir: Path, entry: dict) -> None:
    """Replace the ``[default]`` table of ``weights_dir/manifest.toml`` (atomically; the others kept)."""
    manifest = weights_dir / "manifest.toml"
    tables = tomllib.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
    tables["default"] = entry
    temporary = manifest.with_suffix(".tmp")
    temporary.write_text(_to_toml(tables), encoding="utf-8")
    os.replace(temporary, manifest)


def export_weights(
    source: Path, target: Path, correction_scale: float | None = None, settings: dict | None = None
) -> str:
    """Write the weights of ``source`` (e.g. a run's ``best.pt``) to ``target`` in fp16 storage,
    with their configuration, as :func:`models.animeinterp.load_animeinterp` reads them (it
    loads fp16 tensors into the fp32 model), with the weightless synthesis ``settings``
    (:func:`models.animeinterp.with_synthesis`, e.g. ``{"disagreement_gate": 0.3}``) and the
    correction at ``correction_scale`` of its strength *as trained* (``source`` may itself be
    an exported file: its own scale is undone first; None keeps it). The scale is stored in
    the file. Returns the file's sha256 (for the manifest)."""
    model = shippable_model(source)
    if settings:
        model = with_synthesis(model, **settings)
    scale = exported_correction_scale(source)
    if correction_scale is not None and correction_scale != scale:
        model.scale_correction(correction_scale / scale)
        scale = correction_scale
    model = model.half()
    save_checkpoint(target, model, model.config.to_dict(), correction_scale=scale)
    return sha256_of(Path(target))


def shippable_model(source: Path):
    """The network :func:`export_weights` ships from ``source`` (fp32, eval mode): its
    weights, or, for a run's ``last.pt``, the moving average that the run validates."""
    model = load_animeinterp(source)
    averaged = read_checkpoint(source).extra.get("averaged")
    if averaged is not None:
        load_strict(model, averaged)
    return model


def exported_correction_scale(path: Path) -> float:
    """The factor :func:`export_weights` scaled the correction of ``path`` by: stored in the
    file, or, for a file exported before it was, its entry in the manifest beside it; 1 when
    neither says (a run's own checkpoint)."""
    path = Path(path)
    stored = read_checkpoint(path).extra.get("correction_scale")
    if stored is not None:
        return float(stored)
    manifest = path.parent / "manifest.toml"
    if manifest.is_file():
        for table in tomllib.loads(manifest.read_text(encoding="utf-8")).values():
            if isinstance(table, dict) and table.get("file") == path.name and "correction_scale" in table:
                return float(table["correction_scale"])
    return 1.0


def undo_export_scale(model, path: Path) -> float:
    """Give ``model``, loaded from ``path``, its correction as trained: divide out the scale
    that ``path`` was exported with (:func:`exported_correction_scale`; 1 for a run's own
    checkpoint). Returns that scale."""
    scale = exported_correction_scale(path)
    if scale != 1.0:
        model.scale_correction(1 / scale)
    return scale


def _to_toml(tables: dict[str, dict]) -> str:
    """Tables of strings and numbers as TOML (the manifest needs nothing more)."""
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value}")
        lines.append("")
    return "\n".join(lines)
