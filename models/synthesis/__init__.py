"""Synthesis (spec §2): feature pyramid, forward splatting, GridNet."""

from models.synthesis.gridnet import GridNet
from models.synthesis.pyramid import FeatureExtractor
from models.synthesis.splatting import ForwardSplatting, ImportanceMetric

__all__ = ["FeatureExtractor", "ForwardSplatting", "GridNet", "ImportanceMetric"]
