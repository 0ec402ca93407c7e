"""Compare grids through the Python API: tiny local pipelines and the provider emulator."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

from playground import backends
from playground.axis_values import parse_range
from playground.compare import (
    GRID_SCHEMA,
    Axis,
    GridSpec,
    grid_from_dict,
    grid_layout,
    grid_to_dict,
    plan_grid,
    run_grid,
)
from playground.drawing import letterbox
from playground.images import content_hash
from playground.params import ValidationError
from playground.request import Request

KEYS = {"fal": "test-grid-fal", "replicate": "test-grid-rep"}
SMALL = {"image_size": "64x64"}


def cell_pixels(grid, cell, cell_px: int = 128) -> np.ndarray:
    """The pixels the grid image shows in `cell`'s box."""
    layout = grid_layout(grid, cell_px)
    return np.asarray(grid.grid_image(cell_px).crop(layout.cell_box(cell.position)))


def submits(emulator, provider: str) -> list[dict]:
    return [r for r in emulator.requests if r["provider"] == provider and r["phase"] == "submit"]


def test_local_two_by_two_grid_runs_each_cell_with_its_axis_values(local):
    spec = GridSpec(model="sdxl-base", backend="local", prompt="a red fox", params=SMALL, seed=5,
                    axes=[Axis("param", "1:2", "num_inference_steps"), Axis("seed", [5, 6])])
    grid = plan_grid(spec)
    assert grid.summary()["cells"] == 4 and grid.summary()["to_run"] == 4 and grid.estimated_cost == 0.0
    seen: list[tuple[int, str]] = []
    grid = run_grid(grid, on_cell=lambda c: seen.append((c.index, c.status)))

    assert [c.status for c in grid.cells] == ["done"] * 4
    # Local cells run one at a time, in order.
    assert seen == [(i, s) for i in range(4) for s in ("running", "done")]
    for cell in grid.cells:
        column, row, panel = cell.position
        assert cell.index == row * 2 + column and panel == 0
        assert cell.labels == {"Steps": str(column + 1), "Seed": str(5 + row)}
        assert cell.record["params"]["num_inference_steps"] == column + 1
        assert cell.record["seed"] == 5 + row and cell.record["backend"] == "local"
        assert cell.image.size == (64, 64)
    # The cell is exactly what a plain run with the same inputs makes.
    direct = backends.run(Request(model="sdxl-base", prompt="a red fox", seed=6, backend="local",
                                  params={**SMALL, "num_inference_steps": 2}))
    assert content_hash(direct.images[0]) == content_hash(grid.cells[3].image)
    assert content_hash(grid.cells[2].image) != content_hash(grid.cells[3].image)

    manifest = grid.manifest()
    assert manifest["schema"] == "playground.grid-manifest/1" and manifest["grid"]["schema"] == GRID_SCHEMA
    assert manifest["shape"] == {"columns": 2, "rows": 2, "panels": 1}
    assert [(a["role"], a["title"], a["labels"]) for a in manifest["axes"]] == [
        ("columns", "Steps", ["1", "2"]), ("rows", "Seed", ["5", "6"])]
    assert manifest["totals"]["done"] == 4 and manifest["cells"][3]["position"] == {"column": 1, "row": 1, "panel": 0}
    # Every cell's image sits in its labelled place in the grid image.
    for cell in grid.cells:
        shown = cell_pixels(grid, cell)
        assert np.array_equal(shown, np.asarray(letterbox(cell.image, (shown.shape[1], shown.shape[0]))))


def test_grid_zip_holds_grid_manifest_and_each_cells_image_with_its_record(local, tmp_path):
    grid = run_grid({"model": "sdxl-turbo", "backend": "local", "prompt": "a red fox", "params": SMALL,
                     "seed": 1, "axes": [{"kind": "seed", "values": "1,2"}]})
    path = grid.to_zip(tmp_path / "grid.zip")
    from playground.records import read_record

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        assert {"grid.png", "manifest.json"} <= names
        assert Image.open(io.BytesIO(archive.read("grid.png"))).size == grid.grid_image().size
        for cell, entry in zip(grid.cells, manifest["cells"], strict=True):
            png = archive.read(entry["files"][0])
            assert content_hash(Image.open(io.BytesIO(png)).convert("RGB")) == content_hash(cell.image)
            assert json.loads(archive.read(entry["record_file"]))["digest"] == cell.record["digest"]
            assert read_record(png)["seed"] == cell.seed
    assert manifest["record_source"] == "playground.records.build_record"


def test_model_axis_mixes_local_and_hosted_and_shows_unaccepted_params_as_na(local, hosted):
    spec = GridSpec(prompt="a red fox", seed=3, params={**SMALL, "num_inference_steps": 2},
                    axes=[Axis("model", ["sdxl-base@local", "flux-2-pro@replicate", "flux-kontext-pro@fal"]),
                          Axis("param", [2, 4], "guidance_scale")])
    grid = run_grid(spec, keys=KEYS)
    by = {(c.model, c.params.get("guidance_scale")): c for c in grid.cells}
    statuses = {(c.model, c.position[1]): c.status for c in grid.cells}
    assert statuses == {("sdxl-base", 0): "done", ("sdxl-base", 1): "done", ("flux-2-pro", 0): "n/a",
                        ("flux-2-pro", 1): "n/a", ("flux-kontext-pro", 0): "done", ("flux-kontext-pro", 1): "done"}
    na = [c for c in grid.cells if c.status == "n/a"]
    assert all("guidance_scale" in c.error for c in na) and not submits(hosted.emulator, "replicate")
    kontext = by[("flux-kontext-pro", 4)]
    # Shared params the model does not take are listed on the cell, not silently dropped.
    assert kontext.not_applied == {"image_size": "64x64", "num_inference_steps": 2}
    assert by[("sdxl-base", 4)].not_applied == {}
    sent = sorted(r["json"]["guidance_scale"] for r in submits(hosted.emulator, "fal"))
    assert sent == [2, 4] and all("num_inference_steps" not in r["json"] for r in submits(hosted.emulator, "fal"))
    assert kontext.record["backend"] == "fal" and kontext.image.size != by[("sdxl-base", 4)].image.size
    assert grid.axes[0].labels == ["sdxl-base@local", "flux-2-pro@replicate", "flux-kontext-pro@fal"]
    manifest = grid.manifest()
    assert [c["status"] for c in manifest["cells"]] == [c.status for c in grid.cells]
    assert manifest["cells"][2]["not_applied"] == {"image_size": "64x64", "num_inference_steps": 2}
    # Images of different sizes are letterboxed into one cell size (the top rows: an n/a footer sits below).
    for cell in (kontext, by[("sdxl-base", 4)]):
        shown = cell_pixels(grid, cell)
        expected = np.asarray(letterbox(cell.image, (shown.shape[1], shown.shape[0])))
        assert np.array_equal(shown[:40], expected[:40])


def test_injected_hosted_failure_fails_one_cell_and_the_grid_carries_on(local, hosted):
    hosted.emulator.inject("fail", provider="fal", msg="GPU fell over")
    grid = run_grid({"prompt": "a red fox", "params": SMALL, "seed": 1,
                     "axes": [{"kind": "model", "values": ["sdxl-base@local", "flux-kontext-pro@fal"]},
                              {"kind": "seed", "values": [1, 2]}]}, keys=KEYS)
    counts = grid.counts()
    assert counts["done"] == 3 and counts["failed"] == 1
    failed = next(c for c in grid.cells if c.status == "failed")
    assert failed.model == "flux-kontext-pro" and "GPU fell over" in failed.error and failed.image is None
    assert grid.manifest()["totals"]["failed"] == 1
    assert grid.grid_image().size == grid_layout(grid).size


def test_cap_refuses_a_large_grid_before_anything_runs(hosted, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_COMPARE_MAX_CELLS", "200")  # max_cells may only lower the operator's cap
    spec = GridSpec(model="flux-2-dev", backend="fal", prompt="a red fox", max_cells=100,
                    axes=[Axis("seed", "1:5"), Axis("param", "1:5", "guidance_scale"),
                          Axis("param", [10, 20, 30, 40, 50], "num_inference_steps")])
    with pytest.raises(ValidationError, match=r"125 cells \(5 x 5 x 5\).*at most 100 cells"):
        run_grid(spec, keys=KEYS)
    monkeypatch.setenv("PLAYGROUND_COMPARE_MAX_CELLS", "3")
    with pytest.raises(ValidationError, match="at most 3 cells"):
        plan_grid(GridSpec(model="flux-2-dev", backend="fal", prompt="x", axes=[Axis("seed", [1, 2, 3, 4])]), KEYS)
    with pytest.raises(ValidationError, match=r"max_cells: got 4; allowed: at most 3 \(this server's cell cap"):
        plan_grid(GridSpec(model="flux-2-dev", backend="fal", prompt="x", max_cells=4, axes=[Axis("seed", [1])]), KEYS)
    with pytest.raises(ValidationError, match="max_cost"):
        plan_grid(GridSpec(model="flux-2-dev", backend="fal", prompt="x", max_cost=0.01,
                           axes=[Axis("seed", [1, 2])]), KEYS)
    assert hosted.emulator.requests == []


def test_cancelled_local_grid_keeps_its_finished_cells(local):
    cancel = threading.Event()

    def on_cell(cell):
        if cell.status == "done":
            cancel.set()

    grid = run_grid(GridSpec(model="sdxl-turbo", backend="local", prompt="a fox", params=SMALL,
                             axes=[Axis("seed", [1, 2, 3, 4])]), on_cell=on_cell, cancel=cancel)
    assert [c.status for c in grid.cells] == ["done", "cancelled", "cancelled", "cancelled"]
    assert grid.cancelled and grid.cells[0].image is not None and grid.cells[0].record is not None
    assert [len(c["files"]) for c in grid.manifest()["cells"]] == [1, 0, 0, 0]


def test_cancelled_hosted_grid_cancels_the_running_job_and_keeps_the_rest(hosted):
    hosted.emulator.inject("slow", seconds=30, provider="fal")
    cancel = threading.Event()
    done: list[int] = []

    def on_cell(cell):
        if cell.status == "done":
            done.append(cell.index)
            if len(done) == 3:
                cancel.set()

    grid = run_grid({"model": "flux-2-dev", "backend": "fal", "prompt": "a fox", "params": {"image_size": "square"},
                     "axes": [{"kind": "seed", "values": [1, 2, 3, 4]}]}, keys=KEYS, on_cell=on_cell, cancel=cancel)
    assert sorted(c.status for c in grid.cells) == ["cancelled", "done", "done", "done"]
    # The cell marked cancelled is the one whose remote job the emulator saw cancelled.
    (cancelled,) = [c for c in grid.cells if c.status == "cancelled"]
    (cancel_call,) = [r for r in hosted.emulator.requests if r["phase"] == "cancel"]
    remote = hosted.emulator._jobs[cancel_call["path"].rstrip("/").split("/")[-2]]
    assert cancel_call["method"] == "PUT" and remote.canceled_at is not None
    assert remote.input["seed"] == cancelled.seed


def test_hosted_cells_run_concurrently_within_the_per_provider_bound_and_wait_out_429s(hosted):
    hosted.emulator.inject("429", provider="fal", on="submit", retry_after=1)
    running: set[int] = set()
    most = 0

    def on_cell(cell):
        nonlocal most
        (running.add if cell.status == "running" else running.discard)(cell.index)
        most = max(most, len(running))

    grid = run_grid({"model": "flux-2-dev", "backend": "fal", "prompt": "a fox", "params": {"image_size": "square"},
                     "axes": [{"kind": "seed", "values": [1, 2, 3, 4, 5]}]}, keys=KEYS, on_cell=on_cell,
                    concurrency={"fal": 2})
    assert grid.counts()["done"] == 5 and most == 2
    assert [r for r in hosted.emulator.requests if r["status"] == 429]


def test_run_grid_reports_each_cell_as_it_changes(hosted):
    seen: list[tuple[int, str]] = []
    grid = run_grid({"model": "flux-2-dev", "backend": "fal", "prompt": "a fox", "params": {"image_size": "square"},
                     "axes": [{"kind": "seed", "values": [1, 2]}]}, keys=KEYS,
                    on_cell=lambda c: seen.append((c.index, c.status)))
    assert grid.counts()["done"] == 2
    assert sorted(seen) == [(0, "done"), (0, "running"), (1, "done"), (1, "running")]


def test_plan_resolves_prompt_axis_three_axes_and_refuses_unknown_params(hosted):
    grid = plan_grid(GridSpec(model="flux-2-dev", backend="fal", prompt="a red fox on a red roof", seed=9,
                              axes=[Axis("prompt", "blue, green", "red"), Axis("seed", [1, 2]),
                                    Axis("param", ["square", "64x64"], "image_size")]), KEYS)
    assert grid.shape == (2, 2, 2) and len(grid.cells) == 8
    assert [c.prompt for c in grid.cells[:2]] == ["a blue fox on a blue roof", "a green fox on a green roof"]
    assert grid.cells[0].status == "pending" and grid.cells[0].estimated_cost > 0
    # 64x64 is below fal's minimum for FLUX.2: those cells are refused with the reason, before running.
    # Panel 1 of the third axis is 64x64: exactly its four cells are refused, by the position they sit in.
    assert [(c.position[2], c.status) for c in grid.cells] == [(0, "pending")] * 4 + [(1, "failed")] * 4
    assert all("params.image_size" in c.error and "64" in c.error for c in grid.cells[4:])
    assert grid.summary()["to_run"] == 4 and grid.summary()["refused"] == 4
    layout = grid_layout(grid, 64)
    assert grid.grid_image(64).size == layout.size and layout.panels == 2
    with pytest.raises(ValidationError) as err:
        plan_grid(GridSpec(model="flux-2-dev", backend="fal", prompt="a fox",
                           axes=[Axis("param", [1, 2], "no_such_param"), Axis("prompt", ["x"], "cat"),
                                 Axis("kind-of-axis", [1])]), KEYS)
    fields = [p.field for p in err.value.problems]
    assert fields == ["axes[0].name", "axes[1].name", "axes[2].kind"]


def test_grid_spec_round_trips_through_its_dict_form():
    spec = GridSpec(model="sdxl-base", prompt="a fox", params={"guidance_scale": 5.0}, seed=4, max_cells=10,
                    axes=[Axis("param", "1:3:1", "num_inference_steps"),
                          Axis("model", ["sdxl-base@local", {"model": "flux-2-pro", "backend": "fal"}])])
    data = json.loads(json.dumps(grid_to_dict(spec)))
    assert data["schema"] == GRID_SCHEMA
    assert grid_from_dict(data) == spec
    with pytest.raises(ValidationError) as err:
        grid_from_dict({**data, "schema": "playground.grid/9", "colour": "red"})
    assert [p.field for p in err.value.problems] == ["schema", "colour"]


def test_ranges_expand_inclusively_and_refuse_nonsense():
    assert parse_range("1:2:0.5") == [1, 1.5, 2]
    assert parse_range("0:1:0.1")[3] == 0.3 and len(parse_range("0:1:0.1")) == 11
    assert parse_range("4:1:-1", integer=True) == [4, 3, 2, 1]
    for bad in ("1:5:0", "5:1:1", "a:b", "1:2:0.5i", "0:100000"):
        with pytest.raises(ValueError):
            parse_range(bad, integer=bad == "1:2:0.5i")
