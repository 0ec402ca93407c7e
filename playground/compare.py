"""Compare: parameter sweeps and cross-model grids.

A `GridSpec` names a model, the shared inputs (mode, prompt, images, parameters, seed) and up to three
axes; each axis is a parameter of the model, the seed, a prompt search-and-replace, or a list of models
(each on its own backend). It is JSON-friendly: `grid_to_dict` / `grid_from_dict` (schema
`playground.grid/1`) store it in presets, and every function here also takes that dict.

`plan_grid` expands a spec into cells, each resolved to one concrete backend, validated and costed, and
refuses grids over the cell cap (or the cost cap) before anything runs. A parameter a cell's model does not
accept is never dropped silently: an axis parameter makes the cell "n/a"; a shared one is left out of that
cell's request and listed in its `not_applied`. `run_grid` runs the cells: hosted cells concurrently, at
most `concurrency` at once per provider (the backends themselves wait out 429s as Retry-After says), local
cells one at a time; a cell that fails keeps its error and the grid carries on; `on_cell` hears every
change of a cell's status; once `cancel` is set no further cell starts and running ones are cancelled.
The resulting `Grid` renders the labelled grid image, the manifest JSON and one zip with everything.

What an axis's values are (lists, ranges, models, seeds, a parameter's values and labels) is read in
`axis_values`; the grid image is drawn by `drawing` from the plain data `render_grid` hands it.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from playground import backends, drawing, runs
from playground.adapters import LORA_PARAM, axis_field, with_axis_value
from playground.axis_values import (
    ModelChoice,
    expand_values,
    model_choices,
    model_label,
    param_values,
    seed_values,
    shorten,
)
from playground.background import one_at_a_time
from playground.catalog import MODELS, ModelSpec
from playground.drawing import AxisLabels, GridLayout, Tile, cell_size, tile_image
from playground.environment import env_int
from playground.errors import Cancelled, PlaygroundError
from playground.formats import FileFormat, with_record
from playground.images import encode, load_image, portable_image
from playground.jsonable import jsonable as _jsonable
from playground.params import Problem, ValidationError
from playground.request import Prepared, Request, resolve_seed
from playground.validation import validate

log = logging.getLogger("playground.compare")

GRID_SCHEMA = "playground.grid/1"
MANIFEST_SCHEMA = "playground.grid-manifest/1"
AXIS_KINDS: tuple[str, ...] = ("param", "seed", "prompt", "model")
AXIS_ROLES: tuple[str, ...] = ("columns", "rows", "panels")
MAX_AXES = 3
DEFAULT_MAX_CELLS = 64
DEFAULT_CONCURRENCY = 8
DEFAULT_CELL_PX = 384
STATUSES: tuple[str, ...] = ("pending", "running", "done", "failed", "cancelled", "n/a")
FINAL_STATUSES = frozenset({"done", "failed", "cancelled", "n/a"})

CellCallback = Callable[["Cell"], None]


# --- the spec ---------------------------------------------------------------------------------------
@dataclass
class Axis:
    """One axis of a grid.

    kind "param": `name` is a canonical parameter, or `loras[i].scale` / `loras[i].path` (adapter i of the
    shared `loras` list; a path one past its end adds an adapter at scale 1); `values` a list, or text:
    "start:stop:step" (numbers, stop included), else comma-separated (newline-separated when it has newlines).
    kind "seed": `values` seeds, same forms. kind "prompt": every `name` in the prompt is replaced by each
    value. kind "model": values are "model-id", "model-id@backend" or {"model": id, "backend": name}.
    """

    kind: str
    values: list[Any] | str
    name: str = ""


@dataclass
class GridSpec:
    """What to compare. `model`/`backend` apply when there is no model axis; `seed=None` draws one seed
    for the whole grid (so cells differ only by their axes); `max_cells` may lower the configured cap
    (PLAYGROUND_COMPARE_MAX_CELLS, default 64), never raise it; `max_cost` refuses grids estimated above
    it (dollars)."""

    model: str = ""
    axes: list[Axis] = field(default_factory=list)
    mode: str = "text-to-image"
    prompt: str = ""
    negative_prompt: str | None = None
    images: list[Any] = field(default_factory=list)
    mask: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    backend: str = "auto"
    max_cells: int | None = None
    max_cost: float | None = None


@dataclass
class ResolvedAxis:
    """An axis with its values expanded and labelled, in its place in the layout (`role`)."""

    kind: str
    name: str
    title: str
    role: str
    values: list[Any]
    labels: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "kind": self.kind, "name": self.name, "title": self.title,
                "values": [_jsonable(v) for v in self.values], "labels": list(self.labels)}


@dataclass
class Cell:
    """One cell of the grid: where it sits, what it runs, and what came of it.

    `position` is (column, row, panel). `labels` maps each axis title to this cell's value label.
    `status` is one of STATUSES; `error` says why a cell failed, was cancelled or is n/a. `not_applied`
    holds the shared parameters this cell's model does not accept (left out of its request).
    `record` is the reproducibility record of the run (see `runs.run`).
    """

    index: int
    position: tuple[int, int, int]
    labels: dict[str, str]
    model: str
    backend: str | None
    prompt: str
    params: dict[str, Any]
    seed: int
    status: str = "pending"
    error: str | None = None
    not_applied: dict[str, Any] = field(default_factory=dict)
    estimated_cost: float | None = None
    cost: float | None = None
    images: list[Image.Image] = field(default_factory=list)
    record: dict[str, Any] | None = None
    seconds: float | None = None
    prepared: Prepared | None = field(default=None, repr=False)
    request: Request | None = field(default=None, repr=False)

    @property
    def image(self) -> Image.Image | None:
        return self.images[0] if self.images else None

    @property
    def name(self) -> str:
        """A file-name-safe name: index and value labels."""
        slug = "-".join(self.labels.values()) or self.model
        return f"{self.index:03d}-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", slug).strip("_")[:60] or "cell")

    def caption(self) -> str:
        text = ", ".join(f"{k}: {v}" for k, v in self.labels.items()) or self.model
        if self.status != "done":
            text += f" [{self.status}{': ' + self.error if self.error else ''}]"
        if self.not_applied:
            text += f" (n/a: {', '.join(self.not_applied)})"
        return text

    def as_dict(self) -> dict[str, Any]:
        """Everything but the pixels, JSON-ready."""
        column, row, panel = self.position
        return {
            "index": self.index, "position": {"column": column, "row": row, "panel": panel},
            "labels": dict(self.labels), "model": self.model, "backend": self.backend, "status": self.status,
            "error": self.error, "not_applied": _jsonable(self.not_applied), "prompt": self.prompt,
            "params": _jsonable(self.params), "seed": self.seed, "estimated_cost": self.estimated_cost,
            "cost": self.cost, "seconds": self.seconds, "record": self.record,
        }


@dataclass
class Grid:
    """A planned grid, and after `run_grid` its results. Cells are in index order:
    index = (panel x rows + row) x columns + column."""

    spec: GridSpec
    axes: list[ResolvedAxis]
    cells: list[Cell]
    seed: int
    cap: int
    wall_s: float | None = None
    cancelled: bool = False
    record_source: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(columns, rows, panels)."""
        sizes = [len(a.values) for a in self.axes] + [1, 1, 1]
        return sizes[0], sizes[1], sizes[2]

    @property
    def estimated_cost(self) -> float:
        """Estimated dollars for every cell planned to run, before or after running (unpriced cells count 0;
        see `summary`)."""
        return round(sum(c.estimated_cost or 0.0 for c in self.cells if c.prepared is not None), 6)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.cells if c.status == s) for s in STATUSES}

    def summary(self) -> dict[str, Any]:
        """What to show before starting (and after): cell counts, cost, cap."""
        counts = self.counts()
        to_run = [c for c in self.cells if c.prepared is not None]
        return {
            "cells": len(self.cells), "cap": self.cap, "shape": list(self.shape), "to_run": len(to_run),
            "n/a": counts["n/a"], "refused": sum(1 for c in self.cells if c.prepared is None and c.status == "failed"),
            "estimated_cost": self.estimated_cost,
            "unpriced_cells": sum(1 for c in to_run if c.estimated_cost is None),
            "by_backend": {b: sum(1 for c in to_run if c.backend == b) for b in sorted({c.backend for c in to_run})},
            "counts": counts, "cost": round(sum(c.cost or 0.0 for c in self.cells), 6), "wall_s": self.wall_s,
            "cancelled": self.cancelled,
        }

    def grid_image(self, cell_px: int = DEFAULT_CELL_PX) -> Image.Image:
        """The labelled grid: column values on top, row values on the left, one block per panel value."""
        return render_grid(self, cell_px)

    def gallery(self) -> list[tuple[Image.Image, str]]:
        """Every cell as (image or status tile, caption), for a gallery."""
        size = cell_size([c.image for c in self.cells if c.image is not None], DEFAULT_CELL_PX)
        return [(c.image if c.image is not None else tile_image(_tile(c), size), c.caption()) for c in self.cells]

    def manifest(self, file_format: FileFormat | None = None) -> dict[str, Any]:
        """The grid described as JSON (see MANIFEST_SCHEMA in the module's report); cell files named
        with `file_format`'s suffix (default PNG), as `to_zip` writes them."""
        suffix = (file_format or FileFormat()).suffix
        cells = []
        for c in self.cells:
            entry = c.as_dict()
            entry["files"] = [f"cells/{c.name}{'' if i == 0 else f'-{i}'}.{suffix}" for i in range(len(c.images))]
            entry["record_file"] = f"cells/{c.name}.json" if c.record is not None else None
            cells.append(entry)
        counts = self.counts()
        return {
            "schema": MANIFEST_SCHEMA, "created": self.created, "grid": grid_to_dict(self.spec),
            "seed": self.seed, "shape": {"columns": self.shape[0], "rows": self.shape[1], "panels": self.shape[2]},
            "axes": [a.as_dict() for a in self.axes], "grid_image": "grid.png", "record_source": self.record_source,
            "cells": cells,
            "totals": {"cells": len(self.cells), **counts, "estimated_cost": self.estimated_cost,
                       "cost": round(sum(c.cost or 0.0 for c in self.cells), 6), "wall_s": self.wall_s},
            "cancelled": self.cancelled,
        }

    def to_zip(self, path: str | Path | None = None, cell_px: int = DEFAULT_CELL_PX,
               file_format: FileFormat | None = None) -> Path:
        """Write grid.png, manifest.json, and every cell's images (in `file_format`, default PNG, each
        with its record embedded) and record (JSON) into one zip.

        `path` defaults to a new file in the temp folder. Returns the zip's path.
        """
        target = Path(path) if path else Path(tempfile.mkdtemp(prefix="playground-grid-")) / "grid.zip"
        manifest = self.manifest(file_format)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("grid.png", encode(self.grid_image(cell_px)))
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
            for cell, entry in zip(self.cells, manifest["cells"], strict=True):
                for i, (image, name) in enumerate(zip(cell.images, entry["files"], strict=True)):
                    archive.writestr(name, with_record(image, cell.record, file_format, i))
                if entry["record_file"]:
                    archive.writestr(entry["record_file"], json.dumps(cell.record, indent=2, default=str))
        return target


# --- presets ----------------------------------------------------------------------------------------
_SPEC_KEYS = ("model", "mode", "backend", "prompt", "negative_prompt", "params", "seed", "axes", "max_cells",
              "max_cost", "images", "mask")


def grid_to_dict(spec: GridSpec, include_images: bool = False) -> dict[str, Any]:
    """The spec as JSON (`schema` = playground.grid/1). Input images are kept (as PNG data URIs) only
    with `include_images`; otherwise they are left out and the preset needs them supplied again."""
    data: dict[str, Any] = {
        "schema": GRID_SCHEMA, "model": spec.model, "mode": spec.mode, "backend": spec.backend,
        "prompt": spec.prompt, "negative_prompt": spec.negative_prompt, "params": _jsonable(spec.params),
        "seed": spec.seed,
        "axes": [{"kind": a.kind, "name": a.name, "values": _jsonable(a.values)} for a in spec.axes],
        "max_cells": spec.max_cells, "max_cost": spec.max_cost,
    }
    if include_images:
        data["images"] = [portable_image(img, f"images[{i}]") for i, img in enumerate(spec.images)]
        if spec.mask is not None:
            data["mask"] = portable_image(spec.mask, "mask")
    return data


def grid_from_dict(data: dict[str, Any]) -> GridSpec:
    """A GridSpec from `grid_to_dict` output (or a UI/API payload of the same shape).

    A missing `schema` is taken as the current one; any other schema, unknown keys or wrongly typed
    fields raise ValidationError with every problem at once.
    """
    if not isinstance(data, dict):
        raise ValidationError([Problem("grid", data, "an object (playground.grid/1)")])
    problems: list[Problem] = []
    schema = data.get("schema", GRID_SCHEMA)
    if schema != GRID_SCHEMA:
        problems.append(Problem("schema", schema, GRID_SCHEMA))
    for key in sorted(set(data) - set(_SPEC_KEYS) - {"schema"}):
        problems.append(Problem(key, data[key], "one of the grid fields: " + ", ".join(_SPEC_KEYS)))
    axes: list[Axis] = []
    raw_axes = data.get("axes") or []
    if not isinstance(raw_axes, list):
        problems.append(Problem("axes", raw_axes, f"a list of at most {MAX_AXES} axes"))
        raw_axes = []
    for i, raw in enumerate(raw_axes):
        if not isinstance(raw, dict) or set(raw) - {"kind", "name", "values"} or "kind" not in raw:
            problems.append(Problem(f"axes[{i}]", raw, 'an object {"kind", "name", "values"}'))
            continue
        axes.append(Axis(kind=raw["kind"], name=raw.get("name") or "", values=raw.get("values", [])))
    params = data.get("params") or {}
    if not isinstance(params, dict):
        problems.append(Problem("params", params, "an object of parameter names to values"))
        params = {}
    for key in ("max_cells", "max_cost"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            problems.append(Problem(key, value, "a positive number, or empty for the default"))
    cap = max_cells_default()
    requested = data.get("max_cells")
    if isinstance(requested, (int, float)) and not isinstance(requested, bool) and requested > cap:
        # The operator's cap is a ceiling: a caller may lower it, never raise it.
        problems.append(Problem("max_cells", requested, f"at most {cap} (this server's cell cap, "
                                                        f"PLAYGROUND_COMPARE_MAX_CELLS; it can only be lowered)"))
    if problems:
        raise ValidationError(problems)
    images = data.get("images") or []
    return GridSpec(
        model=data.get("model") or "", axes=axes, mode=data.get("mode") or "text-to-image",
        prompt=data.get("prompt") or "", negative_prompt=data.get("negative_prompt"),
        images=list(images) if isinstance(images, (list, tuple)) else [images], mask=data.get("mask"),
        params=dict(params), seed=data.get("seed"), backend=data.get("backend") or "auto",
        max_cells=data.get("max_cells"), max_cost=data.get("max_cost"),
    )


# --- planning ---------------------------------------------------------------------------------------
def max_cells_default() -> int:
    """The cell cap: PLAYGROUND_COMPARE_MAX_CELLS, else 64."""
    return env_int("PLAYGROUND_COMPARE_MAX_CELLS", DEFAULT_MAX_CELLS, minimum=1)


def concurrency_default() -> int:
    """Hosted cells at once per provider: PLAYGROUND_COMPARE_CONCURRENCY, else 8."""
    return env_int("PLAYGROUND_COMPARE_CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1)


def plan_grid(spec: GridSpec | dict[str, Any], keys: dict[str, str] | None = None) -> Grid:
    """Expand `spec` into cells, resolve each model's backend, validate and cost every cell.

    Raises ValidationError (every problem at once) for a malformed spec, a grid over the cell cap or
    over `max_cost`. Problems of single cells do not raise: such cells are "n/a" (an axis parameter
    the model does not take) or "failed" (its request is invalid, or no backend can run it now), and
    say why in `error`. Nothing runs here.
    """
    if isinstance(spec, dict):
        spec = grid_from_dict(spec)
    ceiling = max_cells_default()
    if spec.max_cells is not None and spec.max_cells > ceiling:
        raise ValidationError([Problem("max_cells", spec.max_cells, f"at most {ceiling} (this server's cell cap, "
                                                                    f"PLAYGROUND_COMPARE_MAX_CELLS; it can only be "
                                                                    f"lowered)")])
    cap = int(spec.max_cells or ceiling)
    axes, choices = _resolve_axes(spec)
    count = math.prod(len(a.values) for a in axes) if axes else 1
    if count > cap:
        raise ValidationError([Problem("cells", f"{count} cells ({' x '.join(str(len(a.values)) for a in axes)})",
                                       f"at most {cap} cells (the grid cap; change max_cells to allow more)")])
    seed = resolve_seed(spec.seed)
    images = [_as_pil(img) for img in spec.images or []]
    mask = spec.mask
    resolved = {choice: _resolve_backend(choice, spec, images, mask, seed, keys) for choice in choices}
    for axis in axes:
        if axis.kind == "model":
            axis.labels = [model_label(c, resolved[c][0]) for c in axis.values]
    cells = []
    columns = len(axes[0].values) if axes else 1
    rows = len(axes[1].values) if len(axes) > 1 else 1
    for index, combo in enumerate(_combinations(axes)):
        position = (index % columns, (index // columns) % rows, index // (columns * rows))
        cells.append(_plan_cell(index, position, combo, axes, spec, choices[0], resolved, images, mask, seed))
    grid = Grid(spec=spec, axes=axes, cells=cells, seed=seed, cap=cap)
    if spec.max_cost is not None and grid.estimated_cost > spec.max_cost:
        raise ValidationError([Problem("max_cost", f"estimated ${grid.estimated_cost:g}",
                                       f"grids estimated at most ${spec.max_cost:g}")])
    return grid


def _resolve_axes(spec: GridSpec) -> tuple[list[ResolvedAxis], list[ModelChoice]]:
    problems: list[Problem] = []
    raw = spec.axes or []
    if len(raw) > MAX_AXES:
        problems.append(Problem("axes", f"{len(raw)} axes", f"at most {MAX_AXES}"))
        raw = raw[:MAX_AXES]
    kinds = [a.kind for a in raw]
    if kinds.count("model") > 1 or kinds.count("seed") > 1:
        problems.append(Problem("axes", kinds, "at most one model axis and one seed axis"))
    choices: list[ModelChoice] = []
    model_at = next((i for i, a in enumerate(raw) if a.kind == "model"), None)
    if model_at is not None:
        choices = model_choices(raw[model_at].values, problems, field_name=f"axes[{model_at}].values")
    else:
        choices = model_choices([spec.model], problems, field_name="model", default_backend=spec.backend or "auto")
    seen_params: set[str] = set()
    axes: list[ResolvedAxis] = []
    for i, axis in enumerate(raw):
        role = AXIS_ROLES[i]
        where = f"axes[{i}]"
        if axis.kind not in AXIS_KINDS:
            problems.append(Problem(f"{where}.kind", axis.kind, "one of " + ", ".join(AXIS_KINDS)))
            continue
        if axis.kind == "model":
            axes.append(ResolvedAxis("model", "model", "Model", role, list(choices), [c.label() for c in choices]))
        elif axis.kind == "seed":
            seeds = seed_values(axis.values, where, problems)
            axes.append(ResolvedAxis("seed", "seed", "Seed", role, seeds, [str(s) for s in seeds]))
        elif axis.kind == "prompt":
            search = axis.name or ""
            if not search:
                problems.append(Problem(f"{where}.name", search, "the text to replace in the prompt"))
            elif search not in (spec.prompt or ""):
                problems.append(Problem(f"{where}.name", search, "text that occurs in the prompt"))
            values = [str(v) for v in expand_values(axis.values, False, where, problems, ranges=False)]
            axes.append(ResolvedAxis("prompt", search, f"Prompt: {shorten(search, 24)}", role, values,
                                     [shorten(v, 40) for v in values]))
        else:
            title, values, labels = param_values(axis.name, axis.values, where, spec.mode, choices, seen_params,
                                                 problems)
            axes.append(ResolvedAxis("param", axis.name, title, role, values, labels))
    for axis in axes:
        if not axis.values:
            problems.append(Problem(f"axes[{AXIS_ROLES.index(axis.role)}].values", [], "at least one value"))
    if problems:
        raise ValidationError(problems)
    return axes, choices


def _resolve_backend(choice: ModelChoice, spec: GridSpec, images: list[Image.Image], mask: Any,
                     seed: int, keys: dict[str, str] | None) -> tuple[str | None, str | None]:
    """The concrete backend a model's cells run on, or (None, why none can)."""
    try:
        base = validate(Request(model=choice.model, mode=spec.mode, prompt=spec.prompt, images=images, mask=mask,
                                seed=seed, backend=choice.backend,
                                params={"edit_style": spec.params["edit_style"]}
                                if "edit_style" in spec.params and MODELS[choice.model].edit_styles else {}))
    except ValidationError as err:
        return None, err.describe()
    if choice.backend != "auto":
        ok, why = backends.health(choice.backend, base, keys)
        return (choice.backend, None) if ok else (None, f"{choice.backend} cannot run {choice.model}: {why}")
    planned = backends.plan(base, keys)
    if planned["backend"] is None:
        reasons = "; ".join(f"{p['backend']}: {p['reason']}" for p in planned["passed"]) or "no backend serves it"
        return None, f"No backend can run {choice.model} now. {reasons}"
    return planned["backend"], None


def _plan_cell(index: int, position: tuple[int, int, int], combo: tuple[int, ...], axes: list[ResolvedAxis],
               spec: GridSpec, default_choice: ModelChoice,
               resolved: dict[ModelChoice, tuple[str | None, str | None]], images: list[Image.Image],
               mask: Any, seed: int) -> Cell:
    params = {k: v for k, v in (spec.params or {}).items() if v is not None}
    prompt, choice, axis_params = spec.prompt or "", default_choice, []
    labels: dict[str, str] = {}
    for axis, i in zip(axes, combo, strict=True):
        value = axis.values[i]
        labels[axis.title] = axis.labels[i]
        if axis.kind == "param" and axis_field(axis.name):
            params[LORA_PARAM] = with_axis_value(params.get(LORA_PARAM), axis.name, value)
            axis_params.append(LORA_PARAM)
        elif axis.kind == "param":
            params[axis.name] = value
            axis_params.append(axis.name)
        elif axis.kind == "seed":
            seed = value
        elif axis.kind == "prompt":
            prompt = prompt.replace(axis.name, value)
        else:
            choice = value
    model = MODELS[choice.model]
    backend, why = resolved[choice]
    cell = Cell(index=index, position=position, labels=labels, model=model.id, backend=backend, prompt=prompt,
                params=params, seed=seed)
    if backend is None:
        cell.status, cell.error = "failed", why
        return cell
    accepted = {p.name for p in model.params_for(spec.mode, backend)} if spec.mode in model.modes else set()
    missing = [n for n in axis_params if n not in accepted]
    if missing:
        cell.status = "n/a"
        cell.error = "; ".join(_why_not(model, n, spec.mode, backend) for n in missing)
        return cell
    cell.not_applied = {n: v for n, v in params.items() if n not in accepted}
    negative = spec.negative_prompt or None
    if negative and backend not in model.negative_prompt:
        cell.not_applied["negative_prompt"] = negative
        negative = None
    cell.params = {n: v for n, v in params.items() if n in accepted}
    request = Request(model=model.id, mode=spec.mode, prompt=prompt, negative_prompt=negative, images=images,
                      mask=mask, params=cell.params, seed=seed, backend=backend)
    cell.request = request
    try:
        cell.prepared = validate(request)
    except ValidationError as err:
        cell.status, cell.error = "failed", err.describe()
        return cell
    cell.estimated_cost = backends.estimate(cell.prepared, backend)
    return cell


def _why_not(model: ModelSpec, name: str, mode: str, backend: str) -> str:
    spec = model.param(name)
    if spec is None:
        return f"{model.id} has no parameter {name}"
    if not spec.applies(mode=mode):
        return f"{model.id} does not use {name} in {mode}"
    return f"{model.id} does not accept {name} on {backend}"


def _combinations(axes: list[ResolvedAxis]) -> Iterator[tuple[int, ...]]:
    """Value indices per cell in cell order: the first axis varies fastest."""
    for combo in itertools.product(*(range(len(a.values)) for a in reversed(axes))):
        yield tuple(reversed(combo))


# --- running ----------------------------------------------------------------------------------------
def run_grid(grid: Grid | GridSpec | dict[str, Any], keys: dict[str, str] | None = None,
             on_cell: CellCallback | None = None, cancel: threading.Event | None = None,
             concurrency: int | dict[str, int] | None = None) -> Grid:
    """Run every pending cell of a grid (planning it first when given a spec or dict); returns the Grid.

    Hosted cells run concurrently, at most `concurrency` at once per provider (an int for all, or
    {"fal": 4, ...}; default PLAYGROUND_COMPARE_CONCURRENCY or 8); local cells one at a time, in
    index order. `on_cell(cell)` gets the live Cell (from worker threads, one call at a time) for the cells
    settled at planning, then whenever a cell starts ("running") and when it ends; an exception in it is
    logged and ignored. Setting `cancel` stops new cells from starting ("cancelled") and cancels the
    running ones; cells already done keep their results. Never raises for a cell's failure.
    """
    if not isinstance(grid, Grid):
        grid = plan_grid(grid, keys)
    cancel = cancel or threading.Event()
    emit = one_at_a_time(on_cell)
    started = time.perf_counter()
    for cell in grid.cells:
        if cell.status in FINAL_STATUSES:
            emit(cell)
    pending = [c for c in grid.cells if c.status == "pending"]
    pools: dict[str, ThreadPoolExecutor] = {}
    limit = _limits(concurrency)
    try:
        futures = []
        for cell in pending:
            backend = str(cell.backend)
            if backend not in pools:
                workers = 1 if backend == "local" else max(1, limit.get(backend, limit["*"]))
                pools[backend] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"grid-{backend}")
            futures.append(pools[backend].submit(_run_cell, cell, keys, cancel, emit))
        wait(futures)
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True)
    grid.wall_s = round(time.perf_counter() - started, 4)
    grid.cancelled = cancel.is_set()
    grid.record_source = runs.RECORD_SOURCE
    return grid


def _run_cell(cell: Cell, keys: dict[str, str] | None, cancel: threading.Event,
              emit: Callable[[Cell], None]) -> None:
    if cancel.is_set():
        cell.status, cell.error = "cancelled", "Cancelled before it started."
        emit(cell)
        return
    cell.status = "running"
    emit(cell)
    started = time.perf_counter()
    try:
        assert cell.prepared is not None and cell.request is not None
        done = runs.run(cell.request, prepared=cell.prepared, keys=keys, cancel=cancel)
    except Cancelled as err:
        cell.status, cell.error = "cancelled", str(err)
    except (PlaygroundError, ValidationError) as err:
        cell.status, cell.error = "failed", str(err)
    except Exception as err:  # noqa: BLE001 - one cell's crash must not stop the grid; it shows the error
        log.exception("cell %s crashed", cell.index)
        cell.status, cell.error = "failed", f"{type(err).__name__}: {err}"
    else:
        cell.images = list(done.result.images)
        cell.record = done.record
        cell.cost = done.result.cost
        cell.status = "done"
    cell.seconds = round(time.perf_counter() - started, 4)
    emit(cell)


def _limits(concurrency: int | dict[str, int] | None) -> dict[str, int]:
    if isinstance(concurrency, dict):
        return {"*": concurrency_default(), **{k: int(v) for k, v in concurrency.items()}}
    return {"*": int(concurrency) if concurrency else concurrency_default()}


# --- pictures ---------------------------------------------------------------------------------------
_STATUS_TITLES = {"n/a": "n/a", "failed": "FAILED", "cancelled": "cancelled"}


def grid_layout(grid: Grid, cell_px: int = DEFAULT_CELL_PX) -> GridLayout:
    """The layout `render_grid` uses for `grid` at `cell_px` (the longer side of a cell)."""
    return drawing.grid_layout(*_drawn(grid), cell_px)


def render_grid(grid: Grid, cell_px: int = DEFAULT_CELL_PX) -> Image.Image:
    """Draw `grid` (see `drawing.draw_grid`): the column axis along the top, the row axis down the left, one
    block per panel value. Outputs of different sizes are letterboxed into one cell size; failed, cancelled
    and n/a cells show their reason; a cell's parameters its model did not take are listed along its foot."""
    return drawing.draw_grid(*_drawn(grid), cell_px)


def _drawn(grid: Grid) -> tuple[list[AxisLabels], list[Tile]]:
    """The grid as the plain data `drawing` draws: axis titles and labels, one tile per cell."""
    return [AxisLabels(a.title, list(a.labels)) for a in grid.axes], [_tile(c) for c in grid.cells]


def _tile(cell: Cell) -> Tile:
    if cell.image is not None:
        footer = "n/a: " + ", ".join(cell.not_applied) if cell.not_applied else ""
        return Tile(cell.position, cell.image, footer=footer)
    return Tile(cell.position, title=_STATUS_TITLES.get(cell.status, cell.status), message=cell.error or "",
                alarm=cell.status == "failed")


def _as_pil(value: Any) -> Image.Image:
    """Inputs as RGB PIL images, decoded once for the whole grid (ValidationError if unreadable)."""
    return value if isinstance(value, Image.Image) else load_image(value, "images").image
