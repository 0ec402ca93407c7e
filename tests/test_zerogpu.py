"""ZeroGPU: with the `spaces` package present, local runs go through `spaces.GPU` with a duration
computed from the model, steps, size and number of images; without it the app runs unchanged.

`spaces` is not installed here (it is on every ZeroGPU Space); a small stand-in module on sys.path
checks our wiring: that the local run is decorated, and with which duration each run asks for."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from playground import backends, zerogpu
from playground.request import Request
from playground.validation import validate
from tests.conftest import make_image

ROOT = Path(__file__).resolve().parent.parent
FAKE_SPACES = '''
calls = []
decorated = []

def GPU(task=None, *, duration=None, size=None):
    def wrap(fn):
        decorated.append(fn.__name__)
        def wrapper(*args, **kwargs):
            seconds = duration(*args, **kwargs) if callable(duration) else duration
            calls.append({"fn": fn.__name__, "duration": seconds})
            return fn(*args, **kwargs)
        return wrapper
    return wrap if task is None else wrap(task)
'''


@pytest.fixture
def fake_spaces(tmp_path, monkeypatch):
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    importlib.reload(zerogpu)
    yield sys.modules["spaces"]
    monkeypatch.undo()
    sys.modules.pop("spaces", None)
    importlib.reload(zerogpu)
    assert not zerogpu.WRAPPED


def test_the_local_run_asks_for_the_computed_duration(fake_spaces, local_backend):
    backends.set_backend("local", local_backend)
    assert zerogpu.WRAPPED and fake_spaces.decorated == ["_run_local"]
    request = Request(model="sdxl-base", prompt="a fox", seed=1, backend="local",
                      params={"num_inference_steps": 4, "image_size": "64x64"})
    result = backends.run(request)
    assert result.images and result.backend == "local"
    # Not loaded yet: (5 s overhead + 20 s SDXL load + 4 steps x 0.004 MP x 0.08 s) x 1.5, rounded up.
    assert fake_spaces.calls == [{"fn": "_run_local", "duration": 38}]
    backends.run(request)
    assert fake_spaces.calls[-1]["duration"] == 10  # loaded now: the 10 s floor


def test_duration_follows_model_steps_size_and_images(local_backend):
    def seconds(model: str, steps: int, size: str, images: int = 1, mode: str = "text-to-image") -> int:
        inputs = [make_image(1024, 1024)] if mode != "text-to-image" else []
        params = {"num_inference_steps": steps, "num_images": images}
        if mode == "text-to-image":
            params["image_size"] = size
        prepared = validate(Request(model=model, mode=mode, prompt="x", images=inputs, params=params), "local")
        return zerogpu.gpu_seconds(local_backend, prepared)

    base = seconds("sdxl-base", 30, "1024x1024")
    assert base == 42  # (5 + 20 + 30 steps x 1.05 MP x 0.08 s) x 1.5, rounded up
    assert seconds("sdxl-base", 60, "1024x1024") > base
    assert seconds("sdxl-base", 30, "1024x1024", images=4) > seconds("sdxl-base", 30, "1024x1024", images=2) > base
    assert seconds("sdxl-base", 30, "512x512") < base
    assert seconds("flux-2-klein-4b", 4, "1024x1024") < seconds("flux-2-klein-9b", 4, "1024x1024")
    assert seconds("flux-2-dev", 50, "1024x1024") == 120  # capped at PLAYGROUND_ZEROGPU_MAX_S


def test_the_app_starts_without_spaces():
    assert importlib.util.find_spec("spaces") is None
    code = ("import app, playground.zerogpu as z; "
            "assert not z.WRAPPED and z.run_local is z._run_local; print(type(app.demo).__name__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Blocks"
