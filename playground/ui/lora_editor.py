"""The adapters editor: one row per LoRA (path, scale slider, remove) and an "Add LoRA" button.

The `loras` slot of the parameter panel holds the canonical list as JSON text (so presets, history,
examples and the API fill it like any other slot). This editor is a view of that text, drawn with
`gr.render` for the panel it describes (`ctx`): it shows only where the panel's model, mode and
backend take adapters, bounds the sliders and the row count by that route's limits, and every edit
writes the whole list back into the slot.
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


def with_row(text: str, index: int, **change: Any) -> str:
    """The slot text with adapter `index` changed (path or scale)."""
    items = panels.loras_items(text)
    if index < len(items):
        items[index].update(change)
    return panels.loras_text(items)


def without_row(text: str, index: int) -> str:
    items = panels.loras_items(text)
    return panels.loras_text(items[:index] + items[index + 1:])


def with_new_row(text: str) -> str:
    return panels.loras_text([*panels.loras_items(text), {"path": "", "scale": 1.0}])


def build(ctx: gr.JSON, slot: gr.Textbox) -> None:
    """Declare the editor here in the layout (call inside gr.Blocks, where it should appear)."""

    @gr.render(inputs=[ctx, slot])
    def editor(context: dict[str, Any] | None, text: str | None) -> None:
        param = editor_param(context)
        if param is None:
            return
        items = panels.loras_items(text or "")
        with gr.Group(elem_id="lora-editor"):
            for i, item in enumerate(items):
                # Every edit writes the slot and so re-renders the rows. Keys keep each row's components and
                # events under the same ids across re-renders, so an edit made just after another (its event
                # sent with the ids of the render before) still finds its function; the slot stays the one
                # source of the values (`preserved_by_key=None`: a re-render shows the slot, not the old row).
                with gr.Row(equal_height=True):
                    path = gr.Textbox(value=str(item.get("path", "")), label=f"LoRA {i + 1}", placeholder=PATH_HINT,
                                      scale=4, elem_id=f"lora-path-{i}", interactive=True,
                                      key=("lora-path", i), preserved_by_key=None)
                    scale = gr.Slider(param.min, param.max, value=_scale(item), step=param.step or 0.05,
                                      label="Scale", scale=3, elem_id=f"lora-scale-{i}", interactive=True,
                                      key=("lora-scale", i), preserved_by_key=None)
                    remove = gr.Button("✕", size="sm", scale=0, min_width=40, elem_id=f"lora-remove-{i}",
                                       key=("lora-remove", i))
                # A row reports once, on blur (a submit followed by its blur would send the same edit twice).
                path.blur(lambda t, v, i=i: with_row(t, i, path=v.strip()), [slot, path], slot,
                          key=("lora-path-edit", i), **LIGHT)
                scale.release(lambda t, v, i=i: with_row(t, i, scale=float(v)), [slot, scale], slot,
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
