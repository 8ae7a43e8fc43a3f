"""The command line's vocabulary, declared once: the choices as str enums, the shared options
as ``Annotated`` aliases that every command uses.

The enums are also the library's types (``RunConfig``, ``resolve_placement``,
``build_method``…): a value is a plain ``str`` too, so ``Device("cpu") == "cpu"``. Typer turns
an enum into a choice list, so an unknown word is a usage error (exit 2) naming the choices.

Options that several commands share are grouped in dataclasses (:class:`DeviceOptions`,
:class:`RunOptions`); :func:`with_options` gives a command the options of its groups as
parameters and hands each group back to it as one value. To add an option: declare its alias here (and its enum, if
it is a choice), then add it as a field, with its default, to the group of the commands that
take it (a :class:`RunOptions` field named as a ``RunConfig`` field goes straight into it), or
as a parameter of the one command that takes it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from animeinterp_cli.errors import ConfigError

E = TypeVar("E", bound=StrEnum)


class Model(StrEnum):
    """``--model`` of ``double``/``frames``: a method of this project, or ``auto``."""

    auto = "auto"  # animeinterp when weights are given or shipped, else classic
    animeinterp = "animeinterp"
    classic = "classic"
    blend = "blend"


class BenchmarkMethod(StrEnum):
    """``benchmark --method``: the project's methods and the peers it compares them with."""

    animeinterp = "animeinterp"
    classic = "classic"
    blend = "blend"
    minterpolate = "minterpolate"
    rife = "rife"

    @property
    def model(self) -> Model | None:
        """The project's method of this name, None for a peer."""
        return Model(self.value) if self.value in Model.__members__ else None


class Sgm(StrEnum):
    """``--sgm`` of ``double``/``frames``: where AnimeInterp's initial flow comes from."""

    inline = "inline"  # computed for every pair
    zero = "zero"  # none: the flow refinement starts from rest


class BenchmarkSgm(StrEnum):
    """``benchmark --sgm``: as :class:`Sgm`, or the data set's precomputed flows."""

    inline = "inline"
    zero = "zero"
    precomputed = "precomputed"


class Device(StrEnum):
    auto = "auto"  # CUDA when present, else the CPU
    cpu = "cpu"
    cuda = "cuda"


class Precision(StrEnum):
    auto = "auto"  # fp16 on CUDA, bf16 on CPUs with AMX, else fp32
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class CompileMode(StrEnum):
    auto = "auto"  # when the plan has enough frames to synthesise and a backend can run
    on = "on"
    off = "off"


class MetricProtocol(StrEnum):
    """``benchmark --protocol``: how PSNR/SSIM are computed (see ``benchmark/metrics.py``)."""

    paper = "paper"  # as AnimeInterp's released evaluation
    standard = "standard"  # uint8 output, Gaussian 11×11 SSIM


class DownloadName(StrEnum):
    """``weights download NAME``: the files the tool can fetch (see ``download.py``)."""

    official = "official"  # the authors' AnimeInterp checkpoint
    vgg19 = "vgg19"  # torchvision's ImageNet VGG-19, for SGM's segment descriptors


def choices(enum: type[StrEnum]) -> str:
    """``"a, b, c"``: an enum's values, for messages."""
    return ", ".join(member.value for member in enum)


def coerce(enum: type[E], value: str, setting: str) -> E:
    """``value`` as a member of ``enum``; a :class:`ConfigError` naming ``setting`` and the
    choices otherwise (for library callers that pass plain strings)."""
    try:
        return enum(value)
    except ValueError:
        raise ConfigError(f"unknown {setting} {value!r}; choose one of {choices(enum)}") from None


# --- options shared by the commands (parameter name → alias) ---

def _parse_rate(text: str) -> Fraction:
    from animeinterp_cli.schedule.plan import parse_rate

    try:
        return parse_rate(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _in_unit_interval(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise typer.BadParameter(f"{value} is not in (0, 1]")
    return value


FactorOpt = Annotated[  # None: not given (2, unless --fps gives the rate instead)
    Optional[int], typer.Option("--factor", "-f", min=2, show_default="2", help="Output frames per input frame (integer ≥ 2).")
]
FpsOpt = Annotated[
    Optional[Fraction],
    typer.Option(parser=_parse_rate, metavar="RATE", help="Target frame rate instead of --factor: 60, 60000/1001, 59.94…"),
]
ModelOpt = Annotated[
    Model,
    typer.Option(
        help="Interpolation method: auto (animeinterp when weights are given, else classic), "
        "animeinterp, classic (DIS flow + splatting, no weights), blend (cross-fade).",
    ),
]
WeightsOpt = Annotated[
    Optional[Path], typer.Option(help="AnimeInterp weights, e.g. anime_interp_full.ckpt.", dir_okay=False)
]
SgmOpt = Annotated[Sgm, typer.Option(help="SGM initial flow: inline (computed per pair) or zero.")]
VggWeightsOpt = Annotated[
    Optional[Path],
    typer.Option(
        help="ImageNet VGG-19 weights (torchvision's vgg19-dcbb9e9d.pth) for SGM's segment descriptors.",
        dir_okay=False,
    ),
]
DeviceOpt = Annotated[Device, typer.Option(help="auto (CUDA when present), cpu or cuda.")]
PrecisionOpt = Annotated[
    Precision, typer.Option(help="auto (fp16 on CUDA, bf16 on CPUs with AMX, else fp32), fp32, bf16, fp16.")
]
BatchSizeOpt = Annotated[
    Optional[int], typer.Option(min=1, help="Frame pairs per batch (default: 1 on the CPU, 4 on CUDA).")
]
FastOpt = Annotated[
    bool,
    typer.Option(
        "--fast", help="Speed preset: at most 6 flow-refinement iterations, at half flow scale (classic: faster DIS)."
    ),
]
FlowScaleOpt = Annotated[
    Optional[float],
    typer.Option(
        callback=_in_unit_interval,
        help="Run the flow network on frames resized by this factor in (0, 1] (default: automatic, 1 up to 960×540).",
    ),
]
CompileOpt = Annotated[
    CompileMode,
    typer.Option(
        "--compile",
        help="torch.compile the network: auto (when there are 100+ frames to synthesise and a C++ compiler "
        "or Triton is present), on, off. Costs a minute or so once; the output is the same.",
    ),
]
DedupOpt = Annotated[
    bool,
    typer.Option(
        "--dedup/--no-dedup",
        help="Treat held drawings (anime on twos/threes) as one drawing and interpolate between distinct drawings.",
    ),
]
SceneThresholdOpt = Annotated[
    Optional[float],
    typer.Option(min=0.0, max=1.0, help="Scene-cut score in [0, 1] above which a pair is a cut (default 0.2; see README)."),
]
AllowDropOpt = Annotated[
    bool, typer.Option("--allow-drop", help="Accept an --fps below the source's rate (frames are dropped).")
]
CodecOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Video encoder: libx264, libx265, libsvtav1, libvpx-vp9… (default: libx264; libx265 Main 10 for "
        "10-bit sources; libvpx-vp9 for .webm)",
        show_default=False,
    ),
]
CrfOpt = Annotated[int, typer.Option(min=0, max=63, help="Constant rate factor (lower = better quality).")]
PresetOpt = Annotated[str, typer.Option(help="Encoder preset (e.g. x264's ultrafast … veryslow).")]
DownloadNameArg = Annotated[
    DownloadName, typer.Argument(help="official (the AnimeInterp checkpoint) or vgg19 (ImageNet VGG-19 for SGM).")
]
DownloadUrlOpt = Annotated[Optional[str], typer.Option(help="Fetch from this URL instead of the known mirrors.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only errors and warnings: no progress bar, no notes, no summary.")
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Refuse an input that decodes shorter than its container declares (truncated, damaged)."),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Also print the encoder's and FFmpeg's own log.")]


# --- groups of options that several commands take ---


@dataclass(frozen=True)
class DeviceOptions:
    """Where the networks run: every command that runs a method (double, frames, benchmark)."""

    device: DeviceOpt = Device.auto
    precision: PrecisionOpt = Precision.auto
    batch_size: BatchSizeOpt = None


@dataclass(frozen=True)
class RunOptions:
    """The options of every command that runs the pipeline on an input (double, frames)."""

    factor: FactorOpt = None
    model: ModelOpt = Model.auto
    weights: WeightsOpt = None
    sgm: SgmOpt = Sgm.inline
    vgg_weights: VggWeightsOpt = None
    fast: FastOpt = False
    flow_scale: FlowScaleOpt = None
    compile_mode: CompileOpt = CompileMode.auto
    dedup: DedupOpt = True
    scene_threshold: SceneThresholdOpt = None
    overwrite: OverwriteOpt = False
    quiet: QuietOpt = False


def with_options(**groups: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a Typer command that takes keyword-only groups of options (``name=Group``,
    e.g. ``hardware=DeviceOptions``): the groups' fields become the command's own options
    (after its parameters, group by group, in field order), and the command is called with each
    group's values gathered in one instance, under the group's name."""
    shared: list[inspect.Parameter] = []
    members: dict[str, list[str]] = {}
    for group_name, group in groups.items():
        hints = typing.get_type_hints(group, include_extras=True)
        for field in fields(group):
            if any(field.name == p.name for p in shared):
                raise TypeError(f"option {field.name!r} is in two groups")
            shared.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default,
                                            annotation=hints[field.name]))
            members.setdefault(group_name, []).append(field.name)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name not in groups]

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            for group_name, group in groups.items():
                values[group_name] = group(**{name: values.pop(name) for name in members[group_name]})
            return command(**values)

        run.__signature__ = signature.replace(parameters=own + shared)  # type: ignore[attr-defined]
        return run

    return decorate
