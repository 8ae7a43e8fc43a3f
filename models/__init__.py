"""AnimeInterp models: geometry ops, SGM, RFR, synthesis, and the classic baseline.

This package imports nothing from ``animeinterp_cli``: data flows one way, CLI → models.
"""
