"""The public API, callable with gradio_client by keyword: `/generate`, `/estimate`, `/models`, the
user presets (`/presets/list`, `/presets/load`, `/presets/save`, `/presets/delete`), `/inspect` and
`/import` (another tool's image as a preset).

The docstrings below are the API documentation (Gradio shows them on the "Use via API" page).
Each endpoint validates and fails exactly like the page: a bad request raises `gr.Error` with
the same readable message, which gradio_client raises as `AppError`.
"""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_type_hints

import gradio as gr
from gradio.components.api_component import Api
from gradio.data_classes import FileData
from gradio.utils import get_function_description
from gradio_client.utils import python_type_to_json_schema

from playground import importers, preset_store, presets, records, storage
from playground.params import Problem, ValidationError
from playground.request import Request
from playground.ui import service
from playground.ui.common import door

RUN_CONCURRENCY_ID = "runs"


@door
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
    output_format: str | None = None,
    output_quality: int | None = None,
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
        fal_key: Your fal key, for this request only, never stored; "" is refused, None uses a lent server key.
        replicate_key: Your Replicate token, for this request only, never stored; "" is refused, None as fal_key.
        output_format: File format of the returned images: "png", "jpeg" or "webp" (every backend). None:
            the provider's own output_format param when set, else PNG.
        output_quality: 1-100 for jpeg and webp (None: JPEG 95, WebP lossless).

    Returns:
        The output images (files with the record embedded, in output_format), the seed of the first image, and
        the reproducibility record of the run (JSON).
    """
    request = Request(model=model, mode=mode, prompt=prompt or "", negative_prompt=negative_prompt,
                      images=service.checked_files(images, "images"),
                      mask=service.checked_file(mask, "mask"), params=params or {}, seed=seed,
                      backend=backend or "auto")
    outcome = await service.run(request, service.visitor_keys(fal_key, replicate_key), progress,
                                file_format=(output_format, output_quality))
    return [FileData(path=path) for path in outcome.files], outcome.seed, outcome.record


@door
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
        "availability": {backend: {"available": bool, "reason": str}},
        "output_size": the size the run will make, e.g. "256x192 (the input's size)"}.
    """
    request = Request(model=model, mode=mode, prompt=prompt or "", negative_prompt=negative_prompt,
                      images=service.checked_files(images, "images"),
                      mask=service.checked_file(mask, "mask"), params=params or {}, backend=backend or "auto")
    return service.estimate(request, service.visitor_keys(fal_key, replicate_key))


@door
def models() -> dict[str, Any]:
    """The model catalog.

    Returns:
        {"families": {id: name}, "models": {model id: {"label", "family", "description", "modes",
        "backends", "modes_by_backend", "max_images", "prices", "negative_prompt", "schema"}}},
        where "schema" is the JSON schema of a /generate request for that model (canonical
        parameter names, defaults, ranges, choices and descriptions under properties.params).
    """
    return service.models_listing()


@door
def presets_list() -> dict[str, Any]:
    """List the presets: the shipped ones, then yours (on a shared server, only this session's or login's).

    Returns:
        {"presets": [{"id" ("shipped:NAME" or "user:NAME"), "name", "description", "model", "mode",
        "source" ("shipped" or "user")}], "problems": [{"id", "error"}] for preset files that do not
        load (they are left out of the list)}.
    """
    listing = preset_store.list_presets()
    return {"presets": [{k: e[k] for k in ("id", "name", "description", "model", "mode", "source")}
                        for e in listing["presets"]],
            "problems": [{"id": e["id"], "error": e["error"]} for e in listing["problems"]]}


@door
def presets_load(name: str) -> dict[str, Any]:
    """Load one preset, checked against the catalog (every problem is reported at once).

    Args:
        name: A preset id from /presets/list ("shipped:sdxl-inpaint", "user:my-portrait") or a name; never a path.

    Returns:
        {"id", "source", "preset": the preset document (schema playground.preset/1: name,
        description, model, mode, backend, prompt, negative_prompt, params, seed, and inputs as
        [{"role", "sha256"}]: the pictures it comes with, kept on the server)}. Its model, mode,
        prompt, negative_prompt, params, seed and backend are /generate's arguments; pass it back to
        /presets/save to keep a changed copy.
    """
    return _loaded(preset_store.load_preset(service.preset_ref(name)))


@door
def presets_save(
    preset: dict[str, Any],
    name: str | None = None,
    images: list[FileData] | None = None,
    mask: FileData | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Save a preset among yours, after checking it against the catalog (every problem at once).

    The document is what /presets/load returns under "preset": name, description, model, mode,
    backend, prompt, negative_prompt, params (canonical names, see /models), seed and inputs
    ([{"role": "image" or "mask", "sha256"}]: pictures the server already keeps, from presets or
    recent runs, are found by their hash; or upload them with `images` and `mask`).

    Args:
        preset: The preset document (JSON object). Keys are never part of a preset.
        name: Save under this name instead of the document's; letters, digits, spaces, . - _, never a path.
        images: Input images to keep with the preset (gradio_client.handle_file), replacing its inputs.
        mask: The inpaint mask to keep with `images` (white = repaint).
        overwrite: Replace your preset of the same name; by default an existing name is refused.

    Returns:
        {"id": "user:NAME", "source": "user", "preset": the document as saved}.
    """
    if not isinstance(preset, dict):
        raise ValidationError([Problem("preset", type(preset).__name__, "a preset document (JSON object)")])
    doc = {k: v for k, v in preset.items() if k != presets.LOCATION_FIELD}
    if name:
        doc["name"] = name
    on_conflict = "overwrite" if overwrite else "error"
    given = service.checked_files(images, "images"), service.checked_file(mask, "mask")
    if not images and mask is None:
        # Callers never see server paths: inputs are named by hash and found among the kept pictures.
        if isinstance(doc.get("inputs"), list):
            doc["inputs"] = [{k: v for k, v in e.items() if k != "path"} if isinstance(e, dict) else e
                             for e in doc["inputs"]]
        given = _kept_inputs(doc)
    if given[0] or given[1] is not None:
        request = presets.preset_to_request(doc, images=given[0], mask=given[1])
        saved = preset_store.save_request(request, doc.get("name"), doc.get("description") or "",
                                     on_conflict=on_conflict)
    else:
        saved = preset_store.save_preset(doc, on_conflict=on_conflict)
    return _loaded(preset_store.load_preset(saved["id"]))


@door
def presets_delete(name: str) -> dict[str, Any]:
    """Delete one of your presets (shipped presets cannot be deleted).

    Args:
        name: "user:NAME" or the name of one of your presets.

    Returns:
        {"deleted": "user:NAME"}.
    """
    return preset_store.delete_preset(service.preset_ref(name))


@door
def inspect_image(image: FileData | None = None, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read how an image was made: the playground record embedded in it (or a record given as JSON).

    Args:
        image: A PNG, JPEG or WebP made by the playground, or its record's .json (gradio_client.handle_file).
        record: A record (JSON object) to check and show instead of an image; never a path (upload files as `image`).

    Returns:
        {"status": "ok" | "no record" | "tampered" | "unreadable", "message": what that means in
        words, "record": the record (None without one), "table": [[field, value], ...] (the record
        as readable rows), "problems", "notes", "parameters": the A1111-style text of images from
        other tools (None otherwise), "import": for an image without a record, what /import makes of
        the settings AUTOMATIC1111/Forge, ComfyUI or InvokeAI embedded (see /import)}.
    """
    if record is not None:
        return records.inspect(checked_record(record))
    if image is None:
        raise ValidationError([Problem("image", None, "an image (gradio_client.handle_file) or a record")])
    source = _uploaded(image)
    report = records.inspect(source)
    if report["status"] == "no record":
        report["import"] = importers.import_image(source)
    return _as_named(report, source, image)


@door
def import_image(image: FileData, name: str | None = None, save: bool = False) -> dict[str, Any]:
    """Turn an image made by AUTOMATIC1111/Forge, ComfyUI or InvokeAI into a playground preset.

    Reads the `parameters` text (PNG or JPEG/WebP EXIF), ComfyUI's `prompt`/`workflow` graph or
    InvokeAI's metadata: prompt, negative prompt, seed, steps, guidance, sampler, size, denoising
    strength and the closest catalog model (flagged when it is a guess).

    Args:
        image: The image (gradio_client.handle_file), PNG, JPEG or WebP.
        name: The preset's name; default "<tool> import: <first words of the prompt>".
        save: True also saves it among your presets (renamed if the name is taken).

    Returns:
        {"status": "ok" | "nothing found", "tool", "message", "preset": the preset document (for
        /presets/save or /generate), "model": {"id", "guess", "why"}, "mapped": [[their field,
        value, preset field]], "unmapped": [[their field, value, why]] (nothing is dropped
        silently), "notes", "found": the metadata as the tool wrote it, "saved": {"id", "name"} or None}.
    """
    if image is None:
        raise ValidationError([Problem("image", None, "an image (gradio_client.handle_file)")])
    source = _uploaded(image)
    report = importers.import_image(source, name)
    saved = importers.save_imported(report) if save else None
    report["saved"] = {"id": saved["id"], "name": saved["name"]} if saved else None
    return _as_named(report, source, image)


def _as_named(report: dict[str, Any], source: Any, image: Any) -> dict[str, Any]:
    """`report` with the server's copy of an upload named as the visitor named the file."""
    if not isinstance(source, str):
        return report
    named = image.get("orig_name") if isinstance(image, dict) else None
    return service.without_path(report, source, named or Path(source).name)


def _uploaded(image: Any) -> Any:
    """An uploaded file as the server's copy (a path) or, for a data URI, its bytes."""
    source = service.checked_file(image, "image")
    if isinstance(source, str) and source.startswith("data:"):
        source = base64.b64decode(source.partition(",")[2])
    return source


def checked_record(record: Any) -> dict[str, Any]:
    """`/inspect`'s `record` argument as a record: a JSON object, or JSON text of one. Anything else (a
    path on the server above all) is refused at once, without opening or echoing it."""
    if isinstance(record, str) and record.lstrip().startswith("{"):
        try:
            record = json.loads(record)
        except ValueError:
            raise ValidationError([Problem("record", "text that is not valid JSON",
                                           "a record (JSON object)")]) from None
    if not isinstance(record, dict) or ("path" in record and "schema" not in record):
        shown = "a file or path" if isinstance(record, (str, dict)) else type(record).__name__
        raise ValidationError([Problem("record", shown, "a record (JSON object); to read a file, upload it as "
                                                        "`image` (gradio_client.handle_file)")])
    return record


def register() -> None:
    """Add the public endpoints to the Blocks being built."""
    endpoint(generate, "generate", ("images", "seed", "record"), concurrency_limit=service.max_runs(),
             concurrency_id=RUN_CONCURRENCY_ID)
    endpoint(estimate, "estimate", ("estimate",), concurrency_limit=None)
    endpoint(models, "models", ("catalog",), concurrency_limit=None)
    endpoint(presets_list, "presets/list", ("presets",), concurrency_limit=None)
    endpoint(presets_load, "presets/load", ("preset",), concurrency_limit=None)
    endpoint(presets_save, "presets/save", ("saved",))
    endpoint(presets_delete, "presets/delete", ("deleted",))
    endpoint(inspect_image, "inspect", ("inspection",), concurrency_limit=None)
    endpoint(import_image, "import", ("imported",), concurrency_limit=None)


def _loaded(preset: dict[str, Any]) -> dict[str, Any]:
    """A loaded preset for callers: its id and source, and the document without server paths
    (gradio_client would also take any {"path": ...} in a result for a file to download)."""
    where = preset.get(presets.LOCATION_FIELD) or {}
    source = where.get("source", "user")
    doc = {k: preset[k] for k in presets.FIELDS if k in preset}
    doc["inputs"] = [{"role": e["role"], "sha256": e["sha256"]} for e in doc.get("inputs") or []]
    return {"id": f"{source}:{Path(where.get('path', '')).stem}", "source": source, "preset": doc}


def _kept_inputs(doc: dict[str, Any]) -> tuple[list[str], str | None]:
    """The pictures a preset document names by hash, from the presets' input folders, when all are there."""
    wanted = doc.get("inputs")
    if not isinstance(wanted, list) or not wanted or not all(isinstance(e, dict) for e in wanted):
        return [], None
    folders = [storage.user_dir() / presets.INPUTS_FOLDER, preset_store.shipped_dir() / presets.INPUTS_FOLDER,
               service.inputs_dir()]
    found = storage.find_inputs({"inputs": wanted}, folders)
    if found["missing"]:
        return [], None  # saved by hash only; the preset check says what is wrong with the entries
    return [p for p in found["images"] if p], found["mask"]


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

### Presets and records

```python
listing = client.predict(api_name="/presets/list")             # shipped presets, then yours
preset = client.predict(name="shipped:sdxl-inpaint", api_name="/presets/load")["preset"]
preset["params"]["num_inference_steps"] = 20
saved = client.predict(preset=preset, name="My SDXL inpaint", api_name="/presets/save")
client.predict(name=saved["id"], api_name="/presets/delete")    # your presets only

report = client.predict(image=handle_file("sdxl-base-42-1.png"), api_name="/inspect")
print(report["status"], report["message"])                      # "ok", "no record", "tampered" or "unreadable"
for field, value in report["table"]:
    print(f"{field:28} {value}")
```

`/presets/save` also takes `images=[handle_file(...)]` and `mask=` to keep input pictures with the preset, and
`overwrite=True` to replace one of yours. A preset that does not fit the catalog is refused with one `AppError`
listing every problem. Every image `/generate` returns carries its record; `/inspect` reads it back.

An image from AUTOMATIC1111/Forge, ComfyUI or InvokeAI becomes a preset with `/import`:

```python
imported = client.predict(image=handle_file("00042-1234.png"), api_name="/import")
print(imported["message"], imported["model"], imported["unmapped"])
images, seed, record = client.predict(**{k: imported["preset"][k] for k in
                                         ("model", "mode", "prompt", "negative_prompt", "params", "seed")},
                                      api_name="/generate")
```
"""
