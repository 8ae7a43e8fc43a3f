"""The interpolation methods the user can pick, built in one place, completely, before any work.

- ``animeinterp``: the AnimeInterp network (guidance → RFR → splatting → GridNet) with weights
  (``--weights PATH``, else the project's default weights when shipped, see
  :mod:`animeinterp_cli.weights`).
- ``classic``: DIS optical flow + occlusion-aware softmax splatting; needs no weights.
- ``blend``: the plain (1 − t)·a + t·b cross-fade, a baseline for benchmarks.
- ``auto``: ``animeinterp`` when there are weights, else ``classic``.

Building reads and checks every file the method needs (weights and their checksum, once;
VGG-19), so a bad file is a one-line :class:`WeightsError` before any frame is decoded. The
errors of ``models/`` are mapped to the project's here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from animeinterp_cli.engine.device import Placement
from animeinterp_cli.errors import ConfigError, WeightsError
from animeinterp_cli.options import Model, coerce
from animeinterp_cli.weights import default_weights, read_manifest, verify
from models.animeinterp import load_animeinterp
from models.checkpoint import CheckpointError
from models.classic import ClassicConfig, ClassicInterpolator
from models.guidance import DISConfig
from models.interpolator import FrameInterpolator, LinearBlend
from models.pipeline import AnimeInterpPipeline
from models.sgm import SGMConfig, SGMInputError, VGGWeightsError, resolve_descriptor

#: the --fast preset: at most this many RFR iterations, and this flow scale (paper: 12
#: iterations at full scale)
FAST_RFR_ITERS = 6
FAST_FLOW_SCALE = 0.5


@dataclass(frozen=True)
class BuiltMethod:
    """A method ready to run (on the CPU; the runner moves it to its device) and what the user
    should be told about it before the run (which method ``auto`` chose, SGM's descriptor)."""

    interpolator: FrameInterpolator
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.interpolator.method_name


def build_method(
    model: Model | str,
    *,
    placement: Placement,
    weights: Path | None = None,
    inline_guidance: bool = True,
    fast: bool = False,
    flow_scale: float | None = None,
    vgg_weights: Path | None = None,
) -> BuiltMethod:
    """Build ``model`` for ``placement``; raise a one-line error if impossible.

    ``inline_guidance``: AnimeInterp computes its initial flows for every pair (False: they
    come with each pair, e.g. a data set's precomputed SGM flows, or there are none).
    ``fast``: the speed preset (AnimeInterp: at most ``FAST_RFR_ITERS`` RFR iterations and flows at
    ``FAST_FLOW_SCALE`` unless ``flow_scale`` says otherwise; classic: DIS's "fast" preset).
    ``flow_scale``: AnimeInterp's RFR runs on frames resized by this factor (None = automatic).
    ``vgg_weights``: ImageNet VGG-19 weights for SGM's segment descriptors (see :func:`sgm_config`).
    """
    model = coerce(Model, model, "method")
    check_flow_scale(flow_scale)
    if vgg_weights is not None and not vgg_weights.is_file():
        raise WeightsError(f"VGG-19 weights not found: {vgg_weights}")
    resolved = resolve_weights(weights) if model in (Model.auto, Model.animeinterp) else None
    notes: list[str] = []
    if model == Model.auto:
        model = Model.animeinterp if resolved is not None else Model.classic
        if resolved is None:
            notes.append("no AnimeInterp weights (none shipped, no --weights PATH): using the classic DIS-flow method")
    if model == Model.blend:
        return BuiltMethod(LinearBlend(), tuple(notes))
    if model == Model.classic:
        return BuiltMethod(ClassicInterpolator(ClassicConfig(DISConfig("fast" if fast else "medium"))), tuple(notes))
    if resolved is None:
        raise WeightsError(
            "the AnimeInterp network needs weights and none are shipped in this build: pass --weights PATH "
            "(e.g. anime_interp_full.ckpt) or use --model classic"
        )
    path, guidance = resolved
    try:
        network = load_animeinterp(
            path,
            max_iters=FAST_RFR_ITERS if fast else None,  # never more than it was trained with
            flow_scale=flow_scale if flow_scale is not None else (FAST_FLOW_SCALE if fast else None),
        )
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    # "zero" without inline guidance: the flows come with each pair (benchmark), or there are none
    guidance = (guidance or network.config.guidance) if inline_guidance else "zero"
    try:
        asked = sgm_config(placement, vgg_weights)
        sgm = resolve_descriptor(asked) if "sgm" in guidance else asked
    except (VGGWeightsError, SGMInputError) as error:
        raise WeightsError(str(error)) from None
    if "sgm" in guidance:
        if sgm.descriptor == "vgg":
            notes.append(f"SGM uses the VGG-19 segment descriptor ({sgm.vgg_weights})")
        elif asked.descriptor == "auto":
            notes.append("SGM uses the weights-free colour descriptor (no VGG-19 ImageNet weights found)")
        else:
            notes.append("SGM uses the weights-free colour descriptor (VGG-19 is slow on the CPU: --vgg-weights PATH)")
    return BuiltMethod(AnimeInterpPipeline(network, guidance, sgm), tuple(notes))


def check_flow_scale(flow_scale: float | None) -> None:
    """Refuse a flow scale outside (0, 1] (None: automatic)."""
    if flow_scale is not None and not 0 < flow_scale <= 1:
        raise ConfigError(f"flow scale must be in (0, 1], got {flow_scale}")


def resolve_weights(weights: Path | None) -> tuple[Path, str | None] | None:
    """The weights file to use and the guidance it was trained with, or None if there is none.

    An explicit path wins; a file the manifest describes uses the manifest's guidance (and its
    checksum is verified); for any other file the guidance is None: the one its stored
    configuration names (the official checkpoint's is the paper's SGM). Without a path: the
    shipped default.
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
        return SGMConfig(descriptor="vgg", vgg_weights=str(vgg_weights), device=placement.device.type,
                         vgg_precision=placement.precision)
    if placement.device.type == "cuda":
        return SGMConfig(descriptor="auto", device="cuda", vgg_precision=placement.precision)
    return SGMConfig(descriptor="color")
