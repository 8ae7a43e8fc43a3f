"""Recurrent Flow Refinement (spec §3): encoder, correlation, update block, the RFR loop."""

from models.rfr.rfr import RFR, convex_upsample

__all__ = ["RFR", "convex_upsample"]
