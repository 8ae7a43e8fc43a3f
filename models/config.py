"""Configuration of the AnimeInterp network: one frozen dataclass per model stage.

The defaults are the paper's / released checkpoint's values (``AnimeInterpConfig.paper()``);
``AnimeInterpConfig.tiny()`` keeps the same structure with small widths for fast tests (it
cannot load the official checkpoint). Constraints are checked in ``__post_init__`` and raise
``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

SPLAT_METHODS = ("avg", "soft")
#: how a residual synthesis's GridNet output corrects the classic blend (see SynthesisConfig)
CORRECTIONS = ("free", "mix")
#: the factors a mixing correction may be computed at below full resolution
CORRECTION_DOWNSCALES = (1, 2, 4)
#: initial-flow guidances a network can expect (see models.pipeline)
GUIDANCES = ("sgm", "dis", "sgm+dis", "zero")


def _check_positive(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        values = value if isinstance(value, tuple) else (value,)
        if not values or any(not isinstance(v, int) or v <= 0 for v in values):
            raise ValueError(f"{type(owner).__name__}.{name} must be positive integers, got {value!r}")


@dataclass(frozen=True)
class RFRConfig:
    """Recurrent Flow Refinement (RAFT-style, spec §3).

    ``feature_dim`` is the encoder's output width; the same encoder also gives the GRU's
    initial hidden state and context (its output split as ``hidden_dim`` + ``context_dim``,
    so the two must add up to ``feature_dim``). The correlation pyramid has ``corr_levels``
    levels, each looked up in a (2·``corr_radius``+1)² window.

    Faithful quirks of the released code (keep them to reproduce the checkpoint):
    ``double_add_init``: the initial flow is added once more before the first lookup (§3.2.4);
    ``use_error_attention``: the error-attention mask on the initial flow is computed and
    applied (the release computes and discards it, §3.2.3).
    """

    iters: int = 12
    corr_levels: int = 4
    corr_radius: int = 4
    feature_dim: int = 256
    hidden_dim: int = 128
    context_dim: int = 128
    #: widths of the encoder's three residual stages (1/2, 1/4, 1/8 resolution)
    encoder_dims: tuple[int, int, int] = (64, 96, 128)
    #: motion encoder: correlation branch, flow branch, and its output (incl. the 2 flow channels)
    corr_encoder_dims: tuple[int, int] = (256, 192)
    flow_encoder_dims: tuple[int, int] = (128, 64)
    motion_dim: int = 128
    #: hidden width of the flow head and of the upsampling-mask head
    head_dim: int = 256
    #: hidden width of the (error) attention network on the initial flow
    attention_dim: int = 32
    double_add_init: bool = True
    use_error_attention: bool = False

    def __post_init__(self) -> None:
        _check_positive(
            self, "iters", "corr_levels", "corr_radius", "feature_dim", "hidden_dim",
            "context_dim", "encoder_dims", "corr_encoder_dims", "flow_encoder_dims",
            "head_dim", "attention_dim",
        )
        if self.hidden_dim + self.context_dim != self.feature_dim:
            raise ValueError(
                f"RFRConfig: hidden_dim + context_dim ({self.hidden_dim} + {self.context_dim}) "
                f"must equal feature_dim ({self.feature_dim}): both come from one encoder output"
            )
        if self.motion_dim <= 2:
            raise ValueError("RFRConfig.motion_dim must exceed 2 (it includes the 2 flow channels)")

    @property
    def corr_channels(self) -> int:
        """Channels of one correlation lookup: levels × (2·radius + 1)²."""
        return self.corr_levels * (2 * self.corr_radius + 1) ** 2

    @property
    def min_grid_size(self) -> int:
        """Smallest 1/8-resolution grid side the correlation pyramid can pool down."""
        return 2 ** (self.corr_levels - 1)


@dataclass(frozen=True)
class SynthesisConfig:
    """Feature extractor (spec §2.2) and GridNet (§2.7) widths.

    ``feature_dims`` are the three pyramid levels' widths (full, 1/2, 1/4 resolution);
    ``grid_dims`` the widths of GridNet's three rows at the same resolutions.

    ``residual`` (not in the paper): GridNet predicts a correction to the coverage-aware blend
    of the two softmax-splatted frames (the classic method's output) and also sees that blend,
    both coverages and the input frames; its last layer starts at zero, so the untrained
    network *is* the classic method and training can only move it from there.

    ``disagreement_gate`` (residual only; None = off): the correction applies in full only
    where the two splatted frames disagree by at least this much (mean absolute RGB difference
    in [0, 1], over a 5×5 neighbourhood) or one of them left a hole, and proportionally less
    where they agree: where both frames land on the same colour the classic blend is already
    right, and a correction learned on other footage (film grain, say) would only hurt it.

    ``correction`` (residual only): ``"free"``: GridNet's three channels are added to the blend
    as they are; ``"mix"``: they are per-pixel coefficients of three candidates' differences
    from the blend — frame 0 splatted, frame 1 splatted, and the plain cross-fade — so the
    output moves only towards pictures that are there: where the candidates agree (every
    well-matched pixel) it stays the classic blend whatever the coefficients.

    ``correction_downscale`` (``"mix"`` only): the feature pyramid and GridNet run on the
    frames, splats and blend average-pooled by this factor, and the mix coefficients they give
    are upsampled bilinearly to full resolution, where the candidates are mixed: the
    coefficients are smooth, so 2 costs the network about a quarter of its time and doubles
    its reach (weights do not depend on it). 1 = full resolution.

    ``error_inputs`` (residual only): GridNet also sees each splatted frame's photometric
    error — the brightness-constancy error that the importance metric is made of (mean
    absolute RGB difference between a source pixel and the other frame warped back along its
    flow), splatted to t with the frame — so it can tell which frame's flow failed where; the
    splatted colours alone cannot (two input channels more).

    ``border_fade`` (residual only; 0 = off): the correction fades linearly to nothing over
    this many pixels at the frame's edges (weight = distance to the nearest edge / fade, at
    most 1). Training supervises only the centre of each window, never its margin, so the
    outermost ``margin`` pixels of a frame are never in any loss: there the correction is
    untrained. A fade no wider than the training margin changes nothing that training sees.
    """

    feature_dims: tuple[int, int, int] = (32, 64, 96)
    grid_dims: tuple[int, int, int] = (32, 64, 96)
    residual: bool = False
    disagreement_gate: float | None = None
    correction: str = "free"
    correction_downscale: int = 1
    error_inputs: bool = False
    border_fade: int = 0

    def __post_init__(self) -> None:
        _check_positive(self, "feature_dims", "grid_dims")
        if self.border_fade < 0 or (self.border_fade and not self.residual):
            raise ValueError(f"SynthesisConfig.border_fade needs residual=True and ≥ 0 pixels, got {self.border_fade!r}")
        if self.correction_downscale not in CORRECTION_DOWNSCALES:
            raise ValueError(f"SynthesisConfig.correction_downscale must be one of {CORRECTION_DOWNSCALES}, "
                             f"got {self.correction_downscale!r}")
        if self.correction_downscale != 1 and not (self.residual and self.correction == "mix"):
            raise ValueError("SynthesisConfig.correction_downscale needs residual=True and correction='mix'")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"SynthesisConfig.correction must be one of {CORRECTIONS}, got {self.correction!r}")
        if self.disagreement_gate is not None and not (self.residual and self.disagreement_gate > 0):
            raise ValueError("SynthesisConfig.disagreement_gate needs residual=True and a positive threshold")
        if self.error_inputs and not self.residual:
            raise ValueError("SynthesisConfig.error_inputs needs residual=True")
        if len(self.feature_dims) != 3 or len(self.grid_dims) != 3:
            raise ValueError("SynthesisConfig: feature_dims and grid_dims need exactly 3 levels")


@dataclass(frozen=True)
class AnimeInterpConfig:
    """The whole network.

    ``rfr``: None = no flow refinement: the guidance flows are used as they are (the learned
    default's first stage; the refinement can be added and trained later).
    ``guidance``: the initial flows the weights expect (``models.pipeline.GUIDANCE_MODES``):
    the paper's SGM, or dense DIS for the learned default.
    ``splat``: ``"avg"`` (average splatting, faithful to the release) or ``"soft"`` (softmax
    splatting whose importance metric is −``importance_scale``·(photometric error), the
    scale learnable). ``flow_scale``: the RFR runs on the frames resized by this factor;
    ``None`` = automatic: 1 up to ``auto_flow_pixels`` (960×540), smaller above, so that the
    flow networks never see more than about that many pixels (1080p → 0.5, 4K → 0.25).
    """

    rfr: RFRConfig | None = field(default_factory=RFRConfig)
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)
    splat: str = "avg"
    flow_scale: float | None = None
    importance_scale: float = 20.0
    auto_flow_pixels: int = 960 * 540
    guidance: str = "sgm"

    def __post_init__(self) -> None:
        if self.splat not in SPLAT_METHODS:
            raise ValueError(f"AnimeInterpConfig.splat must be one of {SPLAT_METHODS}, got {self.splat!r}")
        if self.flow_scale is not None and not (0 < self.flow_scale <= 1):
            raise ValueError(f"AnimeInterpConfig.flow_scale must be in (0, 1] or None, got {self.flow_scale!r}")
        if self.auto_flow_pixels <= 0:
            raise ValueError("AnimeInterpConfig.auto_flow_pixels must be positive")
        if self.guidance not in GUIDANCES:
            raise ValueError(f"AnimeInterpConfig.guidance must be one of {GUIDANCES}, got {self.guidance!r}")
        if self.rfr is None and self.guidance not in ("dis", "zero"):
            raise ValueError("without flow refinement the guidance flows are the flows: they must be dense ('dis')")
        if self.synthesis.residual and self.splat != "soft":
            raise ValueError("a residual synthesis refines the softmax-splatted blend: it needs splat='soft'")

    @classmethod
    def paper(cls) -> AnimeInterpConfig:
        """The configuration of the official ``anime_interp_full.ckpt``."""
        return cls()

    @classmethod
    def tiny(cls) -> AnimeInterpConfig:
        """Small widths and 2 iterations for fast tests (not checkpoint compatible)."""
        return cls(
            rfr=RFRConfig(
                iters=2, corr_levels=2, corr_radius=2, feature_dim=24, hidden_dim=12,
                context_dim=12, encoder_dims=(8, 12, 16), corr_encoder_dims=(16, 12),
                flow_encoder_dims=(8, 6), motion_dim=12, head_dim=16, attention_dim=4,
            ),
            synthesis=SynthesisConfig(feature_dims=(4, 6, 8), grid_dims=(4, 6, 8)),
        )

    @classmethod
    def light(cls) -> AnimeInterpConfig:
        """A light network for CPU training of the whole pipeline (~1.3 M parameters): 4 RFR
        iterations added once to a dense guidance (``double_add_init=False``, as
        :func:`models.refinement.init_for_refinement` needs), softmax splatting."""
        return cls(
            rfr=RFRConfig(
                iters=4, corr_levels=3, corr_radius=3, feature_dim=96, hidden_dim=48, context_dim=48,
                encoder_dims=(32, 48, 64), corr_encoder_dims=(64, 48), flow_encoder_dims=(32, 16),
                motion_dim=48, head_dim=64, attention_dim=8, double_add_init=False,
            ),
            synthesis=SynthesisConfig(feature_dims=(8, 16, 32), grid_dims=(16, 32, 48)),
            splat="soft",
        )

    @classmethod
    def light_tiny(cls) -> AnimeInterpConfig:
        """:meth:`light`'s structure at :meth:`tiny`'s widths (GridNet's first row keeps the 12
        channels the refinement initialisation uses), for fast tests."""
        tiny = cls.tiny()
        assert tiny.rfr is not None
        return replace(
            tiny, rfr=replace(tiny.rfr, double_add_init=False),
            synthesis=SynthesisConfig(feature_dims=(4, 6, 8), grid_dims=(12, 6, 8)), splat="soft",
        )

    @classmethod
    def guided(cls) -> AnimeInterpConfig:
        """The project's learned default: DIS-guided flows without refinement, softmax
        splatting with the photometric importance, a light residual synthesis stage whose
        correction is computed at quarter resolution (``bench/throughput.py``: at full
        resolution it cost 3.4–3.9× the classic method's time per 960×540 frame on one core,
        at quarter resolution 1.3–1.6× for the same quality; the error inputs, which the
        shipped weights have, bring it to 1.7–1.8×). Its border fade is the training windows' margin
        (``ResidualTrainConfig.margin``): no correction where none was trained."""
        return cls(
            rfr=None,
            synthesis=SynthesisConfig(feature_dims=(4, 8, 16), grid_dims=(8, 16, 24), residual=True, correction="mix",
                                      correction_downscale=4, border_fade=16),
            splat="soft",
            guidance="dis",
        )

    @classmethod
    def guided_tiny(cls) -> AnimeInterpConfig:
        """:meth:`guided` with the smallest widths, for fast tests."""
        return replace(
            cls.guided(),
            synthesis=SynthesisConfig(feature_dims=(2, 3, 4), grid_dims=(3, 4, 5), residual=True, correction="mix"),
        )

    def for_inference(self, *, max_iters: int | None = None, flow_scale: float | None = None) -> AnimeInterpConfig:
        """This configuration with only the settings changed that leave its weights valid: at
        most ``max_iters`` RFR iterations (never more than it was trained with) and the flow
        scale ``flow_scale`` (None keeps the current value). Without an RFR (:meth:`guided`)
        the guidance flows are used as they are: nothing to trade."""
        rfr = self.rfr
        if rfr is None:
            return self
        config = self
        if max_iters is not None:
            config = replace(config, rfr=replace(rfr, iters=min(max_iters, rfr.iters)))
        if flow_scale is not None:
            config = replace(config, flow_scale=flow_scale)
        return config

    def resolve_flow_scale(self, height: int, width: int) -> float:
        """The factor the RFR's input is resized by for frames of ``height`` × ``width``."""
        if self.flow_scale is not None:
            return self.flow_scale
        return min(1.0, math.sqrt(self.auto_flow_pixels / (height * width)))

    def to_dict(self) -> dict:
        """A plain dict (stored next to our own weights) that :meth:`from_dict` reads back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AnimeInterpConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""

        def build(kind, values: dict, nested: tuple[str, ...] = ()):
            known = {f.name for f in fields(kind)}
            unknown = sorted(set(values) - known)
            if unknown:
                raise ValueError(f"unknown {kind.__name__} keys: {', '.join(unknown)}")
            return kind(**{
                k: v if k in nested else tuple(v) if isinstance(v, list) else v
                for k, v in values.items()
            })

        data = dict(data)
        data["rfr"] = None if "rfr" in data and data["rfr"] is None else build(RFRConfig, data.get("rfr", {}))
        # configs stored before ``guidance`` existed: a network without RFR was DIS-guided
        data.setdefault("guidance", "dis" if data["rfr"] is None else "sgm")
        data["synthesis"] = build(SynthesisConfig, data.get("synthesis", {}))
        return build(cls, data, nested=("rfr", "synthesis"))
