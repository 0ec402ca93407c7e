"""/compare and /drift through gradio_client: tiny local pipelines on CPU and the provider emulator.

One app serves the whole module. Grids and drifts stream: `job.outputs()` holds every update, and a
cancelled job keeps the last one.
"""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageSequence

from tests.conftest import make_image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

KEYS = {"fal_key": "test-compare-fal", "replicate_key": "test-compare-rep"}
SMALL = {"image_size": "64x64"}
TINY_SCHNELL = {"image_size": "64x64", "num_inference_steps": 2, "max_sequence_length": 128}


def opened(path: str) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def wait_until(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def latest_manifest(job) -> dict | None:
    outputs = job.outputs()
    return outputs[-1][2] if outputs else None


def test_compare_and_drift_endpoints_are_public_and_documented(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    compare = endpoints["/compare"]
    assert [p["parameter_name"] for p in compare["parameters"]] == [
        "model", "axes", "mode", "prompt", "negative_prompt", "images", "mask", "params", "seed", "backend",
        "max_cells", "max_cost", "fal_key", "replicate_key", "output_format", "output_quality"]
    assert [r["label"] for r in compare["returns"]] == ["grid_image", "cells", "manifest", "archive"]
    assert [r["label"] for r in endpoints["/drift"]["returns"]] == ["plot", "filmstrip", "gif", "manifest", "archive"]
    assert [p["parameter_name"] for p in endpoints["/drift"]["parameters"]][:2] == ["chains", "prompt"]
    described = {p["parameter_name"]: p["type"].get("description", "") for p in compare["parameters"]}
    assert "start:stop:step" in described["axes"] and "never stored" in described["fal_key"]
    assert {"/compare_plan", "/drift_plan"} <= set(endpoints)


# --- compare --------------------------------------------------------------------------------------
def test_local_two_by_two_grid_streams_labelled_cells_with_their_records(client):
    from playground.images import content_hash
    from playground.records import read_record

    request = dict(model="sdxl-turbo", backend="local", prompt="a red fox", params=SMALL, seed=5,
                   axes=[{"kind": "param", "name": "num_inference_steps", "values": "1:2"},
                         {"kind": "seed", "values": [5, 6]}])
    plan = client.predict(**request, api_name="/compare_plan")
    assert (plan["cells"], plan["to_run"], plan["estimated_cost"], plan["by_backend"]) == (4, 4, 0.0, {"local": 4})
    job = client.submit(**request, api_name="/compare")
    grid_png, cells, manifest, archive = job.result(timeout=120)
    updates = job.outputs()
    assert len(updates) >= 3, "the grid streams: the plan, cells as they finish, the end"
    assert updates[0][1] == [None] * 4 and updates[0][3] is None, "nothing is done before it starts"

    assert [(a["title"], a["labels"]) for a in manifest["axes"]] == [("Steps", ["1", "2"]), ("Seed", ["5", "6"])]
    assert [c["labels"] for c in manifest["cells"]] == [{"Steps": s, "Seed": d} for d in "56" for s in "12"]
    assert manifest["totals"]["done"] == 4 and manifest["shape"] == {"columns": 2, "rows": 2, "panels": 1}
    for cell, path in zip(manifest["cells"], cells, strict=True):
        embedded = read_record(Path(path))  # the cell's own record, for its own pixels
        assert embedded["image"]["sha256"] == cell["record"]["outputs"][0]["sha256"] == content_hash(opened(path))
        assert embedded["seed"] == cell["seed"] and embedded["params"]["num_inference_steps"] == cell["params"][
            "num_inference_steps"]
    assert opened(grid_png).width > 2 * 64 and all(opened(p).size == (64, 64) for p in cells)
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        assert {"grid.png", "manifest.json"} <= names
        assert json.loads(bundle.read("manifest.json"))["cells"][3]["labels"] == {"Steps": "2", "Seed": "6"}
        assert sum(1 for n in names if n.startswith("cells/") and n.endswith(".png")) == 4


def test_model_axis_mixes_local_and_hosted_shows_na_and_a_failed_cell_does_not_stop_the_grid(client, hosted):
    hosted.emulator.inject("fail", provider="fal", msg="the GPU fell over")
    _, cells, manifest, archive = client.predict(
        prompt="a red fox", seed=3, params={**SMALL, "num_inference_steps": 1},
        axes=[{"kind": "model", "values": ["sdxl-turbo@local", "flux-kontext-pro@fal", "flux-2-pro@replicate"]},
              {"kind": "param", "name": "guidance_scale", "values": [1, 2]}],
        **KEYS, api_name="/compare")
    assert manifest["axes"][0]["labels"] == ["sdxl-turbo@local", "flux-kontext-pro@fal", "flux-2-pro@replicate"]
    statuses = [(c["model"], c["status"]) for c in manifest["cells"]]
    assert sorted(statuses) == sorted([("sdxl-turbo", "done")] * 2 + [("flux-2-pro", "n/a")] * 2
                                      + [("flux-kontext-pro", "done"), ("flux-kontext-pro", "failed")])
    failed = next(c for c in manifest["cells"] if c["status"] == "failed")
    assert "the GPU fell over" in failed["error"] and cells[failed["index"]] is None
    na = [c for c in manifest["cells"] if c["status"] == "n/a"]
    assert all("guidance_scale" in c["error"] for c in na)
    kontext = next(c for c in manifest["cells"] if c["model"] == "flux-kontext-pro" and c["status"] == "done")
    assert kontext["not_applied"] == {"image_size": "64x64", "num_inference_steps": 1}
    assert kontext["record"]["backend"] == "fal" and cells[kontext["index"]] is not None
    assert [c is not None for c in cells] == [c["status"] == "done" for c in manifest["cells"]]
    assert manifest["totals"]["failed"] == 1 and manifest["totals"]["done"] == 3
    auths = {r["auth"] for r in hosted.emulator.requests if r["provider"] == "fal"}
    assert auths == {"Key test-compare-fal"}, "the visitor's key, for this request"
    assert "test-compare" not in json.dumps(manifest)
    with zipfile.ZipFile(archive) as bundle:
        assert json.loads(bundle.read("manifest.json"))["totals"]["n/a"] == 2


def test_the_cap_refuses_a_large_grid_before_anything_runs(client, hosted):
    axes = [{"kind": "seed", "values": "1:5"}, {"kind": "param", "name": "guidance_scale", "values": "1:5"}]
    for endpoint in ("/compare_plan", "/compare"):
        with pytest.raises(AppError, match=r"25 cells \(5 x 5\).*at most 10 cells"):
            client.predict(model="flux-2-dev", backend="fal", prompt="a fox", axes=axes, max_cells=10, **KEYS,
                           api_name=endpoint)
    assert not hosted.emulator.requests
    plan = client.predict(model="flux-2-dev", backend="fal", prompt="a fox", axes=axes, max_cells=25, **KEYS,
                          api_name="/compare_plan")
    assert plan["cells"] == 25 and plan["cap"] == 25 and plan["estimated_cost"] > 0


def test_a_cancelled_grid_keeps_its_finished_cells_and_stops_the_rest(client, hosted):
    hosted.emulator.inject("slow", count=2, seconds=30.0, provider="fal")
    job = client.submit(model="flux-2-dev", backend="fal", prompt="a fox", params={"image_size": "square"},
                        axes=[{"kind": "seed", "values": [1, 2, 3, 4]}], **KEYS, api_name="/compare")
    wait_until(lambda: (latest_manifest(job) or {}).get("totals", {}).get("done") == 2, what="two finished cells")
    assert job.cancel()
    wait_until(lambda: len([r for r in hosted.emulator.requests if r["phase"] == "cancel"]) == 2,
               what="the two running hosted jobs to be cancelled")
    _, cells, manifest, archive = job.outputs()[-1]
    # The page's last view had two cells running: exactly their remote jobs were cancelled.
    running = sorted(c["seed"] for c in manifest["cells"] if c["status"] == "running")
    canceled = sorted(hosted.emulator._jobs[r["path"].rstrip("/").split("/")[-2]].input["seed"]
                      for r in hosted.emulator.requests if r["phase"] == "cancel")
    assert len(running) == 2 and canceled == running
    done = [c for c in manifest["cells"] if c["status"] == "done"]
    assert len(done) == 2 and all(cells[c["index"]] and Path(cells[c["index"]]).is_file() for c in done)
    assert archive is None
    assert client.predict(api_name="/models")["models"], "the server still answers"


# --- drift ----------------------------------------------------------------------------------------
def test_local_drift_of_three_steps_streams_metrics_plot_filmstrip_and_gif(client):
    from playground.records import read_record

    job = client.submit(chains=[{"model": "sdxl-turbo", "backend": "local", "steps": 3, "seed": 4}],
                        prompt="a lighthouse", genesis_model="flux-schnell", genesis_backend="local",
                        genesis_params=TINY_SCHNELL, genesis_seed=1, api_name="/drift")
    plot, filmstrip, gif, manifest, archive = job.result(timeout=120)
    assert len(job.outputs()) >= 2
    assert [Path(p).name for p in filmstrip] == ["genesis.png", "chain-1-step-01.png", "chain-1-step-02.png",
                                                 "chain-1-step-03.png"]
    chain = manifest["chains"][0]
    assert chain["status"] == "done" and chain["steps_done"] == 3 and manifest["genesis"]["record"]["seed"] == 1
    for step, path in zip(chain["steps"], filmstrip[1:], strict=True):
        assert set(step["vs_first"]) >= {"mse", "psnr", "ssim", "phash"} and step["vs_previous"]["mse"] >= 0
        assert read_record(Path(path))["image"]["sha256"] == step["record"]["outputs"][0]["sha256"]
    assert opened(plot).size == (960, 640)
    with Image.open(gif) as animation:
        assert animation.format == "GIF" and sum(1 for _ in ImageSequence.Iterator(animation)) == 4
    with zipfile.ZipFile(archive) as bundle:
        assert {"drift.gif", "metrics.png", "metrics.csv", "genesis.png"} <= set(bundle.namelist())


def test_hosted_drift_failing_at_step_two_keeps_step_one_and_the_error(client, hosted):
    request = dict(chains=[{"model": "flux-kontext-pro", "backend": "replicate", "steps": 3}], prompt="a lighthouse",
                   genesis_model="flux-2-dev", genesis_backend="fal", genesis_params={"image_size": "square"}, **KEYS)
    plan = client.predict(**request, api_name="/drift_plan")
    assert plan["chains"][0]["backend"] == "replicate" and plan["steps"] == 3 and plan["estimated_cost"] > 0

    def fail_the_second_edit() -> None:  # armed once step 1's job exists (its submit answered), so step 2's takes it
        wait_until(lambda: any(r["provider"] == "replicate" and r["phase"] == "submit" and r["status"] is not None
                               for r in list(hosted.emulator.requests)), what="step 1")
        hosted.emulator.inject("fail", provider="replicate", msg="the GPU melted")

    injector = threading.Thread(target=fail_the_second_edit, daemon=True)
    injector.start()
    plot, filmstrip, gif, manifest, archive = client.predict(**request, api_name="/drift")
    injector.join()
    chain = manifest["chains"][0]
    assert chain["status"] == "failed" and chain["steps_done"] == 1
    assert "Step 2" in chain["error"] and "the GPU melted" in chain["error"]
    assert [Path(p).name for p in filmstrip] == ["genesis.png", "chain-1-step-01.png"]
    with Image.open(gif) as animation:
        assert sum(1 for _ in ImageSequence.Iterator(animation)) == 2
    assert opened(plot).size == (960, 640)
    with zipfile.ZipFile(archive) as bundle:
        assert json.loads(bundle.read("manifest.json"))["chains"][0]["error"] == chain["error"]


def test_drift_from_an_uploaded_image_and_a_bad_request_reads_plainly(client, tmp_path):
    picture = tmp_path / "start.png"
    make_image(64, 64).save(picture)
    _, filmstrip, _, manifest, _ = client.predict(chains=[{"model": "sdxl-turbo", "backend": "local", "steps": 1}],
                                                  start_image=handle_file(str(picture)), api_name="/drift")
    assert manifest["genesis"]["record"]["source"] == "upload" and len(filmstrip) == 2
    with pytest.raises(AppError) as caught:
        client.predict(chains=[{"model": "seedream-3", "steps": 0}], prompt="", api_name="/drift")
    message = str(caught.value)
    assert "chains[0].steps" in message and "chains[0].model" in message and "Traceback" not in message


# --- presets (no server needed) -------------------------------------------------------------------
def test_a_grid_and_a_drift_save_and_load_as_presets(tmp_path, monkeypatch):
    from playground import preset_store, presets
    from playground.compare import Axis, GridSpec
    from playground.drift import ChainSpec, DriftSpec

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    picture = tmp_path / "in.png"
    make_image().save(picture)
    grid = GridSpec(prompt="a red fox", mode="image-to-image", images=[str(picture)], seed=3,
                    params={**SMALL, "num_inference_steps": 2},
                    axes=[Axis("model", ["sdxl-base@local", "flux-2-pro@fal"]), Axis("seed", "1:2")])
    saved = preset_store.save_grid(grid, "Fox grid")
    loaded = preset_store.load_preset(saved["id"])
    # Its own fields are the first model's request (what that model takes), so it also loads as a plain run.
    assert loaded["model"] == "sdxl-base" and loaded["backend"] == "local" and loaded["grid"]["axes"][1]["values"] \
        == "1:2"
    back = presets.preset_grid(loaded)
    assert back.axes == grid.axes and back.params == grid.params and len(back.images) == 1
    from playground.images import content_hash

    assert content_hash(opened(back.images[0])) == content_hash(make_image())

    drift = DriftSpec(chains=[ChainSpec("flux-kontext-pro", "fal", steps=4, seed=2)], prompt="a lighthouse",
                      genesis_model="flux-schnell", genesis_params={"num_inference_steps": 2})
    preset_store.save_drift(drift, "Lighthouse drift")
    assert presets.preset_drift(preset_store.load_preset("Lighthouse drift")) == drift
    kinds = {p["name"]: p["kind"] for p in preset_store.list_presets(include_shipped=False)["presets"]}
    assert kinds == {"Fox grid": "grid", "Lighthouse drift": "drift"}
    with pytest.raises(presets.ValidationError, match="Compare tab"):
        presets.preset_grid(preset_store.load_preset("Lighthouse drift"))
    broken = {**loaded, "grid": {**loaded["grid"], "colour": "red"}}
    with pytest.raises(presets.ValidationError, match="grid.colour"):
        presets.parse_preset(broken, check_files=False)


# --- the command line (in process, on the tiny local backend) -------------------------------------
def test_sweep_and_drift_commands_write_the_grid_and_the_drift(local, tmp_path, monkeypatch, capsys):
    from playground.__main__ import main

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    assert main(["sweep", "--model", "sdxl-turbo", "--backend", "local", "--prompt", "a fox", "--set",
                 "image_size=64x64", "--axis", "num_inference_steps=1,2", "--seed", "3", "--out",
                 str(tmp_path / "grid"), "--save-preset", "cli grid", "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert [c["params"]["num_inference_steps"] for c in manifest["cells"]] == [1, 2]
    assert {p.name for p in (tmp_path / "grid").iterdir()} == {"grid.png", "manifest.json", "grid.zip"}
    assert main(["sweep", "--preset", "cli grid", "--axis", "seed=4,5", "--out", str(tmp_path / "again"),
                 "--dry-run"]) == 0
    assert [c["labels"] for c in json.loads(capsys.readouterr().out)["cells"]] == [{"Seed": "4"}, {"Seed": "5"}]
    assert main(["sweep", "--model", "sdxl-turbo", "--axis", "seed", "--out", str(tmp_path / "x")]) == 2

    assert main(["drift", "--prompt", "a lighthouse", "--genesis-backend", "local", "--genesis-set",
                 "image_size=64x64", "--genesis-set", "num_inference_steps=2", "--genesis-set",
                 "max_sequence_length=128", "--edit", "sdxl-turbo@local", "--steps", "2", "--out",
                 str(tmp_path / "drift")]) == 0
    assert {p.name for p in (tmp_path / "drift").iterdir()} == {"metrics.png", "drift.gif", "manifest.json",
                                                                "drift.zip"}
    saved = json.loads((tmp_path / "drift" / "manifest.json").read_text())
    assert saved["chains"][0]["steps_done"] == 2 and saved["genesis"]["record"]["model"] == "flux-schnell"


def test_the_tabs_load_a_grid_and_a_drift_preset_back_into_their_forms(tmp_path, monkeypatch):
    import gradio as gr

    from playground import preset_store
    from playground.compare import Axis, GridSpec
    from playground.drift import ChainSpec, DriftSpec
    from playground.ui import compare_tab, drift_tab

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    grid = GridSpec(model="sdxl-turbo", backend="local", prompt="a red fox on a red roof", seed=7, max_cells=12,
                    params={**SMALL, "guidance_scale": 0.5},
                    axes=[Axis("param", "1:2", "num_inference_steps"), Axis("prompt", "blue, green", "red"),
                          Axis("seed", "1, 2")])
    drift = DriftSpec(prompt="a lighthouse", genesis_model="flux-schnell", genesis_backend="local", genesis_seed=5,
                      genesis_params=TINY_SCHNELL,
                      chains=[ChainSpec("sdxl-turbo", "local", {"num_inference_steps": 2}, "copy it", 3),
                              ChainSpec("flux-kontext-pro", "fal", instruction="copy it", steps=3)])
    grid_id = preset_store.save_grid(grid, "Grid round trip")["id"]
    drift_id = preset_store.save_drift(drift, "Drift round trip")["id"]
    with gr.Blocks():
        compare, drifting = compare_tab.build(), drift_tab.build()
    on_compare, on_drift = compare_tab.Handlers(compare, []), drift_tab.Handlers(drifting, [])
    form = dict(zip(on_compare.load_outputs(), on_compare.load_preset(grid_id), strict=True))
    assert on_compare.read({**form, compare.fal_key: "", compare.replicate_key: ""}).spec() == grid
    form = dict(zip(on_drift.load_outputs(), on_drift.load_preset(drift_id), strict=True))
    assert on_drift.spec(form) == drift
    assert (grid_id, "Grid round trip") in [(i, n) for n, i in compare_tab.presets_of_kind("grid")]
