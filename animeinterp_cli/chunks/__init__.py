"""Long jobs in chunks: cut at scene cuts, resumable, spread over Ray workers.

A chunked run of ``double`` (or ``batch``) goes:

1. pass 1 and the plan, as a one-piece run (:func:`animeinterp_cli.api.analyse_video`);
2. the plan split into chunks at scene cuts (:mod:`.split`), written to a manifest in the
   work folder ``.NAME.work/`` next to the output (:mod:`.workdir`);
3. every chunk not yet done decoded by exact seek (:mod:`animeinterp_cli.video.seek`),
   interpolated and encoded to its own file (:mod:`.worker`), in this process or on Ray
   actors that each hold the model (:mod:`.pool`), largest chunks first;
4. the chunk files remuxed into the output with the source's audio and subtitles, no
   re-encoding (:mod:`animeinterp_cli.video.stitch`); the output is renamed into place and
   the work folder removed.

An interrupted run keeps the finished chunks (if any) in the work folder; the same command
with ``--resume`` checks them against the source and settings and makes only the rest.
:mod:`.driver` ties it together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from animeinterp_cli.errors import ConfigError

#: default chunk length in seconds of source time
DEFAULT_CHUNK_SECONDS = 60.0


@dataclass(frozen=True)
class ChunkOptions:
    """How a run is split and where its chunks run.

    ``seconds``: target chunk length (0: one piece, no work folder); ``resume``: continue an
    interrupted run from its work folder; ``workers``: chunks made at once (more than one
    needs Ray); ``ray_address``: join this Ray cluster instead of starting a local one.
    """

    seconds: float = DEFAULT_CHUNK_SECONDS
    resume: bool = False
    workers: int = 1
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ConfigError(f"chunk length must be 0 (off) or positive, got {self.seconds}")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")

    @property
    def uses_ray(self) -> bool:
        return self.workers > 1 or self.ray_address is not None

    def applies(self, info: Any, output: Path, codec: str | None, note: Callable[[str], None]) -> bool:
        """Whether a run of ``double`` on this video, encoded with ``codec`` (the one the
        output gets, automatic choice made), goes through chunks: when it is longer than one
        chunk, or Ray is asked for, or an interrupted run's work folder is there. A video
        that fits in one chunk is made in one piece, as without chunking."""
        from animeinterp_cli.chunks.workdir import work_folder_for
        from animeinterp_cli.video.stitch import chunk_suffix

        if work_folder_for(output).is_dir():
            return True  # the driver resumes it, or refuses it without --resume
        if self.seconds == 0 and not self.uses_ray:
            return False
        if not self.uses_ray and info.duration is not None and info.duration <= self.seconds:
            return False
        if codec is not None and chunk_suffix(codec) is None and not self.uses_ray:
            note(f"{codec} cannot be written in chunks (no MP4 or QuickTime mapping): one piece, not resumable")
            return False
        return True
