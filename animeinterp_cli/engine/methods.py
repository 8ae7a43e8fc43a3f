"""The interpolation methods the user can pick, built in one place.

- ``animeinterp``: the AnimeInterp network (SGM → RFR → splatting → GridNet) with weights
  (``--weights PATH``, else the project's default weights when shipped).
- ``classic``: DIS optical flow + occlusion-aware softmax splatting; needs no weights.
- ``blend``: the plain (1 − t)·a + t·b cross-fade, a baseline for benchmarks.
"""

from __future__ import annotations

from pathlib import Path

from animeinterp_cli.engine.device import Placement
from animeinterp_cli.errors import AnimeInterpError, WeightsError
from models.animeinterp import load_animeinterp
from models.checkpoint import CheckpointError
from models.classic import ClassicInterpolator
from models.interpolator import FrameInterpolator, LinearBlend
from models.pipeline import AnimeInterpPipeline

METHOD_NAMES = ("animeinterp", "classic", "blend")
SGM_MODES = ("inline", "zero", "precomputed")


def build_method(
    name: str,
    *,
    placement: Placement,
    weights: Path | None = None,
    sgm: str = "inline",
) -> FrameInterpolator:
    """Build the method ``name`` on ``placement``'s device; raise a one-line error if impossible."""
    if name not in METHOD_NAMES:
        raise AnimeInterpError(f"unknown method {name!r}; choose one of {', '.join(METHOD_NAMES)}")
    if sgm not in SGM_MODES:
        raise AnimeInterpError(f"unknown SGM mode {sgm!r}; choose one of {', '.join(SGM_MODES)}")
    if name == "blend":
        method: FrameInterpolator = LinearBlend()
    elif name == "classic":
        method = ClassicInterpolator()
    else:
        method = _build_animeinterp(weights, sgm)
    return method.to(placement.device).eval()


def _build_animeinterp(weights: Path | None, sgm: str) -> FrameInterpolator:
    if weights is None:
        raise WeightsError(
            "the AnimeInterp network needs weights: pass --weights PATH (e.g. anime_interp_full.ckpt) "
            "or use --model classic"
        )
    try:
        network = load_animeinterp(weights)
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    # "precomputed" flows arrive with each pair (benchmark); "zero" starts the RFR from rest
    return AnimeInterpPipeline(network, "sgm" if sgm == "inline" else "zero")
