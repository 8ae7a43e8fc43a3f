"""Segment-Guided Matching (spec §6): colour-piece segmentation, global segment matching and a
coarse piece-wise flow in both directions, fast enough to run inline for every frame pair.

Use :func:`sgm_flows` (frames (H, W, 3) uint8 RGB → :class:`SGMResult` with flows at the input
size, in input pixels, channel 0 = x, 0 where invalid).
"""

from models.sgm.config import SGMConfig, SGMInputError, VGGWeightsError
from models.sgm.sgm import SGMResult, resolve_descriptor, sgm_flows

__all__ = ["SGMConfig", "SGMInputError", "SGMResult", "VGGWeightsError", "resolve_descriptor", "sgm_flows"]
