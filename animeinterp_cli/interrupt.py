"""SIGTERM and SIGHUP stop a run the way Ctrl-C does.

A service manager, ``timeout`` or ``kill`` sends SIGTERM; a closed terminal sends SIGHUP.
Python's default for both is to die on the spot, which skips every ``finally`` and so leaves
the hidden partial output behind. While :func:`termination_as_interrupt` is active, both
raise :class:`Interrupted` (a :class:`KeyboardInterrupt`) in the main thread instead, so the
run unwinds exactly as after Ctrl-C: threads joined, partial output removed. A repeated
SIGTERM or SIGHUP while the run is already unwinding is ignored, so the clean-up is not cut
short.

The exit status is the shell's convention for a death by signal: 128 + the signal number
(130 SIGINT, 129 SIGHUP, 143 SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: the signals turned into :class:`Interrupted` (SIGHUP does not exist on Windows)
SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A run stopped by a termination signal."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(signum: int) -> int:
    """128 + the signal number, as a shell reports a process killed by that signal."""
    return 128 + int(signum)


class Stop:
    """What :func:`termination_as_interrupt` saw: ``signum`` of the first stop signal, or None."""

    signum: int | None = None


@contextmanager
def termination_as_interrupt() -> Iterator[Stop]:
    """While active, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread,
    and the first of them is recorded in the :class:`Stop` it yields (a library between the
    signal and the caller may swallow the exception: Typer turns Ctrl-C into exit code 130).

    A repeated SIGTERM or SIGHUP while the run unwinds is ignored, so the clean-up finishes;
    a repeated Ctrl-C still interrupts, as Python's own handler does. The previous handlers
    come back on exit, and a signal ignored on entry (``nohup``) stays ignored. Outside the main thread (where Python cannot install handlers) it
    only yields.
    """
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        first = stop.signum is None
        if first:
            stop.signum = signum
        if first or signum == signal.SIGINT:
            raise Interrupted(signum)

    # A signal the parent chose to ignore stays ignored: `nohup` sets SIGHUP so, to survive
    # the terminal closing; a shell sets SIGINT so for a background job.
    wanted = [s for s in (signal.SIGINT, *SIGNALS) if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {signum: signal.signal(signum, handler) for signum in wanted}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
