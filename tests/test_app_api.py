"""The launched app's public API through gradio_client: /models, /estimate, /generate.

Local runs use the tiny random-weight pipelines on CPU; hosted runs go to the provider emulator
with a key given per request. One app serves the whole module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.conftest import make_image, make_mask

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

PUBLIC = {"/generate", "/estimate", "/models",
          "/inspect", "/import", "/presets/list", "/presets/load", "/presets/save", "/presets/delete",  # presets
          "/compare", "/compare_plan", "/drift", "/drift_plan"}  # compare grids and drift
FLUX_TINY = {"max_sequence_length": 128}
SMALL_SDXL = {"image_size": "64x64", "num_inference_steps": 2}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("pictures")
    paths = SimpleNamespace(red=folder / "red.png", blue=folder / "blue.png", mask=folder / "mask.png")
    make_image().save(paths.red)
    make_image(color=(20, 90, 200), pattern=3).save(paths.blue)
    make_mask().save(paths.mask)
    return paths


def only_image(images: list) -> Image.Image:
    assert len(images) == 1, images
    path = images[0]["image"] if isinstance(images[0], dict) else images[0]
    with Image.open(path) as image:
        image.load()
        return image.copy()


# --- the endpoints --------------------------------------------------------------------------------
def test_only_the_documented_endpoints_are_public(client):
    info = client.view_api(return_format="dict", print_info=False)
    assert set(info["named_endpoints"]) == PUBLIC
    assert not info["unnamed_endpoints"], "UI events must be private"
    generate = info["named_endpoints"]["/generate"]
    assert [p["parameter_name"] for p in generate["parameters"]] == [
        "model", "mode", "prompt", "negative_prompt", "images", "mask", "params", "seed", "backend", "fal_key",
        "replicate_key", "output_format", "output_quality"]
    assert [r["label"] for r in generate["returns"]] == ["images", "seed", "record"]
    described = {p["parameter_name"]: p["type"].get("description", "") for p in generate["parameters"]}
    assert "canonical" in described["params"].lower() and "never stored" in described["fal_key"]


def test_models_returns_the_catalog_with_json_schemas(client):
    from playground.catalog import MODELS

    catalog = client.predict(api_name="/models")
    assert set(catalog["models"]) == set(MODELS)
    sdxl = catalog["models"]["sdxl-base"]
    assert sdxl["family"] == "sdxl" and "inpaint" in sdxl["modes"]
    params = sdxl["schema"]["properties"]["params"]["properties"]
    assert params["guidance_scale"]["default"] == 7.5 and params["num_inference_steps"]["maximum"] == 500
    assert catalog["families"]["flux2"] == "FLUX.2"


def test_estimate_names_the_backend_auto_picks_and_its_cost(client):
    hosted = client.predict(model="flux-2-pro", prompt="a red fox", fal_key="test-estimate", api_name="/estimate")
    assert hosted["backend"] == "fal" and hosted["ready"] is True
    assert hosted["cost_usd"] == pytest.approx(0.03)
    assert hosted["availability"]["fal"]["available"] is True
    assert "Replicate" in hosted["availability"]["replicate"]["reason"]
    local = client.predict(model="sdxl-base", prompt="a red fox", backend="local", api_name="/estimate")
    assert local["backend"] == "local" and local["cost_usd"] == 0.0 and "free" in local["cost_text"]


# --- running --------------------------------------------------------------------------------------
def test_text_to_image_returns_the_image_seed_and_record_like_a_direct_call(client):
    from playground import backends
    from playground.images import content_hash
    from playground.request import Request

    images, seed, record = client.predict(model="sdxl-base", prompt="a red fox", params=SMALL_SDXL, seed=7,
                                          backend="local", api_name="/generate")
    image = only_image(images)
    assert image.size == (64, 64) and seed == 7
    assert record["backend"] == "local" and record["model"] == "sdxl-base" and record["seeds"] == [7]
    direct = backends.run(Request(model="sdxl-base", prompt="a red fox", params=SMALL_SDXL, seed=7, backend="local"))
    assert content_hash(image.convert("RGB")) == content_hash(direct.images[0]), "same request, same pixels"


def test_edit_with_two_reference_images_on_flux2_dev(client, pictures):
    images, seed, record = client.predict(
        model="flux-2-dev", mode="image-to-image", prompt="the red one in the style of the blue one",
        images=[handle_file(str(pictures.red)), handle_file(str(pictures.blue))],
        params={"num_inference_steps": 2, **FLUX_TINY}, backend="local", api_name="/generate")
    only_image(images)
    assert record["mode"] == "image-to-image" and record["seed"] == seed
    assert [entry["role"] for entry in record["inputs"]] == ["image", "image"]


def test_inpaint_with_a_mask_on_sdxl_base(client, pictures):
    images, _, record = client.predict(
        model="sdxl-base", mode="inpaint", prompt="a moon", images=[handle_file(str(pictures.red))],
        mask=handle_file(str(pictures.mask)), params={"num_inference_steps": 2}, backend="local",
        api_name="/generate")
    assert only_image(images).size == (64, 64)
    assert record["mode"] == "inpaint" and [e["role"] for e in record["inputs"]] == ["image", "mask"]
    assert "Inpaint" in record["endpoint"]


def test_invalid_request_raises_a_readable_app_error_and_the_server_keeps_serving(client):
    with pytest.raises(AppError) as caught:
        client.predict(model="flux-2-dev", prompt="", params={"num_inference_steps": 500, "nonsense": 1},
                       api_name="/generate")
    message = str(caught.value)
    assert "Invalid input (3 problems)" in message
    assert "prompt" in message and "params.num_inference_steps: got 500; allowed: an integer from 1 to 50" in message
    assert "params.nonsense" in message and "Traceback" not in message
    assert client.predict(api_name="/models")["models"], "the server still answers"


def test_a_path_on_the_server_is_refused(client):
    with pytest.raises(AppError, match=r"images\[0\].*uploaded image"):
        client.predict(model="flux-2-dev", mode="image-to-image", prompt="x", images=[{"path": "/etc/hostname"}],
                       backend="local", api_name="/generate")


def test_cancelling_a_job_stops_the_local_run(app, client):
    runs_before = app.local.stats["runs"]
    job = client.submit(model="sdxl-base", prompt="slow", params={"image_size": "64x64", "num_inference_steps": 500},
                        seed=1, backend="local", api_name="/generate")
    deadline = time.monotonic() + 60
    while not _steps_reported(job) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _steps_reported(job), "progress should report steps before we cancel"
    assert job.cancel()
    while not app.local._lock.acquire(timeout=0.05):  # the backend lets go of the device once it stops
        assert time.monotonic() < deadline, "the local run did not stop after cancel"
    app.local._lock.release()
    assert job.status().code.name == "CANCELLED"
    assert app.local.stats["runs"] == runs_before, "the cancelled run must not finish"
    images, _, _ = client.predict(model="sdxl-base", prompt="after", params=SMALL_SDXL, backend="local",
                                  api_name="/generate")
    assert only_image(images).size == (64, 64)


def _steps_reported(job) -> bool:
    data = job.status().progress_data or []
    return any((unit.desc or "").startswith("Step ") for unit in data)


# --- hosted, through the emulator -----------------------------------------------------------------
def test_hosted_run_uses_the_visitors_own_key_for_that_request_only(client, hosted):
    images, seed, record = client.predict(model="flux-2-pro", prompt="a red fox", seed=11, backend="fal",
                                          fal_key="test-visitor-1", api_name="/generate")
    only_image(images)
    assert seed == 11 and record["backend"] == "fal"
    _, _, replicate_record = client.predict(model="flux-2-pro", prompt="a red fox", backend="replicate",
                                            replicate_key="test-visitor-2", api_name="/generate")
    assert replicate_record["backend"] == "replicate"
    auths = {(r["provider"], r["auth"]) for r in hosted.emulator.requests if r["provider"] in ("fal", "replicate")}
    assert auths == {("fal", "Key test-visitor-1"), ("replicate", "Bearer test-visitor-2")}
    assert "test-visitor" not in json.dumps(record) + json.dumps(replicate_record)
    with pytest.raises(AppError, match="No fal API key"):
        client.predict(model="flux-2-pro", prompt="a red fox", backend="fal", api_name="/generate")


def test_an_empty_key_is_refused_even_where_the_server_lends_its_key(client, hosted, monkeypatch):
    from dataclasses import replace

    from playground import backends
    from playground.backends.fal import FalBackend

    monkeypatch.setenv("FAL_KEY", "test-server-lent")
    backends.set_backend("fal", FalBackend(replace(hosted.settings, server_keys=True)))
    with pytest.raises(AppError, match="the fal key field is empty"):
        client.predict(model="flux-2-pro", prompt="a red fox", backend="fal", fal_key="", api_name="/generate")
    assert not [r for r in hosted.emulator.requests if r["phase"] == "submit"]
    _, _, record = client.predict(model="flux-2-pro", prompt="a red fox", backend="fal", api_name="/generate")
    assert record["backend"] == "fal"
    (submit,) = [r for r in hosted.emulator.requests if r["phase"] == "submit"]
    assert submit["auth"] == "Key test-server-lent"


def test_visitor_keys_keep_empty_fields_empty_unless_the_visitor_chose_the_servers():
    from playground.ui.service import visitor_keys

    assert visitor_keys(" test-a ", None) == {"fal": "test-a"}
    assert visitor_keys("", "  ") == {"fal": "", "replicate": ""}
    assert visitor_keys("", "test-b", use_server_keys=True) == {"replicate": "test-b"}


def test_hosted_runs_overlap_instead_of_queueing_behind_each_other(client, hosted):
    # No job finishes before all eight were submitted: queued behind each other, they would never finish.
    hosted.emulator.inject("slow", count=8, seconds=0.5, until_jobs=8, provider="fal")
    jobs = [client.submit(model="flux-2-pro", prompt=f"fox {i}", backend="fal", fal_key=f"test-many-{i}",
                          api_name="/generate") for i in range(8)]
    for job in jobs:
        job.result(timeout=60)
    fal = [r for r in hosted.emulator.requests if r["provider"] == "fal"]
    submits = [r["time"] for r in fal if r["phase"] == "submit"]
    results = [r["time"] for r in fal if r["phase"] == "result"]
    assert len(submits) == 8 and len(results) == 8
    assert max(submits) < min(results), "all eight jobs were submitted before the first one finished"


def test_outputs_embed_the_record(client):
    records = pytest.importorskip("playground.records")
    images, seed, record = client.predict(model="sdxl-base", prompt="a red fox", params=SMALL_SDXL, seed=3,
                                          backend="local", api_name="/generate")
    path = images[0]["image"] if isinstance(images[0], dict) else images[0]
    embedded = records.read_record(Path(path))
    assert embedded["seed"] == seed == 3 and embedded["model"] == record["model"]


# --- the panel, generated from the catalog (no server needed) -------------------------------------
def test_every_panel_shows_exactly_its_models_parameters_with_their_defaults():
    from playground.catalog import MODELS
    from playground.params import INPUT_KINDS
    from playground.ui import panels

    checked = 0
    for model in MODELS.values():
        for backend in model.backends:
            for mode in model.modes_on(backend):
                expected = {p.name: p for p in model.params_for(mode, backend) if p.kind not in INPUT_KINDS}
                shown = {panels.SLOTS[i].name: v for i, v in panels.panel_values(model, mode, backend).items()}
                assert set(shown) == set(expected), (model.id, mode, backend)
                for name, value in shown.items():
                    param = expected[name]
                    props = panels.slot_props(param, value)
                    assert panels.same_value(param, props["value"], panels.display_value(param, param.default))
                    if param.min is not None and "minimum" in props:
                        assert (props["minimum"], props["maximum"]) == (param.min, param.max)
                    if param.choices and panels.widget_for(param) in ("dropdown", "radio"):
                        assert [c for _, c in props["choices"] if c != panels.UNSET] == list(param.choices)
                    assert param.description in props["info"]
                checked += 1
    assert checked > 40
    # Spot check against values known outside the code: diffusers' StableDiffusionXLPipeline defaults.
    shown = {panels.SLOTS[i].name: v for i, v in panels.panel_values(MODELS["sdxl-base"], "text-to-image",
                                                                      "local").items()}
    assert (shown["num_inference_steps"], shown["guidance_scale"], shown["eta"]) == (50, 5.0, 0.0)


def test_only_values_changed_from_the_defaults_are_sent():
    from playground.catalog import MODELS
    from playground.ui import panels

    model = MODELS["sdxl-base"]
    values = panels.panel_values(model, "image-to-image", "local")
    current = [None] * len(panels.SLOTS)
    for index, value in values.items():
        current[index] = value
    assert panels.explicit_params(model, "image-to-image", "local", current) == {}
    for index, value in panels.edit_style_values(model, "image-to-image", "local", "copy").items():
        current[index] = value
    current[panels.SLOT_INDEX[("edit_style", "radio")]] = "copy"
    assert panels.explicit_params(model, "image-to-image", "local", current) == {
        "edit_style": "copy", "reference_strength": 0.95, "guidance_scale": 1.0, "num_inference_steps": 15}
