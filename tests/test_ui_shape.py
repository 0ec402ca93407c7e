"""The ui package's shape: one `door` for readable endpoint errors (of every kind of function, keeping
what Gradio reads), one Modify/Copy table that validation and the page both read, and imports that
run one way."""

from __future__ import annotations

import ast
import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import get_type_hints

import gradio as gr
import pytest

from playground.params import Problem, ValidationError
from playground.ui.common import door, readable_errors

UI = Path(__file__).resolve().parent.parent / "playground" / "ui"
SERVER_PATH = "/srv/playground/secret/weights.bin"


def _fail(x: float) -> None:
    if x >= 1:
        raise ValidationError([Problem("x", x, "a number below 1")])
    if x < 0:
        raise FileNotFoundError(SERVER_PATH)


def plain(x: float = 0.5) -> float:
    """Half of x."""
    _fail(x)
    return x / 2


async def coroutine(x: float = 0.5) -> float:
    """Half of x, awaited."""
    _fail(x)
    return x / 2


def generator(x: float = 0.5) -> Iterator[float]:
    """x, then its half."""
    yield x
    _fail(x)
    yield x / 2


async def async_generator(x: float = 0.5) -> AsyncIterator[float]:
    """x, then its half, asynchronously."""
    yield x
    _fail(x)
    yield x / 2


KINDS = {"plain": plain, "coroutine": coroutine, "generator": generator, "async_generator": async_generator}
KIND_TESTS = {"plain": inspect.isfunction, "coroutine": inspect.iscoroutinefunction,
              "generator": inspect.isgeneratorfunction, "async_generator": inspect.isasyncgenfunction}


def _kind(fn) -> str:
    return next(k for k, test in reversed(list(KIND_TESTS.items())) if test(fn))


def test_door_keeps_each_kind_its_signature_hints_and_docstring():
    for name, fn in KINDS.items():
        wrapped = door(fn)
        assert _kind(wrapped) == _kind(fn) == name
        assert inspect.signature(wrapped) == inspect.signature(fn)
        assert wrapped.__doc__ == fn.__doc__ and wrapped.__name__ == fn.__name__
        assert get_type_hints(wrapped) == get_type_hints(fn)


@pytest.fixture(scope="module")
def doors_app():
    """A tiny Blocks app: each kind of function registered bare and behind `door`."""
    from gradio_client import Client

    with gr.Blocks() as demo:
        box, out = gr.Number(), gr.Number()
        for name, fn in KINDS.items():
            box.submit(door(fn), box, out, api_name=f"{name}_door")
            box.submit(fn, box, out, api_name=f"{name}_bare")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def _error_of(client, api_name: str, x: float) -> tuple[str, list]:
    """The AppError's text a call ends with, and what it streamed before."""
    from gradio_client.exceptions import AppError

    job = client.submit(x, api_name=api_name)
    with pytest.raises(AppError) as caught:
        job.result()
    return str(caught.value), job.outputs()


@pytest.mark.parametrize("name", list(KINDS))
def test_door_turns_any_failure_into_a_readable_error_and_bare_functions_do_not(doors_app, name):
    described = doors_app.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert [p["parameter_name"] for p in described[f"/{name}_door"]["parameters"]] == ["x"]
    assert doors_app.predict(0.5, api_name=f"/{name}_door") == 0.25

    message, streamed = _error_of(doors_app, f"/{name}_door", 5)
    assert "x: got 5" in message and "a number below 1" in message
    bare, _ = _error_of(doors_app, f"/{name}_bare", 5)
    assert "x: got 5" not in bare, "without door Gradio hides the message: the decorator is what shows it"
    if "generator" in name:
        assert streamed == [5], "a door of a generator still streams what came before the failure"

    message, _ = _error_of(doors_app, f"/{name}_door", -1)
    assert "FileNotFoundError" in message and SERVER_PATH not in message and "Traceback" not in message


def test_a_titled_block_names_the_failed_action_for_the_users_errors_only():
    with pytest.raises(gr.Error) as refused:
        with readable_errors("Cannot save this preset"):
            _fail(5)
    assert (refused.value.title, refused.value.message) == ("Cannot save this preset",
                                                            "Invalid input: x: got 5; allowed: a number below 1")
    with pytest.raises(gr.Error) as unexpected:
        with readable_errors("Cannot save this preset"):
            _fail(-1)
    assert unexpected.value.title == "Unexpected error" and SERVER_PATH not in unexpected.value.message
    with pytest.raises(gr.Error) as untitled:
        with readable_errors():
            _fail(5)
    assert untitled.value.title == "Invalid input"


def test_every_public_endpoint_lists_the_parameters_of_its_own_function(client):
    from playground.ui import api, compare_api

    described = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    doors = {"/generate": api.generate, "/estimate": api.estimate, "/models": api.models,
             "/presets/list": api.presets_list, "/presets/load": api.presets_load,
             "/presets/save": api.presets_save, "/presets/delete": api.presets_delete,
             "/inspect": api.inspect_image, "/import": api.import_image, "/compare": compare_api.compare,
             "/compare_plan": compare_api.compare_plan, "/drift": compare_api.drift,
             "/drift_plan": compare_api.drift_plan}
    assert set(described) == set(doors)
    for api_name, fn in doors.items():
        assert _kind(fn) == _kind(fn.__wrapped__), api_name
        own = [n for n, p in inspect.signature(fn.__wrapped__).parameters.items()
               if not isinstance(p.default, gr.Progress)]
        assert [p["parameter_name"] for p in described[api_name]["parameters"]] == own, api_name
        assert described[api_name]["description"] or fn.__doc__


# --- the Modify/Copy table ----------------------------------------------------------------------------
def test_the_page_and_validation_read_one_modify_copy_table(monkeypatch):
    from playground.catalog import MODELS
    from playground.request import EDIT_STYLE_DEFAULTS, resolve_edit_style
    from playground.ui import panels

    model = MODELS["sdxl-base"]

    def shown(style: str) -> dict[str, object]:
        return {panels.SLOTS[i].name: v
                for i, v in panels.edit_style_values(model, "image-to-image", "local", style).items()}

    filled = {"edit_style": "copy", "reference_strength": 0.5, "guidance_scale": 5.0, "num_inference_steps": 50}
    assert shown("copy") == {"reference_strength": 0.95, "guidance_scale": 1.0, "num_inference_steps": 15}
    assert shown("modify") == {"reference_strength": 0.5, "guidance_scale": 5.0, "num_inference_steps": 50}
    assert resolve_edit_style(filled, {})["guidance_scale"] == 1.0
    monkeypatch.setitem(EDIT_STYLE_DEFAULTS, "copy", {**EDIT_STYLE_DEFAULTS["copy"], "guidance_scale": 2.5})
    monkeypatch.setitem(EDIT_STYLE_DEFAULTS, "modify", {"reference_strength": 0.7})
    assert shown("copy")["guidance_scale"] == 2.5 and resolve_edit_style(filled, {})["guidance_scale"] == 2.5
    assert shown("modify")["reference_strength"] == 0.7
    assert resolve_edit_style({**filled, "edit_style": "modify"}, {})["reference_strength"] == 0.7


# --- imports ---------------------------------------------------------------------------------------------
def _imports(sources: dict[str, str]) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """For modules given as {name: source}: the ui modules each imports (anywhere, TYPE_CHECKING
    included), and every playground import made inside a function as (module, function, name)."""
    graph: dict[str, set[str]] = {}
    hidden: list[tuple[str, str, str]] = []
    for module, source in sources.items():
        tree = ast.parse(source)
        function_of = {id(n): f.name for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(f) if n is not f}
        graph[module] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("playground"):
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("playground")]
            else:
                continue
            for name in names:
                if name.startswith("playground.ui.") and name.split(".")[2] in sources:
                    graph[module].add(name.split(".")[2])
                if id(node) in function_of:
                    hidden.append((module, function_of[id(node)], name))
        graph[module].discard(module)
    return graph, sorted(hidden)


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in `graph`, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return None
        for dep in sorted(graph.get(module, ())):
            found = visit(dep, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    return next((c for c in (visit(m, []) for m in sorted(graph)) if c), None)


def test_ui_imports_run_one_way_with_none_hidden_in_functions():
    sources = {path.stem: path.read_text() for path in UI.glob("*.py")}
    graph, hidden = _imports(sources)
    assert _circle(graph) is None
    assert hidden == []
    # The checks see what they are for: a TYPE_CHECKING import back, and an import inside a function.
    back = "\nif TYPE_CHECKING:\n    from playground.ui.layout import Page\n"
    circle = _circle(_imports({**sources, "panels": sources["panels"] + back})[0])
    assert circle is not None and {"layout", "panels"} <= set(circle)
    tucked = {"form": "def f():\n    from playground.ui import service\n"}
    assert _imports(tucked)[1] == [("form", "f", "playground.ui.service")]


def test_every_ui_module_says_what_it_is_for_and_stays_readable():
    for path in UI.glob("*.py"):
        text = path.read_text()
        assert ast.get_docstring(ast.parse(text)), f"{path.name} has no module docstring"
        assert text.count("\n") <= 700, f"{path.name} has {text.count(chr(10))} lines"
