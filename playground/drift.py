"""Drift: "reproduce this image exactly" loops, and how far the image wanders from itself.

A genesis model makes the first image from a prompt (or the user supplies one); then each chain applies an
edit model to its own previous output, N times, with an instruction asking for an exact copy. Several
chains (e.g. two edit models) start from the same genesis image and run side by side. Every step keeps
its image, its reproducibility record and its metrics against the first and the previous image.

Metrics (`metrics.compare_images`): mean squared error, PSNR and SSIM from scikit-image, and the
perceptual-hash (`imagehash.phash`, 64 bits) Hamming distance. Pixels are compared as 8-bit RGB. Size rule:
when the two images differ in size, the later image of the pair is resized to the earlier image's size with
Pillow's Lanczos filter before any metric is computed (`ImageDistance.resized` says so). PSNR is None for
identical images (it is infinite). The metrics plot and the GIF are drawn by `drawing`.

`run_drift` returns a `Drift` that keeps every step done so far whatever happens: a failure or a cancel
ends that chain with its error, and the other chains carry on (a cancel stops them all). The spec is
JSON-friendly (`drift_to_dict` / `drift_from_dict`, schema `playground.drift/1`).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from playground import backends, runs
from playground.background import one_at_a_time
from playground.catalog import MODELS
from playground.drawing import Line, Plot, captioned_row, draw_line_plots
from playground.environment import env_int
from playground.errors import Cancelled, PlaygroundError
from playground.formats import FileFormat, with_record
from playground.images import encode, load_image, portable_image
from playground.metrics import RESIZE_RULE, ImageDistance, compare_images
from playground.params import Problem, ValidationError
from playground.request import Prepared, Request, resolve_seed
from playground.validation import validate

DRIFT_SCHEMA = "playground.drift/1"
MANIFEST_SCHEMA = "playground.drift-manifest/1"
DEFAULT_INSTRUCTION = "Reproduce this image exactly, pixel-for-pixel."
DEFAULT_STEPS = 10
DEFAULT_MAX_STEPS = 50
DEFAULT_MAX_CHAINS = 8
DEFAULT_GENESIS = "flux-schnell"
GENESIS_MODE = "text-to-image"
EDIT_MODE = "image-to-image"
METRICS: tuple[str, ...] = ("mse", "psnr", "ssim", "phash")
METRIC_TITLES = {"mse": "Mean squared error", "psnr": "PSNR (dB)", "ssim": "SSIM", "phash": "pHash distance (bits)"}
# Each chain's metrics against the first image (solid) and the previous one (dashed).
LINE_STYLES: tuple[tuple[str, bool], ...] = (("first", False), ("previous", True))
CHAIN_COLORS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
)

StepCallback = Callable[["DriftStep"], None]


# --- the spec ---------------------------------------------------------------------------------------
@dataclass
class ChainSpec:
    """One chain: the edit model (on `backend`) applied `steps` times to its own output with `instruction`.

    `seed=None` draws one seed for the chain; every step of a chain uses the same seed. Models with the
    Modify/Copy edit styles (SDXL) run in Copy mode unless `params` says otherwise.
    """

    model: str
    backend: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)
    instruction: str = DEFAULT_INSTRUCTION
    steps: int = DEFAULT_STEPS
    seed: int | None = None
    label: str = ""


@dataclass
class DriftSpec:
    """The genesis (`genesis_model` from `prompt`, or a supplied `start_image`) and the chains run from it.

    `max_steps` may lower the configured cap on each chain's steps (PLAYGROUND_DRIFT_MAX_STEPS, default 50),
    never raise it.
    """

    chains: list[ChainSpec]
    prompt: str = ""
    genesis_model: str | None = DEFAULT_GENESIS
    genesis_backend: str = "auto"
    genesis_params: dict[str, Any] = field(default_factory=dict)
    genesis_seed: int | None = None
    start_image: Any = None
    max_steps: int | None = None


# --- results ----------------------------------------------------------------------------------------
@dataclass
class DriftStep:
    """One step: `chain` is the chain's index (None for the genesis, shared by every chain), `index`
    the step number (0 = genesis). A failed or cancelled step has no image and says why in `error`; it
    is reported to callbacks but not kept in the chain's steps."""

    chain: int | None
    index: int
    image: Image.Image | None
    record: dict[str, Any] | None
    vs_first: ImageDistance | None = None
    vs_previous: ImageDistance | None = None
    seconds: float | None = None
    status: str = "done"
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "index": self.index, "status": self.status, "error": self.error,
                "seconds": self.seconds, "record": self.record,
                "vs_first": self.vs_first.as_dict() if self.vs_first else None,
                "vs_previous": self.vs_previous.as_dict() if self.vs_previous else None,
                "size": list(self.image.size) if self.image is not None else None}


@dataclass
class Chain:
    """A chain's progress: `steps[0]` is the genesis (once the chain started), then one step per edit
    done. `status` is pending, running, done, failed or cancelled; `error` says why it stopped early."""

    spec: ChainSpec
    label: str
    seed: int
    steps: list[DriftStep] = field(default_factory=list)
    status: str = "pending"
    error: str | None = None
    backend: str | None = None

    def series(self, metric: str, against: str = "first") -> list[float | None]:
        """One metric per step (step 0 included), against "first" or "previous"."""
        out: list[float | None] = []
        for step in self.steps:
            metrics = step.vs_first if against == "first" else step.vs_previous
            out.append(getattr(metrics, metric) if metrics else None)
        return out


@dataclass
class Drift:
    """The outcome of `run_drift`: the genesis step, the chains, and an `error` if the genesis failed."""

    spec: DriftSpec
    genesis: DriftStep | None
    chains: list[Chain]
    error: str | None = None
    cancelled: bool = False
    wall_s: float | None = None
    record_source: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def table(self) -> list[dict[str, Any]]:
        """One row per step and chain: every metric against the first and the previous image."""
        rows = []
        for chain in self.chains:
            for step in chain.steps:
                row: dict[str, Any] = {"chain": chain.label, "step": step.index}
                for against, metrics in (("first", step.vs_first), ("previous", step.vs_previous)):
                    for name in METRICS:
                        row[f"{name}_vs_{against}"] = getattr(metrics, name) if metrics else None
                row["seconds"] = step.seconds
                rows.append(row)
        return rows

    def filmstrip(self, chain: int | None = None) -> list[tuple[Image.Image, str]]:
        """(image, caption) for the genesis and every step of one chain (all chains when None)."""
        items: list[tuple[Image.Image, str]] = []
        if self.genesis is not None and self.genesis.image is not None:
            items.append((self.genesis.image, "step 0 (genesis)"))
        for i, c in enumerate(self.chains):
            if chain is not None and i != chain:
                continue
            for step in c.steps[1:]:
                ssim = f", SSIM {step.vs_first.ssim:.3f}" if step.vs_first else ""
                items.append((step.image, f"{c.label} step {step.index}{ssim}"))
        return items

    def plot(self, width: int = 960, height: int = 640) -> Image.Image:
        """Line plot of the four metrics over the steps, every chain together (see `plot_metrics`)."""
        return plot_metrics(self.chains, width, height)

    def gif(self, path: str | Path | None = None, duration_ms: int = 600, frame_px: int = 384) -> Path:
        """An animated GIF of the steps, chains side by side, each frame captioned with its step. A chain
        that stopped early holds its last image. Returns the GIF's path (default: a new temp file)."""
        target = Path(path) if path else Path(tempfile.mkdtemp(prefix="playground-drift-")) / "drift.gif"
        frames = gif_frames(self, frame_px)
        if not frames:
            raise PlaygroundError("No images to animate: the drift produced none.")
        frames[0].save(target, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
        return target

    def manifest(self, file_format: FileFormat | None = None) -> dict[str, Any]:
        """The drift described as JSON (schema playground.drift-manifest/1), with file names as in `to_zip`
        (images with `file_format`'s suffix, default PNG)."""
        suffix = (file_format or FileFormat()).suffix
        chains = []
        for i, chain in enumerate(self.chains):
            steps = []
            for step in chain.steps[1:]:
                entry = step.as_dict()
                entry["file"] = f"{_chain_dir(i, chain)}/step-{step.index:02d}.{suffix}"
                entry["record_file"] = f"{_chain_dir(i, chain)}/step-{step.index:02d}.json"
                steps.append(entry)
            chains.append({"label": chain.label, "model": chain.spec.model, "backend": chain.backend,
                           "seed": chain.seed, "instruction": chain.spec.instruction, "status": chain.status,
                           "error": chain.error, "steps_done": len(chain.steps) - 1,
                           "steps_asked": chain.spec.steps, "steps": steps})
        genesis = self.genesis.as_dict() if self.genesis else None
        if genesis is not None:
            genesis.update(file=f"genesis.{suffix}", record_file="genesis.json")
        return {
            "schema": MANIFEST_SCHEMA, "created": self.created, "drift": drift_to_dict(self.spec),
            "resize_rule": RESIZE_RULE, "metrics": METRIC_TITLES, "record_source": self.record_source,
            "genesis": genesis, "error": self.error, "chains": chains, "cancelled": self.cancelled,
            "wall_s": self.wall_s, "plot": "metrics.png", "gif": "drift.gif", "table": "metrics.csv",
        }

    def to_zip(self, path: str | Path | None = None, file_format: FileFormat | None = None,
               gif: Path | None = None) -> Path:
        """Write every image (in `file_format`, default PNG, each with its record embedded) and record
        (JSON), metrics.csv, metrics.png, drift.gif and manifest.json into one zip; returns its path
        (default: a new temp file). `gif`: this drift's GIF when already written (it is made otherwise)."""
        target = Path(path) if path else Path(tempfile.mkdtemp(prefix="playground-drift-")) / "drift.zip"
        manifest = self.manifest(file_format)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
            archive.writestr("metrics.csv", _csv(self.table()))
            archive.writestr("metrics.png", encode(self.plot()))
            if self.genesis is not None and self.genesis.image is not None:
                archive.writestr(manifest["genesis"]["file"],
                                 with_record(self.genesis.image, self.genesis.record, file_format))
                archive.writestr("genesis.json", json.dumps(self.genesis.record, indent=2, default=str))
                if gif is not None:
                    archive.write(gif, "drift.gif")
                else:
                    with tempfile.TemporaryDirectory() as folder:
                        archive.write(self.gif(Path(folder) / "drift.gif"), "drift.gif")
            for chain, entry in zip(self.chains, manifest["chains"], strict=True):
                for step, files in zip(chain.steps[1:], entry["steps"], strict=True):
                    archive.writestr(files["file"], with_record(step.image, step.record, file_format))
                    archive.writestr(files["record_file"], json.dumps(step.record, indent=2, default=str))
        return target


# --- presets ----------------------------------------------------------------------------------------
_CHAIN_KEYS = ("model", "backend", "params", "instruction", "steps", "seed", "label")
_DRIFT_KEYS = ("chains", "prompt", "genesis_model", "genesis_backend", "genesis_params", "genesis_seed",
               "start_image", "max_steps")


def drift_to_dict(spec: DriftSpec, include_images: bool = False) -> dict[str, Any]:
    """The spec as JSON (`schema` = playground.drift/1); a start image only with `include_images`."""
    data: dict[str, Any] = {
        "schema": DRIFT_SCHEMA, "prompt": spec.prompt, "genesis_model": spec.genesis_model,
        "genesis_backend": spec.genesis_backend, "genesis_params": dict(spec.genesis_params),
        "genesis_seed": spec.genesis_seed, "max_steps": spec.max_steps,
        "chains": [{k: getattr(c, k) for k in _CHAIN_KEYS} for c in spec.chains],
    }
    if include_images and spec.start_image is not None:
        data["start_image"] = portable_image(spec.start_image, "start_image")
    return data


def drift_from_dict(data: dict[str, Any]) -> DriftSpec:
    """A DriftSpec from `drift_to_dict` output or a UI/API payload of that shape (a missing schema is
    taken as the current one); ValidationError lists every problem."""
    if not isinstance(data, dict):
        raise ValidationError([Problem("drift", data, "an object (playground.drift/1)")])
    problems: list[Problem] = []
    if data.get("schema", DRIFT_SCHEMA) != DRIFT_SCHEMA:
        problems.append(Problem("schema", data.get("schema"), DRIFT_SCHEMA))
    for key in sorted(set(data) - set(_DRIFT_KEYS) - {"schema"}):
        problems.append(Problem(key, data[key], "one of the drift fields: " + ", ".join(_DRIFT_KEYS)))
    chains: list[ChainSpec] = []
    raw_chains = data.get("chains") or []
    if not isinstance(raw_chains, list):
        problems.append(Problem("chains", raw_chains, "a list of chains"))
        raw_chains = []
    for i, raw in enumerate(raw_chains):
        if not isinstance(raw, dict) or "model" not in raw or set(raw) - set(_CHAIN_KEYS):
            problems.append(Problem(f"chains[{i}]", raw, "an object with model and any of " + ", ".join(_CHAIN_KEYS)))
            continue
        values = {k: raw[k] for k in _CHAIN_KEYS if raw.get(k) is not None}
        chains.append(ChainSpec(**values))
    cap, requested = max_steps_default(), data.get("max_steps")
    if requested is not None and (isinstance(requested, bool) or not isinstance(requested, int) or requested < 1):
        problems.append(Problem("max_steps", requested, "a whole number of at least 1, or empty for the default"))
    elif requested is not None and requested > cap:
        # The operator's cap is a ceiling: a caller may lower it, never raise it.
        problems.append(Problem("max_steps", requested, f"at most {cap} (this server's step cap, "
                                                        f"PLAYGROUND_DRIFT_MAX_STEPS; it can only be lowered)"))
    if len(raw_chains) > max_chains():
        problems.append(Problem("chains", f"{len(raw_chains)} chains", f"at most {max_chains()} chains "
                                                                       f"(PLAYGROUND_DRIFT_MAX_CHAINS)"))
    if problems:
        raise ValidationError(problems)
    return DriftSpec(
        chains=chains, prompt=data.get("prompt") or "",
        genesis_model=data.get("genesis_model", DEFAULT_GENESIS),
        genesis_backend=data.get("genesis_backend") or "auto", genesis_params=dict(data.get("genesis_params") or {}),
        genesis_seed=data.get("genesis_seed"), start_image=data.get("start_image"), max_steps=data.get("max_steps"),
    )


# --- running ----------------------------------------------------------------------------------------
def max_chains() -> int:
    """The cap on chains in one drift: PLAYGROUND_DRIFT_MAX_CHAINS, else 8."""
    return env_int("PLAYGROUND_DRIFT_MAX_CHAINS", DEFAULT_MAX_CHAINS, minimum=1)


def max_steps_default() -> int:
    """The cap on a chain's steps: PLAYGROUND_DRIFT_MAX_STEPS, else 50."""
    return env_int("PLAYGROUND_DRIFT_MAX_STEPS", DEFAULT_MAX_STEPS, minimum=1)


def check_drift(spec: DriftSpec | dict[str, Any]) -> DriftSpec:
    """Check a spec before anything runs; returns it (parsed from a dict if need be).

    Raises ValidationError with every problem: no chain, steps outside 1..cap, a genesis model that
    cannot make images from text, an edit model without image-to-image, and any problem the genesis or
    first edit request would have (checked with a stand-in image).
    """
    if isinstance(spec, dict):
        spec = drift_from_dict(spec)
    problems: list[Problem] = []
    ceiling = max_steps_default()
    if spec.max_steps is not None and spec.max_steps > ceiling:
        problems.append(Problem("max_steps", spec.max_steps, f"at most {ceiling} (this server's step cap, "
                                                             f"PLAYGROUND_DRIFT_MAX_STEPS; it can only be lowered)"))
    cap = min(int(spec.max_steps or ceiling), ceiling)
    if len(spec.chains) > max_chains():
        problems.append(Problem("chains", f"{len(spec.chains)} chains", f"at most {max_chains()} chains "
                                                                         f"(PLAYGROUND_DRIFT_MAX_CHAINS)"))
    if not spec.chains:
        problems.append(Problem("chains", [], "at least one chain (an edit model to apply)"))
    stand_in = Image.new("RGB", (64, 64), (128, 128, 128))
    if spec.start_image is not None:
        try:
            stand_in = load_image(spec.start_image, "start_image").image
        except ValidationError as err:
            problems.extend(err.problems)
    elif not spec.genesis_model:
        problems.append(Problem("genesis_model", spec.genesis_model, "a text-to-image model, or a start image"))
    else:
        _check_model(spec.genesis_model, GENESIS_MODE, "genesis_model", problems)
        if not problems:
            _check_request(_genesis_request(spec, 0), "", problems)
    for i, chain in enumerate(spec.chains):
        where = f"chains[{i}]"
        steps = chain.steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= cap:
            problems.append(Problem(f"{where}.steps", steps, f"an integer from 1 to {cap} (the step cap)"))
        if _check_model(chain.model, EDIT_MODE, f"{where}.model", problems):
            _check_request(_edit_request(chain, stand_in, 0), where + ".", problems)
    if problems:
        raise ValidationError(problems)
    return spec


def plan_drift(spec: DriftSpec | dict[str, Any], keys: dict[str, str] | None = None) -> dict[str, Any]:
    """What a drift would run, before running it: for the genesis and each chain, the backend `auto`
    resolves to, whether it can run now (and why not), and the estimated dollars (per step and in
    total; None where the price is unknown). Raises ValidationError like `check_drift`."""
    spec = check_drift(spec)
    if spec.start_image is not None:
        start = load_image(spec.start_image, "start_image")
        genesis = {"source": "upload", "ready": True, "backend": None, "why": "", "cost": 0.0}
        size = start.size
    else:
        prepared = validate(_genesis_request(spec, 0))
        genesis = {"source": spec.genesis_model, **_plan_one(prepared, keys)}
        size = prepared.output_pixels()
    chains = []
    stand_in = Image.new("RGB", size, (128, 128, 128))
    for i, chain in enumerate(spec.chains):
        planned = _plan_one(validate(_edit_request(chain, stand_in, 0)), keys)
        per_step = planned.pop("cost")
        chains.append({"label": chain.label or _default_label(chain, i, spec.chains), "model": chain.model,
                       "steps": chain.steps, **planned, "cost_per_step": per_step,
                       "cost": None if per_step is None else round(per_step * chain.steps, 6)})
    costs = [genesis["cost"]] + [c["cost"] for c in chains if c["ready"]]
    return {"genesis": genesis, "chains": chains, "steps": sum(c["steps"] for c in chains if c["ready"]),
            "estimated_cost": round(sum(c or 0.0 for c in costs), 6), "unpriced": sum(c is None for c in costs)}


def _plan_one(prepared: Prepared, keys: dict[str, str] | None) -> dict[str, Any]:
    planned = backends.plan(prepared, keys)
    why = planned["why"] if planned["ready"] else "; ".join(f"{p['backend']}: {p['reason']}" for p in planned["passed"])
    return {"backend": planned["backend"], "ready": planned["ready"], "why": why, "cost": planned["cost"]}


def run_drift(spec: DriftSpec | dict[str, Any], keys: dict[str, str] | None = None,
              on_step: StepCallback | None = None, cancel: threading.Event | None = None) -> Drift:
    """Make (or take) the genesis image, then run every chain, side by side; returns the Drift.

    Raises ValidationError (from `check_drift`) before anything runs; after that it never raises for a
    run's failure: a genesis failure is `Drift.error`, a step failure ends its chain with `Chain.error`,
    and every step done so far stays. `on_step(step)` hears the genesis and each step, done or not (from
    worker threads, one call at a time; its exceptions are logged and ignored). Setting `cancel` cancels
    the running steps and starts no new ones.
    """
    spec = check_drift(spec)
    cancel = cancel or threading.Event()
    emit = one_at_a_time(on_step)
    started = time.perf_counter()
    planned = plan_drift(spec, keys)
    chains = [Chain(spec=c, label=p["label"], seed=resolve_seed(c.seed), backend=p["backend"])
              for c, p in zip(spec.chains, planned["chains"], strict=True)]
    for chain, plan in zip(chains, planned["chains"], strict=True):
        if not plan["ready"]:
            chain.status, chain.error = "failed", f"{chain.spec.model} cannot run now: {plan['why']}"
    drift = Drift(spec=spec, genesis=None, chains=chains, record_source=runs.RECORD_SOURCE)
    runnable = [(i, c) for i, c in enumerate(chains) if c.status == "pending"]
    if not planned["genesis"]["ready"]:
        drift.error = f"The genesis model {spec.genesis_model} cannot run now: {planned['genesis']['why']}"
    elif not runnable:
        drift.error = "No chain can run now: " + "; ".join(c.error or "" for c in chains)
    else:
        drift.genesis = _genesis(spec, keys, cancel)
        emit(drift.genesis)
    genesis = drift.genesis
    if genesis is None or genesis.image is None:
        drift.error = drift.error or (genesis.error if genesis else None)
        for _, chain in runnable:
            status = "cancelled" if genesis is not None and genesis.status == "cancelled" else "failed"
            chain.status, chain.error = status, f"No genesis image: {drift.error}"
    else:
        threads = [threading.Thread(target=_run_chain, args=(i, chain, genesis, keys, cancel, emit),
                                    name=f"drift-chain-{i}", daemon=True) for i, chain in runnable]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    drift.cancelled = cancel.is_set()
    drift.wall_s = round(time.perf_counter() - started, 4)
    return drift


def _genesis(spec: DriftSpec, keys: dict[str, str] | None, cancel: threading.Event) -> DriftStep:
    started = time.perf_counter()
    if spec.start_image is not None:
        loaded = load_image(spec.start_image, "start_image")
        record = {"source": "upload", "input_hashes": [loaded.sha256], "size": list(loaded.size)}
        step = DriftStep(chain=None, index=0, image=loaded.image, record=record)
    else:
        request = _genesis_request(spec, resolve_seed(spec.genesis_seed))
        step = _attempt(request, None, 0, keys, cancel)
    if step.image is not None:
        step.vs_first = step.vs_previous = compare_images(step.image, step.image)
    step.seconds = round(time.perf_counter() - started, 4)
    return step


def _run_chain(number: int, chain: Chain, genesis: DriftStep, keys: dict[str, str] | None,
               cancel: threading.Event, emit: Callable[[DriftStep], None]) -> None:
    chain.status = "running"
    chain.steps.append(genesis)
    first = genesis.image
    assert first is not None
    for index in range(1, chain.spec.steps + 1):
        previous = chain.steps[-1].image
        assert previous is not None
        started = time.perf_counter()
        request = _edit_request(chain.spec, previous, chain.seed)
        step = _attempt(request, number, index, keys, cancel)
        if step.image is not None:
            step.vs_first = compare_images(first, step.image)
            step.vs_previous = compare_images(previous, step.image)
            chain.backend = (step.record or {}).get("backend", chain.backend)
        step.seconds = round(time.perf_counter() - started, 4)
        emit(step)
        if step.image is None:
            chain.status, chain.error = step.status, f"Step {index}: {step.error}"
            return
        chain.steps.append(step)
    chain.status = "done"


def _attempt(request: Request, chain: int | None, index: int, keys: dict[str, str] | None,
             cancel: threading.Event) -> DriftStep:
    """Run one step; its failure becomes the step's status and error instead of an exception."""
    if cancel.is_set():
        return DriftStep(chain, index, None, None, status="cancelled", error="Cancelled before it started.")
    try:
        done = runs.run(request, keys=keys, cancel=cancel)
    except Cancelled as err:
        return DriftStep(chain, index, None, None, status="cancelled", error=str(err))
    except (PlaygroundError, ValidationError) as err:
        return DriftStep(chain, index, None, None, status="failed", error=str(err))
    except Exception as err:  # noqa: BLE001 - a crash ends the chain with its error; earlier steps stay
        return DriftStep(chain, index, None, None, status="failed", error=f"{type(err).__name__}: {err}")
    if not done.result.images:
        return DriftStep(chain, index, None, done.record, status="failed", error="The run returned no image.")
    return DriftStep(chain, index, done.result.images[0], done.record)


def _genesis_request(spec: DriftSpec, seed: int) -> Request:
    return Request(model=spec.genesis_model or "", mode=GENESIS_MODE, prompt=spec.prompt,
                   params=dict(spec.genesis_params), seed=seed, backend=spec.genesis_backend or "auto")


def _edit_request(chain: ChainSpec, image: Image.Image, seed: int) -> Request:
    params = dict(chain.params)
    model = MODELS.get(chain.model)
    if model is not None and model.edit_styles and "edit_style" not in params:
        params["edit_style"] = "copy"
    return Request(model=chain.model, mode=EDIT_MODE, prompt=chain.instruction, images=[image], params=params,
                   seed=seed, backend=chain.backend or "auto")


def _check_model(model_id: str, mode: str, where: str, problems: list[Problem]) -> bool:
    model = MODELS.get(model_id)
    if model is None:
        problems.append(Problem(where, model_id, "one of " + ", ".join(MODELS)))
        return False
    if mode not in model.modes:
        able = [m.id for m in MODELS.values() if mode in m.modes]
        problems.append(Problem(where, model_id, f"a model with {mode}: " + ", ".join(able)))
        return False
    return True


def _check_request(request: Request, prefix: str, problems: list[Problem]) -> None:
    try:
        validate(request)
    except ValidationError as err:
        problems.extend(Problem(prefix + p.field, p.value, p.allowed) for p in err.problems)


def _default_label(chain: ChainSpec, index: int, chains: list[ChainSpec]) -> str:
    label = chain.model if chain.backend in ("", "auto") else f"{chain.model}@{chain.backend}"
    same = [c for c in chains if (c.model, c.backend) == (chain.model, chain.backend)]
    return f"{label} #{index + 1}" if len(same) > 1 else label


# --- pictures ---------------------------------------------------------------------------------------
def plot_metrics(chains: list[Chain], width: int = 960, height: int = 640) -> Image.Image:
    """Four panels (MSE, PSNR, SSIM, pHash distance) of each chain's metrics over the steps: one colour per
    chain, solid lines against the first image, dashed against the previous one. Missing values (an
    infinite PSNR, a failed step) break the line."""
    colors = [CHAIN_COLORS[n % len(CHAIN_COLORS)] for n in range(len(chains))]
    plots = []
    for metric in METRICS:
        lines = [Line([(step.index, value) for step, value in zip(chain.steps, chain.series(metric, against),
                                                                   strict=True)], color, dashed)
                 for chain, color in zip(chains, colors, strict=True) for against, dashed in LINE_STYLES]
        values = [y for line in lines for _, y in line.points if y is not None]
        plots.append(Plot(METRIC_TITLES[metric], lines, _axis_range(metric, values)))
    keys = [(chain.label if chain.status == "done" else
             f"{chain.label} ({chain.status} after step {len(chain.steps) - 1})", color)
            for chain, color in zip(chains, colors, strict=True)]
    styles = [(f"against the {against} image", dashed) for against, dashed in LINE_STYLES]
    last_step = max((len(c.steps) for c in chains), default=1) - 1
    return draw_line_plots(plots, last_step, "step", styles, keys, width, height)


def gif_frames(drift: Drift, frame_px: int = 384) -> list[Image.Image]:
    """One frame per step: the chains side by side, letterboxed to the genesis aspect ratio, captioned."""
    if drift.genesis is None or drift.genesis.image is None:
        return []
    first = drift.genesis.image
    scale = frame_px / max(first.size)
    tile = (max(16, round(first.width * scale)), max(16, round(first.height * scale)))
    chains = drift.chains or []
    count = max((len(c.steps) for c in chains), default=1)
    frames = []
    for index in range(count):
        items = []
        for chain in chains or [None]:
            steps = (chain.steps if chain else []) or [drift.genesis]
            step = steps[min(index, len(steps) - 1)]
            label = f"{chain.label}: step {step.index}" if chain else "genesis"
            if chain and index >= len(steps) and chain.status != "done":
                label += f" ({chain.status})"
            items.append((step.image, label))
        frames.append(captioned_row(items, tile))
    return frames


def _axis_range(metric: str, values: list[float]) -> tuple[float, float]:
    if metric == "ssim":
        return min([0.0, *values]), 1.0
    if not values:
        return 0.0, 1.0
    low, high = (0.0 if metric != "psnr" else min(values)), max(values)
    if high - low < 1e-9:
        high = low + 1.0
    pad = (high - low) * 0.05
    return (low - pad if metric == "psnr" else low), high + pad


def _chain_dir(index: int, chain: Chain) -> str:
    slug = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in chain.label)[:40]
    return f"chain-{index + 1}-{slug}"


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()
