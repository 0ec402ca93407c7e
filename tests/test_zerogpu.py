"""ZeroGPU: with the `spaces` package present on a ZeroGPU Space, local runs go through
`spaces.GPU` with a duration computed from the model, steps, size and number of images; without
the package the app runs unchanged.

`spaces` is not installed here (it is on every ZeroGPU Space); a small stand-in module on sys.path
checks our wiring: which function is decorated, with which duration each run asks, and that the
arguments and the result survive pickling, as ZeroGPU's worker queue requires."""

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
import pickle

calls = []
decorated = []

def GPU(task=None, *, duration=None, size=None):
    def wrap(fn):
        decorated.append(fn.__qualname__)
        def wrapper(*args, **kwargs):
            seconds = duration(*args, **kwargs) if callable(duration) else duration
            calls.append({"fn": fn.__qualname__, "duration": seconds})
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))  # the worker queue
            return pickle.loads(pickle.dumps(fn(*args, **kwargs)))
        return wrapper
    return wrap if task is None else wrap(task)
'''


def _reload() -> None:
    importlib.reload(zerogpu)
    importlib.reload(backends)


@pytest.fixture
def fake_spaces(tmp_path, monkeypatch):
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    sys.modules.pop("spaces", None)
    saved = dict(backends._backends)
    _reload()
    yield sys.modules["spaces"]
    monkeypatch.undo()
    sys.modules.pop("spaces", None)
    _reload()
    backends._backends.update(saved)
    assert not zerogpu.ACTIVE and backends._gpu_run is backends._run_in_gpu_worker


def test_the_local_run_asks_for_the_computed_duration(fake_spaces, local_backend):
    backends.set_backend("local", local_backend)
    assert zerogpu.ACTIVE and fake_spaces.decorated == ["_run_in_gpu_worker"]
    request = Request(model="sdxl-base", prompt="a fox", seed=1, backend="local",
                      params={"num_inference_steps": 4, "image_size": "64x64"})
    result = backends.run(request)
    assert result.images[0].size == (64, 64) and result.backend == "local" and result.seeds == [1]
    # First run: (5 s overhead + 20 s SDXL load + 4 steps x 0.004 MP x 0.08 s) x 1.5, rounded up.
    assert fake_spaces.calls == [{"fn": "_run_in_gpu_worker", "duration": 38}]
    backends.run(request)
    assert fake_spaces.calls[-1]["duration"] == 10  # the worker holds the weights now: the 10 s floor
    hosted_only = Request(model="flux-2-pro", prompt="x", backend="auto")
    with pytest.raises(Exception):  # noqa: B017 - no key: whatever fails, it is not a GPU request
        backends.run(hosted_only)
    assert len(fake_spaces.calls) == 2


def test_duration_follows_model_steps_size_and_images():
    def seconds(model: str, steps: int, size: str, images: int = 1) -> int:
        params = {"num_inference_steps": steps, "num_images": images, "image_size": size}
        return zerogpu.gpu_seconds(validate(Request(model=model, prompt="x", params=params), "local"))

    base = seconds("sdxl-base", 30, "1024x1024")
    assert base == 42  # (5 + 20 + 30 steps x 1.05 MP x 0.08 s) x 1.5, rounded up
    assert seconds("sdxl-base", 60, "1024x1024") > base
    assert seconds("sdxl-base", 30, "1024x1024", images=4) > seconds("sdxl-base", 30, "1024x1024", images=2) > base
    assert seconds("sdxl-base", 30, "512x512") < base
    assert seconds("flux-2-klein-4b", 4, "1024x1024") < seconds("flux-2-klein-9b", 4, "1024x1024")
    assert seconds("flux-2-dev", 50, "1024x1024") == 120  # capped at PLAYGROUND_ZEROGPU_MAX_S
    edit = validate(Request(model="flux-2-klein-4b", mode="image-to-image", prompt="x",
                            images=[make_image(1024, 1024)], params={"num_inference_steps": 4}), "local")
    assert zerogpu.gpu_seconds(edit) > seconds("flux-2-klein-4b", 4, "1024x1024")  # references cost tokens


def test_the_app_starts_without_spaces():
    assert importlib.util.find_spec("spaces") is None
    code = ("import app, playground.zerogpu as z, playground.backends as b; "
            "assert not z.ACTIVE and b._gpu_run is b._run_in_gpu_worker; print(type(app.demo).__name__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Blocks"
