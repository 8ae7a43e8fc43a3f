"""Everything the CLI prints goes through here: rich on stderr, stdout left for results."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

stderr = Console(stderr=True, highlight=False)


class _RateColumn(ProgressColumn):
    """Frames per second of the running task."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} fps" if speed else "-- fps", style="progress.data.speed")


class RichProgress:
    """A progress bar on stderr (frames done, frames per second, ETA); silent when ``quiet``."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task = None

    def start(self, description: str, total: int) -> None:
        if self.quiet:
            return
        self.stop()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total or None)

    def advance(self, count: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, count)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def note(message: str) -> None:
    """A one-line notice (which method, a stream that could not be copied, …)."""
    stderr.print(f"[yellow]note:[/] {escape(message)}", soft_wrap=True)


def error(message: str) -> None:
    stderr.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
