"""Restoring a history item sets the page back to the run exactly: the Request the page would send
after a restore is the Request that made the run (a hosted run's provider defaults stay defaults),
and a Drift run restores the Drift tab. In-process: the page's handlers on a scratch Blocks, runs
through the launched app's /generate (gradio_client) on the provider emulator."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture
def scratch():
    """The Generate tab, the History panel, Compare and Drift tabs built in a scratch Blocks."""
    import gradio as gr

    from playground.ui import history_view
    from playground.ui.compare_tab import build as build_compare
    from playground.ui.drift_tab import build as build_drift
    from playground.ui.handlers import Handlers
    from playground.ui.layout import build_page

    with gr.Blocks() as demo:
        page = build_page(demo)
        view = history_view.build()
        comparer = build_compare()
        drifter = build_drift()
    handlers = Handlers(page)
    return SimpleNamespace(page=page, view=view, h=handlers, drifter=drifter,
                           hh=history_view.HistoryHandlers(view, handlers, comparer, drifter, None),
                           data={c: c.value for c in page.form_inputs()})


def after(data: dict, updates: dict) -> dict:
    """The page's values once `updates` are applied."""
    data = dict(data)
    for component, update in updates.items():
        if component in data:
            data[component] = update.get("value", data[component]) if isinstance(update, dict) and \
                update.get("__type__") == "update" else update
    return data


class First:
    index = 0


def image_path(images: list) -> str:
    return images[0]["image"] if isinstance(images[0], dict) else images[0]


def served(downloaded: str) -> str:
    """The client's copy of a result put back where the server keeps results (history keeps only those)."""
    from playground.ui.outputs import fresh_folder

    target = fresh_folder("playground-runs") / Path(downloaded).name
    shutil.copyfile(downloaded, target)
    return str(target)


@pytest.mark.parametrize("kept", ["request", "resolved params only"])
def test_restoring_a_hosted_run_asks_for_exactly_what_the_run_asked(client, hosted, scratch, kept):
    from PIL import Image

    from playground.records import encode_image, read_record

    ns = scratch
    asked = {"safety_tolerance": 4}
    images, _, _ = client.predict(model="flux-2-pro", prompt="a red fox", params=asked, seed=7, backend="fal",
                                  fal_key="test-restore", api_name="/generate")
    path = served(image_path(images))
    record = read_record(path)
    assert set(record["params"]) > set(asked), "the record lists the provider's defaults too"
    if kept != "request":  # a record written before records kept the request (or by another tool)
        record = {k: v for k, v in record.items() if k != "request"}
        with Image.open(path) as picture:
            Path(path).write_bytes(encode_image(picture.convert("RGB"), record, "png"))
    shown = ns.hh.add_generate([], [path], record)
    updates = ns.hh.restore({ns.view.state: shown[ns.view.state], **ns.data}, First())
    form = ns.h.form(after(ns.data, updates))
    request = form.request()
    assert (request.model, request.mode, request.backend) == ("flux-2-pro", "text-to-image", "fal")
    assert request.prompt == "a red fox" and request.seed == 7
    assert request.params == asked, "the provider's defaults stay defaults"


def test_a_drift_run_joins_the_history_and_restoring_it_fills_the_drift_tab_again(client, hosted, scratch):
    ns, t = scratch, scratch.drifter
    chain = {"model": "flux-kontext-pro", "backend": "replicate", "steps": 2, "params": {"safety_tolerance": 1}}
    asked = dict(chains=[chain],
                 prompt="a lighthouse at dusk", genesis_model="flux-2-dev", genesis_backend="fal",
                 genesis_params={"image_size": "square"}, genesis_seed=11)
    plot, _, _, manifest, archive = client.predict(**asked, fal_key="test-drift", replicate_key="test-drift",
                                                   api_name="/drift")
    assert manifest["chains"][0]["status"] == "done"
    shown = ns.hh.add_grid("drift", [], served(plot), served(archive), manifest)
    (entry,) = shown[ns.view.state]
    assert entry["kind"] == "drift" and entry["model"] == "flux-2-dev" and entry["backend"] == "fal"
    assert entry["archive"].endswith("drift.zip") and entry["spec"]["prompt"] == "a lighthouse at dusk"
    assert shown[ns.view.gallery][0][1].startswith("#1 drift · flux-2-dev · fal") \
        and "chains=flux-kontext-pro" in shown[ns.view.gallery][0][1]

    restored = ns.hh.restore({ns.view.state: shown[ns.view.state], **ns.data}, First())
    assert restored[ns.view.record] == entry["spec"], "the selected run's spec is shown"
    assert restored[t.source] == "genesis" and restored[t.prompt] == "a lighthouse at dusk"
    assert restored[t.genesis_model] == "flux-2-dev" and restored[t.genesis_backend] == "fal"
    assert restored[t.genesis_params] == "image_size=square" and restored[t.genesis_seed] == "11"
    assert restored[t.steps] == 2
    first, *others = t.chains
    assert (restored[first.model], restored[first.backend]) == ("flux-kontext-pro", "replicate")
    assert restored[first.params] == "safety_tolerance=1"
    assert all(restored[row.model] != "flux-kontext-pro" for row in others), "only one chain was run"
