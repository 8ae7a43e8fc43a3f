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
    TaskID,
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
        self._task: TaskID | None = None

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
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)

    def stop(self) -> None:
        if self._progress is not None:
            progress, self._progress = self._progress, None
            try:
                progress.stop()
            except OSError:  # the terminal closed under us (SIGHUP): nothing left to draw on
                pass


def note(message: str) -> None:
    """A one-line notice of what the tool chose (which method, a fallback, …); ``-q`` hides it."""
    _print(f"[yellow]note:[/] {escape(message)}")


def warning(message: str) -> None:
    """A one-line warning: something the user loses or should check (a truncated input, a
    stream left out, a size changed); shown even with ``-q``."""
    _print(f"[bold yellow]warning:[/] {escape(message)}")


def error(message: str) -> None:
    _print(f"[red]error:[/] {escape(message)}")


def _print(markup: str) -> None:  # messages are escaped: "[Group] Show [1080p].mkv" is a name
    try:
        stderr.print(markup, soft_wrap=True)
    except OSError:  # stderr gone (a closed terminal, a closed pipe): nobody to tell
        pass


class DownloadProgress:
    """A transfer's bar on stderr: bytes done of the total, rate, time left; silent when ``quiet``."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, url: str, total: int | None, done: int) -> None:
        if self.quiet:
            return
        from rich.progress import DownloadColumn, TransferSpeedColumn

        self.stop()
        if done:
            note(f"resuming at {done / 1e6:.1f} MB")
        self._progress = Progress(
            TextColumn("[bold]download"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("download", total=total, completed=done)

    def advance(self, count: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)

    def stop(self) -> None:
        if self._progress is not None:
            progress, self._progress = self._progress, None
            try:
                progress.stop()
            except OSError:  # the terminal closed under us (SIGHUP): nothing left to draw on
                pass
