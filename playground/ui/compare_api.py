"""Compare and drift as public endpoints (`/compare`, `/compare_plan`, `/drift`, `/drift_plan`), and
the streaming the Compare and Drift tabs share with them.

A grid or a drift runs on the service's run threads (`service.runners`); its progress comes back as
views: the files Gradio serves (each cell's or step's PNG with its record embedded, the labelled grid,
the metrics plot, the GIF, one zip) and the manifest so far. Views come at most every
`UPDATE_EVERY_S` seconds and once more at the end. If the consumer stops listening (the tab's Cancel
button sets the run's cancel event; a client's `job.cancel()` cancels the task), no further cell or
step starts and the running ones are told to stop; what finished stays in the last view.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import queue
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar, get_args, get_type_hints

import gradio as gr
from gradio.data_classes import FileData
from PIL import Image

from playground.compare import DEFAULT_CELL_PX, Grid, GridSpec, grid_from_dict, plan_grid, run_grid
from playground.drift import Chain, Drift, DriftSpec, DriftStep, check_drift, drift_from_dict, plan_drift, run_drift
from playground.formats import FileFormat, choose, with_record
from playground.request import resolve_seed as draw_if_unset
from playground.ui import api, service
from playground.ui.common import door
from playground.ui.outputs import OUTPUT_DIR_NAME, fresh_folder

T = TypeVar("T")
R = TypeVar("R")
UPDATE_EVERY_S = 0.4
# Grid images while cells are still coming in are drawn smaller; the last one at full size.
PREVIEW_CELL_PX = 256


# --- files one run serves ----------------------------------------------------------------------------
class Outbox:
    """A fresh folder Gradio serves, for one grid's or drift's files (old ones are pruned)."""

    def __init__(self) -> None:
        self.folder = fresh_folder(OUTPUT_DIR_NAME)
        self._count = 0

    def png(self, name: str, image: Image.Image, record: dict[str, Any] | None = None) -> str:
        """`image` as `name` (written once; the record embedded when it is one)."""
        path = self.folder / name
        if not path.exists():
            path.write_bytes(with_record(image, record))
        return str(path)

    def result(self, stem: str, image: Image.Image, record: dict[str, Any] | None,
               file_format: FileFormat | None) -> str:
        """A result image as `stem` + the format's suffix, in `file_format` (default PNG) with its record
        embedded (written once)."""
        file_format = file_format or FileFormat()
        path = self.folder / f"{stem}.{file_format.suffix}"
        if not path.exists():
            path.write_bytes(with_record(image, record, file_format))
        return str(path)

    def fresh(self, stem: str, suffix: str) -> Path:
        """A new path for a file that changes as the run goes (the grid image, the plot)."""
        self._count += 1
        return self.folder / f"{stem}-{self._count:03d}{suffix}"


def file_data(path: str | Path | None) -> FileData | None:
    return FileData(path=str(path)) if path else None


# --- following a run ---------------------------------------------------------------------------------
async def follow(run: Callable[[Callable[[T], None], threading.Event], R], cancel: threading.Event,
                 every: float = UPDATE_EVERY_S) -> AsyncIterator[tuple[list[T], R | None]]:
    """Run `run(emit, cancel)` on the run threads. Yield what it emitted since the last yield (at most
    every `every` seconds) with None, then the rest with its return value (its exception is raised).
    If the consumer stops early (cancelled, closed), `cancel` is set so the run stops soon."""
    loop = asyncio.get_running_loop()
    inbox: queue.SimpleQueue[T] = queue.SimpleQueue()
    future = loop.run_in_executor(service.runners(), run, inbox.put, cancel)
    last = 0.0
    try:
        while not future.done():
            await asyncio.wait({future}, timeout=0.05)
            if future.done() or inbox.empty() or loop.time() - last < every:
                continue
            last = loop.time()
            yield _drain(inbox), None
        result = future.result()
        yield _drain(inbox), result
    finally:
        if not future.done():
            cancel.set()


def _drain(inbox: queue.SimpleQueue[T]) -> list[T]:
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items


class Cancels:
    """Cancel events of the runs in flight, by (browser session, tab), for the tabs' Cancel buttons."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str], set[threading.Event]] = {}

    def open(self, session: str, tab: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._events.setdefault((session, tab), set()).add(event)
        return event

    def close(self, session: str, tab: str, event: threading.Event) -> None:
        with self._lock:
            events = self._events.get((session, tab), set())
            events.discard(event)
            if not events:
                self._events.pop((session, tab), None)

    def cancel(self, session: str, tab: str) -> int:
        """Set the events of that session's runs on that tab; returns how many there were."""
        with self._lock:
            events = list(self._events.get((session, tab), ()))
        for event in events:
            event.set()
        return len(events)


CANCELS = Cancels()


# --- grids -------------------------------------------------------------------------------------------
@dataclasses.dataclass
class GridView:
    """A grid as it stands: the labelled grid image, each cell's PNG (None until done), the gallery
    (every cell: its image or a status tile, captioned), the manifest, and the zip once finished."""

    grid: Grid
    image: str
    cells: list[str | None]
    gallery: list[tuple[str, str]]
    manifest: dict[str, Any]
    archive: str | None = None

    @property
    def finished(self) -> bool:
        return self.archive is not None


async def grid_views(grid: Grid, keys: dict[str, str], cancel: threading.Event,
                     file_format: FileFormat | None = None) -> AsyncIterator[GridView]:
    """Run a planned grid; yield its view at the start, as cells change, and finished (with the zip);
    cell files in `file_format` (default PNG)."""
    box = Outbox()
    yield await asyncio.to_thread(grid_view, snapshot(grid), box, False, file_format)
    async for _, result in follow(lambda emit, stop: run_grid(grid, keys, emit, stop), cancel):
        yield await asyncio.to_thread(grid_view, result or snapshot(grid), box, result is not None, file_format)


def snapshot(grid: Grid) -> Grid:
    """A copy of a running grid whose cells no worker thread changes any more."""
    return dataclasses.replace(grid, cells=[copy.copy(c) for c in grid.cells])


def grid_view(grid: Grid, box: Outbox, final: bool, file_format: FileFormat | None = None) -> GridView:
    """Write what changed of `grid` into `box` and describe it (the zip only when `final`)."""
    cells: list[str | None] = []
    gallery: list[tuple[str, str]] = []
    tiles: list[tuple[Image.Image, str]] | None = None
    for cell in grid.cells:
        if cell.status == "done" and cell.image is not None:
            path = box.result(cell.name, cell.image, cell.record, file_format)
            cells.append(path)
        else:
            cells.append(None)
            name = f"tile-{cell.index:03d}-{cell.status.replace('/', '')}.png"
            if not (box.folder / name).exists():
                tiles = tiles or grid.gallery()
            path = box.png(name, tiles[cell.index][0]) if tiles else str(box.folder / name)
        gallery.append((path, cell.caption()))
    image = box.folder / "grid.png" if final else box.fresh("grid", ".png")
    grid.grid_image(DEFAULT_CELL_PX if final else PREVIEW_CELL_PX).save(image, format="PNG")
    archive = str(grid.to_zip(box.folder / "grid.zip", file_format=file_format)) if final else None
    return GridView(grid=grid, image=str(image), cells=cells, gallery=gallery, manifest=grid.manifest(file_format),
                    archive=archive)


def grid_spec(model: str = "", axes: list[dict[str, Any]] | None = None, mode: str = "text-to-image",
              prompt: str = "", negative_prompt: str | None = None, images: list[Any] | None = None,
              mask: Any = None, params: dict[str, Any] | None = None, seed: int | None = None,
              backend: str = "auto", max_cells: int | None = None, max_cost: float | None = None) -> GridSpec:
    """A GridSpec from the endpoint's arguments (uploads checked; ValidationError for a bad shape)."""
    spec = grid_from_dict({"model": model or "", "axes": axes or [], "mode": mode or "text-to-image",
                           "prompt": prompt or "", "negative_prompt": negative_prompt, "params": params or {},
                           "seed": seed, "backend": backend or "auto", "max_cells": max_cells,
                           "max_cost": max_cost})
    spec.images = service.checked_files(images, "images")
    spec.mask = service.checked_file(mask, "mask")
    return spec


def grid_plan(grid: Grid) -> dict[str, Any]:
    """What a planned grid will do: `Grid.summary()` plus the axes and each cell (no records yet)."""
    cells = [{k: v for k, v in cell.as_dict().items() if k not in ("record", "cost", "seconds")}
             for cell in grid.cells]
    return {**grid.summary(), "seed": grid.seed, "axes": [a.as_dict() for a in grid.axes], "cell_plan": cells}


@door
async def compare(
    model: str = "",
    axes: list[dict[str, Any]] | None = None,
    mode: str = "text-to-image",
    prompt: str = "",
    negative_prompt: str | None = None,
    images: list[FileData] | None = None,
    mask: FileData | None = None,
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    backend: str = "auto",
    max_cells: int | None = None,
    max_cost: float | None = None,
    fal_key: str | None = None,
    replicate_key: str | None = None,
    output_format: str | None = None,
    output_quality: int | None = None,
) -> AsyncIterator[tuple[FileData, list[FileData | None], dict[str, Any], FileData | None]]:
    """Run a comparison grid: the same request over up to three axes; results stream as cells finish.

    Each axis is {"kind", "values", "name"}: kind "param" (name: a canonical parameter, or
    `loras[0].scale` / `loras[0].path` for one adapter of the shared `loras` list; values: a
    list, or "start:stop:step" for numbers, stop included), "seed" (values: seeds or a range),
    "prompt" (name: text in the prompt, replaced by each value) or "model" (values: "model-id" or
    "model-id@backend", so one grid can mix local and hosted models). The first axis is the columns,
    the second the rows, the third separate panels. Everything else is shared by every cell. A
    parameter a cell's model does not take makes that cell "n/a" (axis) or is left out and listed in
    its `not_applied` (shared). A failed cell keeps its error and the grid carries on. Call
    /compare_plan first for the cell count and cost; grids over `max_cells` are refused.
    `job.cancel()` stops the grid: the last update keeps every finished cell.

    Args:
        model: Catalog model id for every cell (ignored when an axis has kind "model").
        axes: Up to 3 axes {"kind", "name", "values"}; values a list or "start:stop:step" (see above).
        mode: "text-to-image", "image-to-image" or "inpaint".
        prompt: The prompt shared by every cell.
        negative_prompt: Shared negative prompt (cells whose model takes none list it as not applied).
        images: Reference images (gradio_client.handle_file) for image-to-image and inpaint.
        mask: Inpaint mask: white (or opaque) = repaint.
        params: Shared canonical parameters, e.g. {"image_size": "square"}.
        seed: One seed for every cell (unless an axis is the seed); None draws one for the whole grid.
        backend: "auto", "local", "fal" or "replicate" for `model` (a model axis names its own).
        max_cells: Refuse grids with more cells (default PLAYGROUND_COMPARE_MAX_CELLS, 64).
        max_cost: Refuse grids estimated above this many dollars.
        fal_key: Your fal API key, used for this request only and never stored ("" is refused).
        replicate_key: Your Replicate API token, the same way.
        output_format: File format of every cell's images: "png" (default), "jpeg" or "webp"; each
            carries its record.
        output_quality: JPEG/WebP quality 1-100 (None: JPEG 95, WebP lossless).

    Returns:
        Streamed as cells change: the labelled grid image (PNG), every cell's PNG in cell order with
        its record embedded (None while it has none), the manifest (schema playground.grid-manifest/1:
        axes, and per cell its labels, status, error, not_applied, params, seed, cost and record), and
        finally one zip with all of it (None until the grid has finished).
    """
    spec = grid_spec(model, axes, mode, prompt, negative_prompt, images, mask, params, seed, backend,
                     max_cells, max_cost)
    keys = service.visitor_keys(fal_key, replicate_key)
    file_format = choose(output_format, output_quality)
    grid = await asyncio.get_running_loop().run_in_executor(service.runners(), plan_grid, spec, keys)
    async for view in grid_views(grid, keys, threading.Event(), file_format):
        yield (FileData(path=view.image), [file_data(p) for p in view.cells], view.manifest,
               file_data(view.archive))


@door
def compare_plan(
    model: str = "",
    axes: list[dict[str, Any]] | None = None,
    mode: str = "text-to-image",
    prompt: str = "",
    negative_prompt: str | None = None,
    images: list[FileData] | None = None,
    mask: FileData | None = None,
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    backend: str = "auto",
    max_cells: int | None = None,
    max_cost: float | None = None,
    fal_key: str | None = None,
    replicate_key: str | None = None,
) -> dict[str, Any]:
    """Plan a comparison grid without running it: how many cells, on which backends, at what cost.

    Takes the same arguments as /compare and refuses the same way (a grid over the cap raises).

    Returns:
        {"cells": count, "cap", "shape": [columns, rows, panels], "to_run", "n/a", "refused",
        "estimated_cost": dollars, "unpriced_cells", "by_backend": {backend: cells}, "seed", "axes",
        "cell_plan": per cell {"index", "position", "labels", "model", "backend", "status" (pending, n/a
        or failed), "error", "not_applied", "prompt", "params", "seed", "estimated_cost"}}.
    """
    spec = grid_spec(model, axes, mode, prompt, negative_prompt, images, mask, params, seed, backend,
                     max_cells, max_cost)
    return grid_plan(plan_grid(spec, service.visitor_keys(fal_key, replicate_key)))


# --- drift -------------------------------------------------------------------------------------------
@dataclasses.dataclass
class DriftView:
    """A drift as it stands: the metrics plot, the filmstrip (path, caption), the metrics table, the
    manifest, and the GIF and zip once finished."""

    drift: Drift
    plot: str
    filmstrip: list[tuple[str, str]]
    table: list[dict[str, Any]]
    manifest: dict[str, Any]
    gif: str | None = None
    archive: str | None = None
    finished: bool = False


class DriftProgress:
    """The steps heard so far, as a Drift the plot, filmstrip and manifest can be drawn from."""

    def __init__(self, spec: DriftSpec, planned: dict[str, Any]):
        self.spec = spec
        self.genesis: DriftStep | None = None
        self.error: str | None = None
        self.chains = [Chain(spec=c, label=p["label"], seed=int(c.seed or 0), backend=p["backend"])
                       for c, p in zip(spec.chains, planned["chains"], strict=True)]
        for chain, plan in zip(self.chains, planned["chains"], strict=True):
            if not plan["ready"]:
                chain.status, chain.error = "failed", f"{chain.spec.model} cannot run now: {plan['why']}"

    def add(self, step: DriftStep) -> None:
        if step.chain is None:
            self.genesis = step
            if step.image is None:
                self.error = step.error
                return
            for chain in self.chains:
                if chain.status == "pending":
                    chain.steps, chain.status = [step], "running"
            return
        chain = self.chains[step.chain]
        if step.image is None:
            chain.status, chain.error = step.status, f"Step {step.index}: {step.error}"
            return
        chain.steps.append(step)
        if len(chain.steps) - 1 >= chain.spec.steps:
            chain.status = "done"

    def drift(self) -> Drift:
        return Drift(spec=self.spec, genesis=self.genesis, error=self.error,
                     chains=[dataclasses.replace(c, steps=list(c.steps)) for c in self.chains])


def prepare_drift(spec: DriftSpec | dict[str, Any], keys: dict[str, str]) -> tuple[DriftSpec, dict[str, Any]]:
    """Check a drift, fix its seeds (so they are known while it runs) and plan it; ValidationError
    before anything runs."""
    spec = check_drift(spec)
    if spec.start_image is None:
        spec.genesis_seed = draw_if_unset(spec.genesis_seed)
    for chain in spec.chains:
        chain.seed = draw_if_unset(chain.seed)
    return spec, plan_drift(spec, keys)


async def drift_views(spec: DriftSpec, planned: dict[str, Any], keys: dict[str, str],
                      cancel: threading.Event, file_format: FileFormat | None = None) -> AsyncIterator[DriftView]:
    """Run a prepared drift; yield its view as steps finish, and finished (with the GIF and zip); step
    files in `file_format` (default PNG)."""
    box = Outbox()
    progress = DriftProgress(spec, planned)
    async for steps, result in follow(lambda emit, stop: run_drift(spec, keys, emit, stop), cancel):
        for step in steps:
            progress.add(step)
        yield await asyncio.to_thread(drift_view, result or progress.drift(), box, result is not None, file_format)


def drift_view(drift: Drift, box: Outbox, final: bool, file_format: FileFormat | None = None) -> DriftView:
    """Write what changed of `drift` into `box` and describe it (GIF and zip only when `final`)."""
    paths: list[str] = []
    if drift.genesis is not None and drift.genesis.image is not None:
        paths.append(box.result("genesis", drift.genesis.image, drift.genesis.record, file_format))
    for number, chain in enumerate(drift.chains, start=1):
        for step in chain.steps[1:]:
            paths.append(box.result(f"chain-{number}-step-{step.index:02d}", step.image, step.record, file_format))
    captions = [caption for _, caption in drift.filmstrip()]
    plot = box.folder / "metrics.png" if final else box.fresh("metrics", ".png")
    drift.plot().save(plot, format="PNG")
    gif = archive = None
    if final:
        made = drift.gif(box.folder / "drift.gif") if paths else None
        gif = str(made) if made else None
        archive = str(drift.to_zip(box.folder / "drift.zip", file_format, gif=made))
    return DriftView(drift=drift, plot=str(plot), filmstrip=list(zip(paths, captions, strict=True)),
                     table=drift.table(), manifest=drift.manifest(file_format), gif=gif, archive=archive,
                     finished=final)


def drift_spec(chains: list[dict[str, Any]], prompt: str = "", genesis_model: str | None = None,
               genesis_backend: str = "auto", genesis_params: dict[str, Any] | None = None,
               genesis_seed: int | None = None, start_image: Any = None,
               max_steps: int | None = None) -> DriftSpec:
    """A DriftSpec from the endpoint's arguments (the upload checked; ValidationError for a bad shape)."""
    spec = drift_from_dict({"chains": chains or [], "prompt": prompt or "", "genesis_model": genesis_model,
                            "genesis_backend": genesis_backend or "auto", "genesis_params": genesis_params or {},
                            "genesis_seed": genesis_seed, "max_steps": max_steps})
    spec.start_image = service.checked_file(start_image, "start_image")
    return spec


@door
async def drift(
    chains: list[dict[str, Any]],
    prompt: str = "",
    genesis_model: str | None = "flux-schnell",
    genesis_backend: str = "auto",
    genesis_params: dict[str, Any] | None = None,
    genesis_seed: int | None = None,
    start_image: FileData | None = None,
    max_steps: int | None = None,
    fal_key: str | None = None,
    replicate_key: str | None = None,
    output_format: str | None = None,
    output_quality: int | None = None,
) -> AsyncIterator[tuple[FileData, list[FileData], FileData | None, dict[str, Any], FileData | None]]:
    """Drift: ask an edit model to reproduce its own output exactly, again and again, and measure how
    far the image wanders. Results stream as steps finish.

    A genesis model makes the first image from `prompt` (or `start_image` is used); then each chain
    applies its edit model to its previous output `steps` times with its `instruction`. Several chains
    start from the same first image and run side by side. Every step is measured against the first
    and the previous image (MSE, PSNR, SSIM, perceptual-hash distance). A failure ends that chain with
    its error and keeps its steps so far; `job.cancel()` stops every chain, and the last update keeps
    what was done. Call /drift_plan first for the cost. A chain is {"model": "flux-kontext-pro",
    "backend": "fal", "steps": 10}, optionally with "instruction" (default "Reproduce this image exactly,
    pixel-for-pixel."), "params", "seed" and "label".

    Args:
        chains: [{"model", "backend", "steps", "instruction", "params", "seed", "label"}]; model required.
        prompt: The genesis prompt.
        genesis_model: A text-to-image model id for the first image (ignored with `start_image`).
        genesis_backend: "auto", "local", "fal" or "replicate" for the genesis model.
        genesis_params: Canonical parameters of the genesis run, e.g. {"image_size": "square"}.
        genesis_seed: Seed of the genesis run; None draws one.
        start_image: Your own first image (gradio_client.handle_file) instead of a genesis run.
        max_steps: Refuse chains with more steps (default PLAYGROUND_DRIFT_MAX_STEPS, 50).
        fal_key: Your fal API key, used for this request only and never stored ("" is refused).
        replicate_key: Your Replicate API token, the same way.
        output_format: File format of the first image and every step: "png" (default), "jpeg" or
            "webp"; each carries its record. Metrics are measured on the images as made, never on a
            lossy file.
        output_quality: JPEG/WebP quality 1-100 (None: JPEG 95, WebP lossless).

    Returns:
        Streamed as steps finish: the metrics plot (PNG: four panels, one line per chain, solid against
        the first image, dashed against the previous one), the filmstrip (genesis.png, then
        chain-N-step-KK.png for every step done, each PNG with its record embedded), the animated GIF
        (None until finished), the manifest (schema playground.drift-manifest/1: per chain its status,
        error and steps with their metrics and records), and finally one zip with everything.
    """
    keys = service.visitor_keys(fal_key, replicate_key)
    file_format = choose(output_format, output_quality)
    spec = drift_spec(chains, prompt, genesis_model, genesis_backend, genesis_params, genesis_seed,
                      start_image, max_steps)
    spec, planned = await asyncio.get_running_loop().run_in_executor(service.runners(), prepare_drift, spec, keys)
    async for view in drift_views(spec, planned, keys, threading.Event(), file_format):
        yield (FileData(path=view.plot), [FileData(path=p) for p, _ in view.filmstrip], file_data(view.gif),
               view.manifest, file_data(view.archive))


@door
def drift_plan(
    chains: list[dict[str, Any]],
    prompt: str = "",
    genesis_model: str | None = "flux-schnell",
    genesis_backend: str = "auto",
    genesis_params: dict[str, Any] | None = None,
    genesis_seed: int | None = None,
    start_image: FileData | None = None,
    max_steps: int | None = None,
    fal_key: str | None = None,
    replicate_key: str | None = None,
) -> dict[str, Any]:
    """Plan a drift without running it. Takes the same arguments as /drift and refuses the same way.

    Returns:
        {"genesis": {"source", "backend", "ready", "why", "cost"}, "chains": [{"label", "model",
        "steps", "backend", "ready", "why", "cost_per_step", "cost"}], "steps": edits that will run,
        "estimated_cost": dollars, "unpriced": how many parts have no published price}.
    """
    spec = drift_spec(chains, prompt, genesis_model, genesis_backend, genesis_params, genesis_seed,
                      start_image, max_steps)
    return plan_drift(spec, service.visitor_keys(fal_key, replicate_key))


# --- registration ------------------------------------------------------------------------------------
def register() -> None:
    """Add /compare, /compare_plan, /drift and /drift_plan to the Blocks being built."""
    runs = {"concurrency_limit": service.max_runs(), "concurrency_id": api.RUN_CONCURRENCY_ID}
    streaming_endpoint(compare, "compare", ("grid_image", "cells", "manifest", "archive"), **runs)
    api.endpoint(compare_plan, "compare_plan", ("plan",), concurrency_limit=None)
    streaming_endpoint(drift, "drift", ("plot", "filmstrip", "gif", "manifest", "archive"), **runs)
    api.endpoint(drift_plan, "drift_plan", ("plan",), concurrency_limit=None)


def streaming_endpoint(fn: Callable[..., AsyncIterator[Any]], api_name: str, outputs: tuple[str, ...],
                       **options: Any) -> Any:
    """`api.endpoint` for an async generator: its outputs are typed by what it yields."""
    (yielded,) = get_args(get_type_hints(fn)["return"])

    @functools.wraps(fn)
    async def streamed(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for item in fn(*args, **kwargs):
            yield item

    streamed.__annotations__ = {**fn.__annotations__, "return": yielded}
    return api.endpoint(streamed, api_name, outputs, **options)


def error_markdown(err: BaseException) -> tuple[str, gr.Error]:
    """A failure as a status line for a tab and the readable gr.Error to raise with it."""
    title, message = service.describe_error(err)
    line = f"**{message}**" if message.startswith(title) else f"**{title}:** {message}"
    return line, service.app_error(err)


USAGE = """
```python
from gradio_client import Client

client = Client("http://127.0.0.1:7860/")

# Compare: how many cells and what they cost, then run (results stream as cells finish).
axes = [{"kind": "seed", "values": "1:3"},
        {"kind": "model", "values": ["flux-2-dev@fal", "flux-2-pro@replicate"]}]
plan = client.predict(prompt="a red fox", axes=axes, fal_key="YOUR_FAL_KEY",
                      replicate_key="YOUR_REPLICATE_TOKEN", api_name="/compare_plan")
print(plan["to_run"], "cells, about $", plan["estimated_cost"])
job = client.submit(prompt="a red fox", axes=axes, seed=42, fal_key="YOUR_FAL_KEY",
                    replicate_key="YOUR_REPLICATE_TOKEN", api_name="/compare")
grid_png, cell_pngs, manifest, zip_path = job.result()   # job.outputs(): every update; job.cancel() stops

# Drift: ten "reproduce this image exactly" edits of a FLUX.1 [schnell] image, two edit models side by side.
plot_png, filmstrip, gif, manifest, zip_path = client.predict(
    prompt="a lighthouse at dusk", genesis_model="flux-schnell", genesis_backend="replicate",
    chains=[{"model": "flux-kontext-pro", "backend": "fal", "steps": 10},
            {"model": "seedream-4", "backend": "replicate", "steps": 10}],
    fal_key="YOUR_FAL_KEY", replicate_key="YOUR_REPLICATE_TOKEN", api_name="/drift")
```
Your own first image: `start_image=handle_file("photo.png")`. `/drift_plan` takes the same arguments and
says what it would cost. Keys are used for that request only.
"""
