"""The Compare tab: one request over up to three axes (a parameter, the seed, a prompt search-and-replace,
or the model), run as a grid that fills in as cells finish.

The form is read into a `playground.compare.GridSpec`; planning, running, labelling and the zip are
`playground.compare`'s, streamed through `compare_api.grid_views` like the `/compare` endpoint. Every
event here is private. Handlers read raw values (`preprocess=False`), as the Generate tab does, so a
parameter list being re-filled never refuses a value with Gradio's own message.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from playground import preset_store, presets
from playground.adapters import axis_title
from playground.axis_values import format_value
from playground.catalog import FAMILIES, MODELS, get_model
from playground.compare import MAX_AXES, Axis, GridSpec, max_cells_default, plan_grid
from playground.formats import FileFormat, choose
from playground.params import INPUT_KINDS, Param, Problem, ValidationError
from playground.ui import api, catalog_view, service
from playground.ui.common import LIGHT, RAW, door
from playground.ui.compare_api import CANCELS, USAGE, GridView, error_markdown, grid_views
from playground.ui.form import gallery_paths
from playground.ui.outputs import serve_copy

TAB = "compare"
INTRO = (
    "Run one request many times, changing up to three things at once: a **parameter**, the **seed**, a word "
    "of the **prompt**, or the **model** (local and hosted models side by side). Each axis is one direction of "
    "the grid: the first runs across (columns), the second down (rows), the third makes separate panels. "
    "Everything else is shared. Cells appear as they finish; **Download** gives every image with its record."
)
AXIS_KINDS: list[tuple[str, str]] = [("— not used —", "none"), ("A parameter", "param"), ("The seed", "seed"),
                                     ("Prompt text (search and replace)", "prompt"), ("The model", "model")]
ROLES = ("columns (across)", "rows (down)", "panels")
PARAMS_INFO = "One per line, name=value, e.g. image_size=square. Empty: the model's defaults."
MODES = [("Text to image", "text-to-image"), ("Edit (image to image)", "image-to-image")]
DEFAULT_MODEL = catalog_view.DEFAULT_MODEL
DEFAULT_AXES: list[dict[str, Any]] = [{"kind": "param", "name": "guidance_scale", "values": "2, 4, 6"},
                                      {"kind": "seed", "values": "1, 2"}, {"kind": "none"}]


@dataclass
class AxisRow:
    """The components of one axis."""

    kind: gr.Dropdown
    param: gr.Dropdown
    search: gr.Textbox
    models: gr.Dropdown
    values: gr.Textbox

    def fields(self) -> list[Any]:
        return [self.kind, self.param, self.search, self.models, self.values]


@dataclass
class CompareTab:
    """Every component the Compare tab's handlers read or update."""

    model: gr.Dropdown
    backend: gr.Radio
    mode: gr.Radio
    refs: gr.Gallery
    prompt: gr.Textbox
    negative: gr.Textbox
    params: gr.Textbox
    seed: gr.Textbox
    axes: list[AxisRow]
    max_cells: gr.Number
    max_cost: gr.Number
    fal_key: gr.Textbox
    replicate_key: gr.Textbox
    preset_name: gr.Textbox
    save: gr.Button
    preset_choice: gr.Dropdown
    load: gr.Button
    plan: gr.Markdown
    run: gr.Button
    cancel: gr.Button
    status: gr.Markdown
    grid_image: gr.Image
    cells: gr.Gallery
    cell_record: gr.JSON
    archive: gr.File
    manifest: gr.JSON
    shown: gr.State
    out_format: gr.Radio | None = None
    out_quality: gr.Slider | None = None

    def form_inputs(self) -> set[Any]:
        """The components a grid is read from (handlers get them as one dict)."""
        fields = {self.model, self.backend, self.mode, self.refs, self.prompt, self.negative, self.params, self.seed,
                  self.max_cells, self.max_cost, self.fal_key, self.replicate_key, self.out_format, self.out_quality}
        return (fields - {None}) | {c for row in self.axes for c in row.fields()}


# --- layout ------------------------------------------------------------------------------------------
def build() -> CompareTab:
    """Create the Compare tab's components (call inside the tab)."""
    gr.Markdown(INTRO, elem_id="compare-intro")
    model = get_model(DEFAULT_MODEL)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=380):
            gr.Markdown("### 1. What every cell shares")
            model_dd = gr.Dropdown(choices=catalog_view.model_choices(), value=model.id, label="Model",
                                   info="Not used when an axis compares models.", filterable=True,
                                   elem_id="compare-model")
            backend = gr.Radio(choices=catalog_view.backend_choices(model), value="auto", label="Backend",
                               elem_id="compare-backend")
            mode = gr.Radio(choices=MODES, value="text-to-image", label="Mode", elem_id="compare-mode")
            refs = gr.Gallery(type="filepath", interactive=True, label="Reference images", columns=4, height=160,
                              file_types=["image"], format="png", object_fit="contain", allow_preview=False,
                              visible=False, elem_id="compare-refs")
            prompt = gr.Textbox(label="Prompt", lines=2, elem_id="compare-prompt",
                                placeholder="e.g. a red fox in the snow, watercolor")
            negative = gr.Textbox(label="Negative prompt (models that take one)", lines=1,
                                  elem_id="compare-negative")
            params = gr.Textbox(label="Shared parameters", lines=2, elem_id="compare-params",
                                info=PARAMS_INFO + " " + params_info([model.id], "text-to-image"))
            seed = gr.Textbox(label="Seed", placeholder="random", elem_id="compare-seed",
                              info="Empty: one random seed for the whole grid, so cells differ only by their axes.")
            gr.Markdown("### 2. What changes: the axes")
            rows = [_axis_row(i, DEFAULT_AXES[i], [model.id], "text-to-image") for i in range(MAX_AXES)]
            with gr.Accordion("Limits", open=False, elem_id="compare-limits"):
                max_cells = gr.Number(label="Refuse grids with more cells than", value=max_cells_default(),
                                      precision=0, minimum=1, elem_id="compare-max-cells")
                max_cost = gr.Number(label="Refuse grids estimated above (dollars)", value=None, minimum=0,
                                     elem_id="compare-max-cost", info="Empty: no cost limit.")
            fal_key, replicate_key = keys_accordion("compare", "grid")
            out_format, out_quality = file_format_accordion("compare", "cell")
            preset_name, save, preset_choice, load = preset_accordion("compare", "grid")
        with gr.Column(scale=5, min_width=380):
            plan = gr.Markdown("**Before you run:** …", elem_id="compare-plan")
            with gr.Row():
                run = gr.Button("Run grid", variant="primary", scale=3, elem_id="compare-run")
                cancel = gr.Button("Cancel", variant="stop", scale=1, elem_id="compare-cancel")
            status = gr.Markdown(elem_id="compare-status")
            grid_image = gr.Image(label="Grid", show_label=False, type="filepath", interactive=False,
                                  elem_id="compare-grid", buttons=["download", "fullscreen"], format="png")
            cells = gr.Gallery(label="Cells (click one for its record)", columns=4, height=300, interactive=False,
                               elem_id="compare-cells", format="png", object_fit="contain",
                               buttons=["download", "fullscreen"])
            with gr.Accordion("Record of the selected cell (JSON)", open=False, elem_id="compare-cell-record-box"):
                cell_record = gr.JSON(elem_id="compare-cell-record")
            archive = gr.File(label="Download everything (grid, cells with records, manifest) as one zip",
                              interactive=False, elem_id="compare-zip")
            with gr.Accordion("Manifest (JSON)", open=False, elem_id="compare-manifest-box"):
                manifest = gr.JSON(elem_id="compare-manifest")
            with gr.Accordion("Call it from Python", open=False):
                gr.Markdown(USAGE)
    return CompareTab(model=model_dd, backend=backend, mode=mode, refs=refs, prompt=prompt, negative=negative,
                      params=params, seed=seed, axes=rows, max_cells=max_cells, max_cost=max_cost, fal_key=fal_key,
                      replicate_key=replicate_key, preset_name=preset_name, save=save, preset_choice=preset_choice,
                      load=load, plan=plan, run=run, cancel=cancel, status=status, grid_image=grid_image,
                      cells=cells, cell_record=cell_record, archive=archive, manifest=manifest, shown=gr.State(None),
                      out_format=out_format, out_quality=out_quality)


def _axis_row(index: int, axis: dict[str, Any], models: list[str], mode: str) -> AxisRow:
    kind = axis.get("kind", "none")
    name = axis.get("name", "")
    choices = param_choices(models, mode)
    with gr.Row(equal_height=True, elem_id=f"compare-axis-{index + 1}"):
        kind_dd = gr.Dropdown(choices=AXIS_KINDS, value=kind, label=f"Axis {index + 1}: {ROLES[index]}", scale=3,
                              elem_id=f"compare-axis-{index + 1}-kind")
        param = gr.Dropdown(choices=choices, value=name if kind == "param" else None, label="Parameter", scale=3,
                            visible=kind == "param", filterable=True, elem_id=f"compare-axis-{index + 1}-param")
        search = gr.Textbox(label="Text to replace", value=name if kind == "prompt" else "", scale=3,
                            visible=kind == "prompt", elem_id=f"compare-axis-{index + 1}-search")
        models_dd = gr.Dropdown(choices=model_axis_choices(), value=[], multiselect=True, label="Models", scale=5,
                                visible=kind == "model", filterable=True, elem_id=f"compare-axis-{index + 1}-models",
                                info="A model alone runs where auto picks; “on fal” etc. pins the backend.")
        values = gr.Textbox(label="Values", value=str(axis.get("values", "")), scale=4,
                            visible=kind in ("param", "seed", "prompt"), elem_id=f"compare-axis-{index + 1}-values",
                            info=values_info(kind, name, models, mode))
    return AxisRow(kind=kind_dd, param=param, search=search, models=models_dd, values=values)


# --- what the page says --------------------------------------------------------------------------------
def model_axis_choices() -> list[tuple[str, str]]:
    """(label, value) for the model axis: each model on auto, then pinned to each of its backends."""
    choices = []
    for model in MODELS.values():
        name = f"{FAMILIES[model.family]} › {model.label}"
        choices.append((name, model.id))
        choices.extend((f"{name} on {catalog_view.BACKEND_LABELS[b]}", f"{model.id}@{b}") for b in model.backends)
    return choices


def axis_params(models: list[str], mode: str) -> dict[str, tuple[Param, list[str]]]:
    """Parameters an axis may vary for `models` in `mode`: name → (spec, the models that take it)."""
    found: dict[str, tuple[Param, list[str]]] = {}
    for model_id in models:
        model = MODELS.get(model_id)
        if model is None:
            continue
        for param in model.params_for(mode if mode in model.modes else None):
            if param.kind in INPUT_KINDS or param.kind == "seed":
                continue
            if param.kind == "loras":  # the first adapter's scale and the adapter itself are the axes
                for axis in lora_axes(param):
                    found.setdefault(axis.name, (axis, []))[1].append(model_id)
                continue
            found.setdefault(param.name, (param, []))[1].append(model_id)
    return found


def lora_axes(param: Param) -> tuple[Param, Param]:
    """`loras[0].scale` (a number in the route's scale range) and `loras[0].path` (adapters), as axis params;
    the shared parameters' `loras` list supplies the adapter whose scale is swept."""
    scale, path = "loras[0].scale", "loras[0].path"
    return (replace(param, name=scale, kind="float", label=axis_title(scale), default=1.0, max_items=None),
            replace(param, name=path, kind="text", label=axis_title(path), default=None, min=None, max=None,
                    description="LoRA adapters: Hugging Face repo ids, https URLs or (single-user) files"))


def param_choices(models: list[str], mode: str) -> list[tuple[str, str]]:
    """(label, name) for the parameter picker; a parameter some models lack says which are n/a."""
    found = axis_params(models, mode)
    choices = []
    for name, (param, takers) in found.items():
        missing = [m for m in models if m in MODELS and m not in takers]
        note = f" — n/a for {', '.join(missing)}" if missing else ""
        choices.append((f"{param.title}{note}", name))
    return choices


def values_info(kind: str, name: str, models: list[str], mode: str) -> str:
    """What to type in an axis's Values box."""
    if kind == "seed":
        return "Seeds: a list (1, 2, 3) or a range start:stop:step, e.g. 1:4."
    if kind == "prompt":
        return "Replacements for the text, separated by commas (or one per line)."
    param = axis_params(models, mode).get(name, (None, []))[0]
    if param is None:
        return "Pick a parameter, then list its values."
    how = "a list (1, 2, 4) or a range start:stop:step (stop included)" if param.kind in ("int", "float") \
        else "a list separated by commas"
    default = f"; default {format_value(param.default)}" if param.default is not None else ""
    return f"{param.title}: {param.allowed()}{default}. Give {how}."


def params_info(models: list[str], mode: str) -> str:
    names = ", ".join(axis_params(models, mode))
    return f"Parameters here: {names}." if names else ""


def keys_accordion(prefix: str, what: str) -> tuple[gr.Textbox, gr.Textbox]:
    """The visitor's fal and Replicate key fields for a tab (ids `{prefix}-fal-key`, ...); never stored."""
    with gr.Accordion("Your API keys (fal, Replicate)", open=False, elem_id=f"{prefix}-keys"):
        gr.Markdown(f"Used for this {what} only and never stored. Leave a field empty to use the key typed on "
                    "the **Generate** tab.")
        fal_key = gr.Textbox(type="password", label="fal API key", elem_id=f"{prefix}-fal-key")
        replicate_key = gr.Textbox(type="password", label="Replicate API token", elem_id=f"{prefix}-replicate-key")
    return fal_key, replicate_key


def file_format_accordion(prefix: str, what: str) -> tuple[gr.Radio, gr.Slider]:
    """The file format of a tab's result images (ids `{prefix}-out-format`, `{prefix}-out-quality`), as on
    the Generate tab."""
    with gr.Accordion("Output file format", open=False, elem_id=f"{prefix}-file-format"):
        with gr.Row():
            out_format = gr.Radio([("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp")], value="png",
                                  label="File format", elem_id=f"{prefix}-out-format",
                                  info=f"Every {what}'s image carries its record in each format.")
            out_quality = gr.Slider(0, 100, value=0, step=1, label="Quality (JPEG, WebP)",
                                    elem_id=f"{prefix}-out-quality", info="0: the default (JPEG 95, WebP lossless).")
    return out_format, out_quality


def chosen_format(data: dict[Any, Any], out_format: Any, out_quality: Any) -> FileFormat:
    """The FileFormat a tab's format controls ask for (quality 0: the format's default); ValidationError
    names the field."""
    quality = data.get(out_quality) if out_quality is not None else None
    return choose(data.get(out_format) if out_format is not None else None,
                  None if quality in (None, "", 0) else quality)


def preset_accordion(prefix: str, kind: str) -> tuple[gr.Textbox, gr.Button, gr.Dropdown, gr.Button]:
    """Save/load controls for `grid` or `drift` presets: name, Save, the preset picker, Load."""
    with gr.Accordion(f"Save or load this {kind} as a preset", open=False, elem_id=f"{prefix}-presets"):
        with gr.Row():
            name = gr.Textbox(label="Preset name", scale=3, elem_id=f"{prefix}-preset-name")
            save = gr.Button("Save", scale=1, elem_id=f"{prefix}-preset-save")
        with gr.Row():
            choice = gr.Dropdown(choices=presets_of_kind(kind), label=f"{kind.capitalize()} presets", scale=3,
                                 elem_id=f"{prefix}-preset-choice")
            load = gr.Button("Load", scale=1, elem_id=f"{prefix}-preset-load")
    return name, save, choice, load


def presets_of_kind(kind: str) -> list[tuple[str, str]]:
    """(name, id) of every preset that holds a `kind` experiment ("grid" or "drift")."""
    try:
        listing = preset_store.list_presets()["presets"]
    except Exception:  # noqa: BLE001 - an unreadable preset folder must not break the page
        service.log.exception("listing presets failed")
        return []
    return [(p["name"], p["id"]) for p in listing if p.get("kind") == kind]


# --- reading the form --------------------------------------------------------------------------------
@dataclass
class Form:
    """The Compare tab's values at one moment (raw, as the browser sent them)."""

    model: str
    backend: str
    mode: str
    refs: Any
    prompt: str
    negative: str
    params: str
    seed: Any
    max_cells: Any
    max_cost: Any
    fal_key: str
    replicate_key: str
    axes: list[dict[str, Any]]
    fallback_keys: tuple[Any, Any, Any] = ("", "", False)

    def models(self) -> list[str]:
        """The models of the grid: the model axis's, else the shared model."""
        for axis in self.axes:
            if axis["kind"] == "model" and axis["models"]:
                return [str(v).partition("@")[0] for v in axis["models"]]
        return [self.model]

    def spec(self) -> GridSpec:
        """The grid these values describe (ValidationError for unreadable parameters)."""
        axes = []
        for axis in self.axes:
            kind = axis["kind"]
            if kind in (None, "", "none"):
                continue
            if kind == "model":
                axes.append(Axis("model", list(axis["models"] or [])))
            elif kind == "param":
                axes.append(Axis("param", axis["values"] or "", axis["param"] or ""))
            elif kind == "prompt":
                axes.append(Axis("prompt", axis["values"] or "", axis["search"] or ""))
            else:
                axes.append(Axis(kind, axis["values"] or ""))
        images = gallery_paths(self.refs) if self.mode == "image-to-image" else []
        return GridSpec(model=self.model or "", axes=axes, mode=self.mode or "text-to-image", prompt=self.prompt or "",
                        negative_prompt=(self.negative or "").strip() or None, images=images,
                        params=parse_params(self.params), seed=whole_number(self.seed), backend=self.backend or "auto",
                        max_cells=whole_number(self.max_cells), max_cost=_number(self.max_cost))

    def keys(self) -> dict[str, str]:
        fal, replicate, use_server = self.fallback_keys
        return service.visitor_keys(self.fal_key or fal or "", self.replicate_key or replicate or "",
                                    bool(use_server))


def parse_params(text: str | None, field_name: str = "shared parameters") -> dict[str, Any]:
    """`name=value` lines (values read as JSON where they parse, else text), or one JSON object."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError as err:
            raise ValidationError([Problem(field_name, text, f"a JSON object ({err})")]) from None
        if not isinstance(parsed, dict):
            raise ValidationError([Problem(field_name, text, "a JSON object of parameter names to values")])
        return parsed
    params: dict[str, Any] = {}
    problems = []
    for line in text.replace(";", "\n").splitlines():
        if not line.strip():
            continue
        name, sep, raw = line.partition("=")
        if not sep or not name.strip():
            problems.append(Problem(field_name, line.strip(), "name=value, one per line, e.g. num_inference_steps=20"))
            continue
        try:
            params[name.strip()] = json.loads(raw.strip())
        except ValueError:
            params[name.strip()] = raw.strip()
    if problems:
        raise ValidationError(problems)
    return params


def params_text(params: dict[str, Any] | None) -> str:
    """The inverse of `parse_params`, for loading a preset."""
    return "\n".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in (params or {}).items())


def _number(value: Any) -> Any:
    """A number box's raw value: None when empty, else a float (anything else as it is, for validation)."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def whole_number(value: Any) -> Any:
    """A box's raw value as an int when it is a whole number (None when empty)."""
    number = _number(value)
    return int(number) if isinstance(number, float) and number.is_integer() else number


# --- handlers ----------------------------------------------------------------------------------------
class Handlers:
    """Event handlers bound to one Compare tab (and the Generate tab's keys, as a fallback)."""

    def __init__(self, tab: CompareTab, fallback_keys: list[Any]):
        self.tab = tab
        self.fallback = fallback_keys

    def inputs(self) -> set[Any]:
        return self.tab.form_inputs() | set(self.fallback)

    def read(self, data: dict[Any, Any]) -> Form:
        t = self.tab
        axes = [{"kind": data[r.kind], "param": data[r.param], "search": data[r.search], "models": data[r.models],
                 "values": data[r.values]} for r in t.axes]
        fallback = tuple(data.get(c) for c in self.fallback) + ("", "", False)
        return Form(model=data[t.model], backend=data[t.backend], mode=data[t.mode], refs=data[t.refs],
                    prompt=data[t.prompt], negative=data[t.negative], params=data[t.params], seed=data[t.seed],
                    max_cells=data[t.max_cells], max_cost=data[t.max_cost], fal_key=data[t.fal_key],
                    replicate_key=data[t.replicate_key], axes=axes, fallback_keys=fallback[:3])

    # -- the form's shape --------------------------------------------------------------------------
    def refresh(self, data: dict[Any, Any]) -> list[Any]:
        """Show each axis's own fields, the parameters of the grid's models, and what to type where."""
        form = self.read(data)
        models, mode = form.models(), form.mode or "text-to-image"
        choices = param_choices(models, mode)
        names = [name for _, name in choices]
        uses_model_axis = any(a["kind"] == "model" for a in form.axes)
        backends: dict[str, Any] = {}
        if form.model in MODELS:
            backends["choices"] = catalog_view.backend_choices(MODELS[form.model])
            if form.backend not in ("auto", *MODELS[form.model].backends):
                backends["value"] = "auto"
        updates: list[Any] = [
            gr.update(visible=not uses_model_axis),
            gr.update(visible=not uses_model_axis, **backends),
            gr.update(info=PARAMS_INFO + " " + params_info(models, mode)),
        ]
        for axis in form.axes:
            kind = axis["kind"] or "none"
            param = axis["param"] if axis["param"] in names else (names[0] if kind == "param" and names else None)
            updates += [
                gr.update(visible=kind == "param", choices=choices,
                          **({"value": param} if param != axis["param"] else {})),
                gr.update(visible=kind == "prompt"),
                gr.update(visible=kind == "model"),
                gr.update(visible=kind in ("param", "seed", "prompt"),
                          info=values_info(kind, param or "", models, mode)),
            ]
        return updates

    def refresh_outputs(self) -> list[Any]:
        t = self.tab
        return [t.model, t.backend, t.params] + [c for row in t.axes for c in (row.param, row.search,
                                                                                       row.models, row.values)]

    # -- before running ----------------------------------------------------------------------------
    def plan_text(self, data: dict[Any, Any]) -> str:
        """Markdown: cells, where they run, the estimated cost and the cap, or what to fix first."""
        form = self.read(data)
        try:
            grid = plan_grid(form.spec(), form.keys())
        except ValidationError as err:
            return "**Fix before running:**\n" + "\n".join(f"- {p}" for p in err.problems)
        except Exception:  # noqa: BLE001 - a plan only informs the page
            service.log.exception("grid plan failed")
            return "**Before you run:** the grid could not be planned (see the server log)."
        return plan_markdown(grid.summary(), [c.as_dict() for c in grid.cells])

    # -- running -----------------------------------------------------------------------------------
    async def run(self, data: dict[Any, Any], request: gr.Request):
        """Plan, then stream the grid as cells finish; Cancel keeps what finished."""
        t = self.tab
        form = self.read(data)
        loop = asyncio.get_running_loop()
        try:
            spec, keys = form.spec(), form.keys()
            file_format = chosen_format(data, t.out_format, t.out_quality)
            grid = await loop.run_in_executor(service.runners(), plan_grid, spec, keys)
        except Exception as err:  # noqa: BLE001 - shown to the visitor, never as a traceback
            line, error = error_markdown(err)
            yield {t.status: line}
            raise error from None
        cancel = CANCELS.open(request.session_hash or "", TAB)
        try:
            yield {t.archive: None, t.cell_record: None}
            async for view in grid_views(grid, keys, cancel, file_format):
                yield self.show(view)
        finally:
            CANCELS.close(request.session_hash or "", TAB, cancel)

    def show(self, view: GridView) -> dict[Any, Any]:
        t = self.tab
        return {t.status: status_markdown(view), t.grid_image: view.image, t.cells: view.gallery,
                t.manifest: view.manifest, t.archive: view.archive, t.shown: view.manifest}

    @staticmethod
    def cancel(request: gr.Request) -> str:
        if CANCELS.cancel(request.session_hash or "", TAB):
            return "**Cancelling…** No new cell starts and running ones are stopped; finished cells are kept."
        return "Nothing is running."

    @staticmethod
    def select_cell(manifest: dict[str, Any] | None, evt: gr.SelectData) -> Any:
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        cells = (manifest or {}).get("cells") or []
        return cells[index] if 0 <= index < len(cells) else None

    # -- presets -----------------------------------------------------------------------------------
    @door
    def save_preset(self, data: dict[Any, Any]) -> Any:
        form = self.read(data)
        saved = preset_store.save_grid(form.spec(), data[self.tab.preset_name], on_conflict="overwrite")
        gr.Info(f"Saved the grid as preset “{saved['name']}”.")
        return gr.update(choices=presets_of_kind("grid"), value=saved["id"])

    @door
    def load_preset(self, ref: str | None) -> list[Any]:
        """Fill the form from a grid preset (its input images included)."""
        if not ref:
            raise gr.Error("Pick a grid preset first.", title="No preset chosen", print_exception=False)
        return spec_values(presets.preset_grid(preset_store.load_preset(ref)))

    def load_outputs(self) -> list[Any]:
        t = self.tab
        return [t.model, t.backend, t.mode, t.refs, t.prompt, t.negative, t.params, t.seed, t.max_cells,
                t.max_cost] + [c for row in t.axes for c in (row.kind, row.param, row.search, row.models, row.values)]


def spec_values(spec: Any) -> list[Any]:
    """The form's values (in `Handlers.load_outputs` order) for a grid spec."""
    values: list[Any] = [spec.model or DEFAULT_MODEL, spec.backend or "auto", spec.mode,
                         [serve_copy(p) for p in spec.images if isinstance(p, str)], spec.prompt,
                         spec.negative_prompt or "", params_text(spec.params), _text(spec.seed),
                         spec.max_cells or max_cells_default(), spec.max_cost]
    for i in range(MAX_AXES):
        axis = spec.axes[i] if i < len(spec.axes) else Axis("none", "")
        models = [_model_value(v) for v in axis.values] if axis.kind == "model" else []
        text = "" if axis.kind == "model" else _values_text(axis.values)
        values += [axis.kind, axis.name if axis.kind == "param" else None,
                   axis.name if axis.kind == "prompt" else "", models, text]
    return values


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _model_value(value: Any) -> str:
    if isinstance(value, dict):
        backend = value.get("backend") or "auto"
        return value.get("model", "") + ("" if backend == "auto" else f"@{backend}")
    return str(value)


def _values_text(values: Any) -> str:
    if isinstance(values, str):
        return values
    return ", ".join(format_value(v) for v in values or [])


def plan_markdown(summary: dict[str, Any], cells: list[dict[str, Any]]) -> str:
    """What a planned grid will do, for people."""
    columns, rows, panels = summary["shape"]
    shape = " × ".join(str(n) for n in (columns, rows, panels)[: 3 if panels > 1 else 2 if rows > 1 else 1])
    where = ", ".join(f"{catalog_view.BACKEND_LABELS.get(b, b)} {n}" for b, n in summary["by_backend"].items())
    cost = service.dollars(summary["estimated_cost"]) if summary["estimated_cost"] else "free"
    if summary["unpriced_cells"]:
        cost += f" (+ {summary['unpriced_cells']} cell(s) without a published price)"
    text = (f"**Before you run:** {summary['cells']} cells ({shape}) · {summary['to_run']} will run"
            f"{' (' + where + ')' if where else ''} · estimated **{cost}** · cap {summary['cap']} cells\n")
    if not summary["to_run"]:
        text = (f"**Before you run:** {summary['cells']} cells ({shape}) · none can run yet · cap {summary['cap']} "
                "cells")
    text += "".join(f"\n- {_cells_text(group, len(cells))} {status}: {error}"
                    for (status, error), group in _by_reason(cells).items())
    return text


def _by_reason(cells: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Cells that will not run, grouped by status and reason (one line per reason, not per cell)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in cells:
        if cell["status"] in ("n/a", "failed"):
            groups.setdefault((cell["status"], cell["error"] or ""), []).append(cell)
    return groups


def _cells_text(group: list[dict[str, Any]], total: int) -> str:
    if len(group) == total:
        return f"All {total} cells"
    shown = "; ".join(_labels(c) for c in group[:4]) + ("; …" if len(group) > 4 else "")
    return f"{len(group)} cell{'s' if len(group) > 1 else ''} ({shown})"


def status_markdown(view: GridView) -> str:
    """Where a grid stands: counts, and every failed cell's error."""
    counts = view.grid.counts()
    total = len(view.grid.cells)
    settled = total - counts["pending"] - counts["running"]
    extra = ", ".join(f"{counts[s]} {s}" for s in ("failed", "n/a", "cancelled") if counts[s])
    if view.finished:
        head = "**Cancelled:** kept the finished cells" if view.grid.cancelled else "**Done:**"
        cost = view.grid.summary()["cost"]
        text = (f"{head} {counts['done']} of {total} cells done{' (' + extra + ')' if extra else ''} "
                f"in {view.grid.wall_s or 0:.1f} s{' · cost about ' + service.dollars(cost) if cost else ''}.")
    else:
        text = (f"**Running…** {settled} of {total} cells finished · {counts['done']} done · {counts['running']} "
                f"running{' · ' + extra if extra else ''}")
    failed = [c for c in view.manifest["cells"] if c["status"] == "failed"]
    if failed:
        text += "\n\n" + "\n".join(f"- Cell {c['index'] + 1} ({_labels(c)}) failed: {c['error']}" for c in failed)
    return text


def _labels(cell: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell["labels"].items()) or cell["model"]


# --- wiring ------------------------------------------------------------------------------------------
def wire(demo: gr.Blocks, tab: CompareTab, fallback_keys: list[Any] | None = None) -> Any:
    """Connect the Compare tab's events (all private). `fallback_keys`: the Generate tab's fal key,
    Replicate token and "use the server's keys" box, used where this tab's key fields are empty."""
    h = Handlers(tab, list(fallback_keys or []))
    form = h.inputs()
    shape_triggers = [tab.model.change, tab.mode.change] + [e for row in tab.axes
                                                            for e in (row.kind.change, row.param.change,
                                                                      row.models.change)]
    # The plan follows the shape's refresh, so it reads the choices the refresh kept (and a page that shows the
    # new plan has its lists in place).
    gr.on(shape_triggers, h.refresh, form, h.refresh_outputs(), trigger_mode="always_last", **LIGHT, **RAW) \
        .then(h.plan_text, form, [tab.plan], **LIGHT, **RAW)
    # The reference images follow the mode alone, from the mode's own change: the shape's refresh can be
    # started by the model's change before a sent mode has arrived, and would hide them again.
    tab.mode.change(lambda mode: gr.update(visible=mode == "image-to-image"), [tab.mode], [tab.refs], **LIGHT)
    plan_triggers = [demo.load, tab.backend.change, tab.refs.change, tab.prompt.blur, tab.params.blur, tab.seed.blur,
                     tab.max_cells.blur, tab.max_cost.blur, tab.fal_key.blur, tab.replicate_key.blur]
    for row in tab.axes:
        plan_triggers += [row.search.blur, row.values.blur, row.values.submit]
    gr.on(plan_triggers, h.plan_text, form, [tab.plan], trigger_mode="always_last", **LIGHT, **RAW)
    outputs = [tab.status, tab.grid_image, tab.cells, tab.manifest, tab.archive, tab.shown, tab.cell_record]
    ran = tab.run.click(h.run, form, outputs, show_progress="hidden", api_visibility="private",
                        concurrency_limit=service.max_runs(), concurrency_id=api.RUN_CONCURRENCY_ID, **RAW)
    tab.cancel.click(h.cancel, None, [tab.status], **LIGHT)
    tab.cells.select(h.select_cell, [tab.shown], [tab.cell_record], **LIGHT)
    tab.save.click(h.save_preset, form | {tab.preset_name}, [tab.preset_choice], **LIGHT, **RAW)
    tab.load.click(h.load_preset, [tab.preset_choice], h.load_outputs(), **LIGHT)
    demo.load(lambda: gr.update(choices=presets_of_kind("grid")), None, [tab.preset_choice], **LIGHT)
    return ran  # its run event, for the history to follow
