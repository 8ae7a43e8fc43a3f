"""AnimeInterp (CVPR 2021): RFR flows → forward splatting → GridNet, as a FrameInterpolator.

Conventions: images (B, 3, H, W) RGB in [0, 1], H and W multiples of ``size_multiple`` (the
engine pads); flows (B, 2, H, W), channel 0 = x, in pixels; ``t`` (B,) in (0, 1), 0 = img0.
``estimate`` runs the flow network (both directions) and the feature extractor once per
pair; ``synthesize`` splats and fuses once per t, so 4× costs one flow pass per pair.

Precision: the caller may run both under ``torch.autocast``; flow coordinates, the
correlation volume and lookup, and splat accumulation stay fp32 inside.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint import CheckpointError, load_strict, read_checkpoint
from models.config import AnimeInterpConfig
from models.interpolator import FrameInterpolator, Motion
from models.rfr import RFR
from models.synthesis import FeatureExtractor, ForwardSplatting, GridNet, ImportanceMetric
from models.synthesis.gridnet import ERROR_CHANNELS
from models.synthesis.splatting import border_ramp, coverage_blend, disagreement, splat_frames

LEVELS = (1, 2, 3)


def _channels_last(images: torch.Tensor) -> torch.Tensor:
    return images.contiguous(memory_format=torch.channels_last)


class AnimeInterp(FrameInterpolator):
    """The full network. Submodules ``flownet`` (RFR), ``feat_ext`` (feature extractor) and
    ``synnet`` (GridNet) carry the official checkpoint's names; with ``splat="soft"`` an
    ``importance`` metric is added (not in the official checkpoint). Without an RFR config
    (``config.rfr is None``) there is no ``flownet`` and the initial flows are the flows; with
    a residual synthesis (``config.synthesis.residual``) the output is the classic method's
    blend plus GridNet's correction (see :meth:`refine_blend`)."""

    method_name = "animeinterp"

    def __init__(self, config: AnimeInterpConfig = AnimeInterpConfig.paper()) -> None:
        super().__init__()
        self.config = config
        self.flownet = RFR(config.rfr) if config.rfr is not None else None
        self.feat_ext = FeatureExtractor(config.synthesis)
        self.synnet = GridNet(config.synthesis)
        self.splatting = ForwardSplatting(config.splat)
        self.importance = ImportanceMetric(config.importance_scale) if config.splat == "soft" else None
        #: GridNet's two stride-2 levels must line up with its upsampled maps: the paper's
        #: network needs frames of a multiple of 4; a residual synthesis pads its correction
        #: branch itself (see :meth:`_pad_for_correction`), so the guidance and the classic
        #: blend see the frames as they are
        self.size_multiple = 1 if config.synthesis.residual else 4
        # channels-last: oneDNN's 3x3 convolutions ran up to 1.8x faster on the AVX-512 CPU
        # we measured (GridNet ~1.2x overall), and it suits CUDA tensor cores; inputs are
        # converted in estimate/synthesize
        self.to(memory_format=torch.channels_last)

    def compile_targets(self) -> list[nn.Module]:
        """Feature extractor, RFR encoder and update block (run ``iters`` times), GridNet."""
        flow = [] if self.flownet is None else [self.flownet.fnet, self.flownet.update_block]
        return [self.feat_ext, *flow, self.synnet]

    def _check_pair(self, img0: torch.Tensor, img1: torch.Tensor) -> None:
        if img0.dim() != 4 or img0.shape[1] != 3 or img0.shape != img1.shape:
            raise ValueError(
                f"expected two (B, 3, H, W) frames of one shape, got {tuple(img0.shape)} and {tuple(img1.shape)}"
            )
        height, width = img0.shape[-2:]
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"frame size {width}x{height} is not a multiple of {self.size_multiple}; pad it first"
            )

    def estimate(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        init01: torch.Tensor | None = None,
        init10: torch.Tensor | None = None,
    ) -> Motion:
        """Flows and feature pyramids of a batch of pairs (batch-first tensors).

        ``init01``/``init10``: the SGM flows (B, 2, H', W') in pixels of their own size
        (None = zero; without an RFR they must have the frames' size). Returns "flow01", "flow10" (B, 2, H, W) fp32 and "features{i}_{l}"
        (frame i ∈ {0, 1}, level l ∈ {1, 2, 3}); with softmax splatting also "metric0",
        "metric1" (B, 1, H, W).
        """
        self._check_pair(img0, img1)
        img0, img1 = _channels_last(img0), _channels_last(img1)
        batch, _, height, width = img0.shape
        normalised = torch.cat((img0, img1)) * 2 - 1  # the networks see [−1, 1]
        if self.flownet is None:
            flow01, flow10 = (self._given_flow(init, img0) for init in (init01, init10))
        else:
            flow01, flow10 = self.flownet(
                normalised[:batch], normalised[batch:], init01, init10,
                scale=self.config.resolve_flow_scale(height, width),
            )
        motion = {"flow01": flow01, "flow10": flow10, **self.feature_pyramids(normalised)}
        if self.importance is not None:
            motion["metric0"] = self.importance(img0, img1, flow01)
            motion["metric1"] = self.importance(img1, img0, flow10)
        return motion

    def feature_pyramids(self, normalised: torch.Tensor) -> Motion:
        """The feature extractor on both frames of each pair, stacked frame-0 batch first
        then frame-1 batch, in [−1, 1]: {"features{i}_{l}"} for frame i, level l (level 1 at
        the correction's resolution: the frames' / ``correction_downscale``)."""
        batch = normalised.shape[0] // 2
        pyramid = self.feat_ext(self._to_correction_resolution(normalised))
        motion = {}
        for level, features in zip(LEVELS, pyramid):
            motion[f"features0_{level}"], motion[f"features1_{level}"] = features[:batch], features[batch:]
        return motion

    @property
    def correction_multiple(self) -> int:
        """The multiple the correction branch pads the frames' size to: 4 at 1/``correction_downscale``
        resolution."""
        return 4 * self.config.synthesis.correction_downscale

    def _pad_for_correction(self, maps: torch.Tensor) -> torch.Tensor:
        """``maps`` (B, C, H, W) edge-replicated at the bottom and right to the size the
        correction branch works at (:attr:`correction_multiple`)."""
        multiple = self.correction_multiple
        height, width = maps.shape[-2:]
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        return F.pad(maps, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else maps

    def _to_correction_resolution(self, maps: torch.Tensor) -> torch.Tensor:
        """``maps`` (B, C, H, W) padded (:meth:`_pad_for_correction`) and average-pooled by
        ``correction_downscale``."""
        factor = self.config.synthesis.correction_downscale
        maps = self._pad_for_correction(maps)
        return maps if factor == 1 else F.avg_pool2d(maps, factor)

    @staticmethod
    def _given_flow(init: torch.Tensor | None, image: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = image.shape
        if init is None:
            return image.new_zeros(batch, 2, height, width, dtype=torch.float32)
        if tuple(init.shape) != (batch, 2, height, width):
            raise ValueError(f"initial flow of shape {tuple(init.shape)} for frames {tuple(image.shape)}")
        return init.float()

    def synthesize(self, img0: torch.Tensor, img1: torch.Tensor, motion: Motion, t: torch.Tensor) -> torch.Tensor:
        """The frames at times ``t`` (B,): (B, 3, H, W) fp32, clamped to [0, 1].

        Each frame moves linearly along its flow: frame 0 by t·F01, frame 1 by (1 − t)·F10.
        """
        self._check_pair(img0, img1)
        img0, img1 = _channels_last(img0), _channels_last(img1)
        t = t.to(device=img0.device, dtype=torch.float32).view(-1, 1, 1, 1)
        if t.shape[0] != img0.shape[0]:
            raise ValueError(f"need one t per pair: {t.shape[0]} values for {img0.shape[0]} pairs")
        if self.config.synthesis.residual:
            return self.refine_blend(img0, img1, motion, self._splat_with_riders(img0, img1, motion, t), t)
        splatted = [
            self.splatting(
                image,
                tuple(motion[f"features{i}_{level}"] for level in LEVELS),
                scale * motion[f"flow{i}{1 - i}"],
                motion.get(f"metric{i}"),
            )
            for i, (image, scale) in enumerate(((img0, t), (img1, 1 - t)))
        ]
        (image0, features0), (image1, features1) = splatted
        frame = self.synnet(
            torch.cat((image0, image1), dim=1),
            *(torch.cat(pair, dim=1) for pair in zip(features0, features1)),
        )
        return frame.float().clamp(0, 1)

    def _splat_with_riders(self, img0: torch.Tensor, img1: torch.Tensor, motion: Motion, t: torch.Tensor) -> Motion:
        """Both frames softmax-splatted to ``t`` (:func:`splat_frames`), with what shares their
        flow riding in the same pass (one scatter instead of two): the level-1 features when
        they have the frames' size, as "riders0"/"riders1", and with ``error_inputs`` the
        photometric errors, as "errors0"/"errors1" (what :meth:`splatted_errors` gives)."""
        full = motion["features0_1"].shape[-2:] == img0.shape[-2:]
        errors = self.config.synthesis.error_inputs
        riders = []
        for i in (0, 1):
            maps = ([motion[f"features{i}_1"]] if full else []) + ([self._photometric_error(motion, i)] if errors else [])
            riders.append(torch.cat([m.float() for m in maps], dim=1) if maps else None)
        splats = splat_frames(img0, img1, motion["flow01"], motion["flow10"], motion["metric0"], motion["metric1"], t,
                              *riders)
        for i in (0, 1):
            if errors:  # the error rides last, one channel
                rode = splats.pop(f"riders{i}")
                splats[f"errors{i}"] = rode[:, -1:]
                if full:
                    splats[f"riders{i}"] = rode[:, :-1]
        return splats

    def refine_blend(
        self, img0: torch.Tensor, img1: torch.Tensor, motion: Motion, splats: Motion, t: torch.Tensor
    ) -> torch.Tensor:
        """The residual synthesis: the coverage-aware blend of the softmax-splatted frames
        ``splats`` (as :meth:`_splat_with_riders` gives them, the level-1 features and errors
        riding with the frames; training passes cached frames without) plus GridNet's
        correction, which sees the splatted frames, the blend, both coverages, the input frames
        and the splatted feature pyramids, scaled by the frames' :func:`disagreement` when the
        configuration has a ``disagreement_gate``, and faded out at the frame's edges
        (:func:`border_ramp`) when it has a ``border_fade``. GridNet runs at the correction's
        resolution (``correction_downscale``), on frames padded to its size multiple; its mix coefficients
        are upsampled and cropped to the frames'. ``t`` (B, 1, 1, 1). Returns (B, 3, H, W) fp32
        in [0, 1]."""
        base = coverage_blend(img0, img1, splats, t)
        features0, features1 = (
            self._splat_pyramid(motion, i, scale, splats.get(f"riders{i}")) for i, scale in ((0, t), (1, 1 - t))
        )
        frames = [splats["warped0"], splats["warped1"], base, splats["cover0"].clamp(max=1),
                  splats["cover1"].clamp(max=1), img0.float(), img1.float()]
        if self.config.synthesis.error_inputs:
            frames += [splats["errors0"], splats["errors1"]] if "errors0" in splats else self.splatted_errors(motion, t)
        # pooled map by map, then stacked: no full-resolution copy of all of them at once
        frames = torch.cat([self._to_correction_resolution(frame) for frame in frames], dim=1)
        correction = self.synnet(
            _channels_last(frames),
            *(torch.cat(pair, dim=1) for pair in zip(features0, features1)),
        ).float()
        factor = self.config.synthesis.correction_downscale
        if factor != 1:
            correction = F.interpolate(correction, scale_factor=factor, mode="bilinear", align_corners=False)
        correction = correction[..., : base.shape[-2], : base.shape[-1]]
        if self.config.synthesis.correction == "mix":
            candidates = (splats["warped0"], splats["warped1"], (1 - t) * img0.float() + t * img1.float())
            correction = sum(correction[:, k : k + 1] * (candidate - base) for k, candidate in enumerate(candidates))
        threshold = self.config.synthesis.disagreement_gate
        if threshold is not None:
            correction = correction * disagreement(splats, threshold)
        fade = self.config.synthesis.border_fade
        if fade:
            correction = correction * border_ramp(base.shape[-2], base.shape[-1], fade, device=base.device)
        return (base + correction).clamp(0, 1)

    def _splat_pyramid(
        self, motion: Motion, i: int, scale: torch.Tensor, level1: torch.Tensor | None
    ) -> list[torch.Tensor]:
        """Frame ``i``'s feature pyramid splatted along ``scale`` times its flow (both padded to
        the correction branch's size); ``level1``: its level 1 already splatted (riders)."""
        flow = self._pad_for_correction(scale * motion[f"flow{i}{1 - i}"])
        metric = self._pad_for_correction(motion[f"metric{i}"])
        levels = LEVELS if level1 is None else LEVELS[1:]
        splatted = self.splatting.splat_features(tuple(motion[f"features{i}_{level}"] for level in levels), flow, metric)
        return splatted if level1 is None else [level1, *splatted]

    def splatted_errors(self, motion: Motion, t: torch.Tensor) -> list[torch.Tensor]:
        """Each frame's photometric error (what its importance metric is −α times), softmax-
        splatted to ``t`` as the frame is: [(B, 1, H, W)] × 2, 0 where nothing lands (at
        inference they ride in the frames' splat instead: :meth:`_splat_with_riders`)."""
        return [
            self.splatting.splat_features(
                (self._photometric_error(motion, i),), scale * motion[f"flow{i}{1 - i}"], motion[f"metric{i}"])[0]
            for i, scale in ((0, t), (1, 1 - t))
        ]

    def _photometric_error(self, motion: Motion, i: int) -> torch.Tensor:
        """Frame ``i``'s photometric error (B, 1, H, W): its importance metric over −α."""
        assert self.importance is not None  # a residual synthesis has softmax splatting
        return -motion[f"metric{i}"] / self.importance.alpha.detach()

    def scale_correction(self, factor: float) -> None:
        """Multiply a residual synthesis's correction by ``factor`` (GridNet's last layer is
        linear, so scaling its weights and bias scales the correction exactly; with the
        ``mix`` correction, the candidates' coefficients)."""
        if not self.config.synthesis.residual:
            raise ValueError("only a residual synthesis has a correction to scale")
        last = self.synnet.residual_model_tail[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        with torch.no_grad():
            last.weight.mul_(factor)
            last.bias.mul_(factor)

    def forward(self, img0, img1, init01=None, init10=None, t=None) -> dict[str, torch.Tensor]:
        """Both stages at once: {"frame", "flow01", "flow10"}; ``t`` defaults to 0.5."""
        motion = self.estimate(img0, img1, init01, init10)
        if t is None:
            t = torch.full((img0.shape[0],), 0.5, device=img0.device)
        frame = self.synthesize(img0, img1, motion, t)
        return {"frame": frame, "flow01": motion["flow01"], "flow10": motion["flow10"]}


#: SynthesisConfig settings that have no weights: a trained network may change them
WEIGHTLESS_SYNTHESIS_SETTINGS = ("disagreement_gate", "correction_downscale", "border_fade")


def synthesis_settings(**values) -> dict:
    """The :data:`WEIGHTLESS_SYNTHESIS_SETTINGS` among ``values`` that are given (not None),
    e.g. from command-line options, as :func:`with_synthesis` takes them."""
    return {name: value for name, value in values.items() if value is not None}


def with_synthesis(model: AnimeInterp, **settings) -> AnimeInterp:
    """A copy of the residual network ``model`` with the :data:`WEIGHTLESS_SYNTHESIS_SETTINGS`
    given (e.g. ``disagreement_gate=0.3``, ``correction_downscale=2``) and ``model``'s weights."""
    unknown = set(settings) - set(WEIGHTLESS_SYNTHESIS_SETTINGS)
    if unknown:
        raise ValueError(f"not a weightless synthesis setting: {', '.join(sorted(unknown))}")
    synthesis = replace(model.config.synthesis, **settings)
    changed = AnimeInterp(replace(model.config, synthesis=synthesis))
    changed.load_state_dict(model.state_dict())
    return changed.train(model.training)


def with_error_inputs(model: AnimeInterp) -> AnimeInterp:
    """A copy of the residual network ``model`` that also sees the splatted photometric errors
    (``SynthesisConfig.error_inputs``): ``model``'s weights, and zero weights on the new input
    channels, so that it gives exactly ``model``'s output until it is trained."""
    if not model.config.synthesis.residual or model.config.synthesis.error_inputs:
        raise ValueError("error inputs are added to a residual synthesis that does not have them")
    synthesis = replace(model.config.synthesis, error_inputs=True)
    widened = AnimeInterp(replace(model.config, synthesis=synthesis))
    state = model.state_dict()
    key = "synnet.residual_model_head.1.weight"  # the head's first convolution (after its PReLU)
    old = state[key]
    state[key] = torch.cat((old, old.new_zeros(old.shape[0], ERROR_CHANNELS, *old.shape[2:])), dim=1)
    widened.load_state_dict(state)
    return widened.train(model.training)


def load_animeinterp(
    path: str | Path,
    config: AnimeInterpConfig | None = None,
    *,
    max_iters: int | None = None,
    flow_scale: float | None = None,
) -> AnimeInterp:
    """An AnimeInterp with the weights of ``path``, loaded strictly, in eval mode.

    The configuration is ``config`` if given, else the one stored in the file (our own
    checkpoints), else the paper's (the official ``anime_interp_full.ckpt``); ``max_iters`` and
    ``flow_scale`` then trade quality for speed (:meth:`AnimeInterpConfig.for_inference`).
    Raises :class:`models.checkpoint.CheckpointError` naming what does not match.
    """
    checkpoint = read_checkpoint(path)
    config = (config or _stored_config(checkpoint, path)).for_inference(max_iters=max_iters, flow_scale=flow_scale)
    model = AnimeInterp(config)
    load_strict(model, checkpoint.state_dict)
    return model.eval()


def resume_animeinterp(path: str | Path) -> tuple[AnimeInterp, dict]:
    """The network of a training run's checkpoint (its stored configuration, loaded strictly,
    in training mode, fp32) and what else the run saved with it (optimizer, step, …)."""
    checkpoint = read_checkpoint(path)
    model = AnimeInterp(_stored_config(checkpoint, path))
    load_strict(model, checkpoint.state_dict)
    return model.float().train(), checkpoint.extra


def _stored_config(checkpoint, path) -> AnimeInterpConfig:
    """The configuration stored in our own files; the paper's for the official checkpoint."""
    if checkpoint.config is None:
        return AnimeInterpConfig.paper()
    try:
        return AnimeInterpConfig.from_dict(checkpoint.config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path} has an invalid config: {error}") from None
