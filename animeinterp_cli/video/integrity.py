"""Did the whole input decode? Decoded frames against what the container declares.

A download cut short still opens when its index sits at the front (a "faststart" mp4, most
Matroska files): it decodes cleanly up to the cut and then simply ends, so nothing fails —
the output is just silently shorter than the source. The only witness is the container's
own statement of the stream's length. :func:`damage_report` compares the two, and also
reports a decoder error that ended the read midway, in one line with both durations.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from animeinterp_cli.errors import DecodeError
from animeinterp_cli.video.decode import VideoInfo, last_frame_duration

#: shortfalls above either limit are reported (a frame or two is muxing noise, not damage)
MAX_SHORTFALL_SECONDS = Fraction(1)
MAX_SHORTFALL_FRACTION = Fraction(5, 100)


@dataclass(frozen=True)
class Damage:
    """An input that decoded shorter than it declares, or failed midway."""

    summary: str  # what is wrong, with the declared and the decoded duration
    decoded: Fraction  # seconds of video that did decode

    def warning(self) -> str:
        """The one-line warning when the run goes on with what decoded."""
        return f"{self.summary}: the output covers only the first {_seconds(self.decoded)} (--strict refuses such input)"

    def refusal(self) -> str:
        """The one-line error under ``--strict``."""
        return f"{self.summary}: refused (--strict), nothing written"


def damage_report(info: VideoInfo, times: list[Fraction], failure: DecodeError | None = None) -> Damage | None:
    """What is wrong with a truncated or damaged input, or None when it decoded whole.

    ``times`` are the decoded frames' times (seconds from the first frame); ``failure`` the
    decoder error that ended the read early, if one did. The input counts as short when the
    decoded video ends more than :data:`MAX_SHORTFALL_SECONDS` or
    :data:`MAX_SHORTFALL_FRACTION` before the duration the container declares, or lacks
    that many of the frames it declares.
    """
    decoded = (times[-1] + last_frame_duration(info)) if times else Fraction(0)
    declared = _declared_seconds(info)
    if failure is None and (declared is None or not _short(decoded, declared)):
        return None
    frames = f"{len(times)} of {info.declared_frames} frames" if info.declared_frames else f"{len(times)} frames"
    length = f"its container declares {_seconds(declared)}" if declared is not None else "it declares no length"
    stopped = "" if failure is None else str(failure).removeprefix(f"{info.path}: ") + "; "
    summary = f"{info.path} looks truncated or damaged: {stopped}{length}, but only {_seconds(decoded)} ({frames}) decoded"
    return Damage(summary, decoded)


def _declared_seconds(info: VideoInfo) -> Fraction | None:
    """The declared length in seconds: the stated duration, else the stated frame count."""
    if info.declared_duration is not None:
        if info.declared_frames:  # both stated: the more complete one (a short frame count
            return max(info.declared_duration, info.declared_frames / info.frame_rate)  # may be rounding)
        return info.declared_duration
    if info.declared_frames:
        return info.declared_frames / info.frame_rate
    return None


def _short(decoded: Fraction, declared: Fraction) -> bool:
    shortfall = declared - decoded
    return shortfall > MAX_SHORTFALL_SECONDS or shortfall > MAX_SHORTFALL_FRACTION * declared


def _seconds(value: Fraction | None) -> str:
    return "?" if value is None else f"{float(value):.2f} s"
