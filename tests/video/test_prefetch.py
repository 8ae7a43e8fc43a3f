"""BackgroundIterator: bounded read-ahead, error hand-over, clean stop."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from animeinterp_cli.video.prefetch import BackgroundIterator


def test_items_arrive_in_order():
    with BackgroundIterator(lambda: range(10), maxsize=3, name="t") as items:
        assert list(items) == list(range(10))
    assert not items.thread_alive


def test_producer_stays_at_most_maxsize_ahead():
    produced = []

    def counting():
        for n in itertools.count():
            produced.append(n)
            yield n

    items = BackgroundIterator(counting, maxsize=3, name="t")
    assert [next(items), next(items)] == [0, 1]
    time.sleep(0.2)  # plenty of time to run ahead if it could
    # Two consumed, three queued, one more in hand waiting for room.
    assert len(produced) <= 2 + 3 + 1
    items.close()
    assert not items.thread_alive


def test_producer_error_follows_the_items_before_it():
    def failing():
        yield 1
        yield 2
        raise ValueError("bad frame")

    items = BackgroundIterator(failing, maxsize=8, name="t")
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(ValueError, match="bad frame"):
        next(items)
    assert not items.thread_alive


def test_close_stops_the_producer_and_closes_its_generator():
    closed = threading.Event()

    def endless():
        try:
            yield from itertools.count()
        finally:
            closed.set()

    items = BackgroundIterator(endless, maxsize=1, name="t")
    next(items)
    items.close()
    assert closed.is_set() and not items.thread_alive


def test_maxsize_must_be_positive():
    with pytest.raises(ValueError, match="maxsize"):
        BackgroundIterator(lambda: [], maxsize=0, name="t")
