"""The Gradio playground: `build_app()` makes the Blocks app, `launch(app)` serves it.

Modules: `layout` (the Generate tab's components), `panels` (the parameter panel generated from the
catalog), `events` (wiring) and `handlers` (private UI events), `presets_view` (the presets bar's
events), `api` and `compare_api` (the public endpoints), `common` (event options and `door`, the
readable-error decorator every endpoint wears), `service` (what the page and the API share), `form`
(page values → Request), `catalog_view` (what the page says about models), the other tabs
(`inspect_tab`, `compare_tab`, `drift_tab`, `history_view`), `samples` (examples), `visitors` (who is
visiting). Imports run one way, from `events` and the tabs down to `handlers`, `layout`, `panels` and
`service`, never back.
Importing this imports Gradio but nothing heavy (torch, diffusers, fal_client, replicate load when a
run needs them).
"""

from __future__ import annotations

import os
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from playground import storage
from playground.images import Limits
from playground.ui import (
    api,
    catalog_view,
    compare_api,
    compare_tab,
    drift_tab,
    history_view,
    inspect_tab,
    samples,
    visitors,
)
from playground.ui.events import panel_outputs, wire
from playground.ui.handlers import Handlers
from playground.ui.layout import CSS, INTRO, TITLE, build_page

__all__ = ["build_app", "launch"]


def build_app() -> gr.Blocks:
    """The whole app: Generate, Models and API tabs, the public endpoints, and the examples."""
    gr.set_static_paths([samples.EXAMPLES_DIR])  # the sample pictures, however the app is launched
    storage.set_identity_source(visitors.visitor_identity)  # presets and kept inputs per visitor when shared
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        if os.environ.get("SPACE_ID") and os.environ.get("OAUTH_CLIENT_ID"):  # the Space enables HF login
            gr.LoginButton()
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                page = build_page(demo)
                recent = history_view.build()
                example_box = samples.add()
            with gr.Tab("Inspect", id="inspect"):
                inspector = inspect_tab.build()
            with gr.Tab("Models", id="models"):
                gr.Markdown(catalog_view.catalog_markdown(), elem_id="catalog")
            with gr.Tab("API", id="api"):
                gr.Markdown(api.USAGE, elem_id="api-help")
            with gr.Tab("Compare", id="compare"):
                comparer = compare_tab.build()
            with gr.Tab("Drift", id="drift"):
                drifter = drift_tab.build()
        api.register()  # first, so the public names are taken before any private event's
        compare_api.register()
        generate_run = wire(demo, page, example_box, inspector, tabs)
        generate_keys = [page.fal_key, page.replicate_key, page.use_server_keys]
        compare_run = compare_tab.wire(demo, comparer, generate_keys)
        drift_run = drift_tab.wire(demo, drifter, generate_keys)
        history_view.wire(demo, recent, Handlers(page), page.form_inputs(), panel_outputs(page), generate_run,
                          comparer, compare_run, drifter, drift_run, tabs)
    demo.queue(default_concurrency_limit=None)
    return demo


def launch(demo: gr.Blocks, **options: Any) -> Any:
    """Serve the app. Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Gradio's own
    variables; 127.0.0.1:7860 by default); `options` go to `Blocks.launch`."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # No run history: /generate's inputs include the visitor's keys, which must never be kept anywhere.
    # Uploads over the image limit are refused by Gradio itself, before anything is written to disk.
    settings: dict[str, Any] = {"ssr_mode": False, "css": CSS, "footer_links": ["api", "gradio", "settings"],
                                "run_history": False, "max_file_size": max_upload_bytes(),
                                "app_kwargs": {"middleware": [Middleware(visitors.VisitorCookie)]}}
    # Gradio reads its variables once, when it is imported; read them at launch so they always hold.
    if os.environ.get("GRADIO_SERVER_NAME"):
        settings["server_name"] = os.environ["GRADIO_SERVER_NAME"]
    if os.environ.get("GRADIO_SERVER_PORT"):
        settings["server_port"] = int(os.environ["GRADIO_SERVER_PORT"])
    settings.update(options)
    storage.remove_stale_tmp()  # what writes interrupted by the last stop left behind
    storage.prune_session_homes()
    return demo.launch(**settings)


def max_upload_bytes() -> int:
    """The largest upload Gradio accepts: the image limit (PLAYGROUND_MAX_IMAGE_BYTES, default 20 MB)."""
    return Limits.from_env().max_bytes
