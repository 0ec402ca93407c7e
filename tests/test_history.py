"""The run history (bounded, owned files only, zip with records), the output file formats, and the
local device's waiting line."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import pytest
from PIL import Image

from playground import history
from playground.errors import Cancelled
from playground.formats import FileFormat, choose
from playground.params import ValidationError
from playground.records import encode_image, read_record
from playground.ui.progress import LocalTurns, ProgressRelay
from tests.conftest import make_image

RECORD = {"schema": "playground.record/1", "model": "sdxl-base", "mode": "text-to-image", "backend": "local",
          "seed": 5, "seeds": [5], "prompt": "a red fox", "params": {"num_inference_steps": 2},
          "request": {"prompt": "a red fox", "params": {"num_inference_steps": 2}}}


def saved(folder, name: str, record: dict, fmt: str = "png") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(encode_image(make_image(), record, fmt))
    return str(path)


def test_entries_are_newest_first_and_bounded(tmp_path):
    entries: list = []
    for i in range(5):
        entries = history.add(entries, history.generate_entry([f"/x/{i}.png"], {**RECORD, "seed": i}), limit=3)
    assert [e["seed"] for e in entries] == [4, 3, 2]
    assert history.caption(entries[0], 3) == "#3 sdxl-base · local · seed 4 · num_inference_steps=2"


def test_only_existing_files_under_the_results_folder_are_kept(tmp_path):
    root = tmp_path / "results"
    mine = saved(root / "run1", "a.png", RECORD)
    outside = saved(tmp_path / "elsewhere", "b.png", RECORD)
    stored = [history.generate_entry([mine], RECORD), history.generate_entry([outside], RECORD),
              history.generate_entry([str(root / "gone.png")], RECORD), {"kind": "evil", "files": ["/etc/passwd"]},
              "not an entry"]
    kept = history.owned(stored, root)
    assert [e["files"] for e in kept] == [[mine]]
    assert history.owned(None, root) == []


def test_the_zip_holds_every_image_with_its_record(tmp_path):
    root = tmp_path / "results"
    first = saved(root / "a", "sdxl-base-5-1.png", RECORD)
    second = saved(root / "b", "sdxl-base-6-1.jpg", {**RECORD, "seed": 6, "prompt": "a blue fox"}, "jpeg")
    grid = saved(root / "c", "grid.png", RECORD)
    (root / "c" / "grid.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    entries = [history.generate_entry([second], {**RECORD, "seed": 6}), history.generate_entry([first], RECORD),
               history.grid_entry("compare", [grid], {"grid": {"model": "sdxl-base", "backend": "local", "axes": [
                   {"kind": "seed", "name": "", "values": [1, 2]}]}, "seed": 1}, str(root / "c" / "grid.zip"))]
    target = history.to_zip(history.owned(entries, root), tmp_path / "history.zip")
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        listing = json.loads(archive.read("history.json"))
        image = archive.read("001-generate-sdxl-base/sdxl-base-6-1.jpg")
        record = json.loads(archive.read("002-generate-sdxl-base/sdxl-base-5-1.json"))
    assert "003-compare-sdxl-base/grid.zip" in names
    assert [run["kind"] for run in listing["runs"]] == ["generate", "generate", "compare"]
    assert listing["runs"][2]["changed"] == {"axes": "seed"}
    assert read_record(image)["seed"] == 6 and record["seed"] == 5


def test_differences_list_what_two_runs_disagree_on(tmp_path):
    a = saved(tmp_path, "a.png", RECORD)
    b = saved(tmp_path, "b.png", {**RECORD, "seed": 9, "params": {"num_inference_steps": 3}})
    rows = history.differences(history.generate_entry([a], RECORD), history.generate_entry([b], RECORD))
    assert rows == [["seed", "5", "9"], ["params.num_inference_steps", "2", "3"]]


# --- output formats --------------------------------------------------------------------------------
def test_the_file_format_is_chosen_then_the_providers_param_then_png():
    assert choose() == FileFormat("png")
    assert choose("JPG", 80) == FileFormat("jpeg", 80)
    assert choose(None, None, {"output_format": "webp", "output_quality": 0}) == FileFormat("webp", 1)
    assert choose("png", None, {"output_format": "webp"}) == FileFormat("png")
    assert FileFormat("webp").save_args() == {} and FileFormat("webp", 70).save_args() == {"quality": 70,
                                                                                          "lossless": False}
    with pytest.raises(ValidationError) as caught:
        choose("gif", "x")
    assert [p.field for p in caught.value.problems] == ["output_format", "output_quality"]


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_every_format_carries_the_record(fmt):
    chosen = choose(fmt, 85)
    data = encode_image(make_image(), RECORD, chosen.format, **chosen.save_args())
    assert Image.open(io.BytesIO(data)).format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    assert read_record(data)["seed"] == 5


# --- waiting for the local device ------------------------------------------------------------------
def test_a_waiting_run_hears_its_place_in_line_until_it_is_first():
    turns = LocalTurns()
    first, second, third = turns.enter(), turns.enter(), turns.enter()
    heard: list[int] = []
    done = threading.Event()

    def wait() -> None:
        turns.wait(third, heard.append)
        done.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    while not heard:
        done.wait(0.01)
    turns.leave(first)
    while heard[-1] != 1:
        done.wait(0.01)
    assert not done.is_set(), "still one run ahead"
    turns.leave(second)
    waiter.join(5)
    assert done.is_set() and heard == [2, 1]
    turns.leave(third)
    assert turns.active == 0


def test_cancelling_while_waiting_leaves_the_line():
    turns = LocalTurns()
    holder, waiting = turns.enter(), turns.enter()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        turns.wait(waiting, lambda n: None, cancel)
    assert turns.active == 1
    turns.leave(holder)


def test_loading_weights_is_reported(local_backend):
    from playground.request import Request
    from playground.validation import validate

    said: list[tuple[object, str, str]] = []
    relay = ProgressRelay(lambda value, desc="", unit="": said.append((value, desc, unit)))
    relay.backend = "local"
    prepared = validate(Request(model="sdxl-base", prompt="x", params={"image_size": "64x64",
                                                                       "num_inference_steps": 1}, backend="local"))
    local_backend.run(prepared, progress=relay)
    local_backend.run(prepared, progress=relay)  # loaded now: no loading shown
    loading = [said_now for said_now in said if "the weights" in said_now[1]]
    names = ["scheduler", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"]
    assert loading == [
        *(((i, 7), f"Loading the weights of sdxl-base on local: {name} ({i}/7)", "components")
          for i, name in enumerate(names)),
        ((7, 7), "Loaded the weights of sdxl-base on local (7/7); preparing the pipeline", "components")]
    # an event without a count (a backend that cannot count) keeps the plain message and the last fraction
    relay({"stage": "loading", "model": "sdxl-base"})
    assert said[-1] == ((1, 1), "Loading the weights of sdxl-base on local (once per model; can take minutes)", "steps")


def test_a_compare_grid_and_a_drift_run_join_the_history_and_restore_their_tab():
    import gradio as gr

    from playground.ui import history_view
    from playground.ui.compare_tab import build as build_compare
    from playground.ui.handlers import Handlers
    from playground.ui.layout import build_page
    from playground.ui.outputs import fresh_folder

    with gr.Blocks() as demo:
        page = build_page(demo)
        view = history_view.build()
        comparer = build_compare()
    hh = history_view.HistoryHandlers(view, Handlers(page), comparer, None, None)
    picture = fresh_folder("playground-runs") / "grid.png"
    make_image().save(picture)
    grid = {"schema": "playground.grid/1", "model": "sdxl-base", "mode": "text-to-image", "backend": "local",
            "prompt": "a fox", "negative_prompt": None, "params": {}, "seed": 3,
            "axes": [{"kind": "seed", "name": "", "values": [1, 2]}], "max_cells": 8, "max_cost": None}
    shown = hh.add_grid("compare", [], str(picture), None, {"grid": grid, "seed": 3})
    (entry,) = shown[view.state]
    assert entry["kind"] == "compare" and entry["files"] == [str(picture)] and entry["changed"] == {"axes": "seed"}
    assert shown[view.gallery][0][1] == "#1 compare · sdxl-base · local · seed 3 · axes=seed"
    assert hh.add_grid("compare", [], None, None, {}) == {}, "a grid that made no picture is not kept"

    class Selected:
        index = 0

    restored = hh.restore({view.state: shown[view.state]}, Selected())
    assert restored[comparer.prompt] == "a fox" and restored[comparer.model] == "sdxl-base"
    assert restored[comparer.axes[0].kind] == "seed" and restored[comparer.axes[0].values] == "1, 2"
