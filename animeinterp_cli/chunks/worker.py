"""Making one chunk: decode its source frames by exact seek, run its slice of the plan, encode.

:class:`ChunkMaker` holds the method on its device (the model loaded once) and makes any
number of chunks, of any file, one after the other; it runs in the driver's process
(``--workers 1``) or inside a Ray actor (:mod:`.pool`). A :class:`ChunkTask` carries all a
chunk needs, so that a worker on another machine needs only the source file at the same
path: the plan's actions, the pass-1 times of the source frames it reads, and the output
rate and encoder settings. The chunk file's time 0 is the chunk's first output frame (a
keyframe, as the first frame of any encode), so :mod:`animeinterp_cli.video.stitch` only
adds ``task.start`` to every timestamp.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from animeinterp_cli.engine.execute import execute_plan
from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.schedule.plan import Action
from animeinterp_cli.video.decode import VideoInfo
from animeinterp_cli.video.encode import EncodeOptions, VideoWriter
from animeinterp_cli.video.seek import read_frame_range


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of one file, with everything needed to make it anywhere."""

    job: int  # which file of the run
    chunk: int  # which chunk of that file
    label: str  # for progress and messages: "episode01.mkv 3/24"
    source: Path
    info: VideoInfo
    rate: Fraction
    encode: EncodeOptions
    actions: tuple[Action, ...]
    first_frame: int
    last_frame: int
    times: tuple[Fraction, ...]  # pass-1 times of source frames first_frame..last_frame
    start: Fraction  # the time of the chunk's first output frame: its file's time 0
    dest: Path  # where the driver wants the file (a worker in the driver's process writes it there)
    cost: float = 0.0  # for largest-first scheduling

    @property
    def key(self) -> tuple[int, int]:
        return (self.job, self.chunk)

    @property
    def frames(self) -> int:
        return len(self.actions)


@dataclass
class ChunkResult:
    """What a worker reports for a finished chunk."""

    job: int
    chunk: int
    frames: int
    seconds: float
    method: str
    placement: str
    descriptor: str | None = None  # SGM descriptor used, when the method has one
    worker: str = ""  # host:pid of the process that made it
    made: int = 0  # chunks this worker's model has made, this one included
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data: bytes | None = None  # the chunk file, from a worker that could not write task.dest


class ChunkMaker:
    """Makes chunks with one method on one device (see the module docstring)."""

    def __init__(
        self, config, note: Callable[[str], None], warn: Callable[[str], None] | None = None, built=None
    ) -> None:
        """Build the method (or take ``built``, what ``api._make_runner(config)`` returned), and
        say what the user should know about it; ``warn`` hears what a chunk loses."""
        from animeinterp_cli.api import _make_runner

        self._config = config
        self._note = note
        self._warn = warn or note
        self.runner, summary, notes = built or _make_runner(config)
        for message in notes:
            note(message)
        self.made = 0
        self.method = summary.method
        self.placement = summary.placement
        self._configured = False

    def configure(self, synthesized_total: int) -> None:
        """Before the first chunk: compile the network if the whole run's syntheses
        (``synthesized_total``, every chunk of every file) repay it (``--compile auto``)."""
        from animeinterp_cli.api import compile_for

        if not self._configured:
            compile_for(self.runner, self._config.compile, synthesized_total, self._note)
            self._configured = True

    def analyse(self, path: Path, info: VideoInfo, detect, strict: bool = False) -> tuple[list[Fraction], list]:
        """Pass 1 of a file (a worker of a cluster does it where the file is read fastest); a
        truncated or damaged file is told to ``warn`` (refused when ``strict``)."""
        from animeinterp_cli.api import _Silent, analyse_video

        return analyse_video(path, info, detect, _Silent(), strict=strict, warn=self._warn)

    def make(self, task: ChunkTask, dest: Path, tick: Callable[[int], None] = lambda n: None) -> ChunkResult:
        """Encode ``task``'s frames into ``dest`` (a new file); ``tick(n)`` as frames are written."""
        started = time.perf_counter()
        written = 0
        frames = read_frame_range(task.source, task.times, task.first_frame, task.last_frame)
        with frames, VideoWriter(dest, task.info, task.rate, task.encode, copy_streams=False, warn=self._warn) as writer:
            for action, image in execute_plan(task.actions, frames, self.runner):
                writer.write(image, action.time - task.start)
                written += 1
                tick(1)
        if written != task.frames:
            raise AnimeInterpError(f"{task.label}: made {written} frames, the plan has {task.frames}")
        self.made += 1
        return ChunkResult(
            job=task.job,
            chunk=task.chunk,
            frames=written,
            seconds=time.perf_counter() - started,
            method=self.method,
            placement=self.placement,
            descriptor=getattr(self.runner.method, "last_descriptor", None),
            worker=f"{socket.gethostname()}:{os.getpid()}",
            made=self.made,
        )
