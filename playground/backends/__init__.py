"""Backends and dispatch: choose a backend by preference and health, fall back on availability only.

`run(request)` validates the request, walks the backends `auto` allows (or the one named), and
returns the first Result. Only `BackendUnavailable` and `TransportError` move `auto` on to the
next backend; the user's own validation errors and provider refusals are raised at once. The
Result's `tried` lists every backend tried and why it moved on.

Backends are found by name in a registry (`register`, `get_backend`, `set_backend`) and all answer
the protocol in `base.py`, so nothing here asks which one it holds. A backend that `uses_gpu` runs
inside a `spaces.GPU` allocation on a ZeroGPU Space (see playground.zerogpu).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from playground import zerogpu
from playground.backends.base import Backend, Keys, Progress
from playground.backends.fal import FalBackend
from playground.backends.local import LocalBackend
from playground.backends.replicate import ReplicateBackend
from playground.errors import BackendUnavailable, TransportError
from playground.params import ValidationError
from playground.request import Prepared, Request, Result
from playground.validation import for_backend, validate

DEFAULT_ORDER: tuple[str, ...] = ("local", "fal", "replicate")

# Backend name (the key of the catalog routes it serves) → how to make it. A new backend is one
# `register` call; dispatch below never asks which backend it holds.
_factories: dict[str, Callable[[], Backend]] = {
    "local": LocalBackend,
    "fal": FalBackend,
    "replicate": ReplicateBackend,
}
_backends: dict[str, Backend] = {}
_backends_lock = threading.Lock()


def register(name: str, factory: Callable[[], Backend]) -> None:
    """Make backend `name` available, created by `factory` on first use (replacing any earlier one)."""
    with _backends_lock:
        _factories[name] = factory
        _backends.pop(name, None)


def get_backend(name: str) -> Backend:
    """The process-wide backend object for `name` (created on first use)."""
    with _backends_lock:
        if name not in _backends:
            factory = _factories.get(name)
            if factory is None:
                raise BackendUnavailable(f"Backend {name} is not available in this build.")
            _backends[name] = factory()
        return _backends[name]


def set_backend(name: str, backend: Backend) -> None:
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


def health(name: str, prepared: Prepared, keys: Keys | None = None) -> tuple[bool, str]:
    """Whether backend `name` can take this request now, and why not."""
    try:
        backend = get_backend(name)
    except BackendUnavailable as err:
        return False, str(err)
    return backend.health(prepared.model, keys=keys or {}, auto=prepared.backend == "auto")


def estimate(prepared: Prepared, backend: str) -> float | None:
    """Estimated dollars for running `prepared` on `backend` (local: 0; unknown price or backend: None)."""
    try:
        return get_backend(backend).estimate(prepared)
    except BackendUnavailable:
        return None


def availability(prepared: Prepared, keys: Keys | None = None) -> dict[str, tuple[bool, str]]:
    """For each backend of the model: whether it can run this request now, and why not."""
    return {name: health(name, prepared, keys) for name in prepared.model.backends}


def plan(prepared: Prepared, keys: Keys | None = None) -> dict[str, Any]:
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
        keys: Keys | None = None) -> Result:
    """Validate and run `request`, falling back across backends when `auto` allows it."""
    prepared = validate(request)
    return run_prepared(prepared, progress=progress, cancel=cancel, keys=keys)


def run_prepared(prepared: Prepared, progress: Progress | None = None, cancel: threading.Event | None = None,
                 keys: Keys | None = None) -> Result:
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
            keys: Keys | None) -> Result:
    backend = get_backend(name)
    if backend.uses_gpu and zerogpu.ACTIVE:
        result = _gpu_run(prepared)
        zerogpu.ran(prepared.model.id)
        return result
    return backend.run(prepared, progress=progress, cancel=cancel, keys=keys or {})


def _run_in_gpu_worker(prepared: Prepared) -> Result:
    """A run inside a ZeroGPU allocation: a forked worker that receives pickled arguments, so no
    progress callback, cancel event or keys cross; the backend is the worker's own (named by the
    narrowed request), which keeps the pipelines it loaded."""
    return get_backend(prepared.backend).run(prepared)


# Decorated at import, before the app starts, as ZeroGPU requires (unchanged without `spaces`).
_gpu_run = zerogpu.on_gpu(_run_in_gpu_worker)

__all__ = [
    "DEFAULT_ORDER", "Backend", "Progress", "auto_order", "availability", "candidates", "estimate", "get_backend",
    "health", "plan", "register", "run", "run_prepared", "set_backend",
]
