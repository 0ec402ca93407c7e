"""The adapters editor: one row per LoRA (path, scale slider, remove) and an "Add LoRA" button.

The `loras` slot of the parameter panel holds the canonical list as JSON text (so presets, history,
examples and the API fill it like any other slot). This editor is a view of that text, drawn with
`gr.render` for the panel it describes (`ctx`): it shows only where the panel's model, mode and
backend take adapters, bounds the sliders and the row count by that route's limits, and every edit
writes the whole list back into the slot.

The rows are drawn anew only when the panel changes or something other than a row edits the slot (add,
remove, a preset, the history, an example): a row already shows its own edit, and an edit that reaches the
server while it redraws the rows can miss its function and be lost (seen as a dropped scale change).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.catalog import MODELS
from playground.params import Param
from playground.ui import panels
from playground.ui.common import LIGHT

PATH_HINT = "owner/repo, owner/repo/file.safetensors or https://…"


def editor_param(ctx: dict[str, Any] | None) -> Param | None:
    """The `loras` parameter of the panel `ctx` describes, or None where that route takes no adapters."""
    ctx = ctx or {}
    model = MODELS.get(ctx.get("model", ""))
    if model is None or ctx.get("mode") not in model.modes or ctx.get("backend") not in model.backends:
        return None
    return next((p for p in panels.panel_params(model, ctx["mode"], ctx["backend"]) if p.kind == "loras"), None)


def with_row(text: str, index: int, path: str, scale: float) -> str:
    """The slot text with adapter `index` set to `path` and `scale`."""
    items = panels.loras_items(text)
    if index < len(items):
        items[index].update(path=path.strip(), scale=float(scale))
    return panels.loras_text(items)


def redraw_if_foreign(text: str, drawn: str, redraws: int) -> tuple[Any, Any]:
    """(redraws, drawn) after the slot changed to `text`: unchanged where the rows already show it (their
    own edit wrote it), else a new count (which redraws the rows) and `text` as what they show."""
    if text == drawn:
        return gr.skip(), gr.skip()
    return redraws + 1, text


def without_row(text: str, index: int) -> str:
    items = panels.loras_items(text)
    return panels.loras_text(items[:index] + items[index + 1:])


def with_new_row(text: str) -> str:
    return panels.loras_text([*panels.loras_items(text), {"path": "", "scale": 1.0}])


def build(demo: gr.Blocks, ctx: gr.JSON, slot: gr.Textbox) -> None:
    """Declare the editor here in the layout (call inside `demo`, where it should appear)."""
    drawn = gr.State("")  # the slot text the rows show
    redraws = gr.State(0)  # counts the slot's changes from elsewhere; each one redraws the rows
    slot.change(redraw_if_foreign, [slot, drawn, redraws], [redraws, drawn], **LIGHT)

    @gr.render(inputs=[ctx, slot], triggers=[demo.load, ctx.change, redraws.change])
    def editor(context: dict[str, Any] | None, text: str | None) -> None:
        param = editor_param(context)
        if param is None:
            return
        items = panels.loras_items(text or "")
        with gr.Group(elem_id="lora-editor"):
            for i, item in enumerate(items):
                # Keys keep each row's components and events under the same ids across redraws, so an edit sent
                # just before a redraw still finds its function; the slot stays the one source of the values
                # (`preserved_by_key=None`: a redraw shows the slot, not the old row).
                with gr.Row(equal_height=True):
                    path = gr.Textbox(value=str(item.get("path", "")), label=f"LoRA {i + 1}", placeholder=PATH_HINT,
                                      scale=4, elem_id=f"lora-path-{i}", interactive=True,
                                      key=("lora-path", i), preserved_by_key=None)
                    scale = gr.Slider(param.min, param.max, value=_scale(item), step=param.step or 0.05,
                                      label="Scale", scale=3, elem_id=f"lora-scale-{i}", interactive=True,
                                      key=("lora-scale", i), preserved_by_key=None)
                    remove = gr.Button("✕", size="sm", scale=0, min_width=40, elem_id=f"lora-remove-{i}",
                                       key=("lora-remove", i))
                # A row reports once, on blur (a submit followed by its blur would send the same edit twice), and
                # whole (path and scale as shown), so an edit sent before the previous one's answer keeps both.
                path.blur(lambda t, v, x, i=i: (with_row(t, i, v, x),) * 2, [slot, path, scale], [slot, drawn],
                          key=("lora-path-edit", i), **LIGHT)
                scale.release(lambda t, v, x, i=i: (with_row(t, i, v, x),) * 2, [slot, path, scale], [slot, drawn],
                              key=("lora-scale-edit", i), **LIGHT)
                remove.click(lambda t, i=i: without_row(t, i), [slot], slot, key=("lora-remove-click", i), **LIGHT)
            limit = param.max_items or 0
            add = gr.Button(f"+ Add LoRA ({len(items)}/{limit})", size="sm", elem_id="lora-add",
                            interactive=len(items) < limit, key="lora-add", preserved_by_key=None)
            add.click(with_new_row, [slot], slot, key="lora-add-click", **LIGHT)

def _scale(item: dict[str, Any]) -> float:
    try:
        return float(item.get("scale", 1.0))
    except (TypeError, ValueError):
        return 1.0
