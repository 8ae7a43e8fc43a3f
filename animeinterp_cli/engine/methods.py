"""The interpolation methods the user can pick, built in one place, completely, before any work.

- ``animeinterp``: the AnimeInterp network (guidance → RFR → splatting → GridNet) with weights
  (``--weights PATH``; else the official checkpoint once ``animeinterp weights download
  official`` has fetched and recorded it; else the project's default weights when shipped, see
  :mod:`animeinterp_cli.weights`). The paper's model (the official checkpoint, and any other
  SGM-guided file outside the manifest) runs the paper's pipeline: inline SGM with its faithful
  settings (:meth:`models.sgm.SGMConfig.faithful`); the project's own weights keep the fast SGM
  or their own guidance.
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
from typing import NamedTuple

from animeinterp_cli.engine.device import Placement
from animeinterp_cli.errors import ConfigError, WeightsError
from animeinterp_cli.options import Model, coerce
from animeinterp_cli.weights import OFFICIAL_KEY, default_weights, official_weights, read_manifest, verify
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
#: the paper's guidance: a network trained with it, from outside the manifest, is the paper's model
PAPER_GUIDANCE = "sgm"


@dataclass(frozen=True)
class BuiltMethod:
    """A method ready to run (on the CPU; the runner moves it to its device) and what the user
    should be told about it before the run (which method ``auto`` chose, which weights and
    pipeline, SGM's descriptor). ``weights``: the file the network was loaded from (None for
    methods without weights)."""

    interpolator: FrameInterpolator
    notes: tuple[str, ...] = ()
    weights: Path | None = None

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
            notes.append("no AnimeInterp weights (none shipped, no --weights PATH): using the classic DIS-flow method "
                         "(`animeinterp weights download official` fetches the paper's checkpoint)")
    if model == Model.blend:
        return BuiltMethod(LinearBlend(), tuple(notes))
    if model == Model.classic:
        return BuiltMethod(ClassicInterpolator(ClassicConfig(DISConfig("fast" if fast else "medium"))), tuple(notes))
    if resolved is None:
        raise WeightsError(
            "the AnimeInterp network needs weights and none are shipped in this build: pass --weights PATH, "
            "run `animeinterp weights download official`, or use --model classic"
        )
    try:
        network = load_animeinterp(
            resolved.path,
            max_iters=FAST_RFR_ITERS if fast else None,  # never more than it was trained with
            flow_scale=flow_scale if flow_scale is not None else (FAST_FLOW_SCALE if fast else None),
        )
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    trained = resolved.guidance or network.config.guidance  # the guidance the weights expect
    paper = resolved.origin != "manifest" and trained == PAPER_GUIDANCE
    # "zero" without inline guidance: the flows come with each pair (benchmark), or there are none
    guidance = trained if inline_guidance else "zero"
    try:
        asked = sgm_config(placement, vgg_weights, faithful=paper)
        sgm = resolve_descriptor(asked) if "sgm" in guidance else asked
    except (VGGWeightsError, SGMInputError) as error:
        raise WeightsError(str(error)) from None
    if weights is None:  # weights chosen for the user: say which, and which pipeline
        notes.append(describe_weights(resolved, trained, guidance, paper))
    if "sgm" in guidance:
        if sgm.descriptor == "vgg":
            notes.append(f"SGM uses the VGG-19 segment descriptor ({sgm.vgg_weights})")
        elif asked.descriptor == "auto":
            notes.append("SGM uses the weights-free colour descriptor (no VGG-19 ImageNet weights found; "
                         "`animeinterp weights download vgg19` fetches them)")
        else:
            notes.append("SGM uses the weights-free colour descriptor (VGG-19 is slow on the CPU: --vgg-weights PATH)")
    return BuiltMethod(AnimeInterpPipeline(network, guidance, sgm), tuple(notes), resolved.path)


def check_flow_scale(flow_scale: float | None) -> None:
    """Refuse a flow scale outside (0, 1] (None: automatic)."""
    if flow_scale is not None and not 0 < flow_scale <= 1:
        raise ConfigError(f"flow scale must be in (0, 1], got {flow_scale}")


class ResolvedWeights(NamedTuple):
    """The weights a run uses: the file, the guidance it was trained with (None: the one its
    stored configuration names), and where it came from: "official" (the recorded official
    checkpoint), "manifest" (the project's own) or "file" (any other file given with --weights)."""

    path: Path
    guidance: str | None
    origin: str


def resolve_weights(weights: Path | None) -> ResolvedWeights | None:
    """The weights file to use and the guidance it was trained with, or None if there is none.

    An explicit path wins; a file the manifest (or ``downloads.toml``) describes uses its
    recorded guidance (and its checksum is verified); for any other file the guidance is None:
    the one its stored configuration names (the official checkpoint's is the paper's SGM).
    Without a path: the official checkpoint when it was downloaded and verifies, else the
    shipped default.
    """
    if weights is None:
        official = official_weights()
        if official is not None:
            return ResolvedWeights(official.path, official.guidance, "official")
        entry = default_weights()
        return ResolvedWeights(entry.path, entry.guidance, "manifest") if entry else None
    for entry in read_manifest():
        if entry.path.resolve() == weights.resolve():
            verify(entry)
            origin = "official" if entry.key == OFFICIAL_KEY else "manifest" if entry.origin == "manifest" else "file"
            return ResolvedWeights(entry.path, entry.guidance, origin)
    return ResolvedWeights(weights, None, "file")


def describe_weights(resolved: ResolvedWeights, trained: str, guidance: str, paper: bool) -> str:
    """One line for the user: which weights and which pipeline a run uses (``trained``: the
    guidance the weights expect; ``guidance``: the one the run computes inline, "zero" when
    none; ``paper``: the faithful SGM)."""
    if guidance == "zero" and trained != "zero":
        how = "no inline guidance"
    elif paper:
        how = "inline SGM, faithful settings"
    else:
        how = f"{guidance} guidance"
    if resolved.origin == "official":
        return f"using the official AnimeInterp checkpoint {resolved.path.name} with the paper's pipeline ({how})"
    if paper:
        return f"using {resolved.path.name} as the paper's model ({how})"
    if resolved.origin == "file":
        return f"using {resolved.path.name} ({how})"
    return f"using the project's weights {resolved.path.name} ({how})"


def sgm_config(placement: Placement, vgg_weights: Path | None, faithful: bool = False) -> SGMConfig:
    """SGM's settings. ``faithful``: the released code's (:meth:`SGMConfig.faithful`), with
    VGG-19 descriptors whenever its weights are given or in torchvision's cache (~2 s per
    frame at 960×540 on a 2-core CPU), else the colour descriptor. Otherwise the fast settings,
    and the descriptor: VGG-19 when given explicitly; on CUDA, VGG-19 when torchvision's cache
    has the weights (never downloaded); on the CPU the colour descriptor."""
    make = SGMConfig.faithful if faithful else SGMConfig
    if vgg_weights is not None:
        return make(descriptor="vgg", vgg_weights=str(vgg_weights), device=placement.device.type,
                    vgg_precision=placement.precision)
    if placement.device.type == "cuda" or faithful:
        return make(descriptor="auto", device=placement.device.type, vgg_precision=placement.precision)
    return make(descriptor="color")
