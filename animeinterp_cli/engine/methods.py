"""The interpolation methods the user can pick, built in one place.

- ``animeinterp``: the AnimeInterp network (guidance → RFR → splatting → GridNet) with weights
  (``--weights PATH``, else the project's default weights when shipped, see
  :mod:`animeinterp_cli.weights`).
- ``classic``: DIS optical flow + occlusion-aware softmax splatting; needs no weights.
- ``blend``: the plain (1 − t)·a + t·b cross-fade, a baseline for benchmarks.
"""

from __future__ import annotations

from pathlib import Path

from animeinterp_cli.engine.device import Placement
from animeinterp_cli.errors import AnimeInterpError, WeightsError
from animeinterp_cli.weights import default_weights, read_manifest, verify
from models.animeinterp import load_animeinterp
from models.checkpoint import CheckpointError
from models.classic import ClassicConfig, ClassicInterpolator
from models.guidance import DISConfig
from models.interpolator import FrameInterpolator, LinearBlend
from models.pipeline import AnimeInterpPipeline
from models.sgm import SGMConfig

METHOD_NAMES = ("animeinterp", "classic", "blend")
#: the --fast preset: at most this many RFR iterations, and this flow scale (paper: 12
#: iterations at full scale)
FAST_RFR_ITERS = 6
FAST_FLOW_SCALE = 0.5
SGM_MODES = ("inline", "zero", "precomputed")


def build_method(
    name: str,
    *,
    placement: Placement,
    weights: Path | None = None,
    sgm: str = "inline",
    fast: bool = False,
    flow_scale: float | None = None,
    vgg_weights: Path | None = None,
) -> FrameInterpolator:
    """Build the method ``name`` on ``placement``'s device; raise a one-line error if impossible.

    ``fast``: the speed preset (AnimeInterp: at most ``FAST_RFR_ITERS`` RFR iterations and flows at
    ``FAST_FLOW_SCALE`` unless ``flow_scale`` says otherwise; classic: DIS's "fast" preset).
    ``flow_scale``: AnimeInterp's RFR runs on frames resized by this factor (None = automatic).
    ``vgg_weights``: ImageNet VGG-19 weights for SGM's segment descriptors (see :func:`sgm_config`).
    """
    if name not in METHOD_NAMES:
        raise AnimeInterpError(f"unknown method {name!r}; choose one of {', '.join(METHOD_NAMES)}")
    if sgm not in SGM_MODES:
        raise AnimeInterpError(f"unknown SGM mode {sgm!r}; choose one of {', '.join(SGM_MODES)}")
    if flow_scale is not None and not 0 < flow_scale <= 1:
        raise AnimeInterpError(f"--flow-scale must be in (0, 1], got {flow_scale}")
    if name == "blend":
        method: FrameInterpolator = LinearBlend()
    elif name == "classic":
        method = ClassicInterpolator(ClassicConfig(DISConfig("fast" if fast else "medium")))
    else:
        method = _build_animeinterp(weights, sgm, sgm_config(placement, vgg_weights))
        rfr = method.network.config.rfr
        method.network.set_inference(
            iters=min(FAST_RFR_ITERS, rfr.iters) if fast and rfr else None,  # never more than trained with
            flow_scale=flow_scale if flow_scale is not None else (FAST_FLOW_SCALE if fast else None),
        )
    return method.to(placement.device).eval()


def resolve_weights(weights: Path | None) -> tuple[Path, str | None] | None:
    """The weights file to use and the guidance it was trained with, or None if there is none.

    An explicit path wins; a file the manifest describes uses the manifest's guidance, any
    other file the one its stored configuration names (None: read it from the file; the
    official checkpoint's is the paper's SGM). Without a path: the shipped default.
    """
    if weights is None:
        entry = default_weights()
        return (entry.path, entry.guidance) if entry else None
    for entry in read_manifest():
        if entry.path.resolve() == weights.resolve():
            verify(entry)
            return entry.path, entry.guidance
    return weights, None


def sgm_config(placement: Placement, vgg_weights: Path | None) -> SGMConfig:
    """SGM's descriptor choice: VGG-19 when given explicitly; on CUDA, VGG-19 when torchvision's
    cache has the weights (never downloaded); on the CPU the colour descriptor, since VGG-19
    at 960×540 costs 16–54 s per pair there (bench/sgm_bench.py) against 0.1 s."""
    if vgg_weights is not None:
        if not vgg_weights.is_file():
            raise WeightsError(f"VGG-19 weights not found: {vgg_weights}")
        return SGMConfig(descriptor="vgg", vgg_weights=str(vgg_weights), device=placement.device.type,
                         vgg_precision=placement.precision)
    if placement.device.type == "cuda":
        return SGMConfig(descriptor="auto", device="cuda", vgg_precision=placement.precision)
    return SGMConfig(descriptor="color")


def _build_animeinterp(weights: Path | None, sgm: str, sgm_settings: SGMConfig) -> FrameInterpolator:
    resolved = resolve_weights(weights)
    if resolved is None:
        raise WeightsError(
            "the AnimeInterp network needs weights and none are shipped in this build: pass --weights PATH "
            "(e.g. anime_interp_full.ckpt) or use --model classic"
        )
    path, guidance = resolved
    try:
        network = load_animeinterp(path)
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    guidance = guidance or network.config.guidance
    # "precomputed" flows arrive with each pair (benchmark); "zero" starts the RFR from rest
    return AnimeInterpPipeline(network, guidance if sgm == "inline" else "zero", sgm_settings)
