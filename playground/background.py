"""Background runs: a progress callback made safe across worker threads, and a run in a thread read as
a generator (for streaming UI handlers). Used by grids and drifts alike."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

log = logging.getLogger("playground.background")

T = TypeVar("T")


def one_at_a_time(callback: Callable[[T], None] | None) -> Callable[[T], None]:
    """`callback` made safe to call from worker threads: one call at a time, exceptions logged, None ignored."""
    lock = threading.Lock()

    def emit(item: T) -> None:
        if callback is None:
            return
        with lock:
            try:
                callback(item)
            except Exception:  # noqa: BLE001 - a UI callback's failure must not stop the runs
                log.exception("progress callback failed")

    return emit


def run_in_background(run: Callable[[Callable[[Any], None], threading.Event], T],
                      cancel: threading.Event | None = None) -> Iterator[Any]:
    """Run `run(callback, cancel)` in a thread; yield what it passes to `callback`, then its return value.

    Its exception is raised here. Closing the generator early sets `cancel` and waits for the run.
    """
    stop = cancel or threading.Event()
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def target() -> None:
        try:
            events.put(("done", run(lambda item: events.put(("item", item)), stop)))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer to raise
            events.put(("error", err))

    thread = threading.Thread(target=target, name="playground-background", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            kind, item = events.get()
            if kind == "item":
                yield item
            elif kind == "error":
                finished = True
                raise item
            else:
                finished = True
                yield item
                return
    finally:
        if not finished:
            stop.set()
            thread.join()
