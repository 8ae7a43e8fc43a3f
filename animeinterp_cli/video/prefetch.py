"""A bounded background iterator: one producer thread, one consumer, a queue in between.

The producer runs ``make_items()`` in a daemon thread and hands items over a queue of at most
``maxsize`` entries, so memory stays bounded whatever the consumer's speed. An exception in
the producer is re-raised in the consumer (after the items produced before it). Closing the
iterator (``close()``, leaving a ``with`` block, or dropping the last reference) stops the
producer and joins its thread; a consumer interrupted by Ctrl-C therefore never leaves a
thread decoding in the background.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

# How often a blocked producer or consumer looks up from the queue to check for a stop
# request or a dead peer; short enough to feel instant, long enough to cost nothing.
_POLL_S = 0.05


class _Done:
    """End-of-items marker."""


class _Failure:
    """Carries the producer's exception to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def _produce(
    make_items: Callable[[], Iterable[T]], items: queue.Queue, stop: threading.Event
) -> None:
    # A plain function, not a method: the thread must not keep the iterator object alive,
    # so that dropping the last reference to it can stop the thread.
    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    try:
        iterator = iter(make_items())
        try:
            for item in iterator:
                if not put(item):
                    return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
        put(_Failure(error))
        return
    put(_Done())


class BackgroundIterator(Iterator[T], Generic[T]):
    """Iterate ``make_items()`` computed in a background thread, at most ``maxsize`` ahead."""

    def __init__(self, make_items: Callable[[], Iterable[T]], *, maxsize: int, name: str):
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._items: queue.Queue = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(
            target=_produce, args=(make_items, self._items, self._stop), name=name, daemon=True
        )
        self._thread.start()

    def __iter__(self) -> BackgroundIterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        while True:
            try:
                # A timeout keeps the wait interruptible (Ctrl-C) on every platform.
                item = self._items.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._items.empty():
                    self.close()
                    raise StopIteration from None
        if isinstance(item, _Done):
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        return item

    def close(self) -> None:
        """Stop the producer and wait for its thread to end. Safe to call more than once."""
        self._finished = True
        self._stop.set()
        while self._thread.is_alive():
            try:  # make room so a producer blocked on a full queue sees the stop request
                self._items.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(_POLL_S)
        while not self._items.empty():  # drop the remaining items (they may be large frames)
            self._items.get_nowait()

    @property
    def thread_alive(self) -> bool:
        """Whether the producer thread is still running (for tests and diagnostics)."""
        return self._thread.is_alive()

    def __enter__(self) -> BackgroundIterator[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if hasattr(self, "_thread"):  # __init__ may have failed before starting it
            self.close()
