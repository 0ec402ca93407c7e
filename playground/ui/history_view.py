"""The History panel of the Generate tab: every run of this browser (Generate, Compare grids, Drift
runs), newest first. Selecting one sets every control back to it (like loading a preset) and shows
its record; two can be compared side by side; the whole history downloads as one zip; any item can
be sent on to image-to-image, inpaint or Compare.

The list lives in the visitor's own browser (`gr.BrowserState`, encrypted), so it is theirs alone
and survives a reload; entries only name result files on this server (see `playground.history`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground import history
from playground.compare import grid_from_dict
from playground.drift import drift_from_dict
from playground.records import record_to_request
from playground.ui import catalog_view, compare_tab, drift_tab, send_to, service
from playground.ui.common import LIGHT, RAW, door
from playground.ui.compare_tab import CompareTab
from playground.ui.drift_tab import DriftTab
from playground.ui.form import gallery_paths
from playground.ui.handlers import Handlers, fill_editor
from playground.ui.outputs import SCRATCH_DIR_NAME, fresh_folder, upload_root

HELP = ("Every run of this browser, newest first (kept here, in your browser, for the last "
        f"{history.max_entries()} runs while the server keeps their files). Click one to set every control back "
        "to it and see its record.")
FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


@dataclass
class HistoryView:
    """The History panel's components."""

    state: gr.BrowserState
    gallery: gr.Gallery
    selected: gr.State
    info: gr.Markdown
    record: gr.JSON
    other: gr.Dropdown
    slider: gr.ImageSlider
    differences: gr.Dataframe
    download: gr.Button
    archive: gr.File
    clear: gr.Button
    send_to: list[gr.Button]


def build() -> HistoryView:
    """The History panel (call inside the Generate tab, under the page)."""
    with gr.Accordion("History", open=True, elem_id="history-box"):
        gr.Markdown(HELP)
        gallery = gr.Gallery(label="History", show_label=False, columns=8, height=200, allow_preview=False,
                             interactive=False, object_fit="contain", elem_id="history")
        info = gr.Markdown("No runs yet in this browser.", elem_id="history-info")
        with gr.Row():
            send_i2i = gr.Button("→ Image-to-image", size="sm", elem_id="history-send-i2i")
            send_inpaint = gr.Button("→ Inpaint (mask editor)", size="sm", elem_id="history-send-inpaint")
            send_compare = gr.Button("→ Compare (grid base)", size="sm", elem_id="history-send-compare")
            download = gr.Button("Download history (zip)", size="sm", elem_id="history-download")
            clear = gr.Button("Clear history", size="sm", variant="stop", elem_id="history-clear")
        archive = gr.File(label="History zip (images with their records)", visible=False, interactive=False,
                          elem_id="history-zip")
        with gr.Accordion("Compare the selected run side by side", open=False, elem_id="history-compare"):
            other = gr.Dropdown(label="with", choices=[], value=None, elem_id="history-other",
                                info="Drag the slider over the two pictures; the table lists what differs.")
            slider = gr.ImageSlider(label="Selected ◀ ▶ other", type="filepath", elem_id="history-slider",
                                    height=420)
            differences = gr.Dataframe(headers=["setting", "selected", "other"], interactive=False, wrap=True,
                                       elem_id="history-differences")
        with gr.Accordion("Record of the selected run (JSON)", open=False, elem_id="history-record-box"):
            record = gr.JSON(elem_id="history-record")
    return HistoryView(
        state=gr.BrowserState([], storage_key="playground-history",
                              secret=os.environ.get("PLAYGROUND_BROWSER_SECRET") or None),
        gallery=gallery, selected=gr.State(None), info=info, record=record, other=other, slider=slider,
        differences=differences, download=download, archive=archive, clear=clear,
        send_to=[send_i2i, send_inpaint, send_compare])


def gallery_value(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Thumbnails with captions, newest first and numbered (the newest has the highest number)."""
    total = len(entries)
    return [(entry["files"][0], history.caption(entry, total - i)) for i, entry in enumerate(entries)]


def other_choices(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    total = len(entries)
    return [(history.caption(entry, total - i), entry["id"]) for i, entry in enumerate(entries)]


class HistoryHandlers:
    """The History panel's events."""

    def __init__(self, view: HistoryView, handlers: Handlers, comparer: CompareTab | None, drifter: DriftTab | None,
                 tabs: gr.Tabs | None):
        self.view = view
        self.h = handlers
        self.page = handlers.page
        self.comparer = comparer
        self.drifter = drifter
        self.tabs = tabs

    # -- keeping the list --------------------------------------------------------------------------
    def shown(self, entries: list[dict[str, Any]]) -> dict[Any, Any]:
        v = self.view
        info = (f"{len(entries)} run(s) in this browser's history." if entries else
                "No runs yet in this browser.")
        return {v.state: entries, v.gallery: gallery_value(entries), v.info: info,
                v.other: gr.update(choices=other_choices(entries), value=None)}

    def on_load(self, stored: Any) -> dict[Any, Any]:
        """The stored history, less runs whose files the server no longer has."""
        return self.shown(history.owned(stored, upload_root()))

    def add_generate(self, stored: Any, results: Any, record: Any) -> dict[Any, Any]:
        files = gallery_paths(results)
        if not files or not isinstance(record, dict):
            return {}
        return self.shown(history.owned(history.add(stored, history.generate_entry(files, record)), upload_root()))

    def add_grid(self, kind: str, stored: Any, picture: Any, archive: Any, manifest: Any) -> dict[Any, Any]:
        picture = _path(picture)
        if not picture or not isinstance(manifest, dict):
            return {}
        entry = history.grid_entry(kind, [picture], manifest, _path(archive))
        return self.shown(history.owned(history.add(stored, entry), upload_root()))

    def clear(self) -> dict[Any, Any]:
        v = self.view
        return {**self.shown([]), v.record: None, v.selected: None, v.archive: gr.update(value=None, visible=False)}

    def download(self, stored: Any) -> Any:
        entries = history.owned(stored, upload_root())
        if not entries:
            raise gr.Error("No runs in the history yet.", title="Nothing to download", print_exception=False)
        target = fresh_folder(SCRATCH_DIR_NAME) / "playground-history.zip"
        return gr.update(value=str(history.to_zip(entries, target)), visible=True)

    # -- selecting: restore ------------------------------------------------------------------------
    def entry(self, stored: Any, index: Any) -> dict[str, Any]:
        entries = history.owned(stored, upload_root())
        if not isinstance(index, int) or not 0 <= index < len(entries):
            raise gr.Error("Click a run in the history first.", title="No run chosen", print_exception=False)
        return entries[index]

    @door
    def restore(self, data: dict[Any, Any], evt: gr.SelectData) -> dict[Any, Any]:
        """Set every control of the run's tab back to it and show its record."""
        v, p = self.view, self.page
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        entry = self.entry(data[v.state], index)
        records = history.records_of(entry)
        shown = {v.selected: index, v.record: records[0] if entry["kind"] == "generate" else entry.get("spec"),
                 v.slider: None, v.differences: []}
        if entry["kind"] == "compare" and self.comparer is not None:
            values = compare_tab.spec_values(grid_from_dict(entry["spec"]))
            updates = dict(zip(compare_tab.Handlers(self.comparer, []).load_outputs(), values, strict=True))
            return {**shown, **updates, **self._tab("compare")}
        if entry["kind"] == "drift" and self.drifter is not None:
            values = drift_tab.spec_values(drift_from_dict(entry["spec"]))
            updates = dict(zip(drift_tab.Handlers(self.drifter, []).load_outputs(), values, strict=True))
            return {**shown, **updates, **self._tab("drift")}
        record = records[0]
        if record is None:
            raise gr.Error("This run's file carries no record any more.", title="No record", print_exception=False)
        request = record_to_request(record, search_dirs=service.search_dirs(entry["files"][0]))
        loaded = self.h.load_request(data, request)
        label = catalog_view.BACKEND_LABELS.get(record.get("backend"), record.get("backend"))
        fmt = FORMATS.get(os.path.splitext(entry["files"][0])[1].lower(), "png")
        status = (f"**Restored from the history:** {catalog_view.get(record['model']).label}, seed "
                  f"{record.get('seed')}. Press **Run** to make it again, or change something first.")
        return {**shown, **loaded.updates, p.pending_editor: loaded.editor, p.status: status,
                p.results: [(f, f"seed {s}") for f, s in zip(entry["files"], record.get("seeds") or [], strict=False)],
                p.seed_used: record.get("seed"), p.backend_used: f"{label} · {record.get('endpoint', '')}",
                p.record: record, p.out_format: fmt, **self._tab("generate")}

    def _tab(self, name: str) -> dict[Any, Any]:
        return {self.tabs: gr.update(selected=name)} if self.tabs is not None else {}

    def restore_outputs(self, refresh_outputs: list[Any]) -> list[Any]:
        v, p = self.view, self.page
        outs = [*refresh_outputs, p.model, p.seed, p.random_seed, p.pending_editor, p.status, p.results, p.seed_used,
                p.backend_used, p.record, p.out_format, v.selected, v.record, v.slider, v.differences]
        if self.tabs is not None:
            outs.append(self.tabs)
        if self.comparer is not None:
            outs += compare_tab.Handlers(self.comparer, []).load_outputs()
        if self.drifter is not None:
            outs += drift_tab.Handlers(self.drifter, []).load_outputs()
        return list(dict.fromkeys(outs))

    # -- side by side ------------------------------------------------------------------------------
    def compare(self, stored: Any, index: Any, other_id: Any) -> tuple[Any, Any]:
        if not other_id:
            return None, []
        entries = history.owned(stored, upload_root())
        first = self.entry(stored, index)
        second = next((e for e in entries if e["id"] == other_id), None)
        if second is None:
            raise gr.Error("That run is no longer in the history.", title="Run gone", print_exception=False)
        return (first["files"][0], second["files"][0]), history.differences(first, second)

    # -- send to -----------------------------------------------------------------------------------
    def picture(self, stored: Any, index: Any) -> str:
        return self.entry(stored, index)["files"][0]


def _path(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("path")
    return str(value) if value else None


def result_picture(results: Any, selected: Any) -> str:
    """The selected result's file (the first if none is selected)."""
    paths = gallery_paths(results)
    if not paths:
        raise gr.Error("Run something first: there is no result to send.", title="No result", print_exception=False)
    index = selected if isinstance(selected, int) and 0 <= selected < len(paths) else 0
    return paths[index]


def wire(demo: gr.Blocks, view: HistoryView, handlers: Handlers, everything: set[Any], refresh_outputs: list[Any],
         run_event: Any, comparer: CompareTab | None = None, compare_run: Any = None, drifter: DriftTab | None = None,
         drift_run: Any = None, tabs: gr.Tabs | None = None) -> None:
    """Connect the History panel and the send-to buttons (all private)."""
    hh = HistoryHandlers(view, handlers, comparer, drifter, tabs)
    page = handlers.page
    listed = [view.state, view.gallery, view.info, view.other]
    demo.load(hh.on_load, [view.state], listed, **LIGHT)
    run_event.success(hh.add_generate, [view.state, page.results, page.record], listed, **LIGHT, **RAW)
    if comparer is not None and compare_run is not None:
        compare_run.then(lambda s, g, a, m: hh.add_grid("compare", s, g, a, m),
                         [view.state, comparer.grid_image, comparer.archive, comparer.manifest], listed, **LIGHT)
    if drifter is not None and drift_run is not None:
        drift_run.then(lambda s, g, a, m: hh.add_grid("drift", s, g, a, m),
                       [view.state, drifter.plot, drifter.archive, drifter.manifest], listed, **LIGHT)
    view.clear.click(hh.clear, None, [*listed, view.record, view.selected, view.archive], **LIGHT)
    view.download.click(hh.download, [view.state], [view.archive], **LIGHT)

    restored = view.gallery.select(hh.restore, {view.state, *everything}, hh.restore_outputs(refresh_outputs),
                                   **LIGHT, **RAW)
    restored.success(fill_editor, [page.pending_editor], [page.editor], **LIGHT).then(
        handlers.update_estimate, everything, [page.estimate], **LIGHT, **RAW)
    view.other.input(hh.compare, [view.state, view.selected, view.other], [view.slider, view.differences], **LIGHT)

    # Send to: from the selected result, or from the selected history item.
    refresh = {"fn": handlers.refresh_panel, "inputs": everything, "outputs": refresh_outputs, **LIGHT, **RAW}
    sources = [(page.send_to, lambda d: result_picture(d[page.results], d[page.result_selected]),
                {page.results, page.result_selected}),
               (view.send_to, lambda d: hh.picture(d[view.state], d[view.selected]), {view.state, view.selected})]
    for (to_i2i, to_inpaint, to_compare), pick, picked_from in sources:
        asks = {page.model, page.prompt, *picked_from}
        sent = to_i2i.click(lambda d, pick=pick: send_to.to_image_to_image(page, d[page.model], pick(d)), asks,
                            [page.model, page.mode, page.refs], **LIGHT, **RAW)
        sent.then(**refresh)
        sent = to_inpaint.click(lambda d, pick=pick: send_to.to_inpaint(page, d[page.model], pick(d)), asks,
                                [page.model, page.mode, page.pending_editor], **LIGHT, **RAW)
        filled = sent.then(**refresh).then(fill_editor, [page.pending_editor], [page.editor], **LIGHT)
        filled.then(handlers.update_estimate, everything, [page.estimate], **LIGHT, **RAW)
        if comparer is not None:
            outputs = [comparer.model, comparer.mode, comparer.refs, comparer.prompt]
            to_compare.click(lambda d, pick=pick: {**send_to.to_compare(comparer, d[page.model], d[page.prompt],
                                                                        pick(d)),
                                                   **({tabs: gr.update(selected="compare")} if tabs else {})},
                             asks, outputs + ([tabs] if tabs is not None else []), **LIGHT, **RAW)
