"""What the page and the API share: check inputs, run requests off the event loop, estimate.

Every door (UI event, API endpoint) goes through `run`/`estimate` here, so both validate and fail
the same way. No Gradio components here; `describe_error` turns any failure into a (title,
message) pair fit to show, never a stack trace.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from playground import backends, runs
from playground.backends.hosted import KEY_ENV, HostedSettings, malformed_key
from playground.catalog import FAMILIES, MODELS, get_model
from playground.environment import env_int
from playground.errors import BackendUnavailable, Cancelled, PlaygroundError, ProviderError, TransportError
from playground.formats import FileFormat, choose
from playground.images import load_image
from playground.params import Problem, ValidationError, parse_size
from playground.preset_store import PresetStoreError, shipped_dir
from playground.presets import preset_slug
from playground.records import RecordError
from playground.request import Prepared, Request, Result
from playground.rerun import rerun_and_verify
from playground.storage import default_search_dirs
from playground.ui.outputs import inputs_dir, keep_inputs, save_outputs, upload_root
from playground.ui.progress import LOCAL_TURNS, ProgressRelay
from playground.validation import for_backend, resolve_params, validate

log = logging.getLogger("playground.ui")


@dataclass
class Outcome:
    """A finished run as the doors return it: saved files, the seed of the first image, the record."""

    files: list[str]
    seed: int
    backend: str
    record: dict[str, Any]
    result: Result
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def visitor_keys(fal_key: str | None, replicate_key: str | None, use_server_keys: bool = False) -> dict[str, str]:
    """The visitor's keys for this request only.

    A typed key is used as it is. An empty field is passed on as empty, which the backends refuse:
    it never silently becomes the server's key. A key that is not given at all (None, the API's
    default) or a field left empty by a visitor who ticked "use this server's keys" is left out,
    so the server's key applies where the operator lends it (PLAYGROUND_SERVER_KEYS=1). A key with
    whitespace or control characters inside is refused as malformed (ValidationError; never echoed).
    """
    keys: dict[str, str] = {}
    malformed = [Problem(f"{name}_key", "a key with spaces or control characters inside",
                         "the key exactly as the provider shows it (one line of printable characters)")
                 for name, key in (("fal", fal_key), ("replicate", replicate_key))
                 if isinstance(key, str) and malformed_key(key)]
    if malformed:
        raise ValidationError(malformed)
    for name, key in (("fal", fal_key), ("replicate", replicate_key)):
        if isinstance(key, str) and key.strip():
            keys[name] = key.strip()
        elif key is not None and not use_server_keys:
            keys[name] = ""
    return keys


def server_lends_keys() -> bool:
    """Whether the operator lets visitors use the server's own keys, and has at least one."""
    return HostedSettings.from_env().server_keys and any(os.environ.get(v) for v in KEY_ENV.values())


def checked_file(value: Any, field_name: str) -> Any:
    """An API file argument as something `playground.images` can read, refusing server paths.

    Accepted: files uploaded through Gradio (gradio_client `handle_file`), `data:` URIs, and PIL
    images or bytes from in-process callers. A path outside Gradio's upload folder is refused, so a
    caller cannot make the server read its own files.
    """
    if value is None or isinstance(value, (bytes, bytearray)) or hasattr(value, "getpixel"):
        return value
    path = value.get("path") if isinstance(value, dict) else value
    if isinstance(path, str) and path.startswith("data:"):
        return path
    if isinstance(path, (str, os.PathLike)) and str(path):
        resolved = Path(path).resolve()
        if resolved.is_relative_to(upload_root()):
            return str(resolved)
    shown = path if isinstance(path, str) else type(value).__name__
    raise ValidationError([Problem(field_name, shown, "an uploaded image (gradio_client.handle_file(...)) or a "
                                                      "data:image/...;base64 URI")])


def checked_files(values: Any, field_name: str) -> list[Any]:
    """`checked_file` over a list (one value is taken as a list of one)."""
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        values = [values]
    problems: list[Problem] = []
    out = []
    for i, value in enumerate(values):
        try:
            out.append(checked_file(value, f"{field_name}[{i}]"))
        except ValidationError as err:
            problems.extend(err.problems)
    if problems:
        raise ValidationError(problems)
    return out


def without_path(report: Any, path: str, name: str) -> Any:
    """`report` (JSON-ready) with every mention of the server's `path` (and of its folder) replaced by
    `name`, the file as the visitor named it."""
    text = json.dumps(report)
    for secret, shown in ((path, name), (str(Path(path).parent), "")):
        text = text.replace(json.dumps(secret)[1:-1], shown)
    return json.loads(text)


def preset_ref(ref: Any) -> str:
    """A preset id (`shipped:NAME`, `user:NAME`) for what a visitor named: an id, or a bare name
    (shipped first, then the user's). Never a path: the preset functions also open files by path,
    which visitors must not reach. Raises ValidationError for a name no preset could have."""
    text = ref.strip() if isinstance(ref, str) else ref
    source, sep, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
    if sep and source in ("shipped", "user"):
        preset_slug(rest)
        return text
    slug = preset_slug(text)
    return f"shipped:{text}" if (shipped_dir() / f"{slug}.json").is_file() else f"user:{text}"


def skeleton(model_id: str, mode: str, backend: str) -> Prepared:
    """A request for `model` in `mode` with every default and no inputs: enough to ask which
    backends are available and what a default run costs, before the visitor has filled anything in."""
    model = get_model(model_id)
    mode = mode if mode in model.modes else next(iter(model.modes))
    target = backend if backend in model.backends else "auto"
    params = resolve_params(model, mode, target, {})
    return Prepared(model=model, mode=mode, prompt="", negative_prompt="", images=[], mask=None, params=params,
                    explicit={}, seed=0, seed_drawn=True, backend=target)


def availability(prepared: Prepared, keys: dict[str, str]) -> dict[str, tuple[bool, str]]:
    """Whether each backend of the model can run now, and why not (never raises)."""
    try:
        return backends.availability(prepared, keys)
    except Exception as err:  # noqa: BLE001 - a health check must not break the page
        log.exception("availability check failed")
        return {b: (False, f"health check failed ({type(err).__name__})") for b in prepared.model.backends}


def estimate(request: Request, keys: dict[str, str]) -> dict[str, Any]:
    """Validate `request` and say which backend would run it, at what estimated cost, and why.

    Raises ValidationError exactly as a run would.
    """
    prepared = validate(request)
    plan = backends.plan(prepared, keys)
    health = availability(prepared, keys)
    cost = plan.get("cost")
    return {
        "output_size": output_size(prepared, plan.get("backend")),
        "model": prepared.model.id,
        "mode": prepared.mode,
        "backend": plan.get("backend"),
        "ready": bool(plan.get("ready")),
        "cost_usd": cost,
        "cost_text": cost_text(cost, plan.get("backend")),
        "why": plan.get("why"),
        "passed_over": plan.get("passed", []),
        "availability": {b: {"available": ok, "reason": why} for b, (ok, why) in health.items()},
    }


def estimate_unfinished(request: Request, keys: dict[str, str]) -> dict[str, Any] | None:
    """`estimate` for a request that only lacks what is filled in last (the prompt, the inpaint
    mask): as if both were there, so the page can say where it will run and at what size. None when
    it still does not validate."""
    probe = replace(request, prompt=request.prompt or "-")
    if probe.mode == "inpaint" and probe.mask is None and probe.images:
        try:
            size = load_image(probe.images[0], "images[0]").size
        except ValidationError:
            return None
        probe = replace(probe, mask=Image.new("L", size, 255))
    try:
        return estimate(probe, keys)
    except ValidationError:
        return None


def output_size(prepared: Prepared, backend: str | None) -> str:
    """The size the run will make, in words: "256x192 (the input's size)", "1024x1024", or who decides."""
    narrowed = prepared
    if backend and backend != prepared.backend:
        try:
            narrowed = for_backend(prepared, backend)
        except ValidationError:
            return "unknown"
    value = narrowed.params.get("image_size")
    size = parse_size(value) if value is not None else None
    pixels = size.pixels() if size else None
    follows = bool(prepared.images) and "image_size" not in prepared.explicit
    if pixels:
        text = f"{pixels[0]}x{pixels[1]}"
        if follows:
            width, height = prepared.images[0].size
            same = (width, height) == pixels
            text += " (the input's size)" if same else f" (the input's {width}x{height}, rounded for the model)"
        return text
    if prepared.images:
        width, height = prepared.images[0].size
        return f"follows the input ({width}x{height}; the model may round it)"
    return "the backend's default"


def cost_text(cost: float | None, backend: str | None) -> str:
    """A price for people: $0 locally, "unknown" when the catalog has no price."""
    if backend is None:
        return "no backend can run it now"
    if backend == "local":
        return "free (runs on this machine)"
    if cost is None:
        return "unknown (the provider publishes no price for it)"
    return f"about {dollars(cost)}"


def dollars(amount: float) -> str:
    """$0.03, $0.045, $0.0025: at least two decimals, at most four."""
    whole, _, frac = f"{amount:.4f}".rstrip("0").partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def run_blocking(request: Request, keys: dict[str, str], relay: ProgressRelay, cancel: threading.Event,
                 file_format: tuple[Any, Any] = (None, None)) -> Outcome:
    """Validate, run (with `auto` fallback) and save the outputs in `file_format` (format, quality;
    see `formats.choose`); blocking, for a worker thread."""
    started = time.perf_counter()
    prepared, chosen = checked(request, *file_format)
    first = next((b for b in backends.candidates(prepared) if backends.health(b, prepared, keys)[0]), None)
    relay.backend = first or ""
    ticket = LOCAL_TURNS.enter() if first == "local" else None
    try:
        if ticket is not None:
            LOCAL_TURNS.wait(ticket, lambda ahead: relay.say(
                f"Waiting for the local device: {ahead} run{'s' if ahead != 1 else ''} ahead of yours"), cancel)
        relay.say("Starting")
        done = runs.run(request, prepared=prepared, keys=keys, progress=relay, cancel=cancel)
    finally:
        if ticket is not None:
            LOCAL_TURNS.leave(ticket)
    result, record = done.result, done.record
    files = save_outputs(result, record, chosen)
    keep_inputs(prepared)
    return Outcome(files=files, seed=int(result.seeds[0]) if result.seeds else prepared.seed, backend=result.backend,
                   record=record, result=result, seconds=time.perf_counter() - started,
                   warnings=list(result.warnings))


def checked(request: Request, fmt: Any = None, quality: Any = None) -> tuple[Prepared, FileFormat]:
    """The validated request and its output file format, or one ValidationError with every problem."""
    problems: list[Problem] = []
    chosen = FileFormat()
    try:
        chosen = choose(fmt, quality, request.params if isinstance(request.params, dict) else None)
    except ValidationError as err:
        problems = list(err.problems)
    try:
        prepared = validate(request)
    except ValidationError as err:
        raise ValidationError([*err.problems, *problems]) from None
    if problems:
        raise ValidationError(problems)
    return prepared, chosen


def search_dirs(near: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where a record's inputs are looked for by hash: the library's usual places (next to `near`,
    PLAYGROUND_HOME, the presets' inputs) and the inputs of this server's recent runs."""
    return [*default_search_dirs(near), inputs_dir()]


def rerun_blocking(source: Any, keys: dict[str, str], relay: ProgressRelay, cancel: threading.Event) -> dict[str, Any]:
    """`rerun.rerun_and_verify` on `source`, its inputs found by hash (see `search_dirs`); blocking."""
    near = source if isinstance(source, (str, os.PathLike)) else None
    relay.say("Starting the re-run")
    return rerun_and_verify(source, keys, search_dirs=search_dirs(near), progress=relay, cancel=cancel)


def max_runs() -> int:
    """How many runs (UI and API together) may be in flight: PLAYGROUND_CONCURRENCY, default 16.

    Hosted runs overlap up to this limit; local runs also take turns on the device lock.
    """
    return env_int("PLAYGROUND_CONCURRENCY", 16, minimum=1)


_RUNNERS: ThreadPoolExecutor | None = None
_RUNNERS_LOCK = threading.Lock()


def runners() -> ThreadPoolExecutor:
    """The threads runs block in: one per run that may be in flight (asyncio's default pool has
    only cpu_count + 4 threads, which would queue hosted runs behind each other on a small box)."""
    global _RUNNERS
    with _RUNNERS_LOCK:
        if _RUNNERS is None:
            _RUNNERS = ThreadPoolExecutor(max_workers=max_runs(), thread_name_prefix="playground-run")
        return _RUNNERS


async def run(request: Request, keys: dict[str, str], progress: Callable[..., Any] | None = None,
              file_format: tuple[Any, Any] = (None, None)) -> Outcome:
    """Run `request` in a worker thread, its images saved in `file_format` (format, quality). If the
    awaiting task is cancelled (the Cancel button, or a client's `job.cancel()`), the backend is told
    to stop at its next step or poll."""
    return await _in_worker(functools.partial(run_blocking, file_format=file_format), request, keys, progress)


async def rerun(source: Any, keys: dict[str, str], progress: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Re-run what an image (or record) records and compare, in a worker thread like `run`."""
    return await _in_worker(rerun_blocking, source, keys, progress)


async def _in_worker(fn: Callable[..., Any], subject: Any, keys: dict[str, str],
                     progress: Callable[..., Any] | None) -> Any:
    cancel = threading.Event()
    relay = ProgressRelay(progress)
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()  # Gradio finds the event's progress tracker through it
    try:
        return await loop.run_in_executor(runners(), context.run, fn, subject, keys, relay, cancel)
    except asyncio.CancelledError:
        cancel.set()
        raise


def models_listing() -> dict[str, Any]:
    """The catalog: families, and per model its summary plus the JSON schema of a request."""
    return {"families": dict(FAMILIES),
            "models": {mid: {**m.summary(), "schema": m.json_schema()} for mid, m in MODELS.items()}}


def app_error(err: BaseException, title: str | None = None) -> gr.Error:
    """A failure as the readable gr.Error every door raises (gradio_client sees an AppError). `title`
    names the action that failed for the user's own errors; unexpected errors keep their own title."""
    default_title, message = describe_error(err)
    expected = isinstance(err, (ValidationError, PlaygroundError))
    return gr.Error(message, title=title if title and expected else default_title, print_exception=False)


def describe_error(err: BaseException) -> tuple[str, str]:
    """(title, message) to show for a failure; unexpected errors are logged with their traceback
    and shown without it."""
    if isinstance(err, ValidationError):
        return "Invalid input", err.describe()
    if isinstance(err, Cancelled):
        return "Cancelled", str(err) or "The run was cancelled."
    if isinstance(err, BackendUnavailable):
        return "Backend unavailable", str(err)
    if isinstance(err, ProviderError):
        return "The provider refused the run", str(err)
    if isinstance(err, TransportError):
        return "The provider could not be reached", str(err)
    if isinstance(err, PresetStoreError):
        return "Preset not available", str(err)
    if isinstance(err, RecordError):
        return "No usable record", str(err)
    if isinstance(err, PlaygroundError):
        return "Could not run", str(err)
    log.error("unexpected error in a run", exc_info=err)
    return "Unexpected error", (f"Something went wrong on the server ({type(err).__name__}). It has been logged; "
                                "please try again.")
