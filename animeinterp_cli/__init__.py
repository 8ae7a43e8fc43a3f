"""animeinterp: frame-rate doubling for animation video with the AnimeInterp pipeline."""

__version__ = "0.1.0"
