"""The Generate tab's components, the presets bar on top; what they do is wired in `events` (the
presets bar's own events in `presets_view`).

The parameter panel is a fixed pool of components (one per `panels.SLOTS` entry), placed once:
basic ones in the parameter column, advanced ones in an accordion, the Modify/Copy toggle by the
reference images. Handlers show, hide and re-range them with `gr.update`.

Handlers that read the form get raw values (`preprocess=False`): Gradio would otherwise check
each value against the choices and range it last stored for the session, and when a visitor
switches models quickly an older update can land last, so a valid value would be refused with a
raw "not in the list of choices" error. `playground.validation` checks every value instead and
says what is allowed in plain words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground import preset_store, presets
from playground.params import SEED_MAX
from playground.ui import catalog_view, lora_editor, panels, service

TITLE = "Image model playground"
INTRO = (
    "Pick a model, write a prompt and press **Run**. Every model's own parameters appear below with their "
    "defaults; it runs on this machine (**local**) or on **fal** / **Replicate** with your own API key. "
    "The same actions are an API: see the **API** tab."
)
PRESET_SOURCE_LABELS = {"shipped": "Shipped", "user": "Yours"}
PRESETS_HELP = ("Loading a preset sets every control below: model, mode, backend, prompts, seed, its input images "
                "and every parameter. Your own presets are kept on this server for you alone, never with your keys; "
                "export them to keep a copy.")
KEYS_NOTE = (
    "Your keys travel with each of your requests and are never stored on the server. Tick *Remember* to keep "
    "them in this browser only (encrypted local storage)."
)
CSS = """
#prompt-counter, #prompt-counter p { text-align: right; font-size: 0.85em; opacity: 0.75; margin: 0; }
#status p { margin: 0.2em 0; }
#model-card table, #availability { font-size: 0.9em; }
#preset-info p, #inspect-status p, #inspect-verdict p { margin: 0.25em 0; }
.preset-actions { align-items: flex-end; }
#preset-info { padding: 0 0.5em; }
#history .grid-container { grid-template-columns: repeat(auto-fill, minmax(110px, 150px)) !important; }
#history .caption-label { position: static; max-width: 100%; font-size: 0.75em; white-space: normal; }
#refs .delete-button { opacity: 1 !important; }  /* each reference's own ✕, always in sight */
#refs .grid-container { grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)) !important; }
/* Results at their own size up to the box (a 64x64 result is not blown up to the gallery's width). */
#results .thumbnail-item img, #compare-cells .thumbnail-item img, #drift-filmstrip .thumbnail-item img,
#compare-grid img { width: auto !important; height: auto !important; max-width: 100%; max-height: 100%;
                    margin: auto; object-fit: contain; }
#inspect-table td { font-family: ui-monospace, monospace; font-size: 0.85em; word-break: break-word; }
"""


@dataclass
class Page:
    """Every component the handlers read or update."""

    model: gr.Dropdown
    model_card: gr.Markdown
    mode: gr.Radio
    refs_group: gr.Group
    refs: gr.Gallery
    ref_buttons: list[gr.Button]
    inpaint_group: gr.Group
    editor: gr.ImageEditor
    prompt: gr.Textbox
    counter: gr.Markdown
    negative: gr.Textbox
    seed: gr.Number
    random_seed: gr.Checkbox
    reuse_seed: gr.Button
    panel_header: gr.Markdown
    advanced: gr.Accordion
    slots: list[Any]
    backend: gr.Radio
    availability: gr.Markdown
    fal_key: gr.Textbox
    replicate_key: gr.Textbox
    use_server_keys: gr.Checkbox
    remember: gr.Checkbox
    estimate: gr.Markdown
    run: gr.Button
    cancel: gr.Button
    status: gr.Markdown
    results: gr.Gallery
    seed_used: gr.Number
    backend_used: gr.Textbox
    send: gr.Button
    inspect_result: gr.Button
    record: gr.JSON
    ctx: gr.JSON
    last_seed: gr.State
    ref_selected: gr.State
    result_selected: gr.State
    saved_keys: gr.BrowserState
    presets: PresetsView
    # The inpaint editor's value from a loaded preset or record, set once the editor is on screen.
    pending_editor: gr.State
    # Text typed past a slider's range, filled in by the run event's js (playground.ui.browser).
    typed: gr.JSON
    out_format: gr.Radio
    out_quality: gr.Slider
    # Send the selected result on: to image-to-image, to inpaint, to Compare as a grid's base.
    send_to: list[gr.Button]

    def form_inputs(self) -> set[Any]:
        """The components a run reads (passed to handlers as one dict)."""
        return {self.model, self.mode, self.backend, self.prompt, self.negative, self.refs, self.editor, self.seed,
                self.random_seed, self.fal_key, self.replicate_key, self.use_server_keys, self.ctx, *self.slots,
                self.typed, self.out_format, self.out_quality}


def build_page(demo: gr.Blocks) -> Page:
    """Create the Generate tab's components for the default model (call inside `demo`)."""
    model = catalog_view.get(catalog_view.DEFAULT_MODEL)
    mode = next(iter(model.modes))
    shown_backend = panels.panel_backend(model, mode, "auto")
    initial = initial_props(model, mode, shown_backend)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=360):
            presets_bar = build_presets_bar()
            model_dd = gr.Dropdown(choices=catalog_view.model_choices(), value=model.id, label="Model",
                                   info="Grouped by family; the card below says what it does, where it runs and "
                                        "what it costs.", elem_id="model", filterable=True)
            prompt = gr.Textbox(label="Prompt", lines=3, max_length=model.prompt_max, elem_id="prompt",
                                placeholder="Describe the image you want…",
                                info="Ctrl+Enter (⌘+Enter) runs.")
            counter = gr.Markdown(f"0 / {model.prompt_max} characters", elem_id="prompt-counter")
            negative = gr.Textbox(label="Negative prompt", lines=2, visible=False, elem_id="negative",
                                  info="What to avoid. Empty uses the model's default negative prompt.")
            mode_radio = gr.Radio(choices=catalog_view.mode_choices(model), value=mode, label="Mode", elem_id="mode")
            with gr.Group(visible=False, elem_id="refs-group") as refs_group:
                refs = gr.Gallery(type="filepath", interactive=True, label="Reference images", columns=4,
                                  height=230, file_types=["image"], elem_id="refs", format="png",
                                  object_fit="contain", allow_preview=False)
                with gr.Row():
                    left = gr.Button("◀ Move earlier", size="sm", elem_id="ref-left")
                    right = gr.Button("Move later ▶", size="sm", elem_id="ref-right")
                    remove = gr.Button("✕ Remove selected", size="sm", elem_id="ref-remove")
                edit_slots = _slots("edit", initial)
            # "hidden" keeps the editor mounted: an editor made visible and filled in one go drops the
            # painted layer ("No draw texture found for layer" in the browser console).
            with gr.Group(visible="hidden", elem_id="inpaint-group") as inpaint_group:
                editor = gr.ImageEditor(type="pil", label="Image and mask: upload, then paint over what to repaint",
                                        brush=gr.Brush(colors=["#ff2d75"], color_mode="fixed", default_size=28),
                                        eraser=gr.Eraser(default_size=28), transforms=(), layers=False,
                                        sources=["upload", "clipboard"], elem_id="editor", height=420)
            with gr.Row(equal_height=True):
                seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=SEED_MAX, elem_id="seed",
                                 info="Same seed + same inputs = same image.", scale=3)
                with gr.Column(scale=2, min_width=160):
                    random_seed = gr.Checkbox(value=True, label="Random seed", elem_id="random-seed")
                    reuse = gr.Button("Reuse last seed", size="sm", elem_id="reuse-seed")
            model_card = gr.Markdown(catalog_view.model_card(model), elem_id="model-card")
            # Which panel the slots show. Kept in the page, not in a gr.State, so that it always travels
            # with the slot values it describes (a State on the server may already describe a newer panel).
            ctx = gr.JSON(panels.context(model, mode, shown_backend), visible=False, elem_id="panel-context")
            panel_header = gr.Markdown(catalog_view.panel_header(model, shown_backend, "auto"), elem_id="panel-header")
            basic_slots = _slots("basic", initial)
            lora_editor.build(demo, ctx, dict(basic_slots)[panels.SLOT_INDEX[("loras", "loras")]])
            with gr.Accordion("Advanced parameters", open=False, elem_id="advanced") as advanced:
                advanced_slots = _slots("advanced", initial)
        with gr.Column(scale=4, min_width=320):
            backend = gr.Radio(choices=catalog_view.backend_choices(model), value="auto", label="Backend",
                               info="Auto picks the first that can run it now: local GPU, then fal, then Replicate.",
                               elem_id="backend")
            availability = gr.Markdown("Checking which backends can run it…", elem_id="availability")
            with gr.Accordion("Your API keys (fal, Replicate)", open=False, elem_id="keys"):
                gr.Markdown(KEYS_NOTE)
                fal_key = gr.Textbox(type="password", label="fal API key", elem_id="fal-key",
                                     placeholder="fal key (fal.ai/dashboard/keys)")
                replicate_key = gr.Textbox(type="password", label="Replicate API token", elem_id="replicate-key",
                                           placeholder="r8_… (replicate.com/account/api-tokens)")
                remember = gr.Checkbox(label="Remember my keys in this browser", value=False, elem_id="remember")
                # Offered only where the operator lends the server's keys; an empty field is refused otherwise.
                use_server_keys = gr.Checkbox(label="Use this server's keys where my fields are empty", value=False,
                                              visible=service.server_lends_keys(), elem_id="use-server-keys")
            estimate = gr.Markdown("**Estimate:** …", elem_id="estimate")
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id="run", scale=3)
                cancel = gr.Button("Cancel", variant="stop", elem_id="cancel", scale=1)
            status = gr.Markdown(elem_id="status")
            results = gr.Gallery(label="Results", columns=2, height=420, interactive=False, elem_id="results",
                                 buttons=["download", "download_all", "fullscreen"], format="png",
                                 object_fit="contain")
            with gr.Row():
                seed_used = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="seed-used")
                backend_used = gr.Textbox(label="Ran on", interactive=False, elem_id="backend-used")
            with gr.Row():
                send = gr.Button("↩ Send selected result to input", elem_id="send-to-input")
                inspect_result = gr.Button("Inspect selected result ▶", elem_id="inspect-result")
            with gr.Row(elem_id="send-row"):
                send_i2i = gr.Button("→ Image-to-image", size="sm", elem_id="send-i2i")
                send_inpaint = gr.Button("→ Inpaint (mask editor)", size="sm", elem_id="send-inpaint")
                send_compare = gr.Button("→ Compare (grid base)", size="sm", elem_id="send-compare")
            with gr.Accordion("Record of the run (JSON)", open=False, elem_id="record-box"):
                record = gr.JSON(elem_id="record")
            with gr.Accordion("Output file format", open=False, elem_id="file-format"):
                with gr.Row():
                    out_format = gr.Radio([("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp")], value="png",
                                          label="File format", elem_id="out-format",
                                          info="Every backend; the record of the run is embedded in each.")
                    out_quality = gr.Slider(0, 100, value=0, step=1, label="Quality (JPEG, WebP)",
                                            elem_id="out-quality", info="0: the default (JPEG 95, WebP lossless).")
    slots = _in_slot_order(edit_slots + basic_slots + advanced_slots)
    return Page(
        model=model_dd, model_card=model_card, mode=mode_radio, refs_group=refs_group, refs=refs,
        ref_buttons=[left, right, remove], inpaint_group=inpaint_group, editor=editor, prompt=prompt, counter=counter,
        negative=negative, seed=seed, random_seed=random_seed, reuse_seed=reuse, panel_header=panel_header,
        advanced=advanced, slots=slots, backend=backend, availability=availability, fal_key=fal_key,
        replicate_key=replicate_key, use_server_keys=use_server_keys, remember=remember, estimate=estimate, run=run,
        cancel=cancel, status=status,
        results=results, seed_used=seed_used, backend_used=backend_used, send=send, inspect_result=inspect_result,
        record=record,
        ctx=ctx, last_seed=gr.State(None),
        ref_selected=gr.State(None), result_selected=gr.State(0),
        saved_keys=gr.BrowserState({}, storage_key="playground-keys",
                                   secret=os.environ.get("PLAYGROUND_BROWSER_SECRET") or None),
        presets=presets_bar, pending_editor=gr.State(None),
        typed=gr.JSON(None, visible=False, elem_id="typed-values"), out_format=out_format, out_quality=out_quality,
        send_to=[send_i2i, send_inpaint, send_compare],
    )


# -- the presets bar (its events: playground.ui.presets_view) --------------------------------------
@dataclass
class PresetsView:
    """The presets bar's components."""

    choice: gr.Dropdown
    load: gr.Button
    info: gr.Markdown
    name: gr.Textbox
    description: gr.Textbox
    overwrite: gr.Checkbox
    save: gr.Button
    new_name: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    upload: gr.File
    export: gr.Button
    download: gr.File


def build_presets_bar() -> PresetsView:
    """Create the presets bar (call where it should appear, inside gr.Blocks)."""
    choices, _ = preset_choices()
    with gr.Row(equal_height=False, elem_classes=["preset-actions"]):
        choice = gr.Dropdown(choices=choices, value=None, label="Preset", elem_id="preset", scale=4,
                             filterable=True, info="Shipped examples and your own saved settings.")
        load = gr.Button("Load preset", elem_id="preset-load", scale=1, min_width=140)
    info = gr.Markdown(PRESETS_HELP, elem_id="preset-info")
    with gr.Accordion("Save, rename, delete, import or export presets", open=False, elem_id="preset-manage"):
        with gr.Row(equal_height=False, elem_classes=["preset-actions"]):
            name = gr.Textbox(label="Save the current settings as", placeholder="a name, e.g. My SDXL portrait",
                              elem_id="preset-name", max_length=presets.NAME_MAX, scale=3)
            description = gr.Textbox(label="Description (optional)", elem_id="preset-description", scale=4)
        with gr.Row(equal_height=False, elem_classes=["preset-actions"]):
            overwrite = gr.Checkbox(label="Replace my preset of the same name", value=False,
                                    elem_id="preset-overwrite", scale=3)
            save = gr.Button("Save preset", variant="primary", elem_id="preset-save", scale=1, min_width=140)
        with gr.Row(equal_height=False, elem_classes=["preset-actions"]):
            new_name = gr.Textbox(label="New name for the selected preset", elem_id="preset-new-name",
                                  max_length=presets.NAME_MAX, scale=3)
            rename = gr.Button("Rename", elem_id="preset-rename", scale=1, min_width=100)
            delete = gr.Button("Delete selected", variant="stop", elem_id="preset-delete", scale=1, min_width=170)
        with gr.Row(equal_height=False, elem_classes=["preset-actions"]):
            upload = gr.File(label="Import a preset (.json, or a .zip made by Export)", file_types=[".json", ".zip"],
                             type="filepath", elem_id="preset-import", height=150, scale=3)
            with gr.Column(scale=2, min_width=160):
                export = gr.Button("Export selected (.zip)", elem_id="preset-export")
                download = gr.File(label="Exported preset", visible=False, interactive=False,
                                   elem_id="preset-download", height=80)
    return PresetsView(choice=choice, load=load, info=info, name=name, description=description, overwrite=overwrite,
                       save=save, new_name=new_name, rename=rename, delete=delete, upload=upload, export=export,
                       download=download)


def preset_choices() -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """(label, id) pairs for the picker, shipped first, and the files that were skipped and why."""
    listing = preset_store.list_presets()
    choices = [(f"{PRESET_SOURCE_LABELS.get(e['source'], e['source'])} › {e['name']}", e["id"])
               for e in listing["presets"]]
    return choices, listing["problems"]


def initial_props(model: Any, mode: str, backend: str) -> dict[int, dict[str, Any]]:
    """Slot index → properties of the default model's panel, so the first paint is complete."""
    return {panels.slot_of(p): panels.slot_props(p, panels.display_value(p, p.default))
            for p in panels.panel_params(model, mode, backend)}


def _slots(placement: str, initial: dict[int, dict[str, Any]]) -> list[tuple[int, Any]]:
    return [(index, _component(slot, initial.get(index, {})))
            for index, slot in enumerate(panels.SLOTS) if slot.placement == placement]


def _in_slot_order(made: list[tuple[int, Any]]) -> list[Any]:
    return [component for _, component in sorted(made, key=lambda pair: pair[0])]


def _component(slot: panels.Slot, props: dict[str, Any]) -> Any:
    """One pool component, hidden unless `props` (from panels.slot_props) shows it."""
    options = {"visible": False, "elem_id": f"param-{slot.key}", "label": slot.name, **props}
    if slot.widget == "slider":
        return gr.Slider(**options)
    if slot.widget == "number":
        return gr.Number(**options)
    if slot.widget == "checkbox":
        return gr.Checkbox(**options)
    if slot.widget == "radio":
        return gr.Radio(**{"choices": [], **options})
    if slot.widget in ("dropdown", "size"):
        return gr.Dropdown(**{"choices": [], **options}, allow_custom_value=slot.widget == "size", filterable=True)
    if slot.widget == "loras":
        return gr.Textbox(**options, lines=1, placeholder='[{"path": "owner/repo", "scale": 0.8}]')
    return gr.Textbox(**options)
