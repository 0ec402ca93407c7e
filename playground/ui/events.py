"""How the Generate and Inspect tabs' components are connected. Every event here is private (the
public API is `playground.ui.api`)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import api, browser, inspect_tab, presets_view, samples, service
from playground.ui.common import LIGHT, PRIVATE, RAW
from playground.ui.handlers import Handlers, fill_editor
from playground.ui.layout import Page
from playground.ui.panels import SLOTS

COUNTER_JS = """(prompt) => {
  const box = document.querySelector('#prompt textarea');
  const max = box && box.maxLength > 0 ? box.maxLength : 2000;
  return `${(prompt || '').length} / ${max} characters`;
}"""


def panel_outputs(page: Page) -> list[Any]:
    """What a panel refresh (`Handlers.refresh_panel`) updates."""
    return [page.model_card, page.mode, page.backend, page.availability, page.refs_group, page.refs,
            page.inpaint_group, page.negative, page.prompt, page.counter, page.panel_header, page.advanced,
            page.estimate, page.ctx, *page.slots]


def wire(demo: gr.Blocks, page: Page, example_box: samples.ExampleBox,
         inspector: inspect_tab.InspectView | None = None, tabs: gr.Tabs | None = None) -> Any:
    """Connect the Generate tab's events, its presets bar and the Inspect tab (all private); returns
    the Run event, for the history to follow."""
    h = Handlers(page)
    everything = page.form_inputs()
    refresh_outputs = panel_outputs(page)
    demo.load(None, None, None, js=browser.INSTALL, **PRIVATE)
    load = demo.load(h.restore_keys, [page.saved_keys], [page.fal_key, page.replicate_key, page.remember], **LIGHT)
    load.then(h.refresh_panel, everything, refresh_outputs, **LIGHT, **RAW)
    # User actions only (`.input`, not `.change`): a programmatic change (an example, "send to input")
    # chains its own refresh, so no refresh ever starts with a half-applied set of values.
    gr.on([page.model.input, page.mode.input, page.backend.input, page.fal_key.blur, page.fal_key.submit,
           page.replicate_key.blur, page.replicate_key.submit],
          h.refresh_panel, everything, refresh_outputs, trigger_mode="always_last", **LIGHT, **RAW)
    example_outputs = [*refresh_outputs, page.model, page.seed, page.random_seed, page.pending_editor, page.status]
    example = example_box.examples.load_input_event.then(
        lambda data: h.load_example(data, data[example_box.chosen]), {example_box.chosen, *everything},
        example_outputs, **LIGHT, **RAW)
    example.success(fill_editor, [page.pending_editor], [page.editor], **LIGHT).then(
        h.update_estimate, everything, [page.estimate], **LIGHT, **RAW)
    slot_edits = [slot.input for slot in page.slots]
    # The editor's own events, not `.change`: a value set by the server passes through an empty one.
    editor_edits = [page.editor.input, page.editor.upload, page.editor.apply, page.editor.clear]
    gr.on([page.refs.change, *editor_edits, page.prompt.blur, page.negative.blur, *slot_edits],
          h.update_estimate, everything, [page.estimate], trigger_mode="always_last", **LIGHT, **RAW)
    style_slot = next((page.slots[i] for i, s in enumerate(SLOTS) if s.name == "edit_style"), None)
    if style_slot is not None:
        style_slot.input(h.edit_style, {page.ctx, style_slot}, page.slots, **LIGHT, **RAW)

    run_outputs = [page.results, page.seed_used, page.backend_used, page.record, page.last_seed, page.status]
    runs = {"concurrency_limit": service.max_runs(), "concurrency_id": api.RUN_CONCURRENCY_ID, **PRIVATE}
    ordered = sorted(everything, key=lambda component: component._id)  # how Gradio orders a set of inputs
    typed_js = browser.typed_values_js(ordered.index(page.typed), len(ordered))
    run = page.run.click(h.run_from_page, everything, run_outputs, show_progress_on=[page.results], js=typed_js,
                         **runs, **RAW)
    page.cancel.click(h.cancelled, None, [page.status], cancels=[run], **LIGHT)

    page.prompt.change(None, [page.prompt], [page.counter], js=COUNTER_JS, **PRIVATE)
    page.reuse_seed.click(h.reuse_seed, [page.last_seed], [page.seed, page.random_seed], **LIGHT)
    page.seed.input(lambda: False, None, [page.random_seed], **LIGHT)

    page.refs.select(h.select_index, None, [page.ref_selected], **LIGHT)
    page.refs.upload(h.limit_refs, {page.model, page.mode, page.backend, page.refs}, [page.refs], **LIGHT, **RAW)
    left, right, remove = page.ref_buttons
    refs_and_choice = [page.refs, page.ref_selected]
    left.click(lambda r, i: h.move_ref(r, i, -1), refs_and_choice, refs_and_choice, **LIGHT, **RAW)
    right.click(lambda r, i: h.move_ref(r, i, 1), refs_and_choice, refs_and_choice, **LIGHT, **RAW)
    remove.click(h.remove_ref, refs_and_choice, refs_and_choice, **LIGHT, **RAW)
    # The ✕ on a thumbnail (Gradio's own) removes it; the rest are numbered again as prompts name them.
    page.refs.delete(h.renumber_refs, [page.refs], refs_and_choice, **LIGHT, **RAW)

    page.results.select(h.select_index, None, [page.result_selected], **LIGHT)
    sent = page.send.click(h.send_to_input, {page.results, page.result_selected, page.model, page.mode},
                           [page.mode, page.refs, page.editor], **LIGHT, **RAW)
    sent.then(h.refresh_panel, everything, refresh_outputs, **LIGHT, **RAW)

    gr.on([page.remember.change, page.fal_key.blur, page.replicate_key.blur], h.save_keys,
          [page.remember, page.fal_key, page.replicate_key], [page.saved_keys], **LIGHT)

    presets_view.wire(demo, page.presets, h, everything, refresh_outputs)
    if inspector is not None and tabs is not None:
        inspect_tab.wire(inspector, h, tabs, refresh_outputs, runs)
    return run
