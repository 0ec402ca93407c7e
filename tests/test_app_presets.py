"""Presets and records through the launched app: /presets/list, /presets/load, /presets/save,
/presets/delete and /inspect with gradio_client, and the handlers that load a preset or a record
into every control of the Generate tab. User presets live in a temporary PLAYGROUND_HOME.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import make_image, make_mask

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from tests.conftest import running_app  # noqa: E402
from tests.test_app_api import SMALL_SDXL  # noqa: E402

NEW_ENDPOINTS = {"/presets/list", "/presets/load", "/presets/save", "/presets/delete", "/inspect"}
SHIPPED = Path(__file__).resolve().parent.parent / "presets"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYGROUND_HOME", str(folder))
        yield folder


@pytest.fixture(scope="module")
def app(home, model_paths):
    with running_app(model_paths) as running:
        yield running


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("pictures")
    paths = SimpleNamespace(red=folder / "red.png", mask=folder / "mask.png", plain=folder / "plain.png")
    make_image().save(paths.red)
    make_mask().save(paths.mask)
    make_image(color=(30, 160, 90)).save(paths.plain)
    return paths


def image_path(images: list) -> str:
    return images[0]["image"] if isinstance(images[0], dict) else images[0]


# --- presets ----------------------------------------------------------------------------------------
def test_the_preset_and_inspect_endpoints_are_public_and_documented(client):
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert NEW_ENDPOINTS <= set(info)
    save = info["/presets/save"]
    assert [p["parameter_name"] for p in save["parameters"]] == ["preset", "name", "images", "mask", "overwrite"]
    assert [p["parameter_name"] for p in info["/inspect"]["parameters"]] == ["image", "record"]
    described = {p["parameter_name"]: p["type"].get("description", "") for p in save["parameters"]}
    assert "never a path" in described["name"] and "Keys are never part" in described["preset"]
    assert "inpaint mask" in described["mask"]


def test_list_has_every_shipped_preset_and_no_server_paths(client):
    listing = client.predict(api_name="/presets/list")
    shipped = {e["id"] for e in listing["presets"] if e["source"] == "shipped"}
    assert shipped == {f"shipped:{p.stem}" for p in SHIPPED.glob("*.json")}
    assert "shipped:sdxl-inpaint" in shipped and not listing["problems"]
    assert all("path" not in e for e in listing["presets"])


def test_save_then_load_round_trips_identically_with_the_inputs(client, home):
    loaded = client.predict(name="shipped:sdxl-inpaint", api_name="/presets/load")
    assert loaded["id"] == "shipped:sdxl-inpaint" and loaded["preset"]["model"] == "sdxl-base"
    preset = {**loaded["preset"], "name": "Round trip", "params": {**loaded["preset"]["params"], "guidance_scale": 6},
              "seed": 1234}
    saved = client.predict(preset=preset, api_name="/presets/save")
    assert saved["id"] == "user:round-trip" and saved["preset"] == preset
    assert client.predict(name="user:round-trip", api_name="/presets/load") == saved
    # The inputs came along (found by hash among the shipped inputs) and are kept in the user folder.
    on_disk = json.loads((home / "presets" / "round-trip.json").read_text())
    assert [e["path"].split("/")[0] for e in on_disk["inputs"]] == ["inputs", "inputs"]
    assert all((home / "presets" / e["path"]).is_file() for e in on_disk["inputs"])

    with pytest.raises(AppError, match="not used by another of your presets"):
        client.predict(preset=preset, api_name="/presets/save")
    replaced = client.predict(preset={**preset, "seed": 99}, overwrite=True, api_name="/presets/save")
    assert replaced["preset"]["seed"] == 99


def test_save_keeps_uploaded_input_images(client, pictures):
    from playground.images import content_hash

    preset = {"name": "Uploaded inpaint", "model": "sdxl-base", "mode": "inpaint", "prompt": "a moon",
              "params": SMALL_SDXL, "seed": 3, "backend": "local"}
    saved = client.predict(preset=preset, images=[handle_file(str(pictures.red))],
                           mask=handle_file(str(pictures.mask)), api_name="/presets/save")
    assert [e["role"] for e in saved["preset"]["inputs"]] == ["image", "mask"]
    assert saved["preset"]["inputs"][0]["sha256"] == content_hash(make_image())


def test_delete_removes_a_user_preset_and_refuses_shipped_ones(client):
    client.predict(preset={"name": "Short lived", "model": "sdxl-base", "prompt": "x"}, api_name="/presets/save")
    assert client.predict(name="Short lived", api_name="/presets/delete") == {"deleted": "user:short-lived"}
    ids = {e["id"] for e in client.predict(api_name="/presets/list")["presets"]}
    assert "user:short-lived" not in ids
    with pytest.raises(AppError, match="No user preset named"):
        client.predict(name="user:short-lived", api_name="/presets/load")
    with pytest.raises(AppError, match="shipped presets cannot be changed"):
        client.predict(name="sdxl-inpaint", api_name="/presets/delete")
    assert (SHIPPED / "sdxl-inpaint.json").is_file()


def test_a_bad_preset_gives_one_readable_error_listing_every_problem(client, home):
    bad = {"name": "Bad one", "model": "sdxl-base", "mode": "sideways", "seed": -3,
           "params": {"num_inference_steps": 9999, "bogus": 1}}
    with pytest.raises(AppError) as caught:
        client.predict(preset=bad, api_name="/presets/save")
    message = str(caught.value)
    assert message.startswith("Invalid input (4 problems)")
    for field in ("mode: got 'sideways'", "params.num_inference_steps: got 9999", "params.bogus", "seed: got -3"):
        assert field in message
    assert "Traceback" not in message and not (home / "presets" / "bad-one.json").exists()

    # A broken file in the user folder: listed as a problem, and loading it says everything wrong with it.
    broken = home / "presets" / "broken.json"
    broken.parent.mkdir(exist_ok=True)
    broken.write_text(json.dumps({**bad, "name": "broken", "schema": "playground.preset/1"}))
    listing = client.predict(api_name="/presets/list")
    assert [p["id"] for p in listing["problems"]] == ["user:broken"]
    with pytest.raises(AppError, match=r"(?s)Invalid input \(4 problems\).*params.bogus"):
        client.predict(name="user:broken", api_name="/presets/load")
    broken.unlink()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "user:../escape", "shipped:../../README",
                                  "..\\escape", ".hidden"])
def test_a_path_as_a_preset_name_is_refused(client, home, name):
    for call in ({"name": name, "api_name": "/presets/load"}, {"name": name, "api_name": "/presets/delete"},
                 {"preset": {"name": "ok", "model": "sdxl-base"}, "name": name, "api_name": "/presets/save"}):
        with pytest.raises(AppError, match="name: got"):
            client.predict(**call)
    assert not list(home.parent.glob("escape*")) and not (home / "escape.json").exists()


# --- records ----------------------------------------------------------------------------------------
def test_inspect_shows_the_record_of_a_generated_image(client):
    images, seed, record = client.predict(model="sdxl-base", prompt="a red fox", params=SMALL_SDXL, seed=5,
                                          backend="local", api_name="/generate")
    report = client.predict(image=handle_file(image_path(images)), api_name="/inspect")
    assert report["status"] == "ok" and "matches the image's pixels" in report["message"]
    table = dict(report["table"])
    assert table["model"] == "sdxl-base" and table["seed"] == "5" and table["backend"] == "local"
    assert table["params.num_inference_steps"] == "2" and table["prompt"] == "a red fox"
    assert report["record"]["seeds"] == record["seeds"] and report["record"]["image"]["index"] == 0
    assert client.predict(record=record, api_name="/inspect")["status"] == "ok"


def test_inspect_says_clearly_when_an_image_has_no_record(client, pictures):
    report = client.predict(image=handle_file(str(pictures.plain)), api_name="/inspect")
    assert report["status"] == "no record" and report["record"] is None and report["table"] == []
    assert "This image has no playground record" in report["message"]
    with pytest.raises(AppError, match="uploaded image"):
        client.predict(image={"path": "/etc/hostname"}, api_name="/inspect")
    assert report["import"]["status"] == "nothing found" and report["import"]["preset"] is None


def test_import_turns_an_a1111_image_into_a_preset(client, tmp_path):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a red fox\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, CFG scale: 5, "
                                "Seed: 8, Size: 64x64, Model: sd_xl_base_1.0")
    make_image().save(tmp_path / "a1111.png", pnginfo=info)
    imported = client.predict(image=handle_file(str(tmp_path / "a1111.png")), api_name="/import")
    preset = imported["preset"]
    assert imported["tool"] == "AUTOMATIC1111" and imported["model"]["guess"] is False and imported["saved"] is None
    assert (preset["model"], preset["prompt"], preset["seed"]) == ("sdxl-base", "a red fox", 8)
    images, seed, record = client.predict(**{k: preset[k] for k in ("model", "mode", "prompt", "negative_prompt",
                                                                    "params", "seed")},
                                          backend="local", api_name="/generate")
    assert seed == 8 and record["params"]["scheduler"] == "Euler a"
    report = client.predict(image=handle_file(str(tmp_path / "a1111.png")), api_name="/inspect")
    assert report["status"] == "no record" and report["import"]["preset"]["params"] == preset["params"]
    with pytest.raises(AppError, match="uploaded image"):
        client.predict(image={"path": "/etc/hostname"}, api_name="/import")


# --- loading into the page (the handlers, directly) -------------------------------------------------
@pytest.fixture
def page_handlers(app):
    """A Generate tab and an Inspect tab built in a scratch Blocks, with their handlers."""
    import gradio as gr

    from playground.ui import inspect_tab
    from playground.ui.handlers import Handlers
    from playground.ui.layout import build_page

    with gr.Blocks() as demo:
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                page = build_page(demo)
            with gr.Tab("Inspect", id="inspect"):
                view = inspect_tab.build()
    handlers = Handlers(page)
    return SimpleNamespace(page=page, view=view, tabs=tabs, h=handlers,
                           inspect=inspect_tab.InspectHandlers(view, handlers, tabs),
                           data={c: c.value for c in page.form_inputs()})


def page_after(ns: SimpleNamespace, updates: dict) -> dict:
    """The page's values once `updates` are applied."""
    data = dict(ns.data)
    for component, update in updates.items():
        if component in data:
            data[component] = update.get("value", data[component]) if isinstance(update, dict) and \
                update.get("__type__") == "update" else update
    return data


def test_a_record_loaded_into_the_page_sets_every_control(client, pictures, page_handlers):
    from playground.images import content_hash
    from playground.ui import panels

    ns, p = page_handlers, page_handlers.page
    params = {"num_inference_steps": 3, "guidance_scale": 4.5, "reference_strength": 0.6, "scheduler": "Euler"}
    images, _, _ = client.predict(model="sdxl-base", mode="image-to-image", prompt="a red fox, watercolour",
                                  negative_prompt="blurry", images=[handle_file(str(pictures.red))], params=params,
                                  seed=9, backend="local", api_name="/generate")
    updates = ns.inspect.load_into_generate({**ns.data, ns.view.file: {"path": image_path(images)}})
    assert updates[p.model] == "sdxl-base" and updates[ns.tabs]["selected"] == "generate"
    assert updates[p.mode]["value"] == "image-to-image" and updates[p.backend]["value"] == "local"
    assert updates[p.prompt]["value"] == "a red fox, watercolour" and updates[p.negative]["value"] == "blurry"
    assert updates[p.seed] == 9 and updates[p.random_seed] is False
    ((ref, caption),) = updates[p.refs]["value"]
    assert caption == "image 1"  # numbered as prompts refer to it
    assert content_hash(make_image()) == content_hash(_rgb(ref)), "the input image was found again"
    form = ns.h.form(page_after(ns, updates))
    shown = {panels.SLOTS[i].name for i, c in enumerate(p.slots) if updates[c].get("visible")}
    expected = {param.name for param in panels.panel_params(_model("sdxl-base"), "image-to-image", "local")}
    assert shown == expected, "every parameter of the panel is set"
    request = form.request()
    assert request.params == params and request.seed == 9 and request.negative_prompt == "blurry"


def test_an_inpaint_preset_loaded_into_the_page_sets_the_image_and_mask(page_handlers):
    from dataclasses import replace

    from playground import preset_store, presets
    from playground.images import load_image, load_mask
    from playground.ui.form import editor_inputs
    from playground.ui.presets_view import PresetHandlers
    from playground.validation import validate

    ns, p = page_handlers, page_handlers.page
    ph = PresetHandlers(p.presets, ns.h)
    updates = ph.load({**ns.data, p.presets.choice: "shipped:sdxl-inpaint"})
    preset = preset_store.load_preset("shipped:sdxl-inpaint")
    assert updates[p.model] == "sdxl-base" and updates[p.mode]["value"] == "inpaint" and updates[p.seed] == 42
    editor = updates[p.pending_editor]
    background, mask = editor_inputs(editor)
    image = load_image(background, "image")
    assert [image.sha256, load_mask(mask, image.size).sha256] == [e["sha256"] for e in preset["inputs"]]
    data = page_after(ns, updates)
    data[p.editor] = editor
    from_page = validate(replace(ns.h.form(data).request(), backend="local"))
    from_preset = validate(replace(presets.preset_to_request(preset), backend="local"))
    assert from_page.params == from_preset.params and from_page.seed == from_preset.seed == 42
    assert from_page.prompt == from_preset.prompt and from_page.mask.sha256 == from_preset.mask.sha256
    assert "Loaded **SDXL inpaint**" in updates[p.presets.info]


def test_saving_the_page_as_a_preset_never_keeps_a_key(page_handlers, home):
    from playground.ui.presets_view import PresetHandlers

    ns, p = page_handlers, page_handlers.page
    ph = PresetHandlers(p.presets, ns.h)
    data = {**ns.data, p.prompt: "a lighthouse", p.fal_key: "test-secret-fal-key-123",
            p.replicate_key: "r8_test-secret-replicate", p.presets.name: "From the page",
            p.presets.description: "saved by a test", p.presets.overwrite: False}
    choices, info = ph.save(data)
    assert choices["value"] == "user:from-the-page" and "Saved as **From the page**" in info
    text = (home / "presets" / "from-the-page.json").read_text()
    assert "a lighthouse" in text and "secret" not in text


def _model(model_id: str):
    from playground.catalog import MODELS

    return MODELS[model_id]


def _rgb(path: str):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


# --- import and export (the presets bar's file handling) -----------------------------------------
def test_export_then_import_brings_the_inputs_along(home, tmp_path):
    import zipfile

    from playground import preset_store, presets
    from playground.ui.presets_view import export_zip, import_upload

    archive = Path(export_zip("shipped:sdxl-inpaint"))
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == ["inputs/room-sofa-mask.png", "inputs/room.png", "sdxl-inpaint.json"]
    saved, dropped = import_upload(archive)
    assert saved["id"] == "user:sdxl-inpaint-imported" and dropped == 0, "shipped names are taken"
    request = presets.preset_to_request(preset_store.load_preset(saved["id"]))
    assert len(request.images) == 1 and request.mask is not None

    lone = tmp_path / "lone.json"  # a preset file without its pictures: kept by hash, the user brings them
    lone.write_text(json.dumps({**json.loads((SHIPPED / "sdxl-inpaint.json").read_text()), "name": "Lone"}))
    saved, dropped = import_upload(lone)
    assert dropped == 2 and all("path" not in e for e in preset_store.load_preset(saved["id"])["inputs"])


def test_an_import_never_writes_outside_its_folder(home, tmp_path):
    import zipfile

    from playground.params import ValidationError
    from playground.ui.presets_view import import_upload

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../outside.json", "{}")
        z.writestr("inputs/../../outside.png", b"x")
    with pytest.raises(ValidationError, match="made by Export"):
        import_upload(evil)
    doc = {"name": "Climber", "model": "sdxl-base", "mode": "inpaint", "prompt": "x",
           "inputs": [{"role": "image", "sha256": "a" * 64, "path": "../../etc/hostname"}]}
    climber = tmp_path / "climber.json"
    climber.write_text(json.dumps(doc))
    with pytest.raises(ValidationError, match=r"inputs\[0\]\.path"):
        import_upload(climber)
    assert not list(tmp_path.parent.glob("outside*"))


def test_a_rerun_that_differs_reports_the_pixel_difference_and_the_facts():
    from playground.ui.inspect_tab import verdict_markdown

    outcome = {"identical": False, "difference": {"same_size": True, "max": 12, "mean": 0.5, "psnr_db": 41.2,
                                                  "changed_fraction": 0.25},
               "differences": [{"field": "packages.torch", "recorded": "2.5.0", "now": "2.6.0"}],
               "problems": [], "notes": []}
    text = verdict_markdown(outcome)
    assert "**Different:** max pixel difference 12, mean 0.500, PSNR 41.2 dB, 25.0% of pixels changed" in text
    assert "1 recorded fact(s) differ now" in text
