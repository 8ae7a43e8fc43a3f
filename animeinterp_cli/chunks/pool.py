"""Where chunks run: in this process (:class:`LocalPool`) or on Ray actors (:class:`RayPool`).

Both have one interface, which the driver's scheduling loop uses: ``analyse`` (pass 1 of every
file), ``start`` (load the model on every worker), ``idle``/``submit`` (hand a chunk to a free
worker), ``progress`` (frames written since the last call, per chunk), ``wait`` (chunks that
ended, each with its :class:`~.worker.ChunkResult` or the exception that stopped it) and
``close``.

Ray is an optional dependency (``pip install -e ".[cluster]"``). :class:`RayPool` starts one
actor per worker at once, each holding a :class:`~.worker.ChunkMaker` (the model is loaded
once per worker, not per chunk): one GPU each when the cluster has GPUs (and ``--device`` is
not ``cpu``), else an equal share of the cluster's CPU cores. The same actors run pass 1 of
the files, in parallel, while the others still load the model. Workers read the source at the same path as the driver (a shared file
system on a multi-machine cluster) and return each chunk file's bytes through Ray's object
store, so only the driver writes into the work folder. An actor that dies (out of memory, a
lost node) is replaced; its chunk fails like any other and is retried once by the driver.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from animeinterp_cli.chunks.worker import ChunkMaker, ChunkResult, ChunkTask
from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.schedule.detect import DetectConfig, PairScores
from animeinterp_cli.video.decode import VideoInfo

INSTALL_HINT = 'pip install -e ".[cluster]" in the checkout, or pip install "ray>=2.30"'

Outcome = ChunkResult | BaseException
Analysis = tuple[int, list[Fraction], list[PairScores]]


def ray_or_none() -> Any:
    """The ``ray`` module, or None when it is not installed (an optional dependency: typed Any)."""
    try:
        import ray  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    return ray


def require_ray(workers: int, address: str | None) -> Any:
    ray = ray_or_none()
    if ray is None:
        asked = f"--workers {workers}" if workers > 1 else f"--ray-address {address}"
        raise AnimeInterpError(f"{asked} needs Ray, which is not installed: {INSTALL_HINT}")
    return ray


class LocalPool:
    """One worker: this process, one chunk at a time."""

    def __init__(self, config, note: Callable[[str], None], warn: Callable[[str], None] | None = None, built=None) -> None:
        # the method is built now, before any frame is decoded (a bad weights file fails first)
        self._config = config
        self._maker: ChunkMaker | None = ChunkMaker(config, note, warn, built)
        self.workers = 1
        self._finished: list[tuple[ChunkTask, Outcome]] = []
        self._progress: dict[tuple[int, int], int] = {}
        #: called with (chunk key, frames) while a chunk is being made (submit blocks)
        self.on_progress: Callable[[tuple[int, int], int], None] = lambda key, count: None
        self.placement: str | None = self._maker.placement
        self.method: str | None = self._maker.method

    def analyse(
        self, sources: Sequence[tuple[Path, VideoInfo]], detect: DetectConfig, progress, strict: bool = False,
        warn: Callable[[str], None] = lambda message: None,
    ) -> Iterator[Analysis]:
        from animeinterp_cli.api import analyse_video

        for index, (path, info) in enumerate(sources):
            times, scores = analyse_video(path, info, detect, progress, strict=strict, warn=warn)
            yield index, times, scores

    def start(self, synthesized_total: int) -> None:
        assert self._maker is not None, "the pool is closed"
        self._maker.configure(synthesized_total)

    @property
    def idle(self) -> int:
        return 0 if self._finished else 1

    @property
    def busy(self) -> int:
        return len(self._finished)

    def submit(self, task: ChunkTask) -> None:
        """Make the chunk now (into ``task.dest``); its outcome is the next ``wait``'s."""
        assert self._maker is not None, "the pool is closed"
        try:
            outcome: Outcome = self._maker.make(task, task.dest, lambda count: self.on_progress(task.key, count))
        except Exception as error:  # noqa: BLE001 - reported (and retried) by the driver
            outcome = error
        self._finished.append((task, outcome))

    def progress(self) -> dict[tuple[int, int], int]:
        return {}

    def wait(self, timeout: float) -> list[tuple[ChunkTask, Outcome]]:
        finished, self._finished = self._finished, []
        return finished

    def close(self) -> None:
        self._maker = None


# -- Ray ------------------------------------------------------------------------------------


class _Counter:
    """Frames written per chunk since the last ``take`` (a Ray actor; workers add to it)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, int], int] = {}

    def add(self, key: tuple[int, int], count: int) -> None:
        self._counts[key] = self._counts.get(key, 0) + count

    def take(self) -> dict[tuple[int, int], int]:
        counts, self._counts = self._counts, {}
        return counts


class _Worker:
    """A Ray actor: one ChunkMaker (the model, loaded once), making chunks into bytes."""

    def __init__(self, config, threads: int | None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        self._notes: list[str] = []
        self._warnings: list[str] = []
        # A failure here (bad weights, no such device) is kept and raised by every call: Ray
        # reports an error of the creation task only as text, a call's error as the exception.
        self._failure: Exception | None = None
        try:
            self._maker = ChunkMaker(config, self._notes.append, self._warnings.append)
        except Exception as error:  # noqa: BLE001 - re-raised by the calls below
            self._failure = error

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure

    def ready(self) -> bool:
        self._check()
        return True

    def analyse(
        self, path: Path, info: VideoInfo, detect: DetectConfig, strict: bool
    ) -> tuple[list[Fraction], list[PairScores], list[str]]:
        """Pass 1 of a file: its times and scores, and the warnings it gave (a truncated file)."""
        self._check()
        warnings_before = len(self._warnings)
        times, scores = self._maker.analyse(path, info, detect, strict)
        said = self._warnings[warnings_before:]
        del self._warnings[warnings_before:]
        return times, scores, said

    def configure(self, synthesized_total: int) -> tuple[list[str], list[str]]:
        """Compile when it pays; the notes and warnings so far (the method's, the compiler's)."""
        self._check()
        self._maker.configure(synthesized_total)
        notes, self._notes = self._notes, []
        warnings, self._warnings = self._warnings, []
        return notes, warnings

    def make(self, task: ChunkTask, counter: Any) -> ChunkResult:
        self._check()
        folder = Path(tempfile.mkdtemp(prefix="animeinterp-chunk-"))
        pending, last = 0, time.monotonic()

        def tick(count: int) -> None:
            nonlocal pending, last
            pending += count
            if time.monotonic() - last >= 0.3:
                counter.add.remote(task.key, pending)
                pending, last = 0, time.monotonic()

        try:
            path = folder / f"chunk{task.dest.suffix}"
            result = self._maker.make(task, path, tick)
            result.data = path.read_bytes()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        result.notes, self._notes = self._notes, []
        result.warnings, self._warnings = self._warnings, []
        return result


def _check_reachable(address: str) -> None:
    """Fail in one line, at once, when a HOST:PORT address does not answer (Ray itself retries
    for minutes); other forms (``auto``, ``ray://…``) are left to Ray."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise AnimeInterpError(f"cannot reach the Ray cluster at {address}: {reason}") from None


def _line(error: BaseException) -> str:
    """The first line of a Ray error's text, without its terminal colours, at most 200 characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def _unwrap(ray, error: BaseException) -> BaseException:
    """The worker's own exception inside Ray's wrapper, when there is one."""
    if isinstance(error, ray.exceptions.RayTaskError):
        cause = getattr(error, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    return error


class RayPool:
    """``workers`` Ray actors, each holding the model; local Ray unless ``address`` is given."""

    def __init__(
        self, config, workers: int, address: str | None, note: Callable[[str], None],
        warn: Callable[[str], None] | None = None,
    ) -> None:
        ray = require_ray(workers, address)
        self._ray = ray
        self._config = config
        self._note = note
        self._warn = warn or note
        self._started_here = not ray.is_initialized()
        if self._started_here:
            if address is not None:
                _check_reachable(address)
            try:
                ray.init(
                    address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                    configure_logging=True,
                )  # fmt: skip
            except Exception as error:  # noqa: BLE001 - Ray raises many kinds; one line for the user
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise AnimeInterpError(f"cannot start {where}: {_line(error)}") from error
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        if gpus and config.device != "cpu":
            self._options: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1}
            self._threads = None
            self.workers = min(workers, gpus)
            unit = f"{gpus} GPU" + ("s" if gpus > 1 else "")
        else:
            self.workers = min(workers, cpus)
            share = max(1, cpus // self.workers)
            self._options = {"num_cpus": share}
            self._threads = share
            unit = f"{cpus} CPU core" + ("s" if cpus > 1 else "")
        if self.workers < workers:
            note(f"the Ray cluster has {unit}: running {self.workers} workers, not {workers}")
        self._running: dict[Any, tuple[ChunkTask, Any]] = {}
        self._counter = None
        self.method: str | None = None  # (each worker says, with each chunk)
        self.placement: str | None = None
        self._synthesized_total = 0
        self.on_progress: Callable[[tuple[int, int], int], None] = lambda key, count: None
        # the workers start now: each loads the model while pass 1 runs
        self._actors: list[Any] = [self._new_actor() for _ in range(self.workers)]
        self._idle: list[Any] = []

    # pass 1 ----------------------------------------------------------------------------

    def analyse(
        self, sources: Sequence[tuple[Path, VideoInfo]], detect: DetectConfig, progress, strict: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[Analysis]:
        """Pass 1 of the files on the workers (which load the model meanwhile), in parallel."""
        ray = self._ray
        warn = warn or self._warn
        pending = {
            self._actors[index % len(self._actors)].analyse.remote(path, info, detect, strict): index
            for index, (path, info) in enumerate(sources)
        }
        progress.start("analysing" if len(sources) == 1 else f"analysing {len(sources)} files", len(sources))
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    index = pending.pop(ref)
                    try:
                        times, scores, warnings = ray.get(ref)
                    except ray.exceptions.RayActorError as error:
                        raise AnimeInterpError(f"a Ray worker died during pass 1 of {sources[index][0]}: {_line(error)}") from None
                    except ray.exceptions.RayError as error:
                        raise _unwrap(ray, error) from None
                    for message in warnings:
                        warn(message)
                    progress.advance()
                    yield index, times, scores
        finally:
            for ref in pending:
                ray.cancel(ref)
            progress.stop()

    # chunks ----------------------------------------------------------------------------

    def _new_actor(self) -> Any:
        actor_class = self._ray.remote(_Worker)
        return actor_class.options(**self._options).remote(self._config, self._threads)

    def start(self, synthesized_total: int) -> None:
        """Tell the workers how much there is to synthesise (they compile when it pays)."""
        ray = self._ray
        self._synthesized_total = synthesized_total
        self._counter = ray.remote(num_cpus=0)(_Counter).remote()
        try:
            for notes, warnings in ray.get([actor.configure.remote(synthesized_total) for actor in self._actors]):
                for message in notes:
                    self._note(message)
                for message in warnings:
                    self._warn(message)
        except ray.exceptions.RayError as error:
            raise _unwrap(ray, error) from None
        self._idle = list(self._actors)

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def busy(self) -> int:
        return len(self._running)

    def submit(self, task: ChunkTask) -> None:
        actor = self._idle.pop(0)
        self._running[actor.make.remote(task, self._counter)] = (task, actor)

    def progress(self) -> dict[tuple[int, int], int]:
        if self._counter is None:
            return {}
        return self._ray.get(self._counter.take.remote())

    def wait(self, timeout: float) -> list[tuple[ChunkTask, Outcome]]:
        ray = self._ray
        if not self._running:
            return []
        ready, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=timeout)
        finished = []
        for ref in ready:
            task, actor = self._running.pop(ref)
            try:
                outcome: Outcome = ray.get(ref)
                self._idle.append(actor)
            except ray.exceptions.RayActorError as error:  # the worker died: replace it
                outcome = AnimeInterpError(f"the worker died ({_line(error)})")
                self._replace(actor)
            except ray.exceptions.RayError as error:
                outcome = _unwrap(ray, error)
                self._idle.append(actor)
            finished.append((task, outcome))
        return finished

    def _replace(self, actor: Any) -> None:
        try:
            self._ray.kill(actor)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self._actors.remove(actor)
        fresh = self._new_actor()
        fresh.configure.remote(self._synthesized_total)  # (actor calls run in order)
        self._actors.append(fresh)
        self._idle.append(fresh)

    def close(self) -> None:
        ray = self._ray
        for actor in self._actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - best effort while stopping
                pass
        self._actors, self._idle, self._running = [], [], {}
        if self._started_here and ray.is_initialized():
            ray.shutdown()


def make_pool(
    config, workers: int, address: str | None, note: Callable[[str], None], warn: Callable[[str], None] | None = None,
    built=None,
):
    """In-process for one worker and no cluster address, else Ray (which must be installed).
    ``built``: the in-process worker's method, already built (see :class:`~.worker.ChunkMaker`)."""
    if workers > 1 or address is not None:
        return RayPool(config, workers, address, note, warn)
    return LocalPool(config, note, warn, built)
