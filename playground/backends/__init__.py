"""Backends and dispatch: choose a backend by preference and health, fall back on availability only.

`run(request)` validates the request, walks the backends `auto` allows (or the one named), and
returns the first Result. Only `BackendUnavailable` and `TransportError` move `auto` on to the
next backend; the user's own validation errors and provider refusals are raised at once. The
Result's `tried` lists every backend tried and why it moved on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from playground import zerogpu
from playground.errors import BackendUnavailable, TransportError
from playground.params import ValidationError
from playground.request import Prepared, Request, Result
from playground.validation import for_backend, validate

Progress = Callable[[dict[str, Any]], None]
DEFAULT_ORDER: tuple[str, ...] = ("local", "fal", "replicate")

_backends: dict[str, Any] = {}
_backends_lock = threading.Lock()


def get_backend(name: str) -> Any:
    """The process-wide backend object for `name` (created on first use)."""
    with _backends_lock:
        if name not in _backends:
            if name == "local":
                from playground.backends.local import LocalBackend

                _backends[name] = LocalBackend()
            elif name == "fal":
                from playground.backends.fal import FalBackend

                _backends[name] = FalBackend()
            elif name == "replicate":
                from playground.backends.replicate import ReplicateBackend

                _backends[name] = ReplicateBackend()
            else:
                raise BackendUnavailable(f"Backend {name} is not available in this build.")
        return _backends[name]


def set_backend(name: str, backend: Any) -> None:
    """Install a backend object (used by the app at start-up and by tests with custom settings)."""
    with _backends_lock:
        _backends[name] = backend


def auto_order() -> tuple[str, ...]:
    """The order `auto` tries backends in: PLAYGROUND_AUTO_ORDER (comma-separated) or local, fal, replicate."""
    raw = os.environ.get("PLAYGROUND_AUTO_ORDER")
    if not raw:
        return DEFAULT_ORDER
    return tuple(b.strip() for b in raw.split(",") if b.strip())


def candidates(prepared: Prepared) -> list[str]:
    """Backends to try for a request, in order."""
    if prepared.backend != "auto":
        return [prepared.backend]
    return [b for b in auto_order() if b in prepared.model.backends]


def health(name: str, prepared: Prepared, keys: dict[str, str] | None = None) -> tuple[bool, str]:
    """Whether backend `name` can take this request now, and why not."""
    try:
        backend = get_backend(name)
    except BackendUnavailable as err:
        return False, str(err)
    if name == "local":
        return backend.health(prepared.model, require_gpu=prepared.backend == "auto")
    return backend.health(prepared.model, keys or {})


def estimate(prepared: Prepared, backend: str) -> float | None:
    """Estimated dollars for running `prepared` on `backend` (local: 0; unknown price: None)."""
    if backend == "local":
        return 0.0
    from playground.backends.hosted import estimate_cost
    from playground.catalog import HostedRoute

    route = prepared.model.routes.get(backend)
    return estimate_cost(prepared, route) if isinstance(route, HostedRoute) else None


def availability(prepared: Prepared, keys: dict[str, str] | None = None) -> dict[str, tuple[bool, str]]:
    """For each backend of the model: whether it can run this request now, and why not."""
    return {name: health(name, prepared, keys) for name in prepared.model.backends}


def plan(prepared: Prepared, keys: dict[str, str] | None = None) -> dict[str, Any]:
    """The backend a run would use (`auto` resolved), its estimated cost, and why others were passed over."""
    passed: list[dict[str, str]] = []
    for name in candidates(prepared):
        ok, why = health(name, prepared, keys)
        if ok:
            try:
                narrowed = for_backend(prepared, name)
            except ValidationError as err:
                passed.append({"backend": name, "reason": err.describe()})
                continue
            return {"backend": name, "ready": True, "cost": estimate(narrowed, name), "why": why, "passed": passed}
        passed.append({"backend": name, "reason": why})
    return {"backend": None, "ready": False, "cost": None, "why": "no backend can run it now", "passed": passed}


def run(request: Request, progress: Progress | None = None, cancel: threading.Event | None = None,
        keys: dict[str, str] | None = None) -> Result:
    """Validate and run `request`, falling back across backends when `auto` allows it."""
    prepared = validate(request)
    return run_prepared(prepared, progress=progress, cancel=cancel, keys=keys)


def run_prepared(prepared: Prepared, progress: Progress | None = None, cancel: threading.Event | None = None,
                 keys: dict[str, str] | None = None) -> Result:
    """Run an already validated request; see `run`."""
    tried: list[dict[str, str]] = []
    order = candidates(prepared)
    for name in order:
        ok, why = health(name, prepared, keys)
        if not ok:
            tried.append({"backend": name, "outcome": "skipped", "reason": why})
            if prepared.backend != "auto":
                raise BackendUnavailable(f"{name} cannot run {prepared.model.id}: {why}")
            continue
        try:
            narrowed = for_backend(prepared, name)
        except ValidationError as err:
            if prepared.backend != "auto":
                raise
            tried.append({"backend": name, "outcome": "skipped", "reason": err.describe()})
            continue
        try:
            result = _run_on(name, narrowed, progress, cancel, keys)
        except (BackendUnavailable, TransportError) as err:
            tried.append({"backend": name, "outcome": "failed", "reason": str(err)})
            if prepared.backend != "auto":
                raise
            continue
        tried.append({"backend": name, "outcome": "ran", "reason": why})
        result.tried = tried
        return result
    reasons = "; ".join(f"{t['backend']}: {t['reason']}" for t in tried) or "no backend serves it"
    raise BackendUnavailable(f"No backend could run {prepared.model.id} ({prepared.mode}). {reasons}")


def _run_on(name: str, prepared: Prepared, progress: Progress | None, cancel: threading.Event | None,
            keys: dict[str, str] | None) -> Result:
    backend = get_backend(name)
    if name == "local" and zerogpu.ACTIVE:
        result = _local_on_gpu(prepared)
        zerogpu.ran(prepared.model.id)
        return result
    if name == "local":
        return backend.run(prepared, progress=progress, cancel=cancel)
    return backend.run(prepared, progress=progress, cancel=cancel, keys=keys or {})


def _run_local(prepared: Prepared) -> Result:
    """A local run inside a ZeroGPU allocation: a forked worker that receives pickled arguments,
    so no progress callback or cancel event crosses; it keeps the pipelines it loaded."""
    return get_backend("local").run(prepared)


# Decorated at import, before the app starts, as ZeroGPU requires (unchanged without `spaces`).
_local_on_gpu = zerogpu.on_gpu(_run_local)
