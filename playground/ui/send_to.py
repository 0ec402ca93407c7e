"""Send a picture on: to image-to-image, to inpaint (the mask editor opened on it), or to the
Compare tab as the base image of a grid. Used for results and for history items alike."""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import catalog_view
from playground.ui.compare_tab import CompareTab
from playground.ui.layout import Page

I2I, INPAINT = "image-to-image", "inpaint"
# Where a model without the wanted mode sends the picture instead (the first such model that can).
FALLBACK_MODELS = {I2I: "flux-2-dev", INPAINT: "sdxl-base"}


def target_model(model_id: str, mode: str) -> str:
    """`model_id` when it has `mode`, else a catalog model that has it."""
    model = catalog_view.get(model_id)
    if mode in model.modes:
        return model.id
    fallback = catalog_view.get(FALLBACK_MODELS[mode])
    return fallback.id


def to_image_to_image(page: Page, model_id: str, path: str) -> dict[Any, Any]:
    """The picture becomes the only reference image, in image-to-image (the model kept where it can)."""
    model = target_model(model_id, I2I)
    _say_switch(model_id, model, I2I)
    return {page.model: model, page.mode: I2I, page.refs: [(path, "image 1")]}


def to_inpaint(page: Page, model_id: str, path: str) -> dict[Any, Any]:
    """Inpaint mode with the mask editor opened on the picture (set once the editor shows)."""
    model = target_model(model_id, INPAINT)
    _say_switch(model_id, model, INPAINT)
    return {page.model: model, page.mode: INPAINT,
            page.pending_editor: {"background": path, "layers": [], "composite": path}}


def to_compare(tab: CompareTab, model_id: str, prompt: str, path: str) -> dict[Any, Any]:
    """The Compare tab set up for a grid over the picture: image-to-image with it as the base."""
    model = target_model(model_id, I2I)
    return {tab.model: model, tab.mode: I2I, tab.refs: [path], tab.prompt: prompt or ""}


def _say_switch(asked: str, used: str, mode: str) -> None:
    if asked != used:
        gr.Info(f"{catalog_view.get(asked).label} has no {mode} mode: switched to {catalog_view.get(used).label}.")
