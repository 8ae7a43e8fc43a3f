"""The interpolation methods the user can pick, built in one place.

- ``animeinterp``: the AnimeInterp network (guidance → RFR → splatting → GridNet) with weights
  (``--weights PATH``; else the official checkpoint once ``animeinterp weights download
  official`` has fetched and recorded it; else the project's default weights when shipped, see
  :mod:`animeinterp_cli.weights`). The official checkpoint, and any other file outside the
  manifest, runs the paper's pipeline: inline SGM with its faithful settings
  (:meth:`models.sgm.SGMConfig.faithful`); the project's own weights keep the fast SGM.
- ``classic``: DIS optical flow + occlusion-aware softmax splatting; needs no weights.
- ``blend``: the plain (1 − t)·a + t·b cross-fade, a baseline for benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from animeinterp_cli.engine.device import Placement
from animeinterp_cli.errors import AnimeInterpError, WeightsError
from animeinterp_cli.weights import OFFICIAL_KEY, default_weights, official_weights, read_manifest, verify
from models.animeinterp import load_animeinterp
from models.checkpoint import CheckpointError
from models.classic import ClassicConfig, ClassicInterpolator
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
        method = ClassicInterpolator(ClassicConfig(dis_preset="fast" if fast else "medium"))
    else:
        method = _build_animeinterp(weights, sgm, placement, vgg_weights)
        trained_iters = method.network.flownet.config.iters
        method.network.set_inference(
            iters=min(FAST_RFR_ITERS, trained_iters) if fast else None,  # never more than trained with
            flow_scale=flow_scale if flow_scale is not None else (FAST_FLOW_SCALE if fast else None),
        )
    return method.to(placement.device).eval()


class ResolvedWeights(NamedTuple):
    """The weights a run uses: the file, the guidance it was trained with, and where it came
    from: "official" (the recorded official checkpoint), "manifest" (the project's own) or
    "file" (any other file given with --weights)."""

    path: Path
    guidance: str
    origin: str

    @property
    def paper_pipeline(self) -> bool:
        """The paper's model (the official checkpoint or another file outside the manifest):
        inline SGM runs with the faithful settings."""
        return self.origin != "manifest"


def resolve_weights(weights: Path | None) -> ResolvedWeights | None:
    """The weights file to use and the guidance it was trained with, or None if there is none.

    An explicit path wins; a file the manifest describes uses the manifest's guidance, any
    other file (the official checkpoint) the paper's SGM. Without a path: the official
    checkpoint when it was downloaded and verifies, else the shipped default.
    """
    if weights is None:
        official = official_weights()
        if official is not None:
            return ResolvedWeights(official.path, "sgm", "official")
        entry = default_weights()
        return ResolvedWeights(entry.path, entry.guidance, "manifest") if entry else None
    for entry in read_manifest():
        if entry.path.resolve() == weights.resolve():
            verify(entry)
            origin = "official" if entry.key == OFFICIAL_KEY else "manifest" if entry.origin == "manifest" else "file"
            return ResolvedWeights(entry.path, entry.guidance, origin)
    return ResolvedWeights(weights, "sgm", "file")


def describe_weights(resolved: ResolvedWeights, sgm: str = "inline") -> str:
    """One line for the user: which weights and which pipeline a run uses (``sgm``: the
    run's SGM mode, "inline", "zero" or "precomputed")."""
    guidance = "inline SGM, faithful settings" if sgm == "inline" else f"SGM {sgm}"
    if resolved.origin == "official":
        return f"using the official AnimeInterp checkpoint {resolved.path.name} with the paper's pipeline ({guidance})"
    if resolved.origin == "file":
        return f"using {resolved.path.name} as the paper's model ({guidance})"
    return f"using the project's weights {resolved.path.name} ({resolved.guidance} guidance)"


def sgm_config(placement: Placement, vgg_weights: Path | None, faithful: bool = False) -> SGMConfig:
    """SGM's settings. ``faithful``: the released code's (:meth:`SGMConfig.faithful`), with
    VGG-19 descriptors whenever its weights are given or in torchvision's cache (~2 s per
    frame at 960×540 on a 2-core CPU), else the colour descriptor. Otherwise the fast settings,
    and the descriptor: VGG-19 when given explicitly; on CUDA, VGG-19 when torchvision's cache
    has the weights (never downloaded); on the CPU the colour descriptor."""
    make = SGMConfig.faithful if faithful else SGMConfig
    if vgg_weights is not None:
        if not vgg_weights.is_file():
            raise WeightsError(f"VGG-19 weights not found: {vgg_weights}")
        return make(descriptor="vgg", vgg_weights=str(vgg_weights), device=placement.device.type,
                    vgg_precision=placement.precision)
    if placement.device.type == "cuda" or faithful:
        return make(descriptor="auto", device=placement.device.type, vgg_precision=placement.precision)
    return make(descriptor="color")


def _build_animeinterp(weights: Path | None, sgm: str, placement: Placement, vgg_weights: Path | None) -> FrameInterpolator:
    resolved = resolve_weights(weights)
    if resolved is None:
        raise WeightsError(
            "the AnimeInterp network needs weights and none are shipped in this build: pass --weights PATH, "
            "run `animeinterp weights download official`, or use --model classic"
        )
    try:
        network = load_animeinterp(resolved.path)
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    sgm_settings = sgm_config(placement, vgg_weights, faithful=resolved.paper_pipeline)
    # "precomputed" flows arrive with each pair (benchmark); "zero" starts the RFR from rest
    return AnimeInterpPipeline(network, resolved.guidance if sgm == "inline" else "zero", sgm_settings)
