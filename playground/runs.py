"""The one run path every door calls: validate (if needed) → dispatch → build the record.

The page and its API endpoints (`ui.service`), the command line, every compare cell, every drift
step and every re-run call `run`, so a request's record is built in one place and cannot differ
by the door it came through. What a door does with the outcome (save files, draw a grid, compare
pixels) stays with the door.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playground import backends
from playground.records import build_record
from playground.request import Prepared, Request, Result
from playground.validation import validate

# Where every record comes from; grid and drift manifests name it.
RECORD_SOURCE = "playground.records.build_record"

Progress = Callable[[dict[str, Any]], None]


@dataclass
class Run:
    """A finished run: what came out, its reproducibility record (JSON-ready, keys scrubbed), the
    request as asked and as validation prepared it."""

    result: Result
    record: dict[str, Any]
    request: Request
    prepared: Prepared


def run(request: Request, *, prepared: Prepared | None = None, keys: dict[str, str] | None = None,
        progress: Progress | None = None, cancel: threading.Event | None = None) -> Run:
    """Run `request` and build its record.

    `prepared` is the request already validated (a door that validated to show every problem at
    once passes it on); without it the request is validated here. Dispatch falls back across
    backends as `backends.run_prepared` allows. The values of `keys` are scrubbed from the record.
    Raises what validation and dispatch raise (ValidationError, BackendUnavailable, ...).
    """
    prepared = prepared if prepared is not None else validate(request)
    result = backends.run_prepared(prepared, progress=progress, cancel=cancel, keys=keys)
    record = build_record(result, request, secrets=list((keys or {}).values()))
    return Run(result=result, record=record, request=request, prepared=prepared)


__all__ = ["RECORD_SOURCE", "Run", "run"]
