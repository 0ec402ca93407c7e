"""The public API: `/generate`, `/estimate` and `/models`, callable with gradio_client by keyword.

The docstrings below are the API documentation (Gradio shows them on the "Use via API" page).
Each endpoint validates and fails exactly like the page: a bad request raises `gr.Error` with
the same readable message, which gradio_client raises as `AppError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

import gradio as gr
from gradio.components.api_component import Api
from gradio.data_classes import FileData
from gradio.utils import get_function_description
from gradio_client.utils import python_type_to_json_schema

from playground.request import Request
from playground.ui import service

RUN_CONCURRENCY_ID = "runs"


async def generate(
    model: str,
    mode: str = "text-to-image",
    prompt: str = "",
    negative_prompt: str | None = None,
    images: list[FileData] | None = None,
    mask: FileData | None = None,
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    backend: str = "auto",
    fal_key: str | None = None,
    replicate_key: str | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - how Gradio injects progress
) -> tuple[list[FileData], int, dict[str, Any]]:
    """Generate or edit images with one catalog model.

    Runs locally, on fal or on Replicate (`backend="auto"` picks the first that can run it and
    falls back only when a backend is unavailable). Progress (queue position, steps) is reported
    through the job status; `job.cancel()` stops the run.

    Args:
        model: Catalog model id, e.g. "flux-2-dev", "sdxl-base", "seedream-4.5" (see /models).
        mode: "text-to-image", "image-to-image" or "inpaint" (the model's modes are in /models).
        prompt: The prompt or edit instruction (at most 2000 characters for most models).
        negative_prompt: What to avoid, for models that take one; None uses the model's default.
        images: Reference images (gradio_client.handle_file) for image-to-image and inpaint, in order.
        mask: Inpaint mask, the size of the first image: white (or opaque) = repaint.
        params: Canonical parameters by name, e.g. {"num_inference_steps": 20}; the rest use defaults.
        seed: Seed for reproducible output; None or -1 draws a random one (returned).
        backend: "auto", "local", "fal" or "replicate".
        fal_key: Your fal API key, used for this request only and never stored. An empty string is
            refused; leave it out (None) to use the server's key where the operator lends one.
        replicate_key: Your Replicate API token, the same way.

    Returns:
        The output images (PNG files with the record embedded), the seed of the first image, and
        the reproducibility record of the run (JSON).
    """
    try:
        request = Request(model=model, mode=mode, prompt=prompt or "", negative_prompt=negative_prompt,
                          images=service.checked_files(images, "images"),
                          mask=service.checked_file(mask, "mask"), params=params or {}, seed=seed,
                          backend=backend or "auto")
        outcome = await service.run(request, service.visitor_keys(fal_key, replicate_key), progress)
    except Exception as err:  # noqa: BLE001 - every failure becomes a readable gr.Error
        raise _app_error(err) from None
    return [FileData(path=path) for path in outcome.files], outcome.seed, outcome.record


def estimate(
    model: str,
    mode: str = "text-to-image",
    prompt: str = "",
    negative_prompt: str | None = None,
    images: list[FileData] | None = None,
    mask: FileData | None = None,
    params: dict[str, Any] | None = None,
    backend: str = "auto",
    fal_key: str | None = None,
    replicate_key: str | None = None,
) -> dict[str, Any]:
    """Estimate a run before paying for it: which backend `auto` would pick, and the cost.

    Takes the same arguments as /generate (without the seed) and validates them the same way.

    Returns:
        {"backend": the backend that would run it (None if none can), "ready": bool,
        "cost_usd": estimated dollars (0 locally, None when the provider publishes no price),
        "cost_text", "why", "passed_over": [{"backend", "reason"}],
        "availability": {backend: {"available": bool, "reason": str}}}.
    """
    try:
        request = Request(model=model, mode=mode, prompt=prompt or "", negative_prompt=negative_prompt,
                          images=service.checked_files(images, "images"),
                          mask=service.checked_file(mask, "mask"), params=params or {}, backend=backend or "auto")
        return service.estimate(request, service.visitor_keys(fal_key, replicate_key))
    except Exception as err:  # noqa: BLE001
        raise _app_error(err) from None


def models() -> dict[str, Any]:
    """The model catalog.

    Returns:
        {"families": {id: name}, "models": {model id: {"label", "family", "description", "modes",
        "backends", "modes_by_backend", "max_images", "prices", "negative_prompt", "schema"}}},
        where "schema" is the JSON schema of a /generate request for that model (canonical
        parameter names, defaults, ranges, choices and descriptions under properties.params).
    """
    return service.models_listing()


def register() -> None:
    """Add the three public endpoints to the Blocks being built."""
    endpoint(generate, "generate", ("images", "seed", "record"), concurrency_limit=service.max_runs(),
             concurrency_id=RUN_CONCURRENCY_ID)
    endpoint(estimate, "estimate", ("estimate",), concurrency_limit=None)
    endpoint(models, "models", ("catalog",), concurrency_limit=None)


def endpoint(fn: Callable[..., Any], api_name: str, outputs: tuple[str, ...] = ("result",), **options: Any) -> Any:
    """Register `fn` as an API-only endpoint typed by its signature and documented by its docstring,
    like `gr.api`, but keeping Gradio's special arguments (`gr.Progress` defaults, `gr.Request`) out
    of the public signature so the endpoint can report progress. `outputs` names the returned values."""
    hints = get_type_hints(fn)
    _, described, _ = get_function_description(fn)
    inputs = []
    for name, param in inspect.signature(fn).parameters.items():
        if isinstance(param.default, gr.Progress) or hints.get(name) is gr.Request:
            continue
        default = None if param.default is inspect.Parameter.empty else param.default
        schema = {**python_type_to_json_schema(hints[name]), "description": described.get(name, "")}
        inputs.append(Api(default, schema, name))
    returned = hints.get("return")
    kinds = list(returned.__args__) if getattr(returned, "__origin__", None) is tuple else [returned]
    results = [Api(None, python_type_to_json_schema(kind), name) for kind, name in zip(kinds, outputs, strict=True)]
    return gr.on(triggers=[], fn=fn, inputs=inputs, outputs=results, api_name=api_name, show_progress="hidden",
                 preprocess=False, postprocess=False, api_visibility="public", **options)


def _app_error(err: BaseException) -> gr.Error:
    title, message = service.describe_error(err)
    return gr.Error(message, title=title, print_exception=False)


# The API tab of the page, and the README's example.
USAGE = """
## Call the playground from Python

Every action on the Generate tab is also a named endpoint. Install `gradio_client`, then:

```python
from gradio_client import Client, handle_file

client = Client("http://127.0.0.1:7860/")          # or "owner/space-name" for a Hugging Face Space

catalog = client.predict(api_name="/models")       # every model, its modes, backends, prices, JSON schema

estimate = client.predict(model="flux-2-pro", prompt="a red fox", backend="auto",
                          fal_key="YOUR_FAL_KEY", api_name="/estimate")
print(estimate["backend"], estimate["cost_text"])

images, seed, record = client.predict(
    model="flux-2-dev", mode="image-to-image", prompt="put the cat from image 1 on the sofa of image 2",
    images=[handle_file("cat.png"), handle_file("sofa.png")],
    params={"num_inference_steps": 28}, seed=42, backend="fal", fal_key="YOUR_FAL_KEY",
    api_name="/generate")
```

Inpaint: `mode="inpaint", images=[handle_file("photo.png")], mask=handle_file("mask.png")` (white = repaint).
Parameters use the canonical names shown in `/models` (`schema.properties.params`). Keys are used for that
request only. A bad request raises `gradio_client.exceptions.AppError` with the same message the page shows;
`job = client.submit(...); job.status()` reports queue position and steps, `job.cancel()` stops the run.
"""
