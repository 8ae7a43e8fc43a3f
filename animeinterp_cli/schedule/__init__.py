"""Timing: detect held drawings and scene cuts (``detect``), then decide every output frame (``plan``)."""

from animeinterp_cli.schedule.detect import DetectConfig, Detector, PairScores
from animeinterp_cli.schedule.plan import Action, Copy, Synthesize, Target, parse_rate, plan

__all__ = [
    "Action",
    "Copy",
    "DetectConfig",
    "Detector",
    "PairScores",
    "Synthesize",
    "Target",
    "parse_rate",
    "plan",
]
