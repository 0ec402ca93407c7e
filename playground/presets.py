"""JSON presets: the whole state of an experiment, versioned and validated against the catalog.

A preset (schema `playground.preset/1`) holds a name, a description, the model, mode, backend
preference, prompt, negative prompt, canonical parameters, seed, and the inputs it expects (role
and pixel sha256 of each image or mask, optionally a path relative to the preset). Never a key.
A preset may also carry one experiment: a comparison grid (`grid`, schema playground.grid/1) or a
drift (`drift`, schema playground.drift/1). Its own fields then hold the experiment's shared request,
so it also loads as a plain run, and its inputs are the experiment's images.

This module is the format: parse, migrate and check a preset document, write it as JSON, and turn
it into a Request, a grid, a drift or the UI's control values and back. Unversioned presets
(schema 0, the prototype's shape) are migrated on load, not rejected. Where presets are kept on
disk (list, load, save, rename, delete, import, export) is `playground.preset_store`.

Functions take and return JSON-ready values (dicts, lists, strings) so the UI and the API can call
them directly. Problems with a preset raise `ValidationError` (every problem at once, each naming
the field, the value and what is allowed).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from playground.catalog import MODELS, get_model
from playground.compare import GridSpec, grid_from_dict, grid_to_dict
from playground.drift import DriftSpec, drift_from_dict, drift_to_dict
from playground.images import Limits, load_image, load_mask
from playground.jsonable import jsonable
from playground.params import Problem, ValidationError
from playground.request import Request
from playground.storage import store_input
from playground.validation import validate

PRESET_SCHEMA = "playground.preset/1"
SCHEMA_PREFIX = "playground.preset/"
CURRENT_VERSION = 1
INPUTS_FOLDER = "inputs"
NAME_MAX = 80
DESCRIPTION_MAX = 2000
FIELDS: tuple[str, ...] = ("schema", "name", "description", "model", "mode", "backend", "prompt", "negative_prompt",
                           "params", "seed", "inputs", "grid", "drift")
# Optional fields: at most one experiment (a grid or a drift) per preset.
EXPERIMENT_FIELDS: tuple[str, ...] = ("grid", "drift")
# Added by `preset_store.load_preset` to say where a preset came from; never written to a preset file.
LOCATION_FIELD = "location"
ROLES: tuple[str, ...] = ("image", "mask")
CONTROL_FIELDS: tuple[str, ...] = ("model", "mode", "backend", "prompt", "negative_prompt", "seed")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_WINDOWS_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                               *(f"lpt{i}" for i in range(1, 10))})


# -- names ------------------------------------------------------------------------------------------

def preset_slug(name: Any) -> str:
    """The file stem for a preset name: lower case letters, digits, '.', '-' and '_'.

    Refuses (ValidationError on `name`) anything that could leave the folder or hide a file: path
    separators, '..', a leading dot, control characters, reserved device names, or nothing usable.
    """
    allowed = (f"a name of at most {NAME_MAX} characters with letters or digits, without '/', '\\', '..', "
               f"control characters or a leading '.'")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise ValidationError([Problem("name", name, allowed)])
    text = name.strip()
    if ("/" in text or "\\" in text or ".." in text or text.startswith(".")
            or any(ord(c) < 32 or ord(c) == 127 for c in text)):
        raise ValidationError([Problem("name", name, allowed)])
    slug = _UNSAFE.sub("-", text.lower()).strip("-._")
    if not slug or not re.search(r"[a-z0-9]", slug) or slug.split(".")[0] in _WINDOWS_RESERVED:
        raise ValidationError([Problem("name", name, allowed)])
    return slug


# -- the document: migrate, check, normalise -------------------------------------------------------

def parse_preset(source: Any, base_dir: Path | None = None, *, check_files: bool = True) -> dict[str, Any]:
    """A preset document (dict, JSON text or bytes) migrated to the current schema and checked.

    Checks the structure, the catalog (model, mode, backend, every parameter and its range, seed,
    prompt) and, when `check_files` and `base_dir` are given, that each input file exists and has
    its recorded sha256. Raises ValidationError listing every problem. Returns a new dict with
    exactly the fields of the current schema (a `location`, if present, is kept).
    """
    doc = as_document(source)
    location = doc.get(LOCATION_FIELD)
    problems: list[Problem] = []
    doc = migrate(doc, base_dir, problems)
    if problems:
        raise ValidationError(problems)
    preset = _check_structure(doc, problems)
    if not any(p.field in ("model", "schema") for p in problems):
        _check_catalog(preset, problems)
    if check_files and base_dir is not None:
        problems.extend(input_problems(preset, base_dir))
    if problems:
        raise ValidationError(problems)
    if isinstance(location, dict):
        preset[LOCATION_FIELD] = location
    return preset


def schema_version(doc: dict[str, Any]) -> int | None:
    """The version number of a preset document (0 when it has no `schema`), None if not a preset schema."""
    schema = doc.get("schema")
    if schema is None:
        return 0
    if isinstance(schema, str) and schema.startswith(SCHEMA_PREFIX):
        tail = schema[len(SCHEMA_PREFIX):]
        if tail.isdigit():
            return int(tail)
    return None


def migrate(doc: dict[str, Any], base_dir: Path | None = None, problems: list[Problem] | None = None) -> dict[str, Any]:
    """Bring an older preset document up to the current schema; newer or foreign schemas are problems."""
    problems = problems if problems is not None else []
    version = schema_version(doc)
    if version is None or version > CURRENT_VERSION:
        problems.append(Problem("schema", doc.get("schema"),
                                f"{PRESET_SCHEMA} (or an older playground.preset version, which is migrated)"))
        return doc
    doc = dict(doc)
    while version < CURRENT_VERSION:
        doc = MIGRATIONS[version](doc, base_dir, problems)
        version += 1
    return doc


# Parameter names the prototype (schema 0) and other tools used, and the canonical name they became.
_V0_ALIASES: dict[str, str] = {
    "steps": "num_inference_steps",
    "cfg_scale": "guidance_scale",
    "cfg": "guidance_scale",
    "guidance": "guidance_scale",
    "sampler": "scheduler",
    "batch_size": "num_images",
    "denoising_strength": "strength",
}


def _migrate_v0(doc: dict[str, Any], base_dir: Path | None, problems: list[Problem]) -> dict[str, Any]:
    """Schema 0 (no `schema` field): `model_id`, `parameters`, `backend_preference`, `negative`,
    `image_paths` / `mask_path`, A1111-style parameter names, and `width`/`height` for the size."""
    legacy = {"model_id", "parameters", "backend_preference", "negative", "image_paths", "mask_path", "title"}
    out = {k: v for k, v in doc.items() if k not in legacy}
    out["schema"] = PRESET_SCHEMA
    for old, new in (("model_id", "model"), ("parameters", "params"), ("backend_preference", "backend"),
                     ("negative", "negative_prompt")):
        if old in doc and new not in doc:
            out[new] = doc[old]
    out.setdefault("name", doc.get("title") or "Migrated preset")
    params = dict(out.get("params") or {}) if isinstance(out.get("params"), dict) else out.get("params")
    model = MODELS.get(out.get("model")) if isinstance(out.get("model"), str) else None
    if isinstance(params, dict) and model is not None:
        for old, new in _V0_ALIASES.items():
            if old in params and model.param(old) is None and new not in params:
                params[new] = params.pop(old)
        if "width" in params and "height" in params and model.param("width") is None and "image_size" not in params:
            params["image_size"] = {"width": params.pop("width"), "height": params.pop("height")}
    if params is not None:
        out["params"] = params
    inputs = list(out.get("inputs") or [])
    for i, path in enumerate(doc.get("image_paths") or []):
        inputs.append(_v0_input("image", path, base_dir, f"image_paths[{i}]", problems))
    if doc.get("mask_path"):
        inputs.append(_v0_input("mask", doc["mask_path"], base_dir, "mask_path", problems))
    if inputs:
        out["inputs"] = inputs
    return out


def _v0_input(role: str, path: Any, base_dir: Path | None, field: str, problems: list[Problem]) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": role, "path": path}
    resolved = resolve_input_path(path, base_dir) if base_dir is not None and isinstance(path, str) else None
    allowed = ("a path, relative to the preset, of an image file that exists (an unversioned preset has no "
               "sha256, so the file is needed)")
    if resolved is None or not resolved.is_file():
        problems.append(Problem(field, path, allowed))
        return entry
    try:
        entry["sha256"] = _hash_file(resolved, role)
    except (ValidationError, OSError):
        problems.append(Problem(field, path, allowed))
    return entry


MIGRATIONS: dict[int, Callable[[dict[str, Any], Path | None, list[Problem]], dict[str, Any]]] = {0: _migrate_v0}


def as_document(source: Any) -> dict[str, Any]:
    """A dict, JSON text or UTF-8 bytes as a JSON object (ValidationError on `preset` otherwise)."""
    if isinstance(source, (bytes, bytearray)):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError([Problem("preset", f"{len(source)} bytes", "UTF-8 JSON text")]) from None
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except ValueError as err:
            raise ValidationError([Problem("preset", f"malformed JSON ({err})", "a JSON object")]) from None
    if not isinstance(source, dict):
        raise ValidationError([Problem("preset", type(source).__name__, "a JSON object")])
    return source


def _check_structure(doc: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """Types and shapes of every field; returns the document with optional fields filled in."""
    for key in doc:
        if key not in FIELDS and key != LOCATION_FIELD:
            problems.append(Problem(key, doc[key], "no such preset field; fields: " + ", ".join(FIELDS)))
    preset: dict[str, Any] = {
        "schema": PRESET_SCHEMA,
        "name": doc.get("name"),
        "description": doc.get("description", ""),
        "model": doc.get("model"),
        "mode": doc.get("mode", "text-to-image"),
        "backend": doc.get("backend", "auto"),
        "prompt": doc.get("prompt", ""),
        "negative_prompt": doc.get("negative_prompt"),
        "params": doc.get("params") if doc.get("params") is not None else {},
        "seed": doc.get("seed"),
        "inputs": doc.get("inputs") if doc.get("inputs") is not None else [],
    }
    try:
        preset_slug(preset["name"])
    except ValidationError as err:
        problems.extend(err.problems)
    if not isinstance(preset["description"], str) or len(preset["description"]) > DESCRIPTION_MAX:
        problems.append(Problem("description", preset["description"], f"text of at most {DESCRIPTION_MAX} characters"))
    if not isinstance(preset["model"], str) or not preset["model"]:
        problems.append(Problem("model", preset["model"], "one of " + ", ".join(MODELS)))
    for key in ("mode", "backend", "prompt"):
        if not isinstance(preset[key], str):
            problems.append(Problem(key, preset[key], "text"))
    if preset["negative_prompt"] is not None and not isinstance(preset["negative_prompt"], str):
        problems.append(Problem("negative_prompt", preset["negative_prompt"], "text, or null for the model's default"))
    if not isinstance(preset["params"], dict):
        problems.append(Problem("params", preset["params"], "an object of parameter names to values"))
        preset["params"] = {}
    if not isinstance(preset["inputs"], list):
        problems.append(Problem("inputs", preset["inputs"], "a list of {role, sha256, path?} objects"))
        preset["inputs"] = []
    else:
        preset["inputs"] = [_check_input(i, entry, problems) for i, entry in enumerate(preset["inputs"])]
        if sum(1 for e in preset["inputs"] if e.get("role") == "mask") > 1:
            problems.append(Problem("inputs", "more than one mask", "at most one input with role 'mask'"))
    _check_experiment(doc, preset, problems)
    return preset


def _check_experiment(doc: dict[str, Any], preset: dict[str, Any], problems: list[Problem]) -> None:
    """A `grid` or `drift` (not both), checked by its own module and stored in its normal form."""
    present = [key for key in EXPERIMENT_FIELDS if doc.get(key) is not None]
    if len(present) > 1:
        problems.append(Problem("grid", "both a grid and a drift", "at most one experiment per preset"))
        return
    for key in present:
        parse, dump = (grid_from_dict, grid_to_dict) if key == "grid" else (drift_from_dict, drift_to_dict)
        try:
            preset[key] = dump(parse(doc[key]))
        except ValidationError as err:
            problems.extend(Problem(f"{key}.{p.field}", p.value, p.allowed) for p in err.problems)


def _check_input(i: int, entry: Any, problems: list[Problem]) -> dict[str, Any]:
    field = f"inputs[{i}]"
    if not isinstance(entry, dict):
        problems.append(Problem(field, entry, "an object {role, sha256, path?}"))
        return {}
    for key in entry:
        if key not in ("role", "sha256", "path"):
            problems.append(Problem(f"{field}.{key}", entry[key], "no such input field; fields: role, sha256, path"))
    role, digest, path = entry.get("role"), entry.get("sha256"), entry.get("path")
    if role not in ROLES:
        problems.append(Problem(f"{field}.role", role, "one of 'image', 'mask'"))
    if not isinstance(digest, str) or not _SHA256.match(digest):
        problems.append(Problem(f"{field}.sha256", digest, "64 lower-case hex digits (the pixel sha256 of the input)"))
    if path is not None and (not isinstance(path, str) or resolve_input_path(path, Path("/base")) is None):
        problems.append(Problem(f"{field}.path", path, "a relative path inside the preset's folder (no '..', "
                                                       "not absolute)"))
    out = {"role": role, "sha256": digest}
    if path is not None:
        out["path"] = path
    return out


def _check_catalog(preset: dict[str, Any], problems: list[Problem]) -> None:
    """Validate model, mode, backend, params, seed and prompt with the one validator, using blank
    stand-ins for the inputs (their content is checked separately, by hash)."""
    try:
        model = get_model(preset["model"])
    except ValidationError as err:
        problems.extend(err.problems)
        return
    declared = sum(1 for e in preset["inputs"] if e.get("role") == "image")
    has_mask = any(e.get("role") == "mask" for e in preset["inputs"])
    mode = model.modes.get(preset["mode"]) if isinstance(preset["mode"], str) else None
    # A settings-only preset (no inputs) stands for whatever images the user brings.
    count = declared or (mode.min_images if mode else 0)
    # Distinct stand-ins, so de-duplication does not hide how many images the preset declares.
    images = [Image.new("RGB", (64, 64), (i % 256, i // 256, 7)) for i in range(count)]
    stand_in_mask = Image.new("L", (64, 64), 255) if has_mask or (not declared and preset["mode"] == "inpaint") \
        else None
    request = Request(model=preset["model"], mode=preset["mode"], prompt=preset["prompt"],
                      negative_prompt=preset["negative_prompt"], images=images, mask=stand_in_mask,
                      params=preset["params"], seed=preset["seed"], backend=preset["backend"])
    try:
        validate(request)
    except ValidationError as err:
        problems.extend(err.problems)


def input_problems(preset: dict[str, Any], base_dir: Path) -> list[Problem]:
    """Inputs whose file is missing or whose pixels no longer match the preset's sha256."""
    problems = []
    for i, entry in enumerate(preset.get("inputs") or []):
        path = entry.get("path")
        if not path:
            continue
        resolved = resolve_input_path(path, base_dir)
        if resolved is None or not resolved.is_file():
            problems.append(Problem(f"inputs[{i}].path", path, "an image file that exists next to the preset"))
            continue
        try:
            actual = _hash_file(resolved, entry.get("role", "image"))
        except (ValidationError, OSError) as err:
            problems.append(Problem(f"inputs[{i}].path", path, f"a readable image ({_message(err)})"))
            continue
        if actual != entry.get("sha256"):
            problems.append(Problem(f"inputs[{i}].path", f"{path} with sha256 {actual[:16]}…",
                                    f"the image with sha256 {str(entry.get('sha256'))[:16]}… (the file has changed "
                                    f"since the preset was saved)"))
    return problems


def resolve_input_path(path: str, base_dir: Path) -> Path | None:
    """`path` joined to `base_dir`, or None if it is absolute or climbs out of it."""
    if not path or "\\" in path or path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return None
    parts = Path(path).parts
    if any(part in ("..", "") for part in parts):
        return None
    return base_dir / Path(*parts)


def _hash_file(path: Path, role: str) -> str:
    """The pixel sha256 of an input file, as validation would compute it (ValidationError if unreadable).
    Remembered per version of the file (its stat) and limits: every page load lists the presets, and
    decoding their inputs again each time was about a third of the server's work for a load."""
    stat = path.stat()
    return _hash_file_version(str(path), role, Limits.from_env(), (stat.st_dev, stat.st_ino, stat.st_size,
                                                                   stat.st_mtime_ns, stat.st_ctime_ns))


@functools.lru_cache(maxsize=512)
def _hash_file_version(path: str, role: str, limits: Limits, version: tuple[int, ...]) -> str:
    """`_hash_file`'s work; `version` (the file's stat) is only part of the memo's key."""
    if role == "mask":
        with Image.open(path) as img:
            size = img.size
        return load_mask(path, size, "inputs", limits).sha256
    return load_image(path, "inputs", limits).sha256


def preset_json(preset: dict[str, Any]) -> str:
    """The preset as the JSON text written to files: current-schema fields only, in schema order."""
    doc = {key: preset[key] for key in FIELDS if key in preset}
    doc["schema"] = PRESET_SCHEMA
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# -- presets and requests ---------------------------------------------------------------------------

def preset_to_request(preset: dict[str, Any], base_dir: Path | None = None, *, images: list[Any] | None = None,
                      mask: Any = None) -> Request:
    """The Request a preset describes.

    Inputs: `images` / `mask` when given (the user's own pictures); otherwise the files the preset
    names, resolved against `base_dir` (default: the folder it was loaded from). Inputs the preset
    expects but cannot supply are left out, so validation then names what is missing.
    """
    preset = parse_preset(preset, check_files=False)
    if base_dir is None:
        where = (preset.get(LOCATION_FIELD) or {}).get("path")
        base_dir = Path(where).parent if where else None
    found_images, found_mask = [], None
    for entry in preset["inputs"]:
        resolved = resolve_input_path(entry["path"], base_dir) if entry.get("path") and base_dir else None
        if resolved is None or not resolved.is_file():
            continue
        if entry["role"] == "mask":
            found_mask = str(resolved)
        else:
            found_images.append(str(resolved))
    return Request(
        model=preset["model"],
        mode=preset["mode"],
        prompt=preset["prompt"],
        negative_prompt=preset["negative_prompt"],
        images=list(images) if images is not None else found_images,
        mask=mask if mask is not None or images is not None else found_mask,
        params=dict(preset["params"]),
        seed=preset["seed"],
        backend=preset["backend"],
    )


def request_to_preset(request: Request, name: str, description: str = "", *,
                      store_inputs_in: Path | None = None, relative_to: Path | None = None) -> dict[str, Any]:
    """A preset document for `request` (validated). Input hashes are always recorded; with
    `store_inputs_in`, each input is also written there as a PNG named by its hash and the preset
    points at it with a path relative to `relative_to` (default: that folder's parent)."""
    inputs: list[dict[str, Any]] = []
    pictures = [load_image(img, f"images[{i}]") for i, img in enumerate(request.images or [])]
    stored: list[tuple[str, Any]] = [("image", p) for p in pictures]
    if request.mask is not None and pictures:
        stored.append(("mask", load_mask(request.mask, pictures[0].size)))
    for role, picture in stored:
        entry: dict[str, Any] = {"role": role, "sha256": picture.sha256}
        if store_inputs_in is not None:
            path = store_input(picture.image, picture.sha256, store_inputs_in)
            entry["path"] = path.relative_to(relative_to or store_inputs_in.parent).as_posix()
        inputs.append(entry)
    doc = {
        "schema": PRESET_SCHEMA,
        "name": name,
        "description": description,
        "model": request.model,
        "mode": request.mode,
        "backend": request.backend,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "params": json.loads(json.dumps(request.params or {}, default=jsonable)),
        "seed": request.seed,
        "inputs": inputs,
    }
    return parse_preset(doc, check_files=False)


def request_controls(request: Request) -> dict[str, Any]:
    """Flat control values for the UI: model, mode, backend, prompt, negative_prompt, seed, images,
    mask, and one entry per parameter of the model, named as in the catalog.

    Every parameter of the model gets a value (the request's, else the default for the request's
    backend and mode), so loading a preset also resets controls the preset leaves out. `seed` is
    None for "random"; sizes are canonical values (a preset name or {"width", "height"}).
    """
    model = get_model(request.model)
    backend = None if request.backend in (None, "auto") else request.backend
    values: dict[str, Any] = {
        "model": model.id, "mode": request.mode, "backend": request.backend or "auto", "prompt": request.prompt,
        "negative_prompt": request.negative_prompt, "seed": request.seed,
        "images": list(request.images or []), "mask": request.mask,
    }
    for spec in model.params:
        if spec.name in request.params:
            values[spec.name] = request.params[spec.name]
        else:
            values[spec.name] = spec.for_backend(backend, request.mode).default
    return values


def preset_controls(preset: dict[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    """`request_controls` for a preset, plus its name, description and the inputs it expects."""
    preset = parse_preset(preset, check_files=False)
    values = request_controls(preset_to_request(preset, base_dir))
    values["preset_name"] = preset["name"]
    values["preset_description"] = preset["description"]
    values["expected_inputs"] = [dict(e) for e in preset["inputs"]]
    return values


# -- experiments: grids and drifts ------------------------------------------------------------------

def preset_kind(preset: dict[str, Any]) -> str:
    """"grid" or "drift" for a preset that carries that experiment, else "run"."""
    return next((key for key in EXPERIMENT_FIELDS if preset.get(key) is not None), "run")


def preset_grid(preset: dict[str, Any], base_dir: Path | None = None) -> GridSpec:
    """The `GridSpec` a grid preset holds, its images and mask taken from the preset's inputs."""
    preset, request = _experiment_request(preset, "grid", base_dir)
    grid = grid_from_dict(preset["grid"])
    grid.images, grid.mask = list(request.images), request.mask
    return grid


def preset_drift(preset: dict[str, Any], base_dir: Path | None = None) -> DriftSpec:
    """The `DriftSpec` a drift preset holds; its start image is the preset's image input, if any."""
    preset, request = _experiment_request(preset, "drift", base_dir)
    drift = drift_from_dict(preset["drift"])
    drift.start_image = request.images[0] if request.images else None
    return drift


def _experiment_request(preset: dict[str, Any], key: str, base_dir: Path | None) -> tuple[dict[str, Any], Request]:
    location = preset.get(LOCATION_FIELD) if isinstance(preset, dict) else None
    checked = parse_preset(preset, check_files=False)
    if checked.get(key) is None:
        what = "Compare" if key == "grid" else "Drift"
        raise ValidationError([Problem(key, checked.get("name"), f"a preset saved from the {what} tab (one that "
                                                                  f"holds a {key})")])
    if base_dir is None and isinstance(location, dict) and location.get("path"):
        base_dir = Path(location["path"]).parent
    return checked, preset_to_request(checked, base_dir)


def grid_request(grid: GridSpec) -> Request:
    """A grid's shared request on its first model, with only the shared parameters that model takes."""
    model_id, backend = grid.model, grid.backend or "auto"
    axis = next((a for a in grid.axes if a.kind == "model"), None)
    if axis is not None:
        values = axis.values.replace("\n", ",").split(",") if isinstance(axis.values, str) else axis.values
        first = values[0] if values else ""
        if isinstance(first, dict):
            model_id, backend = first.get("model", ""), first.get("backend") or "auto"
        else:
            model_id, _, backend = str(first).strip().partition("@")
            backend = backend or "auto"
    request = Request(model=model_id, mode=grid.mode, prompt=grid.prompt, negative_prompt=grid.negative_prompt,
                      images=list(grid.images or []), mask=grid.mask, params=dict(grid.params or {}), seed=grid.seed,
                      backend=backend)
    try:
        validate(request)
    except ValidationError as err:  # shared parameters the first model does not take are left out
        refused = {p.field.partition(".")[2] for p in err.problems if p.field.startswith("params.")}
        request.params = {k: v for k, v in request.params.items() if k not in refused}
    return request


def drift_request(drift: DriftSpec) -> Request:
    """A drift's first run: its genesis, or for a start image the first chain's edit of it."""
    if drift.start_image is None and drift.genesis_model:
        return Request(model=drift.genesis_model, mode="text-to-image", prompt=drift.prompt,
                       params=dict(drift.genesis_params), seed=drift.genesis_seed, backend=drift.genesis_backend)
    chain = drift.chains[0] if drift.chains else None
    if chain is None:
        raise ValidationError([Problem("drift.chains", [], "at least one chain (an edit model to apply)")])
    return Request(model=chain.model, mode="image-to-image", prompt=chain.instruction,
                   images=[drift.start_image] if drift.start_image is not None else [], params=dict(chain.params),
                   seed=chain.seed, backend=chain.backend)


def _message(err: Exception) -> str:
    return err.describe() if isinstance(err, ValidationError) else str(err)


__all__ = [
    "CONTROL_FIELDS", "FIELDS", "INPUTS_FOLDER", "LOCATION_FIELD", "NAME_MAX", "PRESET_SCHEMA", "as_document",
    "drift_request", "grid_request", "input_problems", "migrate", "parse_preset", "preset_controls", "preset_drift",
    "preset_grid", "preset_json", "preset_kind", "preset_slug", "preset_to_request", "request_controls",
    "request_to_preset", "resolve_input_path", "schema_version",
]
