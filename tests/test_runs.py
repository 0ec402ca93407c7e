"""One run path: the same request through every door (the page's service, the command line, a
one-cell compare grid, a re-run) yields the same record, except what is allowed to differ."""

from __future__ import annotations

import ast
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from playground import compare, records, rerun, runs
from playground.__main__ import main
from playground.compare import GridSpec, run_grid
from playground.request import Request
from playground.ui import service
from playground.ui.progress import ProgressRelay
from tests.conftest import make_image

PROMPT = "a fox in the snow"
PARAMS = {"num_inference_steps": 2, "guidance_scale": 4.0}
SEED = 11
PLAYGROUND = Path(__file__).resolve().parent.parent / "playground"
# Only the run path dispatches and builds records; backends/ holds dispatch itself.
RUN_PATH_CALLS = {"run_prepared", "build_record"}
# What may differ between two runs of the same request, whichever door they came through: when
# it was made, how long it took, the digest over all of it, and which output the file carries
# (`image`, present only in a record embedded in an image file).
ALLOWED: tuple[str, ...] = ("created", "timings", "digest", "image")
# A re-run asks again for the speed settings the first run used (they can change the bits), so its
# request part names them; the settings that ran (`speed`) must still agree.
ALLOWED_FOR: dict[str, tuple[str, ...]] = {"re-run": ("request.speed",)}


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A record as {dotted.path: leaf value}, lists indexed (`outputs[0].sha256`)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flat(item, f"{prefix}.{key}" if prefix else key))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(flat(item, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


def allowed(path: str, door: str = "") -> bool:
    return any(path == a or path.startswith((f"{a}.", f"{a}[")) for a in (*ALLOWED, *ALLOWED_FOR.get(door, ())))


def disagreements(by_door: dict[str, dict[str, Any]]) -> list[str]:
    """Every field (outside ALLOWED and ALLOWED_FOR) where a door's record differs from the first
    door's, or lacks one the first has, or has one more."""
    (first, reference), *others = by_door.items()
    want = {k: v for k, v in flat(reference).items() if not allowed(k, first)}
    found = []
    for door, record in others:
        have = {k: v for k, v in flat(record).items() if not allowed(k, door)}
        for key in sorted(set(want) | set(have)):
            if key not in have:
                found.append(f"{door} lacks {key}")
            elif key not in want:
                found.append(f"{door} has {key}, {first} does not")
            elif have[key] != want[key]:
                found.append(f"{door} {key}: {have[key]!r} != {first} {want[key]!r}")
    return found


def through_the_page(image_path: Path) -> dict[str, Any]:
    """The path every page event and API endpoint takes (`service.run` runs this in a worker)."""
    request = Request(model="sdxl-base", mode="image-to-image", prompt=PROMPT, images=[str(image_path)],
                      params=dict(PARAMS), seed=SEED, backend="local")
    outcome = service.run_blocking(request, {}, ProgressRelay(None), threading.Event())
    embedded = records.read_record(outcome.files[0])
    assert embedded == records.for_image(outcome.record, 0), "the page's file carries the run's record"
    return outcome.record


def through_the_command_line(image_path: Path, out: Path) -> tuple[dict[str, Any], Path]:
    """`python -m playground run ... --json`, in this process (so it uses the tiny local backend)."""
    argv = ["run", "--model", "sdxl-base", "--mode", "image-to-image", "--prompt", PROMPT, "--image", str(image_path),
            "--backend", "local", "--seed", str(SEED), "--out", str(out), "--json"]
    for name, value in PARAMS.items():
        argv += ["--set", f"{name}={value}"]
    assert main(argv) == 0
    written = out / f"sdxl-base-{SEED}-0.png"
    return records.read_record(written), written


def through_a_grid(image_path: Path) -> dict[str, Any]:
    grid = run_grid(GridSpec(model="sdxl-base", mode="image-to-image", prompt=PROMPT, images=[str(image_path)],
                             params=dict(PARAMS), seed=SEED, backend="local"))
    (cell,) = grid.cells
    assert cell.status == "done", cell.error
    return cell.record


def test_the_record_is_the_same_through_every_door(local, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    image_path = tmp_path / "input.png"
    make_image(color=(40, 120, 200)).save(image_path)

    page = through_the_page(image_path)
    command_line, written = through_the_command_line(image_path, tmp_path / "out")
    grid = through_a_grid(image_path)
    verdict = rerun.rerun_and_verify(written)
    assert verdict["identical"], verdict["message"]
    assert verdict["record"]["request"]["speed"] == page["speed"], "the re-run asked for the settings that ran"
    by_door = {"page": page, "command line": command_line, "grid": grid, "re-run": verdict["record"]}

    found = disagreements(by_door)
    assert found == [], "\n".join(found)
    # What is compared is there: the request as asked, the input and the output pixels.
    assert page["request"]["params"] == PARAMS and len(page["inputs"]) == 1 and len(page["outputs"]) == 1
    # The check can fail: a door that drops a field, or changes one, is named.
    broken = {**by_door, "grid": {k: v for k, v in grid.items() if k != "native"}}
    assert any(line.startswith("grid lacks native.") for line in disagreements(broken))
    edited = json.loads(json.dumps(grid))
    edited["params"]["guidance_scale"] = 1.5
    assert [d for d in disagreements({**by_door, "grid": edited}) if "guidance_scale" in d] == [
        f"grid params.guidance_scale: 1.5 != page {page['params']['guidance_scale']!r}"]


def test_a_door_that_builds_its_own_record_is_caught(local, tmp_path, monkeypatch):
    """Break the grid's door inside the test: its cells no longer take their record from `runs.run`."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    image_path = tmp_path / "input.png"
    make_image(color=(40, 120, 200)).save(image_path)

    def run_without_adapters(request: Request, **kwargs: Any) -> runs.Run:
        done = runs.run(request, **kwargs)
        done.record = {k: v for k, v in done.record.items() if k != "adapters"}
        return done

    page = through_the_page(image_path)
    monkeypatch.setattr(compare, "runs", SimpleNamespace(run=run_without_adapters, RECORD_SOURCE=runs.RECORD_SOURCE))
    found = disagreements({"page": page, "grid": through_a_grid(image_path)})
    assert found == ["grid lacks adapters"]



def run_path_calls_outside_runs(sources: dict[str, str]) -> list[str]:
    """`module: name` for each call of dispatch (`backends.run`, `run_prepared`) or of `build_record`
    outside playground/runs.py and playground/backends/."""
    found = []
    for name, text in sorted(sources.items()):
        if name == "runs.py" or name.startswith("backends/"):
            continue
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            if called in RUN_PATH_CALLS or (owner == "backends" and called == "run"):
                found.append(f"{name}: {called}")
    return found


def test_no_door_dispatches_or_builds_a_record_itself():
    sources = {path.relative_to(PLAYGROUND).as_posix(): path.read_text() for path in PLAYGROUND.rglob("*.py")}
    assert "compare.py" in sources and "ui/service.py" in sources
    assert run_path_calls_outside_runs(sources) == []
    # The check sees a door that goes around the run path.
    around = "def run_blocking(request):\n    return backends.run(request)\n"
    again = "def rebuilt(result):\n    return records.build_record(result)\n"
    assert run_path_calls_outside_runs({**sources, "ui/service.py": around, "drift.py": again}) == [
        "drift.py: build_record", "ui/service.py: run"]
