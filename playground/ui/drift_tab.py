"""The Drift tab: make (or upload) an image, ask edit models to reproduce it exactly, again and again, and
watch how far each copy wanders: a metrics plot, a filmstrip, a table, an animated GIF.

The form is read into a `playground.drift.DriftSpec`; running, metrics, plot and GIF are
`playground.drift`'s, streamed through `compare_api.drift_views` like the `/drift` endpoint. Every
event here is private; handlers read raw values (`preprocess=False`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground import preset_store, presets
from playground.catalog import MODELS
from playground.drift import (
    DEFAULT_GENESIS,
    DEFAULT_INSTRUCTION,
    DEFAULT_STEPS,
    EDIT_MODE,
    GENESIS_MODE,
    METRICS,
    ChainSpec,
    DriftSpec,
    max_steps_default,
    plan_drift,
)
from playground.params import ValidationError
from playground.ui import api, catalog_view, service
from playground.ui.common import LIGHT, RAW, door
from playground.ui.compare_api import CANCELS, USAGE, DriftView, drift_views, error_markdown, prepare_drift
from playground.ui.compare_tab import (
    chosen_format,
    file_format_accordion,
    keys_accordion,
    params_text,
    parse_params,
    preset_accordion,
    presets_of_kind,
    whole_number,
)
from playground.ui.form import file_path
from playground.ui.outputs import serve_copy

TAB = "drift"
INTRO = (
    "Ask an edit model to **reproduce an image exactly**, feed it its own output, and repeat. Perfect copies "
    "would leave every line flat; real models drift. Each step is measured against the **first** and the "
    "**previous** image: mean squared error and PSNR (pixels), SSIM (structure, 1 = identical) and the "
    "perceptual-hash distance (0 = looks the same). Run up to three edit models side by side from the same "
    "first image."
)
CHAINS = 3
NONE = "none"
DEFAULT_CHAINS = ("flux-kontext-dev", NONE, NONE)
SOURCES = [("Generate it from a prompt", "genesis"), ("Upload my own", "upload")]
METRIC_SHORT = {"mse": "MSE", "psnr": "PSNR", "ssim": "SSIM", "phash": "pHash"}
AGAINST_SHORT = {"first": "1st", "previous": "prev"}
# (header, key of Drift.table()'s rows)
TABLE_COLUMNS: list[tuple[str, str]] = ([("Chain", "chain"), ("Step", "step")]
                                        + [(f"{METRIC_SHORT[m]} /{AGAINST_SHORT[a]}", f"{m}_vs_{a}")
                                           for a in ("first", "previous") for m in METRICS]
                                        + [("Seconds", "seconds")])
TABLE_HEADERS = [header for header, _ in TABLE_COLUMNS]
COLUMN_WIDTHS = ["140px", "50px"] + ["95px"] * (len(TABLE_COLUMNS) - 3) + ["80px"]


@dataclass
class ChainRow:
    """The components of one chain."""

    model: gr.Dropdown
    backend: gr.Dropdown
    params: gr.Textbox


@dataclass
class DriftTab:
    """Every component the Drift tab's handlers read or update."""

    source: gr.Radio
    genesis_group: gr.Group
    genesis_model: gr.Dropdown
    genesis_backend: gr.Radio
    prompt: gr.Textbox
    genesis_params: gr.Textbox
    genesis_seed: gr.Textbox
    upload_group: gr.Group
    start_image: gr.Image
    instruction: gr.Textbox
    steps: gr.Number
    chains: list[ChainRow]
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
    plot: gr.Image
    filmstrip: gr.Gallery
    table: gr.Dataframe
    gif: gr.Image
    step_record: gr.JSON
    archive: gr.File
    manifest: gr.JSON
    shown: gr.State
    out_format: gr.Radio | None = None
    out_quality: gr.Slider | None = None

    def form_inputs(self) -> set[Any]:
        """The components a drift is read from (handlers get them as one dict)."""
        fields = {self.source, self.genesis_model, self.genesis_backend, self.prompt, self.genesis_params,
                  self.genesis_seed, self.start_image, self.instruction, self.steps, self.fal_key, self.replicate_key,
                  self.out_format, self.out_quality}
        return (fields - {None}) | {c for row in self.chains for c in (row.model, row.backend, row.params)}


# --- layout ------------------------------------------------------------------------------------------
def model_choices(mode: str, optional: bool = False) -> list[tuple[str, str]]:
    """(label, id) of the models with `mode`, in catalog order; "none" first when the row is optional."""
    choices = [("— not used —", NONE)] if optional else []
    return choices + [(m.label, m.id) for m in MODELS.values() if mode in m.modes]


def backend_choices(model_id: str, mode: str) -> list[tuple[str, str]]:
    model = MODELS.get(model_id)
    if model is None:
        return [(catalog_view.BACKEND_LABELS["auto"], "auto")]
    return [(catalog_view.BACKEND_LABELS["auto"], "auto")] + [(catalog_view.BACKEND_LABELS[b], b)
                                                             for b in model.backends if mode in model.modes_on(b)]


def build() -> DriftTab:
    """Create the Drift tab's components (call inside the tab)."""
    gr.Markdown(INTRO, elem_id="drift-intro")
    cap = max_steps_default()
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=380):
            gr.Markdown("### 1. The first image")
            source = gr.Radio(choices=SOURCES, value="genesis", label="Start from", elem_id="drift-source")
            with gr.Group(elem_id="drift-genesis") as genesis_group:
                genesis_model = gr.Dropdown(choices=model_choices(GENESIS_MODE), value=DEFAULT_GENESIS,
                                            label="Genesis model (text to image)", filterable=True,
                                            elem_id="drift-genesis-model")
                genesis_backend = gr.Radio(choices=backend_choices(DEFAULT_GENESIS, GENESIS_MODE), value="auto",
                                           label="Backend", elem_id="drift-genesis-backend")
                prompt = gr.Textbox(label="Prompt", lines=2, elem_id="drift-prompt",
                                    placeholder="e.g. a lighthouse on a cliff at dusk, oil painting")
                genesis_params = gr.Textbox(label="Genesis parameters", lines=1, elem_id="drift-genesis-params",
                                            info="One per line, name=value, e.g. image_size=square. Empty: defaults.")
                genesis_seed = gr.Textbox(label="Seed", placeholder="random", elem_id="drift-genesis-seed",
                                          info="Empty: a random one.")
            with gr.Group(visible=False, elem_id="drift-upload") as upload_group:
                start_image = gr.Image(type="filepath", label="Your first image", sources=["upload", "clipboard"],
                                       elem_id="drift-start-image", height=240)
            gr.Markdown("### 2. The copies")
            instruction = gr.Textbox(label="Instruction given at every step", value=DEFAULT_INSTRUCTION, lines=1,
                                     elem_id="drift-instruction")
            steps = gr.Number(label="Steps per chain", value=DEFAULT_STEPS, precision=0, minimum=1, maximum=cap,
                              elem_id="drift-steps", info=f"Each step edits the previous step's output. At most {cap}.")
            rows = []
            for i in range(CHAINS):
                with gr.Row(equal_height=True, elem_id=f"drift-chain-{i + 1}"):
                    model = gr.Dropdown(choices=model_choices(EDIT_MODE, optional=i > 0), value=DEFAULT_CHAINS[i],
                                        label=f"Chain {i + 1}: edit model", scale=4, filterable=True,
                                        elem_id=f"drift-chain-{i + 1}-model")
                    backend = gr.Dropdown(choices=backend_choices(DEFAULT_CHAINS[i], EDIT_MODE), value="auto",
                                          label="Backend", scale=2, elem_id=f"drift-chain-{i + 1}-backend")
                    params = gr.Textbox(label="Parameters (name=value)", scale=3, elem_id=f"drift-chain-{i + 1}-params")
                rows.append(ChainRow(model=model, backend=backend, params=params))
            fal_key, replicate_key = keys_accordion("drift", "run")
            out_format, out_quality = file_format_accordion("drift", "step")
            preset_name, save, preset_choice, load = preset_accordion("drift", "drift")
        with gr.Column(scale=5, min_width=380):
            plan = gr.Markdown("**Before you run:** …", elem_id="drift-plan")
            with gr.Row():
                run = gr.Button("Run drift", variant="primary", scale=3, elem_id="drift-run")
                cancel = gr.Button("Cancel", variant="stop", scale=1, elem_id="drift-cancel")
            status = gr.Markdown(elem_id="drift-status")
            gr.Markdown("**Metrics over the steps:** one colour per chain; solid lines against the first image, "
                        "dashed against the previous one.")
            plot = gr.Image(label="Metrics over the steps", show_label=False, type="filepath", interactive=False,
                            elem_id="drift-plot", buttons=["download", "fullscreen"], format="png")
            filmstrip = gr.Gallery(label="Filmstrip (click a step for its record)", columns=6, height=220,
                                   interactive=False, elem_id="drift-filmstrip", object_fit="contain", format="png",
                                   buttons=["download", "fullscreen"])
            table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False,
                                 label="Metrics per step (/1st: against the first image, /prev: against the previous)",
                                 elem_id="drift-table", wrap=False, column_widths=COLUMN_WIDTHS)
            gr.Markdown("**Animated GIF** of the steps, chains side by side:")
            gif = gr.Image(label="Animated GIF of the steps", show_label=False, type="filepath", interactive=False,
                           elem_id="drift-gif", buttons=["download"], height=280)
            with gr.Accordion("Record and metrics of the selected step (JSON)", open=False):
                step_record = gr.JSON(elem_id="drift-step-record")
            archive = gr.File(label="Download everything (images with records, metrics.csv, plot, GIF, manifest) "
                                    "as one zip", interactive=False, elem_id="drift-zip")
            with gr.Accordion("Manifest (JSON)", open=False):
                manifest = gr.JSON(elem_id="drift-manifest")
            with gr.Accordion("Call it from Python", open=False):
                gr.Markdown(USAGE)
    return DriftTab(source=source, genesis_group=genesis_group, genesis_model=genesis_model,
                    genesis_backend=genesis_backend, prompt=prompt, genesis_params=genesis_params,
                    genesis_seed=genesis_seed, upload_group=upload_group, start_image=start_image,
                    instruction=instruction, steps=steps, chains=rows, fal_key=fal_key, replicate_key=replicate_key,
                    preset_name=preset_name, save=save, preset_choice=preset_choice, load=load, plan=plan, run=run,
                    cancel=cancel, status=status, plot=plot, filmstrip=filmstrip, table=table, gif=gif,
                    step_record=step_record, archive=archive, manifest=manifest, shown=gr.State(None),
                    out_format=out_format, out_quality=out_quality)


# --- handlers ----------------------------------------------------------------------------------------
class Handlers:
    """Event handlers bound to one Drift tab (and the Generate tab's keys, as a fallback)."""

    def __init__(self, tab: DriftTab, fallback_keys: list[Any]):
        self.tab = tab
        self.fallback = fallback_keys

    def inputs(self) -> set[Any]:
        return self.tab.form_inputs() | set(self.fallback)

    def spec(self, data: dict[Any, Any]) -> DriftSpec:
        """The drift the form describes (ValidationError for unreadable parameters)."""
        t = self.tab
        steps = whole_number(data[t.steps])
        chains = [ChainSpec(model=data[row.model], backend=data[row.backend] or "auto",
                            params=parse_params(data[row.params], f"chain {i + 1} parameters"),
                            instruction=data[t.instruction] or DEFAULT_INSTRUCTION, steps=steps)
                  for i, row in enumerate(t.chains) if data[row.model] and data[row.model] != NONE]
        upload = data[t.source] == "upload"
        return DriftSpec(chains=chains, prompt=data[t.prompt] or "",
                         genesis_model=None if upload else data[t.genesis_model],
                         genesis_backend=data[t.genesis_backend] or "auto",
                         genesis_params=parse_params(data[t.genesis_params], "genesis parameters"),
                         genesis_seed=whole_number(data[t.genesis_seed]),
                         start_image=file_path(data[t.start_image]) if upload else None)

    def keys(self, data: dict[Any, Any]) -> dict[str, str]:
        t = self.tab
        fal, replicate, use_server = (tuple(data.get(c) for c in self.fallback) + ("", "", False))[:3]
        return service.visitor_keys(data[t.fal_key] or fal or "", data[t.replicate_key] or replicate or "",
                                    bool(use_server))

    # -- the form's shape --------------------------------------------------------------------------
    def refresh(self, data: dict[Any, Any]) -> list[Any]:
        """Show the genesis fields or the upload, and each chain's backends."""
        t = self.tab
        upload = data[t.source] == "upload"
        genesis = data[t.genesis_model]
        updates = [gr.update(visible=not upload), gr.update(visible=upload),
                   _backend_update(genesis, GENESIS_MODE, data[t.genesis_backend])]
        for row in t.chains:
            model = data[row.model]
            updates.append(_backend_update(model, EDIT_MODE, data[row.backend], visible=model != NONE))
            updates.append(gr.update(visible=model != NONE))
        return updates

    def refresh_outputs(self) -> list[Any]:
        t = self.tab
        return [t.genesis_group, t.upload_group, t.genesis_backend] + [c for row in t.chains
                                                                      for c in (row.backend, row.params)]

    def plan_text(self, data: dict[Any, Any]) -> str:
        """Markdown: the steps that will run, where, and the estimated cost; or what to fix first."""
        if data[self.tab.source] == "upload" and not file_path(data[self.tab.start_image]):
            return "**Before you run:** upload your first image."
        try:
            planned = plan_drift(self.spec(data), self.keys(data))
        except ValidationError as err:
            return "**Fix before running:**\n" + "\n".join(f"- {p}" for p in err.problems)
        except Exception:  # noqa: BLE001 - a plan only informs the page
            service.log.exception("drift plan failed")
            return "**Before you run:** the drift could not be planned (see the server log)."
        return plan_markdown(planned)

    # -- running -----------------------------------------------------------------------------------
    async def run(self, data: dict[Any, Any], request: gr.Request):
        """Check and plan, then stream the steps as they finish; Cancel keeps the steps done."""
        t = self.tab
        try:
            spec, keys = self.spec(data), self.keys(data)
            file_format = chosen_format(data, t.out_format, t.out_quality)
            spec, planned = await asyncio.get_running_loop().run_in_executor(service.runners(), prepare_drift,
                                                                             spec, keys)
        except Exception as err:  # noqa: BLE001 - shown to the visitor, never as a traceback
            line, error = error_markdown(err)
            yield {t.status: line}
            raise error from None
        session = request.session_hash or ""
        cancel = CANCELS.open(session, TAB)
        try:
            yield {t.status: "**Running…** making the first image.", t.gif: None, t.archive: None,
                   t.step_record: None, t.filmstrip: [], t.plot: None}
            async for view in drift_views(spec, planned, keys, cancel, file_format):
                yield self.show(view)
        finally:
            CANCELS.close(session, TAB, cancel)

    def show(self, view: DriftView) -> dict[Any, Any]:
        t = self.tab
        rows = [[_cell(row[key]) for _, key in TABLE_COLUMNS] for row in view.table]
        return {t.status: status_markdown(view), t.plot: view.plot, t.filmstrip: view.filmstrip,
                t.table: {"headers": TABLE_HEADERS, "data": rows}, t.gif: view.gif, t.archive: view.archive,
                t.manifest: view.manifest, t.shown: step_details(view)}

    @staticmethod
    def cancel(request: gr.Request) -> str:
        if CANCELS.cancel(request.session_hash or "", TAB):
            return "**Cancelling…** No new step starts and running ones are stopped; steps done are kept."
        return "Nothing is running."

    @staticmethod
    def select_step(details: list[dict[str, Any]] | None, evt: gr.SelectData) -> Any:
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        return details[index] if details and 0 <= index < len(details) else None

    # -- presets -----------------------------------------------------------------------------------
    @door
    def save_preset(self, data: dict[Any, Any]) -> Any:
        saved = preset_store.save_drift(self.spec(data), data[self.tab.preset_name], on_conflict="overwrite")
        gr.Info(f"Saved the drift as preset “{saved['name']}”.")
        return gr.update(choices=presets_of_kind("drift"), value=saved["id"])

    @door
    def load_preset(self, ref: str | None) -> list[Any]:
        """Fill the form from a drift preset (its start image included)."""
        if not ref:
            raise gr.Error("Pick a drift preset first.", title="No preset chosen", print_exception=False)
        return spec_values(presets.preset_drift(preset_store.load_preset(ref)))

    def load_outputs(self) -> list[Any]:
        t = self.tab
        return [t.source, t.genesis_model, t.genesis_backend, t.prompt, t.genesis_params, t.genesis_seed,
                t.start_image, t.instruction, t.steps] + [c for row in t.chains for c in (row.model, row.backend,
                                                                                          row.params)]


def spec_values(spec: Any) -> list[Any]:
    """The form's values (in `Handlers.load_outputs` order) for a drift spec."""
    first = spec.chains[0] if spec.chains else ChainSpec(model=DEFAULT_CHAINS[0])
    values: list[Any] = ["upload" if spec.start_image is not None else "genesis",
                         spec.genesis_model or DEFAULT_GENESIS, spec.genesis_backend or "auto", spec.prompt,
                         params_text(spec.genesis_params),
                         "" if spec.genesis_seed is None else str(spec.genesis_seed),
                         serve_copy(spec.start_image) if isinstance(spec.start_image, str) else None,
                         first.instruction, first.steps]
    for i in range(CHAINS):
        chain = spec.chains[i] if i < len(spec.chains) else None
        values += [chain.model if chain else NONE, (chain.backend or "auto") if chain else "auto",
                   params_text(chain.params) if chain else ""]
    return values


def _backend_update(model_id: str | None, mode: str, current: str | None, visible: bool = True) -> Any:
    choices = backend_choices(model_id or "", mode)
    keep = current in [value for _, value in choices]
    return gr.update(choices=choices, visible=visible, **({} if keep else {"value": "auto"}))


def _cell(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else ("" if value is None else value)


def plan_markdown(planned: dict[str, Any]) -> str:
    """What a planned drift will do, for people."""
    genesis = planned["genesis"]
    if genesis["source"] == "upload":
        first = "your image"
    elif genesis["ready"]:
        first = f"{genesis['source']} on {catalog_view.BACKEND_LABELS.get(genesis['backend'], genesis['backend'])}"
    else:
        first = f"{genesis['source']} — cannot run now: {genesis['why']}"
    lines = []
    for i, chain in enumerate(planned["chains"]):
        where = catalog_view.BACKEND_LABELS.get(chain["backend"], chain["backend"])
        what = f"{chain['steps']} steps on {where}" if chain["ready"] else f"cannot run now — {chain['why']}"
        lines.append(f"- Chain {i + 1}, {chain['label']}: {what}")
    cost = service.dollars(planned["estimated_cost"]) if planned["estimated_cost"] else "free"
    if planned["unpriced"]:
        cost += f" (+ {planned['unpriced']} part(s) without a published price)"
    return (f"**Before you run:** first image from {first} · {planned['steps']} edit steps · estimated **{cost}**\n\n"
            + "\n".join(lines))


def status_markdown(view: DriftView) -> str:
    """Where a drift stands: each chain's steps done, and why a chain stopped early."""
    drift = view.drift
    if drift.error:
        head = "**Stopped:**" if view.finished else "**Running…**"
        return f"{head} no first image: {drift.error}"
    if view.finished:
        head = "**Cancelled:** the steps done are kept." if drift.cancelled else "**Done**"
        head += f" in {drift.wall_s or 0:.1f} s."
    else:
        head = "**Running…**" if drift.genesis is not None else "**Running…** making the first image."
    lines = []
    for i, chain in enumerate(drift.chains):
        done = max(0, len(chain.steps) - 1)
        last = chain.steps[-1] if len(chain.steps) > 1 else None
        ssim = f" · SSIM vs first {last.vs_first.ssim:.3f}" if last is not None and last.vs_first else ""
        line = f"- Chain {i + 1} ({chain.label}): {done} of {chain.spec.steps} steps{ssim}"
        if chain.error:
            line += f" · **stopped:** {chain.error}"
        lines.append(line)
    return head + "\n\n" + "\n".join(lines)


def step_details(view: DriftView) -> list[dict[str, Any]]:
    """Per filmstrip picture (genesis first, then each chain's steps): its record and metrics."""
    drift = view.drift
    details: list[dict[str, Any]] = []
    if drift.genesis is not None and drift.genesis.image is not None:
        details.append({"step": 0, "chain": None, "record": drift.genesis.record})
    for chain in drift.chains:
        for step in chain.steps[1:]:
            details.append({**step.as_dict(), "chain": chain.label})
    return details


# --- wiring ------------------------------------------------------------------------------------------
def wire(demo: gr.Blocks, tab: DriftTab, fallback_keys: list[Any] | None = None) -> Any:
    """Connect the Drift tab's events (all private). `fallback_keys` as in `compare_tab.wire`."""
    h = Handlers(tab, list(fallback_keys or []))
    form = h.inputs()
    shape_triggers = [tab.source.change, tab.genesis_model.change] + [row.model.change for row in tab.chains]
    # The plan follows the shape's refresh, so it reads the backends the refresh kept (and a page that shows the
    # new plan has its backend lists in place).
    gr.on(shape_triggers, h.refresh, form, h.refresh_outputs(), trigger_mode="always_last", **LIGHT, **RAW) \
        .then(h.plan_text, form, [tab.plan], **LIGHT, **RAW)
    plan_triggers = [demo.load, tab.genesis_backend.change, tab.prompt.blur, tab.genesis_params.blur,
                     tab.start_image.change, tab.instruction.blur, tab.steps.blur, tab.fal_key.blur,
                     tab.replicate_key.blur]
    for row in tab.chains:
        plan_triggers += [row.backend.change, row.params.blur]
    gr.on(plan_triggers, h.plan_text, form, [tab.plan], trigger_mode="always_last", **LIGHT, **RAW)
    outputs = [tab.status, tab.plot, tab.filmstrip, tab.table, tab.gif, tab.archive, tab.manifest, tab.shown,
               tab.step_record]
    ran = tab.run.click(h.run, form, outputs, show_progress="hidden", api_visibility="private",
                        concurrency_limit=service.max_runs(), concurrency_id=api.RUN_CONCURRENCY_ID, **RAW)
    tab.cancel.click(h.cancel, None, [tab.status], **LIGHT)
    tab.filmstrip.select(h.select_step, [tab.shown], [tab.step_record], **LIGHT)
    tab.save.click(h.save_preset, form | {tab.preset_name}, [tab.preset_choice], **LIGHT, **RAW)
    tab.load.click(h.load_preset, [tab.preset_choice], h.load_outputs(), **LIGHT)
    demo.load(lambda: gr.update(choices=presets_of_kind("drift")), None, [tab.preset_choice], **LIGHT)
    return ran  # its run event, for the history to follow
