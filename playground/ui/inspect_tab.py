"""The Inspect tab: drop an image (or a record .json) and read how it was made; load it back into
the Generate tab, or run it again and see whether the same pixels come out.

Re-runs use the visitor's keys from the Generate tab, for that request only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from playground import importers
from playground.presets import preset_to_request
from playground.records import inspect, read_record, record_to_request, save_image
from playground.storage import IMAGE_SUFFIXES
from playground.ui import catalog_view, service
from playground.ui.common import LIGHT, RAW, door
from playground.ui.form import file_path, gallery_paths
from playground.ui.handlers import Handlers, fill_editor
from playground.ui.layout import Page
from playground.ui.outputs import SCRATCH_DIR_NAME, fresh_folder

INTRO = ("Drop a picture made here (PNG, JPEG or WebP) or its record (`.json`) to see how it was made. "
         "**Load into Generate** sets every control back to it; **Re-run and verify** makes it again with your "
         "keys and says whether the pixels are byte-identical. Pictures from AUTOMATIC1111/Forge, ComfyUI or "
         "InvokeAI show the settings they carry, and **Load into Generate** starts from them.")
STATUS_TITLES = {"ok": "Record found", "tampered": "The record does not match", "no record": "No record",
                 "unreadable": "Unreadable record"}


@dataclass
class InspectView:
    """The Inspect tab's components."""

    file: gr.File
    preview: gr.Image
    load: gr.Button
    rerun: gr.Button
    status: gr.Markdown
    table: gr.Dataframe
    record: gr.JSON
    verdict: gr.Markdown
    differences: gr.Dataframe
    rerun_image: gr.Image


def build() -> InspectView:
    """Create the Inspect tab's components (call inside its gr.Tab)."""
    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=320):
            file = gr.File(label="Image or record", file_types=[*IMAGE_SUFFIXES, ".json"], type="filepath",
                           elem_id="inspect-file", height=120)
            preview = gr.Image(label="The image", interactive=False, elem_id="inspect-preview", height=300,
                               buttons=["fullscreen"])
            with gr.Row():
                load = gr.Button("↩ Load into Generate", variant="primary", elem_id="inspect-load", interactive=False)
                rerun = gr.Button("Re-run and verify", elem_id="inspect-rerun", interactive=False)
            verdict = gr.Markdown(elem_id="inspect-verdict")
            rerun_image = gr.Image(label="Re-run output (record embedded)", interactive=False, visible=False,
                                   elem_id="inspect-rerun-image", height=300, format="png",
                                   buttons=["download", "fullscreen"])
        with gr.Column(scale=6, min_width=360):
            status = gr.Markdown("Nothing inspected yet.", elem_id="inspect-status")
            table = gr.Dataframe(headers=["Field", "Value"], value=[], interactive=False, wrap=True,
                                 elem_id="inspect-table", column_widths=["34%", "66%"], max_height=640,
                                 label="Record")
            differences = gr.Dataframe(headers=["Fact", "Recorded", "Now"], value=[], interactive=False, wrap=True,
                                       visible=False, elem_id="inspect-differences", label="Facts that differ")
            with gr.Accordion("Whole record (JSON)", open=False, elem_id="inspect-record-box"):
                record = gr.JSON(elem_id="inspect-record")
    return InspectView(file=file, preview=preview, load=load, rerun=rerun, status=status, table=table, record=record,
                       verdict=verdict, differences=differences, rerun_image=rerun_image)


class InspectHandlers:
    """The Inspect tab's events."""

    def __init__(self, view: InspectView, handlers: Handlers, tabs: gr.Tabs):
        self.view = view
        self.h = handlers
        self.page: Page = handlers.page
        self.tabs = tabs

    def show(self, path: str | None) -> dict[Any, Any]:
        """Read the dropped file's record into the table; enable the buttons when there is one."""
        v = self.view
        cleared = {v.verdict: "", v.differences: gr.update(value=[], visible=False),
                   v.rerun_image: gr.update(value=None, visible=False)}
        if not path:
            return {**cleared, v.status: "Nothing inspected yet.", v.table: [], v.record: None, v.preview: None,
                    v.load: gr.update(interactive=False), v.rerun: gr.update(interactive=False)}
        report = inspect(path)
        # The server's copy of the upload: its folder means nothing to the visitor.
        report = service.without_path(report, str(path), Path(path).name)
        has_record = report["record"] is not None
        picture = path if str(path).lower().endswith(IMAGE_SUFFIXES) and report["status"] != "unreadable" else None
        imported = importers.import_image(path) if report["status"] == "no record" and picture else None
        if imported and imported["preset"] is not None:
            return {**cleared, v.status: import_markdown(imported), v.table: import_rows(imported),
                    v.record: imported["preset"], v.preview: picture, v.load: gr.update(interactive=True),
                    v.rerun: gr.update(interactive=False)}
        return {**cleared, v.status: status_markdown(report), v.table: report["table"], v.record: report["record"],
                v.preview: picture, v.load: gr.update(interactive=has_record),
                v.rerun: gr.update(interactive=has_record)}

    @door
    def load_into_generate(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """Set every control of the Generate tab to what the record asked for, then show that tab."""
        p = self.page
        path = file_path(data[self.view.file])
        record = read_record(path) if path else None
        imported = importers.import_image(path) if path and record is None else None
        if imported and imported["preset"] is not None:
            return self._load_imported(data, imported)
        if record is None:
            raise gr.Error("Drop an image made here (or its record) first.", title="No record", print_exception=False)
        request = record_to_request(record, search_dirs=service.search_dirs(path))
        loaded = self.h.load_request(data, request)
        wanted = record.get("inputs") or []
        found = len(request.images or []) + (request.mask is not None)
        if found < len(wanted):
            gr.Warning(f"{len(wanted) - found} of the record's {len(wanted)} input(s) are not on this server any "
                       f"more: add them before running.")
        model = catalog_view.get(record["model"]).label
        status = (f"**Loaded from the record:** {model}, seed {record.get('seed')}. Press **Run** to make it again, "
                  f"or change something first.")
        return {**loaded.updates, p.pending_editor: loaded.editor, p.status: status,
                self.tabs: gr.update(selected="generate")}

    def _load_imported(self, data: dict[Any, Any], imported: dict[str, Any]) -> dict[Any, Any]:
        """Set the Generate tab to the settings another tool's image carries."""
        p = self.page
        loaded = self.h.load_request(data, preset_to_request(imported["preset"]))
        status = f"**Loaded from {imported['tool']}:** {imported['message']} Save it with the presets bar to keep it."
        return {**loaded.updates, p.pending_editor: loaded.editor, p.status: status,
                self.tabs: gr.update(selected="generate")}

    async def rerun(self, path: Any, fal_key: str | None, replicate_key: str | None, use_server_keys: bool,
                    progress: gr.Progress = gr.Progress()):  # noqa: B008 - how Gradio injects progress
        """Run the record again and report: identical, or how far the pixels are and which facts differ."""
        v = self.view
        path = file_path(path)
        if not path:
            raise gr.Error("Drop an image made here (or its record) first.", title="No record", print_exception=False)
        yield {v.verdict: "Re-running…", v.differences: gr.update(value=[], visible=False),
               v.rerun_image: gr.update(value=None, visible=False)}
        keys = service.visitor_keys(fal_key or "", replicate_key or "", bool(use_server_keys))
        try:
            outcome = await service.rerun(path, keys, progress)
        except Exception as err:  # noqa: BLE001 - shown to the visitor, never as a traceback
            title, message = service.describe_error(err)
            yield {v.verdict: f"**{title}:** {message}"}
            raise gr.Error(message, title=title, print_exception=False) from None
        made = outcome["record"]
        saved = fresh_folder(SCRATCH_DIR_NAME) / f"{made['model']}-{made['seed']}-rerun.png"
        save_image(outcome["image"], outcome["record"], saved, "png", sidecar=False)
        rows = [[d["field"], _text(d["recorded"]), _text(d["now"])] for d in outcome["differences"]]
        yield {v.verdict: verdict_markdown(outcome), v.differences: gr.update(value=rows, visible=bool(rows)),
               v.rerun_image: gr.update(value=str(saved), visible=True)}


def wire(view: InspectView, handlers: Handlers, tabs: gr.Tabs, refresh_outputs: list[Any],
         run_options: dict[str, Any]) -> None:
    """Connect the Inspect tab (all events private)."""
    ih = InspectHandlers(view, handlers, tabs)
    page = handlers.page
    shown = [view.status, view.table, view.record, view.preview, view.load, view.rerun, view.verdict,
             view.differences, view.rerun_image]
    view.file.change(ih.show, [view.file], shown, **LIGHT)
    load_outputs = [*refresh_outputs, page.model, page.seed, page.random_seed, page.pending_editor, page.status,
                    tabs]
    loaded = view.load.click(ih.load_into_generate, {view.file, *page.form_inputs()}, load_outputs, **LIGHT, **RAW)
    loaded.success(fill_editor, [page.pending_editor], [page.editor], **LIGHT)
    view.rerun.click(ih.rerun, [view.file, page.fal_key, page.replicate_key, page.use_server_keys],
                     [view.verdict, view.differences, view.rerun_image], show_progress_on=[view.verdict],
                     **run_options)
    page.inspect_result.click(inspect_selected, [page.results, page.result_selected], [view.file, tabs],
                              **LIGHT, **RAW)


def inspect_selected(results: Any, selected: int | None) -> tuple[Any, Any]:
    """Open the selected result (the first if none) in the Inspect tab."""
    paths = gallery_paths(results)
    if not paths:
        gr.Warning("Run something first: there is no result to inspect.")
        return gr.update(), gr.update()
    index = selected if isinstance(selected, int) and 0 <= selected < len(paths) else 0
    return paths[index], gr.update(selected="inspect")


def status_markdown(report: dict[str, Any]) -> str:
    """The inspection's verdict in a line or two (plus its notes)."""
    title = STATUS_TITLES.get(report["status"], report["status"])
    text = f"**{title}:** {report['message']}"
    if report.get("parameters"):
        text += f"\n\n```\n{report['parameters']}\n```"
    for note in report.get("notes") or []:
        text += f"\n\n- {note}"
    return text


def import_markdown(imported: dict[str, Any]) -> str:
    """What another tool's image carries, and what the playground makes of it."""
    text = f"**Made with {imported['tool']}:** {imported['message']}"
    if imported["unmapped"]:
        text += f" {len(imported['unmapped'])} setting(s) could not be mapped (listed in the table)."
    for note in imported["notes"]:
        text += f"\n\n- {note}"
    return text


def import_rows(imported: dict[str, Any]) -> list[list[str]]:
    """Their fields as table rows: what each became, then what did not map and why."""
    rows = [[source, f"{value} → {target}"] for source, value, target in imported["mapped"]]
    rows += [[source, f"{value} (not mapped: {why})"] for source, value, why in imported["unmapped"]]
    return rows


def verdict_markdown(outcome: dict[str, Any]) -> str:
    """The re-run's verdict: identical, or the pixel difference, and the notes."""
    diff = outcome.get("difference") or {}
    if outcome["identical"]:
        text = "**Identical:** the new pixels are byte-identical to the recorded output."
    elif diff.get("same_size") is False:
        text = "**Different:** the new image has another size than the recorded one."
    elif diff:
        psnr = f"{diff['psnr_db']} dB" if diff.get("psnr_db") is not None else "n/a"
        text = (f"**Different:** max pixel difference {diff['max']}, mean {diff['mean']:.3f}, PSNR {psnr}, "
                f"{diff['changed_fraction']:.1%} of pixels changed.")
    else:
        text = "**Different:** the new pixels do not have the recorded sha256."
    count = len(outcome.get("differences") or [])
    text += f"\n\n{count} recorded fact(s) differ now." if count else "\n\nEvery recorded fact is the same."
    for line in (outcome.get("problems") or []) + (outcome.get("notes") or []):
        text += f"\n\n- {line}"
    return text


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
