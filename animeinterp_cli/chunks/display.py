"""One rich display for a run on stderr: pass 1, then all chunks at once.

:class:`ChunkDisplay` is also an ordinary :class:`~animeinterp_cli.api.Progress` (``start``,
``advance``, ``stop``: one bar), so the CLI uses it for every run of ``double`` and
``batch``; a chunked run adds an overall bar (output frames of all chunks, finished and
reused ones included) and one bar per chunk being made, removed when it is done.
:func:`as_display` adapts any plain Progress to the chunk calls (one overall bar).
"""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from animeinterp_cli import console


class ChunkDisplay:
    """The rich display (silent when ``quiet``, as :class:`~animeinterp_cli.console.RichProgress`:
    ``-q`` prints only errors and warnings)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._progress: Progress | None = None
        self._phase: TaskID | None = None
        self._overall: TaskID | None = None
        self._rows: dict[Any, TaskID] = {}
        self._counted: dict[Any, int] = {}
        self._chunks = (0, 0)  # (done, total)

    def _live(self) -> Progress | None:
        if self.quiet:
            return None
        if self._progress is None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console._RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console.stderr,
                transient=False,
            )
            self._progress.start()
        return self._progress

    # -- the plain Progress protocol (pass 1, a one-piece pass 2) ----------------------

    def start(self, description: str, total: int) -> None:
        live = self._live()
        if live is not None:
            self._finish_phase()
            self._phase = live.add_task(description, total=total or None)

    def advance(self, count: int = 1) -> None:
        if self._progress is not None and self._phase is not None:
            self._progress.advance(self._phase, count)

    def stop(self) -> None:
        """End the current bar; the display ends with :meth:`end` (or here, outside chunking)."""
        self._finish_phase()
        if self._overall is None:
            self.end()

    def _finish_phase(self) -> None:
        self._phase = None

    # -- chunks ----------------------------------------------------------------------------

    def begin_chunks(self, total_frames: int, done_frames: int, chunks: int, done_chunks: int) -> None:
        live = self._live()
        self._chunks = (done_chunks, chunks)
        if live is not None:
            self._finish_phase()
            self._overall = live.add_task(self._overall_label(), total=total_frames, completed=done_frames)

    def _overall_label(self) -> str:
        done, total = self._chunks
        return f"all chunks ({done}/{total} done)"

    def chunk_started(self, key: Any, label: str, frames: int) -> None:
        self._counted[key] = 0
        if self._progress is not None:
            self._rows[key] = self._progress.add_task(f"  {label}", total=frames)

    def chunk_advanced(self, key: Any, count: int) -> None:
        if key not in self._counted:
            return
        self._counted[key] += count
        if self._progress is not None:
            if key in self._rows:
                self._progress.advance(self._rows[key], count)
            if self._overall is not None:
                self._progress.advance(self._overall, count)

    def chunk_finished(self, key: Any, frames: int) -> None:
        """The chunk is done: its remaining frames count, its bar goes."""
        counted = self._counted.pop(key, 0)
        done, total = self._chunks
        self._chunks = (done + 1, total)
        if self._progress is not None:
            if self._overall is not None:
                self._progress.update(self._overall, advance=max(0, frames - counted), description=self._overall_label())
            self._drop_row(key)

    def chunk_abandoned(self, key: Any) -> None:
        """The chunk failed: take back its frames (it will run again, or is reported)."""
        counted = self._counted.pop(key, 0)
        if self._progress is not None:
            if self._overall is not None:
                self._progress.update(self._overall, advance=-counted)
            self._drop_row(key)

    def _drop_row(self, key: Any) -> None:
        row = self._rows.pop(key, None)
        if row is not None and self._progress is not None:
            self._progress.remove_task(row)

    def end(self) -> None:
        if self._progress is not None:
            progress, self._progress = self._progress, None
            try:
                progress.stop()
            except OSError:  # the terminal closed under us (SIGHUP): nothing left to draw on
                pass
        self._phase = self._overall = None
        self._rows.clear()


class _PlainDisplay:
    """The chunk calls on a plain Progress: one overall bar."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress

    def start(self, description: str, total: int) -> None:
        self._progress.start(description, total)

    def advance(self, count: int = 1) -> None:
        self._progress.advance(count)

    def stop(self) -> None:
        self._progress.stop()

    def begin_chunks(self, total_frames: int, done_frames: int, chunks: int, done_chunks: int) -> None:
        self._progress.start("interpolating", total_frames)
        if done_frames:
            self._progress.advance(done_frames)
        self._counted: dict[Any, int] = {}

    def chunk_started(self, key: Any, label: str, frames: int) -> None:
        self._counted[key] = 0

    def chunk_advanced(self, key: Any, count: int) -> None:
        self._counted[key] = self._counted.get(key, 0) + count
        self._progress.advance(count)

    def chunk_finished(self, key: Any, frames: int) -> None:
        self._progress.advance(max(0, frames - self._counted.pop(key, 0)))

    def chunk_abandoned(self, key: Any) -> None:
        self._counted.pop(key, None)

    def end(self) -> None:
        self._progress.stop()


def as_display(progress: Any) -> Any:
    """``progress`` itself when it knows chunks, else a one-bar adapter."""
    return progress if hasattr(progress, "begin_chunks") else _PlainDisplay(progress)
