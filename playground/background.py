"""Background runs: a progress callback made safe across worker threads. Used by grids and drifts alike
(the page streams them with ui.compare_api.follow)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

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
