"""Import from other tools: the generation settings AUTOMATIC1111/Forge, ComfyUI and InvokeAI embed
in their images become a playground preset.

What is read:
- AUTOMATIC1111 / Forge: the `parameters` text (PNG text chunk, or EXIF UserComment in JPEG/WebP);
- ComfyUI: the `prompt` graph (API format) or, without one, the `workflow` graph, for the common
  text-to-image and image-to-image graphs (KSampler / KSamplerAdvanced fed by CLIPTextEncode,
  CheckpointLoaderSimple or UNETLoader, EmptyLatentImage or LoadImage → VAEEncode);
- InvokeAI: the `invokeai_metadata` chunk (and the older `sd-metadata`);
- the playground's own record, when the image has one (exact, nothing guessed).

`import_image` returns what was found, the preset (checked by presets.parse_preset), the catalog
model chosen and whether that is a guess, and everything that could not be mapped, with why.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground import infotext, records
from playground.catalog import MODELS, LocalRoute
from playground.params import Problem, ValidationError
from playground.preset_store import save_preset
from playground.presets import parse_preset

A1111 = "AUTOMATIC1111"
COMFYUI = "ComfyUI"
INVOKEAI = "InvokeAI"
PLAYGROUND = "playground"
FALLBACK_MODEL = "sdxl-base"
T2I, I2I, INPAINT = "text-to-image", "image-to-image", "inpaint"
DESCRIPTION_LIMIT = 1900
MODEL_TARGET = "model"  # a mapped row's target until the catalog model is chosen
# Known checkpoint file or repo names (lower case, letters and digits only) → catalog id: exact.
EXACT_NAMES: dict[str, str] = {
    "sdxlbase10": "sdxl-base", "sdxlbase": "sdxl-base", "sdxlbase10vae": "sdxl-base",
    "sdxlbase10090vae": "sdxl-base", "sdxlturbo10": "sdxl-turbo", "sdxlturbo10fp16": "sdxl-turbo",
    "sdxlturbo": "sdxl-turbo", "flux1schnell": "flux-schnell", "flux1kontextdev": "flux-kontext-dev",
    "flux2dev": "flux-2-dev", "flux2klein4b": "flux-2-klein-4b", "flux2klein9b": "flux-2-klein-9b",
}
# Words in a checkpoint name that say which family it belongs to: (words, catalog id, why).
FAMILY_HINTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("kontext",), "flux-kontext-dev", "a FLUX.1 Kontext checkpoint"),
    (("klein", "9b"), "flux-2-klein-9b", "a FLUX.2 klein 9B checkpoint"),
    (("klein",), "flux-2-klein-4b", "a FLUX.2 klein checkpoint"),
    (("flux2",), "flux-2-dev", "a FLUX.2 checkpoint"),
    (("schnell",), "flux-schnell", "a FLUX.1 schnell checkpoint"),
    (("flux",), "flux-schnell", "a FLUX.1 checkpoint; FLUX.1 [dev] itself is not in the catalog, schnell is "
                                "its closest relative here"),
    (("turbo",), "sdxl-turbo", "an SDXL Turbo fine-tune"),
    (("xl",), "sdxl-base", "an SDXL fine-tune; the catalog runs SDXL base"),
    (("pony",), "sdxl-base", "a Pony (SDXL) fine-tune; the catalog runs SDXL base"),
    (("illustrious",), "sdxl-base", "an Illustrious (SDXL) fine-tune; the catalog runs SDXL base"),
)
INVOKE_BASES = {"sdxl": "sdxl-base", "sdxl-refiner": "sdxl-base", "flux": "flux-schnell"}


@dataclass
class Found:
    """Settings read from another tool's metadata, in playground terms, plus what did not map."""

    tool: str
    raw: Any
    prompt: str = ""
    negative_prompt: str | None = None
    seed: Any = None
    mode: str = T2I
    checkpoint: str | None = None
    model_hint: str | None = None
    backend: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)
    mapped: list[list[str]] = field(default_factory=list)
    unmapped: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def use(self, source: str, value: Any, target: str) -> None:
        self.mapped.append([source, _text(value), target])

    def skip(self, source: str, value: Any, why: str) -> None:
        self.unmapped.append([source, _text(value), why])


# -- the entry point -------------------------------------------------------------------------------

def import_image(source: Any, name: str | None = None) -> dict[str, Any]:
    """Turn an image made by another tool (or by the playground) into a preset.

    `source`: a path, bytes, a PIL image or a gradio file dict. Returns `{"status": "ok" |
    "nothing found", "tool", "message", "preset" (None when nothing was found), "model": {"id",
    "guess", "why"}, "mapped": [[their field, value, preset field]], "unmapped": [[their field,
    value, why]], "notes", "found" (the metadata as the tool wrote it)}`. Never raises for an image
    without metadata; a file that is not an image is a ValidationError.
    """
    image = _open(source)
    found = read_foreign(image)
    if found is None:
        return {"status": "nothing found", "tool": None, "preset": None, "model": None, "mapped": [], "unmapped": [],
                "notes": [], "found": None,
                "message": "No generation settings found: no playground record, AUTOMATIC1111/Forge parameters, "
                           "ComfyUI prompt/workflow or InvokeAI metadata."}
    model_id, guess, why = closest_model(found)
    for row in found.mapped:
        if row[2] == MODEL_TARGET:
            row[2] = f"model = {model_id}" + (" (a guess)" if guess else "")
    preset = _preset(found, model_id, name)
    tool = found.tool
    message = f"Read {tool} settings into a {model_id} {preset['mode']} preset."
    if guess:
        message += f" The model is a guess: {why}."
    return {"status": "ok", "tool": tool, "message": message, "preset": preset,
            "model": {"id": model_id, "guess": guess, "why": why}, "mapped": found.mapped, "unmapped": found.unmapped,
            "notes": found.notes, "found": found.raw}


def read_foreign(image: Any) -> Found | None:
    """The settings an opened PIL image carries, from whichever tool wrote them (None: none)."""
    record = _own_record(image)
    if record is not None:
        return _from_record(record)
    info = image.info
    if isinstance(info.get("prompt"), str) or isinstance(info.get("workflow"), str):
        found = _from_comfy(info.get("prompt"), info.get("workflow"))
        if found is not None:
            return found
    for key in ("invokeai_metadata", "sd-metadata"):
        if isinstance(info.get(key), str):
            found = _from_invoke(info[key], key)
            if found is not None:
                return found
    text = records.embedded_parameters(image)
    if text and infotext.looks_like_infotext(text):
        return from_a1111(text)
    return None


# -- AUTOMATIC1111 / Forge -------------------------------------------------------------------------

def from_a1111(text: str) -> Found:
    """Settings from an A1111/Forge `parameters` text."""
    prompt, negative, fields = infotext.parse_infotext(text)
    found = Found(A1111, text, prompt=prompt, negative_prompt=negative or None)
    fields = dict(fields)
    hires = any(key.startswith("Hires") for key in fields)
    if "Denoising strength" in fields and not hires:
        found.mode = INPAINT if "Mask blur" in fields else I2I
    found.checkpoint = fields.pop("Model", None)
    if found.checkpoint:
        found.use("Model", found.checkpoint, MODEL_TARGET)
    _number(found, fields, "Steps", "num_inference_steps", int)
    distilled = "Distilled CFG Scale" in fields
    _number(found, fields, "Distilled CFG Scale" if distilled else "CFG scale", "guidance_scale", float)
    _number(found, fields, "Seed", "seed", int)
    _number(found, fields, "Batch size", "num_images", int)
    if "Denoising strength" in fields and not hires:
        _number(found, fields, "Denoising strength", "strength", float)
    if "Clip skip" in fields:
        skip = _as_number(fields.pop("Clip skip"), int)
        if skip is not None and skip > 1:  # A1111's 1 means no skipping; diffusers counts layers skipped
            found.params["clip_skip"] = skip - 1
            found.use("Clip skip", skip, f"clip_skip = {skip - 1}")
    sampler, schedule = fields.pop("Sampler", None), fields.pop("Schedule type", None)
    shown = f"{sampler}, Schedule type: {schedule}" if sampler and schedule else sampler
    _sampler(found, "Sampler", shown, schedule, infotext.choice_of_sampler(sampler, schedule))
    _size(found, fields.pop("Size", None), "Size")
    backend = fields.pop("Backend", None)
    if backend in ("local", "fal", "replicate"):
        found.backend = backend
        found.use("Backend", backend, "backend")
    elif backend is not None:
        found.skip("Backend", backend, "not a playground backend")
    for key, value in fields.items():
        found.skip(key, value, "no playground parameter for it")
    return found


# -- ComfyUI ---------------------------------------------------------------------------------------

SAMPLER_NODES = ("KSampler", "KSamplerAdvanced")
TEXT_NODES = ("CLIPTextEncode", "CLIPTextEncodeSDXL", "CLIPTextEncodeFlux")
LOADER_INPUTS = ("ckpt_name", "unet_name")
# Widget order of the common nodes in the UI `workflow` format (ComfyUI nodes.py INPUT_TYPES order;
# seeds are followed by the front end's "control after generate" widget).
WIDGETS: dict[str, tuple[str, ...]] = {
    "KSampler": ("seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", "control_after_generate", "steps", "cfg", "sampler_name",
                         "scheduler", "start_at_step", "end_at_step", "return_with_leftover_noise"),
    "CLIPTextEncode": ("text",),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "LoadImage": ("image", "upload"),
    "FluxGuidance": ("guidance",),
    "CLIPSetLastLayer": ("stop_at_clip_layer",),
}


def _from_comfy(prompt_text: Any, workflow_text: Any) -> Found | None:
    graph, raw = None, None
    for text, convert in ((prompt_text, lambda doc: doc), (workflow_text, workflow_to_graph)):
        if not isinstance(text, str):
            continue
        try:
            doc = json.loads(text)
            graph, raw = convert(doc), doc
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        if isinstance(graph, dict) and any(_node_class(n) in SAMPLER_NODES for n in graph.values()):
            break
        graph = None
    if graph is None:
        return None
    return from_comfy_graph(graph, raw)


def workflow_to_graph(workflow: dict[str, Any]) -> dict[str, Any]:
    """A ComfyUI UI `workflow` as an API `prompt` graph: {id: {class_type, inputs}} with links as
    [source id, slot] and widget values named for the nodes in WIDGETS (others as widgets_values)."""
    links = {link[0]: (str(link[1]), int(link[2])) for link in workflow.get("links") or []}
    graph: dict[str, Any] = {}
    for node in workflow["nodes"]:
        kind = node.get("type")
        inputs: dict[str, Any] = {}
        for slot in node.get("inputs") or []:
            if slot.get("link") is not None and slot["link"] in links:
                inputs[slot["name"]] = list(links[slot["link"]])
        values = node.get("widgets_values")
        names = WIDGETS.get(kind)
        if isinstance(values, list) and names:
            inputs.update({n: v for n, v in zip(names, values, strict=False) if n not in inputs})
        elif values:
            inputs["widgets_values"] = values
        graph[str(node["id"])] = {"class_type": kind, "inputs": inputs}
    return graph


def from_comfy_graph(graph: dict[str, Any], raw: Any = None) -> Found:
    """Settings from a ComfyUI API graph: the first sampler fed by an empty or encoded latent."""
    found = Found(COMFYUI, raw if raw is not None else graph)
    used: set[str] = set()
    samplers = sorted((i for i, n in graph.items() if _node_class(n) in SAMPLER_NODES), key=_id_order)
    chosen = next((i for i in samplers if _latent_source(graph, graph[i]["inputs"].get("latent_image"))[0]
                   in ("EmptyLatentImage", "EmptySD3LatentImage", "VAEEncode", "VAEEncodeForInpaint")), samplers[0])
    node = graph[chosen]
    used.add(chosen)
    inputs = dict(node.get("inputs") or {})
    where = f"{node['class_type']} (node {chosen})"
    seed_key = "noise_seed" if "noise_seed" in inputs else "seed"
    for key, target, kind in ((seed_key, "seed", int), ("steps", "num_inference_steps", int),
                              ("cfg", "guidance_scale", float)):
        value = inputs.pop(key, None)
        if value is None:
            continue
        if isinstance(value, list):
            value = _linked_value(graph, value, used)
        number = _as_number(value, kind)
        if number is None:
            found.skip(f"{where}.{key}", value, "not a number")
        elif target == "seed":
            found.seed = number
            found.use(f"{where}.{key}", number, "seed")
        else:
            found.params[target] = number
            found.use(f"{where}.{key}", number, target)
    sampler, scheduler = inputs.pop("sampler_name", None), inputs.pop("scheduler", None)
    choice = infotext.COMFY_SAMPLERS.get(str(sampler)) if sampler is not None else None
    schedule = infotext.COMFY_SCHEDULES.get(str(scheduler), str(scheduler)) if scheduler is not None else None
    mapped = infotext.choice_of_sampler(choice, schedule) if choice else (None, None)
    _sampler(found, f"{where}.sampler_name", f"{sampler} / {scheduler}", schedule, mapped)
    found.prompt = _comfy_text(graph, inputs.pop("positive", None), used, found) or ""
    found.negative_prompt = _comfy_text(graph, inputs.pop("negative", None), used, found)
    found.checkpoint = _comfy_checkpoint(graph, inputs.pop("model", None), used, found)
    kind, latent_id = _latent_source(graph, inputs.pop("latent_image", None))
    denoise = _as_number(inputs.pop("denoise", 1.0), float)
    if latent_id is not None:
        used.add(latent_id)
        latent = graph[latent_id]["inputs"]
        if kind in ("EmptyLatentImage", "EmptySD3LatentImage"):
            _size(found, f"{latent.get('width')}x{latent.get('height')}", f"{kind} (node {latent_id})")
            batch = _as_number(latent.get("batch_size", 1), int)
            if batch and batch > 1:
                found.params["num_images"] = batch
                found.use(f"{kind}.batch_size", batch, "num_images")
        else:
            found.mode = INPAINT if kind == "VAEEncodeForInpaint" else I2I
            loader = _follow(graph, latent.get("pixels"), ("LoadImage",), used)
            picture = graph[loader]["inputs"].get("image") if loader else None
            found.notes.append(f"Image-to-image from {picture or 'an input image'}: give that image when running "
                               "the preset.")
    if found.mode != T2I and denoise is not None:
        found.params["strength"] = denoise
        found.use(f"{where}.denoise", denoise, "strength")
    elif denoise not in (None, 1.0):
        found.skip(f"{where}.denoise", denoise, "a partial denoise of an empty latent has no playground equivalent")
    for key, value in inputs.items():
        if not isinstance(value, list):
            found.skip(f"{where}.{key}", value, "no playground parameter for it")
    for node_id in sorted(set(graph) - used, key=_id_order):
        other = graph[node_id]
        scalars = {k: v for k, v in (other.get("inputs") or {}).items() if not isinstance(v, list)}
        found.skip(f"{_node_class(other)} (node {node_id})", scalars or "", "a node the playground does not map")
    return found


def _comfy_text(graph: dict[str, Any], link: Any, used: set[str], found: Found) -> str | None:
    node_id = _follow(graph, link, TEXT_NODES, used, through=("conditioning", "conditioning_to", "conditioning_1"))
    if node_id is None:
        return None
    inputs = graph[node_id]["inputs"]
    key = "text" if "text" in inputs else "text_g" if "text_g" in inputs else "clip_l"
    text = inputs.get(key)
    if isinstance(text, list):
        text = _linked_value(graph, text, used)
    for extra in ("text_l", "t5xxl"):
        if extra in inputs and inputs[extra] != text:
            found.skip(f"{graph[node_id]['class_type']} (node {node_id}).{extra}", inputs[extra],
                       "a second prompt for one text encoder; the playground sends one prompt")
    _walk_guidance(graph, link, used, found)
    return text if isinstance(text, str) else None


def _walk_guidance(graph: dict[str, Any], link: Any, used: set[str], found: Found) -> None:
    """FLUX graphs set their (distilled) guidance with a FluxGuidance node on the conditioning."""
    while isinstance(link, list) and str(link[0]) in graph:
        node = graph[str(link[0])]
        if node.get("class_type") == "FluxGuidance":
            used.add(str(link[0]))
            value = _as_number(node["inputs"].get("guidance"), float)
            if value is not None:
                found.params["guidance_scale"] = value
                found.use(f"FluxGuidance (node {link[0]}).guidance", value, "guidance_scale")
                return
        link = node.get("inputs", {}).get("conditioning")


def _comfy_checkpoint(graph: dict[str, Any], link: Any, used: set[str], found: Found) -> str | None:
    hops = 0
    while isinstance(link, list) and str(link[0]) in graph and hops < 20:
        node_id, node = str(link[0]), graph[str(link[0])]
        used.add(node_id)
        inputs = node.get("inputs") or {}
        for key in LOADER_INPUTS:
            if isinstance(inputs.get(key), str):
                found.use(f"{node['class_type']} (node {node_id}).{key}", inputs[key], MODEL_TARGET)
                return inputs[key]
        if node.get("class_type") != "CheckpointLoaderSimple":
            scalars = {k: v for k, v in inputs.items() if not isinstance(v, list)}
            found.skip(f"{node['class_type']} (node {node_id})", scalars or "", "a model patch (LoRA, sampling "
                                                                               "shift...) the playground does not map")
        link, hops = inputs.get("model"), hops + 1
    return None


def _latent_source(graph: dict[str, Any], link: Any) -> tuple[str | None, str | None]:
    """The node that makes the sampler's latent: passes through latent-only helpers."""
    hops = 0
    while isinstance(link, list) and str(link[0]) in graph and hops < 20:
        node = graph[str(link[0])]
        kind = node.get("class_type")
        if kind in ("EmptyLatentImage", "EmptySD3LatentImage", "VAEEncode", "VAEEncodeForInpaint"):
            return kind, str(link[0])
        inputs = node.get("inputs") or {}
        link, hops = inputs.get("samples") or inputs.get("latent_image"), hops + 1
    return None, None


def _follow(graph: dict[str, Any], link: Any, kinds: tuple[str, ...], used: set[str],
            through: tuple[str, ...] = ()) -> str | None:
    hops = 0
    while isinstance(link, list) and str(link[0]) in graph and hops < 20:
        node_id = str(link[0])
        node = graph[node_id]
        if node.get("class_type") in kinds:
            used.add(node_id)
            return node_id
        inputs = node.get("inputs") or {}
        link = next((inputs[k] for k in (*through, "pixels", "image") if isinstance(inputs.get(k), list)), None)
        hops += 1
    return None


def _linked_value(graph: dict[str, Any], link: list[Any], used: set[str]) -> Any:
    """A widget turned into an input: the primitive or text node that feeds it."""
    node = graph.get(str(link[0])) or {}
    for key in ("value", "text", "string", "seed", "int", "float"):
        if key in (node.get("inputs") or {}) and not isinstance(node["inputs"][key], list):
            used.add(str(link[0]))
            return node["inputs"][key]
    return None


def _node_class(node: Any) -> str | None:
    return node.get("class_type") if isinstance(node, dict) else None


def _id_order(node_id: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", node_id)
    return (int(digits) if digits else 0, node_id)


# -- InvokeAI --------------------------------------------------------------------------------------

def _from_invoke(text: str, key: str) -> Found | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if key == "sd-metadata":  # InvokeAI 2.x: {"model_weights", "image": {...}}
        image = dict(doc.get("image") or {})
        prompts = image.pop("prompt", "")
        if isinstance(prompts, list):
            prompts = " ".join(p.get("prompt", "") for p in prompts if isinstance(p, dict))
        doc = {"positive_prompt": prompts, "model": {"name": doc.get("model_weights")},
               "scheduler": image.pop("sampler", None), "steps": image.pop("steps", None),
               "cfg_scale": image.pop("cfg_scale", None), "seed": image.pop("seed", None),
               "width": image.pop("width", None), "height": image.pop("height", None),
               "strength": image.pop("strength", None), "generation_mode": image.pop("type", "txt2img"), **image}
    fields = {k: v for k, v in doc.items() if v is not None}
    found = Found(INVOKEAI, doc, prompt=str(fields.pop("positive_prompt", "") or ""))
    found.negative_prompt = fields.pop("negative_prompt", None) or None
    mode = str(fields.pop("generation_mode", "txt2img"))
    found.mode = INPAINT if "inpaint" in mode else I2I if "img2img" in mode else T2I
    found.use("generation_mode", mode, f"mode = {found.mode}")
    model = fields.pop("model", None)
    if isinstance(model, dict):
        found.checkpoint = model.get("name") or model.get("model_name")
        found.model_hint = INVOKE_BASES.get(str(model.get("base") or model.get("base_model") or ""))
        found.use("model", model, MODEL_TARGET)
    elif isinstance(model, str):
        found.checkpoint = model
    _number(found, fields, "seed", "seed", int)
    _number(found, fields, "steps", "num_inference_steps", int)
    # FLUX in InvokeAI has a distilled `guidance`; its cfg_scale (if any) is then not what steers.
    guidance_key = "guidance" if "guidance" in fields else "cfg_scale"
    if guidance_key == "guidance" and "cfg_scale" in fields:
        found.skip("cfg_scale", fields.pop("cfg_scale"), "the FLUX guidance is used as guidance_scale")
    _number(found, fields, guidance_key, "guidance_scale", float)
    _number(found, fields, "cfg_rescale_multiplier", "guidance_rescale", float)
    if found.mode != T2I:
        _number(found, fields, "strength", "strength", float)
    scheduler = fields.pop("scheduler", None)
    choice = infotext.INVOKE_SCHEDULERS.get(str(scheduler)) if scheduler is not None else None
    _sampler(found, "scheduler", scheduler, None, (choice, None) if choice else (None, None))
    width, height = fields.pop("width", None), fields.pop("height", None)
    if width is not None and height is not None:
        _size(found, f"{width}x{height}", "width, height")
    for name, value in fields.items():
        found.skip(name, value, "no playground parameter for it")
    return found


# -- the playground's own record -------------------------------------------------------------------

def _own_record(image: Any) -> dict[str, Any] | None:
    try:
        return records.read_record(image)
    except records.RecordError:
        return None


def _from_record(record: dict[str, Any]) -> Found:
    request = records.record_to_request(record, images=[], mask=None)
    found = Found(PLAYGROUND, record, prompt=request.prompt, negative_prompt=request.negative_prompt,
                  seed=request.seed, mode=request.mode, checkpoint=request.model, backend=request.backend,
                  params=dict(request.params))
    for key, value in request.params.items():
        found.use(f"params.{key}", value, key)
    if record.get("inputs"):
        found.notes.append(f"The run had {len(record['inputs'])} input(s) (sha256 in the record): give them when "
                           "running the preset.")
    return found


# -- choosing the model and building the preset ----------------------------------------------------

def closest_model(found: Found) -> tuple[str, bool, str]:
    """(catalog id, is it a guess, why) for the checkpoint the settings name."""
    name = found.checkpoint or ""
    if found.tool == PLAYGROUND and name in MODELS:
        return name, False, "the playground record names it"
    stem = Path(name.replace("\\", "/")).name
    stem = re.sub(r"\.(safetensors|ckpt|pt|pth|bin|gguf|sft)$", "", stem, flags=re.IGNORECASE)
    key = re.sub(r"[^a-z0-9]", "", stem.lower())
    if name in MODELS:
        return name, False, f"the checkpoint name is the catalog id {name}"
    for model in MODELS.values():
        route = model.routes.get("local")
        if isinstance(route, LocalRoute) and key == re.sub(r"[^a-z0-9]", "", route.repo.split("/")[-1].lower()):
            return model.id, False, f"{stem} is {route.repo}"
    if key in EXACT_NAMES:
        return EXACT_NAMES[key], False, f"{stem} is the official {EXACT_NAMES[key]} checkpoint"
    for words, model_id, why in FAMILY_HINTS:
        if all(w in key for w in words):
            return model_id, True, f"{stem!r} looks like {why}"
    if found.model_hint:
        return found.model_hint, True, f"InvokeAI says the model's base is {found.model_hint.split('-')[0]}"
    shown = f"the checkpoint {stem!r}" if stem else "no checkpoint name"
    return FALLBACK_MODEL, True, (f"{shown} does not say which catalog model it is; {FALLBACK_MODEL} takes every "
                                  "setting these tools write (negative prompt, sampler, CFG scale)")


def _preset(found: Found, model_id: str, name: str | None) -> dict[str, Any]:
    """A checked preset; settings the chosen model refuses move to `unmapped` with the reason."""
    params = dict(found.params)
    if found.mode == I2I and "image_size" in params:
        size = params.pop("image_size")
        found.skip("image_size", size, "image-to-image follows the size of the input image")
    seed = found.seed
    model = MODELS[model_id]
    if found.mode not in model.modes:
        found.skip("mode", found.mode, f"{model_id} has no {found.mode} mode; imported as {T2I}")
        found.mode = T2I if T2I in model.modes else next(iter(model.modes))
        params.pop("strength", None)
    negative = found.negative_prompt if model.negative_prompt else None
    if found.negative_prompt and not model.negative_prompt:
        found.skip("negative prompt", found.negative_prompt, f"{model_id} takes no negative prompt")
    doc = {"name": _name(found, name), "description": "", "model": model_id, "mode": found.mode,
           "backend": found.backend if found.backend in (*model.backends, "auto") else "auto",
           "prompt": found.prompt, "negative_prompt": negative, "params": params, "seed": seed, "inputs": []}
    for _ in range(len(params) + 2):
        try:
            preset = parse_preset({**doc, "description": _description(found, model_id)}, check_files=False)
            return preset
        except ValidationError as err:
            if not _drop_refused(err.problems, doc, found):
                raise
    raise ValidationError([Problem("preset", doc["name"], "settings the catalog accepts")])


def _drop_refused(problems: list[Problem], doc: dict[str, Any], found: Found) -> bool:
    dropped = False
    for problem in problems:
        if problem.field.startswith("params.") and problem.field[7:] in doc["params"]:
            key = problem.field[7:]
            found.skip(key, doc["params"].pop(key), f"refused by {doc['model']}: allowed {problem.allowed}")
            dropped = True
        elif problem.field == "seed" and doc["seed"] is not None:
            found.skip("seed", doc["seed"], f"allowed {problem.allowed}; a random seed is drawn instead")
            doc["seed"], dropped = None, True
    return dropped


def _name(found: Found, name: str | None) -> str:
    if name:
        return name
    words = re.sub(r"[^\w ,-]+", " ", found.prompt).split()
    return (f"{found.tool} import: " + " ".join(words[:6]))[:60].strip() or f"{found.tool} import"


def _description(found: Found, model_id: str) -> str:
    text = f"Imported from an image made with {found.tool}"
    if found.checkpoint and found.checkpoint != model_id:
        text += f" (checkpoint {found.checkpoint})"
    text += "."
    if found.unmapped:
        text += " Not mapped: " + "; ".join(f"{k}: {v}" for k, v, _ in found.unmapped)
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


# -- small readers ---------------------------------------------------------------------------------

def _number(found: Found, fields: dict[str, Any], key: str, target: str, kind: type) -> None:
    if key not in fields:
        return
    value = fields.pop(key)
    number = _as_number(value, kind)
    if number is None:
        found.skip(key, value, f"not a {'whole ' if kind is int else ''}number")
    elif target == "seed":
        found.seed = number
        found.use(key, number, "seed")
    else:
        found.params[target] = number
        found.use(key, number, target)


def _sampler(found: Found, source: str, shown: Any, schedule: str | None,
             mapped: tuple[str | None, str | None]) -> None:
    if shown is None:
        return
    choice, left_over = mapped
    if choice is None:
        found.skip(source, shown, "a sampler the playground does not offer")
        return
    found.params["scheduler"] = choice
    found.use(source, shown, f"scheduler = {choice}")
    if left_over:
        found.skip("Schedule type", left_over, f"the playground offers {choice} only with its own schedule")


def _size(found: Found, value: Any, source: str) -> None:
    if value is None:
        return
    match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", str(value))
    if not match:
        found.skip(source, value, "not a size (WxH)")
        return
    found.params["image_size"] = {"width": int(match.group(1)), "height": int(match.group(2))}
    found.use(source, value, "image_size")


def _as_number(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if kind is int:
        return int(number) if number.is_integer() else None
    return number


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _open(source: Any) -> Any:
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, dict) and "path" in source:
        source = source["path"]
    if hasattr(source, "info") and hasattr(source, "getexif"):
        return source
    try:
        if isinstance(source, (bytes, bytearray)):
            return Image.open(io.BytesIO(bytes(source)))
        if isinstance(source, (str, os.PathLike)):
            return Image.open(Path(source))
    except FileNotFoundError:
        raise ValidationError([Problem("image", Path(str(source)).name, "an existing image file")]) from None
    except (OSError, UnidentifiedImageError):
        pass
    shown = Path(str(source)).name if isinstance(source, (str, os.PathLike)) else type(source).__name__
    raise ValidationError([Problem("image", shown, "a PNG, JPEG or WebP image")])


def save_imported(report: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """Save an import's preset among the user's presets (renamed if the name is taken)."""
    if report.get("preset") is None:
        raise ValidationError([Problem("image", "no generation settings", "an image made by AUTOMATIC1111/Forge, "
                                                                          "ComfyUI, InvokeAI or the playground")])
    return save_preset(report["preset"], name, on_conflict="rename")


__all__ = ["Found", "closest_model", "from_a1111", "from_comfy_graph", "import_image", "read_foreign",
           "save_imported", "workflow_to_graph"]
