"""Progress shown while a run is in flight: backend events as Gradio progress, and turns on the
local device."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from playground.errors import Cancelled

log = logging.getLogger("playground.ui")


class ProgressRelay:
    """Turns backend progress events into calls of a Gradio-style `progress(value, desc=...)`.

    Gradio shows a description only next to a number, so stages without one (queue, submitted,
    provider logs) repeat the last known fraction; tqdm lines in provider logs count as steps, and
    local loading counts the pipeline's components.
    """

    def __init__(self, progress: Callable[..., Any] | None):
        self.progress = progress
        self.backend = ""
        self.value: float | tuple[int, int] = 0.0

    def say(self, desc: str, value: float | tuple[int, int] | None = None, unit: str = "steps") -> None:
        if value is not None:
            self.value = value
        if self.progress is None:
            return
        try:
            self.progress(self.value, desc=desc, unit=unit)
        except Exception:  # noqa: BLE001 - progress is best effort
            log.debug("progress update failed", exc_info=True)

    def __call__(self, event: dict[str, Any]) -> None:
        stage = event.get("stage")
        where = f" on {self.backend}" if self.backend else ""
        if stage == "step" and event.get("total"):
            step, total = int(event.get("step", 0)), int(event["total"])
            self.say(f"Step {step}/{total}{where}", (min(step, total), total))
        elif stage == "queue":
            self.say(f"Waiting in the provider's queue{where}: position {event.get('position')}")
        elif stage == "submitted":
            self.say(f"Submitted{where} (request {event.get('request_id')})")
        elif stage == "log" and event.get("message"):
            message = str(event["message"])
            found = _STEP_IN_LOG.search(message)
            if found and 0 < int(found.group(2)):
                step, total = int(found.group(1)), int(found.group(2))
                self.say(f"Step {step}/{total}{where}", (min(step, total), total))
            else:
                self.say(message[:120])
        elif stage == "loading" and event.get("total"):
            done, total = int(event.get("done", 0)), int(event["total"])
            counted = (min(done, total), total)
            if event.get("component"):
                desc = f"Loading the weights of {event.get('model')}{where}: {event['component']} ({done}/{total})"
            else:  # all loaded; what is left is putting the pipeline together and on its device
                desc = f"Loaded the weights of {event.get('model')}{where} ({done}/{total}); preparing the pipeline"
            self.say(desc, counted, unit="components")
        elif stage == "loading":
            self.say(f"Loading the weights of {event.get('model')}{where} (once per model; can take minutes)")
        elif stage in ("starting", "processing", "running"):
            self.say(f"{str(stage).capitalize()}{where}")


# A tqdm progress line, as providers forward them from the model: " 50%|#####     | 14/28 [00:02<00:02]".
_STEP_IN_LOG = re.compile(r"\d+%\|[^|]*\|\s*(\d+)/(\d+)")


class LocalTurns:
    """Runs waiting for or using the local device, in arrival order: the first holds the device.

    `enter` takes a place in line; `wait` blocks until it is first, reporting how many runs are
    ahead each time that number changes; `leave` gives the place up (and wakes the others).
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._line: list[object] = []

    @property
    def active(self) -> int:
        return len(self._line)

    def enter(self) -> object:
        with self._turn:
            ticket = object()
            self._line.append(ticket)
            return ticket

    def ahead(self, ticket: object) -> int:
        with self._turn:
            return self._line.index(ticket) if ticket in self._line else 0

    def wait(self, ticket: object, report: Callable[[int], Any], cancel: threading.Event | None = None) -> None:
        """Block until `ticket` is first in line; `report(n)` whenever n runs are ahead (n > 0).
        Raises Cancelled (and leaves the line) if `cancel` is set while waiting."""
        last = None
        while True:
            with self._turn:
                ahead = self._line.index(ticket)
                if ahead == 0:
                    return
                if cancel is not None and cancel.is_set():
                    self._line.remove(ticket)
                    self._turn.notify_all()
                    raise Cancelled("Cancelled while waiting for the local device.")
            if ahead != last:
                report(ahead)
                last = ahead
            with self._turn:
                self._turn.wait(timeout=0.25)

    def leave(self, ticket: object) -> None:
        with self._turn:
            if ticket in self._line:
                self._line.remove(ticket)
            self._turn.notify_all()


LOCAL_TURNS = LocalTurns()
