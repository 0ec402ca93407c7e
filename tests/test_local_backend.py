"""The local diffusers backend on tiny random-weight pipelines loaded through the real from_pretrained."""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from playground.backends.local import BrokenWeights, LocalBackend, LocalSettings
from playground.errors import BackendUnavailable, Cancelled
from playground.request import Request, Result
from playground.validation import validate
from tests.conftest import make_image, make_mask

SMALL = {"image_size": "64x64"}
FLUX_TEXT = {"max_sequence_length": 128}


def run(backend: LocalBackend, **kw) -> Result:
    kw.setdefault("backend", "local")
    request = Request(**kw)
    return backend.run(validate(request))


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


CASES = [
    pytest.param(dict(model="sdxl-base", prompt="a red fox", params={**SMALL, "num_inference_steps": 2}),
                 id="sdxl-t2i"),
    pytest.param(dict(model="sdxl-base", mode="image-to-image", prompt="a red fox", images=[make_image()],
                      params={"num_inference_steps": 4}), id="sdxl-i2i"),
    pytest.param(dict(model="sdxl-base", mode="inpaint", prompt="a red fox", images=[make_image()], mask=make_mask(),
                      params={"num_inference_steps": 2}), id="sdxl-inpaint"),
    pytest.param(dict(model="sdxl-turbo", prompt="a red fox", params=SMALL), id="sdxl-turbo-t2i"),
    pytest.param(dict(model="flux-kontext-dev", mode="image-to-image", prompt="make it blue", images=[make_image()],
                      params={"num_inference_steps": 2, "max_area": 64 * 64, "auto_resize": False, **FLUX_TEXT}),
                 id="kontext-edit"),
    pytest.param(dict(model="flux-kontext-dev", mode="inpaint", prompt="a hat", images=[make_image()],
                      mask=make_mask(), params={"num_inference_steps": 2, "max_area": 64 * 64, "auto_resize": False,
                                                **FLUX_TEXT}), id="kontext-inpaint"),
    pytest.param(dict(model="flux-schnell", prompt="a lighthouse", params={**SMALL, "num_inference_steps": 2,
                                                                            **FLUX_TEXT}), id="schnell-t2i"),
    pytest.param(dict(model="flux-2-dev", prompt="a lighthouse", params={**SMALL, "num_inference_steps": 2,
                                                                          **FLUX_TEXT}), id="flux2-t2i"),
    pytest.param(dict(model="flux-2-dev", mode="image-to-image", prompt="combine them",
                      images=[make_image(), make_image(color=(20, 90, 200))],
                      params={"num_inference_steps": 2, **FLUX_TEXT}), id="flux2-multi-ref-edit"),
    pytest.param(dict(model="flux-2-klein-4b", prompt="a lighthouse", params={**SMALL, "num_inference_steps": 2,
                                                                               **FLUX_TEXT}), id="klein-t2i"),
    pytest.param(dict(model="flux-2-klein-9b", mode="image-to-image", prompt="make it night",
                      images=[make_image()], params={"num_inference_steps": 2, **FLUX_TEXT}),
                 id="klein-edit"),
    pytest.param(dict(model="flux-2-klein-4b", mode="inpaint", prompt="a moon", images=[make_image()],
                      mask=make_mask(), params={"num_inference_steps": 2, **FLUX_TEXT}), id="klein-inpaint"),
]


@pytest.mark.parametrize("case", CASES)
def test_every_family_and_mode_runs_end_to_end_deterministically(local_backend, case):
    first = run(local_backend, seed=7, **case)
    again = run(local_backend, seed=7, **case)
    other = run(local_backend, seed=8, **case)
    assert [img.size for img in first.images] == [(64, 64)]
    assert first.seeds == [7] and first.backend == "local"
    assert png(first.images[0]) == png(again.images[0]), "same seed and inputs must give the same bytes"
    assert not np.array_equal(np.asarray(first.images[0]), np.asarray(other.images[0])), "seeds must matter"
    assert first.device == {"device": "cpu", "dtype": "float32", "generator_device": "cpu",
                            "source": first.device["source"], "pipeline": first.device["pipeline"]}
    assert first.native["prompt"] == case["prompt"]


def test_several_images_get_consecutive_seeds(local_backend):
    result = run(local_backend, model="sdxl-base", prompt="x", seed=41,
                 params={**SMALL, "num_inference_steps": 2, "num_images": 3})
    assert result.seeds == [41, 42, 43] and len(result.images) == 3
    assert result.native["num_images_per_prompt"] == 3


def test_switching_modes_reuses_loaded_weights(local_backend):
    run(local_backend, model="sdxl-base", prompt="x", params={**SMALL, "num_inference_steps": 1})
    run(local_backend, model="sdxl-base", mode="image-to-image", prompt="x", images=[make_image()],
        params={"num_inference_steps": 2})
    run(local_backend, model="sdxl-base", mode="inpaint", prompt="x", images=[make_image()], mask=make_mask(),
        params={"num_inference_steps": 1})
    run(local_backend, model="sdxl-base", prompt="y", params={**SMALL, "num_inference_steps": 1})
    assert local_backend.stats["loads"] == 1 and local_backend.stats["from_pipe"] == 2
    model = validate(Request(model="sdxl-base", prompt="x")).model
    t2i, _ = local_backend.pipeline(model, "text-to-image")
    inpaint, _ = local_backend.pipeline(model, "inpaint")
    assert type(inpaint).__name__ == "StableDiffusionXLInpaintPipeline"
    for name in ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer"):
        assert getattr(t2i, name) is getattr(inpaint, name), f"{name} must be shared, not reloaded"
    assert local_backend.stats["loads"] == 1


def test_cache_is_bounded(model_paths):
    backend = LocalBackend(LocalSettings(model_paths=model_paths, device="cpu", max_pipelines=1))
    run(backend, model="sdxl-base", prompt="x", params={**SMALL, "num_inference_steps": 1})
    run(backend, model="flux-schnell", prompt="x", params={**SMALL, "num_inference_steps": 1, **FLUX_TEXT})
    run(backend, model="sdxl-base", prompt="x", params={**SMALL, "num_inference_steps": 1})
    assert backend.stats["loads"] == 3 and len(backend._cache) == 1


def test_every_component_is_in_eval_mode(local_backend):
    import torch

    model = validate(Request(model="flux-2-dev", prompt="x")).model
    pipe, _ = local_backend.pipeline(model, "text-to-image")
    modules = [c for c in pipe.components.values() if isinstance(c, torch.nn.Module)]
    assert modules and not any(m.training for m in modules)


def test_copy_mode_sends_the_exact_mapping(local_backend):
    result = run(local_backend, model="sdxl-base", mode="image-to-image", prompt="x", images=[make_image()],
                 params={"edit_style": "copy"}, seed=1)
    assert (result.params["strength"], result.params["guidance_scale"], result.params["num_inference_steps"]) == (
        0.05, 1.0, 15)
    assert result.native["strength"] == 0.05 and result.native["guidance_scale"] == 1.0
    # 15 steps x 0.05 would run no step at all; the backend raises steps so exactly one runs
    assert result.native["num_inference_steps"] == 20
    assert "negative_prompt" not in result.native
    modify = run(local_backend, model="sdxl-base", mode="image-to-image", prompt="x", images=[make_image()],
                 params={"num_inference_steps": 4}, seed=1)
    assert modify.native["strength"] == 0.5 and modify.native["negative_prompt"] == "blurry, low quality"


def test_scheduler_choice_swaps_the_sampler_and_default_restores_it(local_backend):
    result = run(local_backend, model="sdxl-base", prompt="x", seed=3,
                 params={**SMALL, "num_inference_steps": 2, "scheduler": "DPM++ 2M Karras"})
    model = validate(Request(model="sdxl-base", prompt="x")).model
    pipe, loaded = local_backend.pipeline(model, "text-to-image")
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert pipe.scheduler.config.use_karras_sigmas is True
    assert result.params["scheduler"] == "DPM++ 2M Karras"
    run(local_backend, model="sdxl-base", prompt="x", params={**SMALL, "num_inference_steps": 1})
    assert pipe.scheduler is loaded.scheduler


def component_names(folder: str) -> list[str]:
    """The non-null components a pipeline folder's model_index.json lists, in the file's order."""
    index = json.loads((Path(folder) / "model_index.json").read_text())
    return [name for name, value in index.items()
            if not name.startswith("_") and isinstance(value, list) and value[0] is not None]


def loading_events(model: str, names: list[str]) -> list[dict]:
    total = len(names)
    return [*({"stage": "loading", "model": model, "component": name, "done": i, "total": total}
              for i, name in enumerate(names)),
            {"stage": "loading", "model": model, "component": None, "done": total, "total": total}]


def test_progress_reports_each_step_in_order(local_backend):
    events: list[dict] = []
    local_backend.run(validate(Request(model="sdxl-base", prompt="x", backend="local",
                                       params={**SMALL, "num_inference_steps": 3})), progress=events.append)
    steps = [{"stage": "step", "step": i, "total": 3} for i in (1, 2, 3)]
    names = component_names(local_backend.settings.model_paths["sdxl-base"])
    assert names == ["scheduler", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"]
    assert events == [*loading_events("sdxl-base", names), *steps]  # a fresh backend loads first
    events.clear()
    local_backend.run(validate(Request(model="sdxl-base", prompt="x", backend="local",
                                       params={**SMALL, "num_inference_steps": 3})), progress=events.append)
    assert events == steps  # loaded now: no loading event


LOADING_CASES = [case for case in CASES
                 if case.id in ("sdxl-t2i", "kontext-inpaint", "schnell-t2i", "flux2-multi-ref-edit", "klein-inpaint")]


@pytest.mark.parametrize("case", LOADING_CASES)
def test_loading_reports_each_component_and_loads_what_from_pretrained_loads(local_backend, case):
    """Loading component by component reports each one, and gives the very pipeline a whole
    `from_pretrained` gives: the same weights, and the same image bytes for the same seed."""
    import diffusers
    import torch

    events: list[dict] = []
    prepared = validate(Request(backend="local", seed=5, **case))
    result = local_backend.run(prepared, progress=events.append)
    model = prepared.model.id
    folder = local_backend.settings.model_paths[model]
    names = component_names(folder)
    loads = [event for event in events if event["stage"] == "loading"]
    assert loads == loading_events(model, names)
    assert [e["done"] for e in loads] == list(range(len(names) + 1)) and {e["total"] for e in loads} == {len(names)}
    assert events[: len(loads)] == loads, "every loading event comes before the first step"
    assert local_backend.stats["loads"] == 1

    class_name = prepared.model.routes["local"].pipelines[prepared.mode]
    whole = getattr(diffusers, class_name).from_pretrained(folder, dtype=torch.float32)
    whole.set_progress_bar_config(disable=True)
    pipe, _ = local_backend.pipeline(prepared.model, prepared.mode)
    assert type(pipe) is type(whole) and pipe.components.keys() == whole.components.keys()
    for name, component in whole.components.items():
        assert type(pipe.components[name]) is type(component), name
        if isinstance(component, torch.nn.Module):
            mine, theirs = pipe.components[name].state_dict(), component.state_dict()
            assert mine.keys() == theirs.keys(), name
            assert all(torch.equal(mine[k], theirs[k]) and mine[k].dtype == theirs[k].dtype for k in theirs), name

    def whole_image() -> bytes:
        args, _ = local_backend.call_args(prepared, whole)
        args["generator"] = [torch.Generator("cpu").manual_seed(5)]
        with torch.inference_mode():
            return png(whole(**args).images[0])

    assert png(result.images[0]) == whole_image()
    # The comparison sees the weights: nudge one of the whole pipeline's and the bytes differ.
    denoiser = getattr(whole, "unet", None) or whole.transformer
    with torch.no_grad():
        next(p for p in denoiser.parameters() if p.dim() > 1).add_(0.5)
    assert png(result.images[0]) != whole_image()


def test_an_offline_hub_snapshot_loads_component_by_component(tiny_root):
    """Without a folder, weights load from the model's snapshot in the hub cache (offline), reporting
    each component, with the snapshot's commit as the version and the repo id as the source."""
    repo = Path(os.environ["HF_HUB_CACHE"]) / "models--stabilityai--sdxl-turbo"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_root["sdxl"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    try:
        backend = LocalBackend(LocalSettings(device="cpu"))
        prepared = validate(Request(model="sdxl-turbo", prompt="x", backend="local", params=SMALL))
        assert backend.health(prepared.model) == (True, "weights cached from stabilityai/sdxl-turbo")
        events: list[dict] = []
        result = backend.run(prepared, progress=events.append)
        loads = [event for event in events if event["stage"] == "loading"]
        assert loads == loading_events("sdxl-turbo", component_names(str(tiny_root["sdxl"])))
        assert result.model_version == commit and result.device["source"] == "stabilityai/sdxl-turbo"
        pipe, _ = backend.pipeline(prepared.model, "text-to-image")
        assert pipe.name_or_path == "stabilityai/sdxl-turbo" and backend.stats["loads"] == 1
    finally:
        shutil.rmtree(repo)  # the hub cache stays empty for the other tests


def test_cancel_between_steps_stops_the_run(local_backend):
    cancel = threading.Event()
    seen: list[int] = []

    def progress(event: dict) -> None:
        if event["stage"] == "step":  # the loading event comes first and must not cancel
            seen.append(event["step"])
            cancel.set()

    prepared = validate(Request(model="sdxl-base", prompt="x", backend="local",
                                params={**SMALL, "num_inference_steps": 5}))
    with pytest.raises(Cancelled, match="Cancelled after step 2"):
        local_backend.run(prepared, progress=progress, cancel=cancel)
    assert seen == [1]


def test_missing_weights_offline_fail_fast_with_what_to_download():
    backend = LocalBackend(LocalSettings(device="cpu"))
    prepared = validate(Request(model="sdxl-base", prompt="x", backend="local"))
    ok, why = backend.health(prepared.model)
    assert not ok and "hf download stabilityai/stable-diffusion-xl-base-1.0" in why
    with pytest.raises(BackendUnavailable) as info:
        backend.run(prepared)
    message = str(info.value)
    assert "HF_HUB_OFFLINE" in message and "hf download stabilityai/stable-diffusion-xl-base-1.0" in message
    assert "PLAYGROUND_MODEL_PATHS" in message


def test_broken_folder_with_empty_tokenizer_fails_loudly(tiny_root, tmp_path):
    broken = tmp_path / "sdxl-broken"
    shutil.copytree(tiny_root["sdxl"], broken)
    for child in (broken / "tokenizer_2").iterdir():
        child.unlink()
    backend = LocalBackend(LocalSettings(model_paths={"sdxl-base": str(broken)}, device="cpu"))
    with pytest.raises(BrokenWeights, match=r"'tokenizer_2' has only \d+ tokens"):
        run(backend, model="sdxl-base", prompt="x", params={**SMALL, "num_inference_steps": 1})


def test_folder_that_is_not_a_pipeline(tmp_path):
    backend = LocalBackend(LocalSettings(model_paths={"sdxl-base": str(tmp_path)}, device="cpu"))
    prepared = validate(Request(model="sdxl-base", prompt="x", backend="local"))
    assert backend.health(prepared.model) == (False, f"{tmp_path} (from PLAYGROUND_MODEL_PATHS) has no "
                                                     "model_index.json")
    with pytest.raises(BackendUnavailable, match="has no model_index.json"):
        backend.run(prepared)


def test_model_paths_file_is_read_from_the_environment(model_paths_file, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODEL_PATHS", str(model_paths_file))
    settings = LocalSettings.from_env()
    assert settings.model_paths["sdxl-base"].endswith("sdxl")
    monkeypatch.setenv("PLAYGROUND_MODEL_PATHS", str(model_paths_file.parent / "nope.json"))
    with pytest.raises(Exception, match="PLAYGROUND_MODEL_PATHS=.*nope.json: cannot read it"):
        LocalSettings.from_env()


def test_health_without_weights_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom playground.backends.local import LocalBackend, LocalSettings\n"
            "from playground.catalog import MODELS\n"
            "ok, why = LocalBackend(LocalSettings()).health(MODELS['sdxl-base'], auto=True)\n"
            "print(ok, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert done.stdout.split() == ["False", "False"], done.stderr
