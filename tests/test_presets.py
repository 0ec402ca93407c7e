"""Presets: shipped ones load and validate; user ones save, load, rename, delete, import and export
safely; bad presets and bad folders are reported clearly, every problem at once."""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import pytest

from playground import preset_store, presets, storage
from playground.catalog import MODELS, get_model
from playground.images import load_image
from playground.params import ValidationError
from playground.preset_store import PresetStoreError
from playground.request import Request
from playground.validation import for_backend, validate
from tests.conftest import make_image, make_mask

SHIPPED = sorted(preset_store.shipped_dir().glob("*.json"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PLAYGROUND_HOME for each test."""
    folder = tmp_path / "home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(folder))
    return folder


def problems_of(err: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p.field: str(p) for p in err.value.problems}


def minimal(**changes) -> dict:
    doc = {"schema": "playground.preset/1", "name": "Test preset", "model": "sdxl-base", "prompt": "a fox",
           "params": {"num_inference_steps": 20}, "seed": 3}
    doc.update(changes)
    return doc


# -- shipped presets --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_preset_loads_validates_and_runs_somewhere(path: Path):
    preset = preset_store.load_preset(path)
    assert preset["schema"] == presets.PRESET_SCHEMA and preset["location"]["source"] == "file"
    request = presets.preset_to_request(preset)
    assert len(request.images) == sum(e["role"] == "image" for e in preset["inputs"])
    prepared = validate(request)
    assert [i.sha256 for i in prepared.images] == [e["sha256"] for e in preset["inputs"] if e["role"] == "image"]
    runnable = []
    for backend in prepared.model.backends:
        try:
            for_backend(prepared, backend)
            runnable.append(backend)
        except ValidationError:
            pass
    assert runnable, f"{path.name} validates for no backend of {prepared.model.id}"
    assert "key" not in path.read_text().lower()


def test_shipped_presets_cover_every_family_and_mode_and_the_named_recipes():
    loaded = [preset_store.load_preset(p) for p in SHIPPED]
    covered = {(get_model(p["model"]).family, p["mode"]) for p in loaded}
    needed = {(m.family, mode) for m in MODELS.values() for mode in m.modes}
    assert needed <= covered, f"missing: {sorted(needed - covered)}"
    styles = {p["params"].get("edit_style") for p in loaded if p["model"].startswith("sdxl")}
    assert {"modify", "copy"} <= styles
    assert any(p["model"] == "flux-2-dev" and p["mode"] == "text-to-image" and p["params"].get("guidance_scale") == 3.5
               and p["params"].get("num_inference_steps") == 28 for p in loaded)
    assert any(sum(e["role"] == "image" for e in p["inputs"]) >= 2 for p in loaded), "a multi-reference edit"
    assert any(p["model"] == "sdxl-base" and p["mode"] == "inpaint" for p in loaded)
    assert any("reproduce this image exactly" in p["prompt"].lower() for p in loaded)
    listed = preset_store.list_presets(Path("/nonexistent"))["presets"]
    assert sorted((item["source"], item["slug"]) for item in listed) == [("shipped", p.stem) for p in SHIPPED]


def test_shipped_inputs_are_small_lossless_pngs():
    files = sorted((preset_store.shipped_dir() / "inputs").iterdir())
    assert files and all(f.suffix == ".png" and f.stat().st_size < 20_000 for f in files)


def test_listing_shows_every_shipped_preset_with_no_problems(home):
    listing = preset_store.list_presets()
    assert listing["problems"] == []
    assert {item["slug"] for item in listing["presets"]} == {p.stem for p in SHIPPED}
    assert all(item["id"].startswith("shipped:") for item in listing["presets"])


# -- round trips ------------------------------------------------------------------------------------

def test_save_then_load_gives_the_identical_request(home):
    request = Request(model="sdxl-base", mode="inpaint", prompt="a red fox", negative_prompt="blurry",
                      images=[make_image()], mask=make_mask(),
                      params={"num_inference_steps": 12, "guidance_scale": 6.5, "image_size": "64x64",
                              "scheduler": "Euler a"}, seed=1234, backend="local")
    saved = preset_store.save_request(request, "Fox inpaint", "a round trip")
    assert saved["id"] == "user:fox-inpaint" and Path(saved["path"]).is_file()
    back = presets.preset_to_request(preset_store.load_preset("fox-inpaint"))
    for name in ("model", "mode", "prompt", "negative_prompt", "params", "seed", "backend"):
        assert getattr(back, name) == getattr(request, name), name
    assert [load_image(i, "i").sha256 for i in back.images] == [load_image(make_image(), "i").sha256]
    assert validate(back).mask.sha256 == validate(request).mask.sha256


def test_saving_a_loaded_preset_keeps_the_document(home):
    preset = preset_store.load_preset("shipped:sdxl-inpaint")
    saved = preset_store.save_preset(preset, "My inpaint")
    again = preset_store.load_preset(saved["id"])
    for key in ("model", "mode", "backend", "prompt", "negative_prompt", "params", "seed", "description"):
        assert again[key] == preset[key]
    # The inputs were copied next to the user preset, by hash, and still resolve.
    assert [e["sha256"] for e in again["inputs"]] == [e["sha256"] for e in preset["inputs"]]
    assert all((home / "presets" / e["path"]).is_file() for e in again["inputs"])
    assert validate(presets.preset_to_request(again)).mask is not None


def test_controls_set_every_parameter_of_the_model(home):
    controls = presets.preset_controls(preset_store.load_preset("sdxl-modify-image-to-image"))
    model = get_model("sdxl-base")
    assert set(controls) >= {p.name for p in model.params} | {"model", "mode", "backend", "prompt", "seed"}
    assert not set(presets.CONTROL_FIELDS) & {p.name for p in model.params}, "control names must not collide"
    assert controls["edit_style"] == "modify" and controls["reference_strength"] == 0.5
    assert controls["num_inference_steps"] == 30 and controls["guidance_scale"] == 7.5  # the default for auto
    assert controls["scheduler"] == "Default" and controls["seed"] == 42 and len(controls["images"]) == 1
    assert controls["expected_inputs"][0]["path"] == "inputs/room.png"


def test_list_rename_delete_import_export(home, tmp_path):
    preset_store.save_preset(minimal(name="First"))
    preset_store.save_preset(minimal(name="Second", prompt="a cat"))
    user = [p for p in preset_store.list_presets()["presets"] if p["source"] == "user"]
    assert [(p["id"], p["name"]) for p in user] == [("user:first", "First"), ("user:second", "Second")]

    renamed = preset_store.rename_preset("First", "Renamed one")
    assert renamed["id"] == "user:renamed-one" and not (home / "presets" / "first.json").exists()
    assert preset_store.load_preset("user:renamed-one")["name"] == "Renamed one"
    with pytest.raises(ValidationError) as err:
        preset_store.rename_preset("renamed-one", "Second")
    assert "not used by another of your presets" in str(err.value)

    written = preset_store.export_preset("shipped:sdxl-inpaint", tmp_path / "export")
    assert {p.name for p in written} == {"sdxl-inpaint.json", "room.png", "room-sofa-mask.png"}
    imported = preset_store.import_preset(written[0], "Imported inpaint")
    again = preset_store.load_preset(imported["id"])
    assert again["name"] == "Imported inpaint" and validate(presets.preset_to_request(again)).mask is not None

    assert preset_store.delete_preset("second") == {"deleted": "user:second"}
    with pytest.raises(PresetStoreError, match="No user preset named 'second'"):
        preset_store.delete_preset("second")
    ids = {p["id"] for p in preset_store.list_presets()["presets"]}
    assert {"user:renamed-one", "user:imported-inpaint"} <= ids and "user:second" not in ids


def test_saving_an_existing_name_needs_overwrite_or_renames(home):
    preset_store.save_preset(minimal())
    with pytest.raises(ValidationError) as err:
        preset_store.save_preset(minimal(prompt="changed"))
    assert problems_of(err) == {"name": "name: got 'Test preset'; allowed: a name not used by another of your "
                                        "presets (or choose to overwrite it)"}
    preset_store.save_preset(minimal(prompt="changed"), on_conflict="overwrite")
    assert preset_store.load_preset("test-preset")["prompt"] == "changed"
    third = preset_store.save_preset(minimal(), on_conflict="rename")
    assert third["id"] == "user:test-preset-2" and third["name"] == "Test preset (2)"


# -- bad presets ------------------------------------------------------------------------------------

def test_malformed_json_names_the_problem():
    with pytest.raises(ValidationError) as err:
        presets.parse_preset('{"schema": "playground.preset/1", "name": ')
    (problem,) = err.value.problems
    assert problem.field == "preset" and "malformed JSON" in str(problem.value) and problem.allowed == "a JSON object"
    with pytest.raises(ValidationError, match="preset: got 'list'; allowed: a JSON object"):
        presets.parse_preset("[1, 2]")


@pytest.mark.parametrize("schema", ["playground.preset/99", "someone-else/1", "playground.preset/one", 7])
def test_wrong_schema_versions_are_refused(schema):
    with pytest.raises(ValidationError) as err:
        presets.parse_preset(minimal(schema=schema))
    assert problems_of(err)["schema"] == (f"schema: got {schema!r}; allowed: playground.preset/1 (or an older "
                                          f"playground.preset version, which is migrated)")


def test_unversioned_presets_are_migrated_not_rejected(tmp_path):
    make_image().save(tmp_path / "in.png")
    old = {"title": "Old style", "model_id": "sdxl-base", "mode": "image-to-image", "prompt": "a fox",
           "parameters": {"steps": 12, "cfg_scale": 6, "edit_style": "modify"},
           "backend_preference": "local", "negative": "blurry", "image_paths": ["in.png"]}
    preset = presets.parse_preset(json.dumps(old), tmp_path)
    assert preset["schema"] == "playground.preset/1" and preset["name"] == "Old style"
    assert preset["backend"] == "local" and preset["negative_prompt"] == "blurry"
    assert preset["params"]["num_inference_steps"] == 12 and preset["params"]["guidance_scale"] == 6
    assert preset["inputs"] == [{"role": "image", "sha256": load_image(make_image(), "x").sha256, "path": "in.png"}]
    # denoising_strength becomes strength, the native image-to-image name; it is checked like any other.
    migrated = presets.parse_preset({**old, "parameters": {"denoising_strength": 0.3}}, tmp_path)
    assert migrated["params"] == {"strength": 0.3}
    with pytest.raises(ValidationError, match="params.strength: got 0.3; allowed: not used in text-to-image"):
        presets.parse_preset({**old, "parameters": {"denoising_strength": 0.3}, "mode": "text-to-image",
                              "image_paths": []}, tmp_path)
    sized = presets.parse_preset({"model_id": "sdxl-base", "name": "s", "parameters": {"width": 512, "height": 768}})
    assert sized["params"] == {"image_size": {"width": 512, "height": 768}}


def test_every_problem_is_reported_at_once():
    doc = minimal(mode="image-to-image", backend="fal", seed="soon", colour="blue",
                  params={"num_inference_steps": 0, "guidance_scale": "lots", "no_such": 1, "scheduler": "Euler"},
                  inputs=[{"role": "image", "sha256": "abc"}, {"role": "hat", "sha256": "0" * 64, "path": "../x.png"}])
    with pytest.raises(ValidationError) as err:
        presets.parse_preset(doc)
    found = problems_of(err)
    assert found["colour"].startswith("colour: got 'blue'; allowed: no such preset field")
    assert found["inputs[0].sha256"] == ("inputs[0].sha256: got 'abc'; allowed: 64 lower-case hex digits (the pixel "
                                         "sha256 of the input)")
    assert found["inputs[1].role"] == "inputs[1].role: got 'hat'; allowed: one of 'image', 'mask'"
    assert found["inputs[1].path"].startswith("inputs[1].path: got '../x.png'; allowed: a relative path inside")
    # fal's fast-sdxl image-to-image takes 1-65 steps (its published schema)
    assert found["params.num_inference_steps"] == ("params.num_inference_steps: got 0; allowed: an integer from 1 "
                                                   "to 65")
    assert found["params.guidance_scale"] == "params.guidance_scale: got 'lots'; allowed: a number from 0 to 20"
    assert found["params.no_such"].startswith("params.no_such: got 1; allowed: a parameter of sdxl-base in "
                                              "image-to-image:")
    assert found["params.scheduler"] == ("params.scheduler: got 'Euler'; allowed: not accepted by fal; accepted by "
                                         "local, replicate")
    assert found["seed"].startswith("seed: got 'soon'; allowed: an integer 0 to 4294967295")
    assert len(err.value.problems) == 9


def test_unknown_model_is_reported_with_the_other_problems():
    with pytest.raises(ValidationError) as err:
        presets.parse_preset(minimal(model="sdxl-ultra", name="../x", description=5))
    found = problems_of(err)
    assert found["model"].startswith("model: got 'sdxl-ultra'; allowed: one of flux-2-dev")
    assert found["name"].startswith("name: got '../x'; allowed: a name of at most 80 characters")
    assert found["description"] == "description: got 5; allowed: text of at most 2000 characters"


def test_too_many_declared_inputs_are_counted():
    inputs = [{"role": "image", "sha256": f"{i:064x}"} for i in range(2)]
    with pytest.raises(ValidationError, match="images: got '2 images'; allowed: at most 1 for sdxl-base"):
        presets.parse_preset(minimal(mode="image-to-image", inputs=inputs))


def test_an_input_file_that_changed_is_reported(tmp_path):
    make_image().save(tmp_path / "in.png")
    doc = minimal(mode="image-to-image", inputs=[{"role": "image", "sha256": "0" * 64, "path": "in.png"},
                                                 {"role": "image", "sha256": "1" * 64, "path": "gone.png"}])
    (tmp_path / "p.json").write_text(json.dumps({**doc, "inputs": doc["inputs"][:1]}))
    with pytest.raises(ValidationError) as err:
        preset_store.load_preset(tmp_path / "p.json")
    assert "the file has changed since the preset was saved" in str(err.value)
    with pytest.raises(ValidationError) as err:
        presets.parse_preset({**minimal(model="flux-2-dev", mode="image-to-image"), "inputs": doc["inputs"]}, tmp_path)
    assert "inputs[1].path: got 'gone.png'; allowed: an image file that exists" in str(err.value)


def test_an_input_replaced_after_the_preset_was_read_is_still_caught(tmp_path):
    """Inputs' hashes are remembered between listings (each page load lists the presets); a file
    replaced in place, even with its old modification time put back, is read again."""
    picture = tmp_path / "in.png"
    make_image(color=(10, 20, 30)).save(picture)
    doc = minimal(mode="image-to-image",
                  inputs=[{"role": "image", "sha256": load_image(str(picture), "x").sha256, "path": "in.png"}])
    (tmp_path / "p.json").write_text(json.dumps(doc))
    assert preset_store.load_preset(tmp_path / "p.json")["inputs"][0]["path"] == "in.png"
    before = picture.stat()
    make_image(color=(200, 20, 30)).save(picture)
    os.utime(picture, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(ValidationError, match="the file has changed since the preset was saved"):
        preset_store.load_preset(tmp_path / "p.json")


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "C:\\temp\\x", "x\\..\\y", "nul", "con.json",
                                  "", "   ", "tab\there", "!!!", "x" * 81, 42])
def test_unsafe_names_are_refused_and_nothing_is_written_outside(home, tmp_path, name):
    with pytest.raises(ValidationError) as err:
        preset_store.save_preset(minimal(), name)
    assert [p.field for p in err.value.problems] == ["name"]
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert written == set(), f"wrote {written}"


def test_names_are_sanitised_into_file_names(home):
    saved = preset_store.save_preset(minimal(), "My FLUX test: take 2!")
    assert saved["slug"] == "my-flux-test-take-2" and saved["name"] == "My FLUX test: take 2!"
    assert Path(saved["path"]).parent == home / "presets"
    assert presets.preset_slug("Seedream 4.5 — edit") == "seedream-4.5-edit"


def test_shipped_presets_cannot_be_overwritten_renamed_or_deleted(home):
    shipped = preset_store.shipped_dir() / "sdxl-inpaint.json"
    before = shipped.read_bytes()
    with pytest.raises(ValidationError, match="a name not used by a shipped preset"):
        preset_store.save_preset(minimal(), "SDXL inpaint")
    with pytest.raises(PresetStoreError, match="shipped presets cannot be changed"):
        preset_store.delete_preset("sdxl-inpaint")
    with pytest.raises(PresetStoreError, match="shipped presets cannot be changed"):
        preset_store.delete_preset("shipped:sdxl-inpaint")
    with pytest.raises(PresetStoreError, match="shipped presets cannot be changed"):
        preset_store.rename_preset("sdxl-inpaint", "mine")
    assert shipped.read_bytes() == before


# -- bad folders ------------------------------------------------------------------------------------

@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_read_only_folder_is_reported(home):
    (home / "presets").mkdir(parents=True)
    os.chmod(home / "presets", 0o555)
    try:
        with pytest.raises(PresetStoreError, match="not writable"):
            preset_store.save_preset(minimal())
    finally:
        os.chmod(home / "presets", 0o755)


def test_an_unwritable_folder_is_reported_and_leaves_nothing_behind(home, monkeypatch):
    def refuse(path: Path, data: bytes) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(storage, "_write_new_file", refuse)
    with pytest.raises(PresetStoreError) as err:
        preset_store.save_preset(minimal())
    assert "permission denied: the folder is not writable" in str(err.value) and "PLAYGROUND_HOME" in str(err.value)
    assert list((home / "presets").iterdir()) == []


def test_a_home_that_is_a_file_is_reported(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "file" / "home"))
    with pytest.raises(PresetStoreError, match="Cannot create the preset folder.*a part of the path is a file"):
        preset_store.save_preset(minimal())


def test_a_home_on_top_of_the_shipped_presets_is_refused(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(preset_store.shipped_dir().parent))
    with pytest.raises(PresetStoreError, match="is the shipped presets folder"):
        preset_store.save_preset(minimal(name="Sneaky"))
    assert not (preset_store.shipped_dir() / "sneaky.json").exists()


def test_a_full_disk_is_reported_and_the_old_preset_survives(home, monkeypatch):
    preset_store.save_preset(minimal(prompt="the original"))
    real = storage._write_new_file

    def half_then_full(path: Path, data: bytes) -> None:
        real(path, data[: len(data) // 2])  # part of the file reached the disk
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(storage, "_write_new_file", half_then_full)
    with pytest.raises(PresetStoreError) as err:
        preset_store.save_preset(minimal(prompt="the replacement"), on_conflict="overwrite")
    assert "the disk is full (no space left on device)" in str(err.value)
    assert [p.name for p in (home / "presets").iterdir()] == ["test-preset.json"], "no temporary file left"
    assert preset_store.load_preset("test-preset")["prompt"] == "the original"


def test_concurrent_saves_lose_nothing(home):
    errors: list[BaseException] = []
    start = threading.Barrier(24)

    def save(i: int) -> None:
        try:
            start.wait()
            if i < 12:
                preset_store.save_preset(minimal(prompt=f"distinct {i}"), f"Preset {i}")
            else:
                preset_store.save_preset(minimal(prompt=f"same {i}"), "Same name", on_conflict="rename")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    files = sorted((home / "presets").iterdir())
    assert len(files) == 24 and all(not f.name.startswith(".") for f in files)
    prompts = {preset_store.load_preset(f)["prompt"] for f in files}
    assert prompts == {f"distinct {i}" for i in range(12)} | {f"same {i}" for i in range(12, 24)}


def test_concurrent_overwrites_always_leave_a_whole_file(home):
    preset_store.save_preset(minimal())

    def overwrite(i: int) -> None:
        for _ in range(10):
            preset_store.save_preset(minimal(prompt=f"writer {i}"), on_conflict="overwrite")

    threads = [threading.Thread(target=overwrite, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for _ in range(50):
        listing = preset_store.list_presets(include_shipped=False)
        assert listing["problems"] == [], listing["problems"]
    for thread in threads:
        thread.join()
    assert preset_store.load_preset("test-preset")["prompt"].startswith("writer ")


def test_a_corrupt_preset_among_good_ones_is_reported_and_skipped(home):
    preset_store.save_preset(minimal(name="Good one"))
    folder = home / "presets"
    (folder / "broken.json").write_text('{"schema": "playground.preset/1", "name": "Bro')
    (folder / "empty.json").write_bytes(b"")
    (folder / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "old-model.json").write_text(json.dumps(minimal(name="Old model", model="sdxl-0.9")))
    (folder / "folder.json").mkdir()
    (folder / ".hidden.json").write_text("not listed")
    listing = preset_store.list_presets()
    assert [p["id"] for p in listing["presets"] if p["source"] == "user"] == ["user:good-one"]
    errors = {p["id"]: p["error"] for p in listing["problems"]}
    assert set(errors) == {"user:broken", "user:empty", "user:binary", "user:old-model"}
    assert "malformed JSON" in errors["user:broken"] and "malformed JSON" in errors["user:empty"]
    assert "UTF-8 JSON text" in errors["user:binary"]
    assert "model: got 'sdxl-0.9'; allowed: one of" in errors["user:old-model"]
    with pytest.raises(ValidationError, match="malformed JSON"):
        preset_store.load_preset("broken")


def test_home_defaults_to_a_folder_in_the_users_home(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_HOME", raising=False)
    assert storage.playground_home() == Path.home() / ".playground"
    monkeypatch.setenv("PLAYGROUND_HOME", "~/elsewhere")
    assert storage.user_dir() == Path.home() / "elsewhere" / "presets"


def test_loading_by_name_prefers_shipped_and_reports_unknown_names(home):
    assert preset_store.load_preset("sdxl-inpaint")["location"]["source"] == "shipped"
    with pytest.raises(PresetStoreError, match="No preset named 'nothing-like-it'"):
        preset_store.load_preset("nothing-like-it")
    with pytest.raises(PresetStoreError, match="No user preset named 'nope'"):
        preset_store.load_preset("user:nope")
