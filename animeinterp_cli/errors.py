"""User-facing errors.

Every failure the user can cause or fix is raised as an :class:`AnimeInterpError` whose
message is one line that names the problem; the CLI prints it and exits with status 1
(a traceback only with ``ANIMEINTERP_DEBUG=1``). A :class:`UsageError` exits with status 2,
like the command line's own usage errors.
"""


class AnimeInterpError(Exception):
    """A failure explained in one line to the user."""


class UsageError(AnimeInterpError):
    """Options that contradict each other or the input (e.g. ``--fps`` below the source's rate)."""


class InputError(AnimeInterpError):
    """The input (file, folder, frames) is missing, unreadable or unusable."""


class OutputError(AnimeInterpError):
    """The output path cannot be written as asked."""


class DecodeError(InputError):
    """The input video could not be decoded (not a video, truncated, corrupt)."""


class EncodeError(OutputError):
    """The output could not be encoded (unknown codec, unsupported container)."""


class WeightsError(AnimeInterpError):
    """A weights file is missing, corrupt, or does not match the model."""


class ConfigError(AnimeInterpError, ValueError):
    """A setting that is not one of its choices or out of its range (library callers; the
    command line refuses these itself, as usage errors)."""
