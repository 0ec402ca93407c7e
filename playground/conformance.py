"""Conformance: every hosted route in the catalog checked against the provider's published schema.

For each model, hosted backend and mode, everything the catalog would send must exist in the
provider's input schema with a compatible type; every choice must be in the provider's enum; every
range must lie inside the provider's range; every default the catalog sends must equal the
provider's unless the route says why (`HostedRoute.default_reasons`); the image field's name and
shape (one URL or a list) must match; the fields the provider requires must always be sent; and a
seed is sent exactly when the provider takes one. Each problem is one `Mismatch`.

The schema comes from a reader (by default the shipped snapshots in `catalog/schemas/`), so the
same check judges freshly downloaded schemas for `schemas refresh`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from playground.catalog import MODELS, HostedRoute, ModelSpec
from playground.catalog.snapshots import FieldSpec, InputSpec, json_type, read
from playground.params import SEED_MAX, SIZE_PRESETS, Param
from playground.request import COPY_GUIDANCE, COPY_STEPS

Reader = Callable[[str, str], InputSpec | None]
# Resolved into `strength` (and Copy's guidance/steps) before sending; checked through those.
EDIT_STYLE_PARAMS = frozenset({"edit_style", "reference_strength"})


@dataclass(frozen=True)
class Mismatch:
    """One way a catalog route disagrees with the provider's published schema."""

    model: str
    backend: str
    mode: str
    field: str
    ours: str
    theirs: str
    endpoint: str = ""

    def __str__(self) -> str:
        return f"{self.model} {self.backend} {self.mode} {self.field}: ours {self.ours}; provider {self.theirs}"


def hosted_routes(models: Iterable[ModelSpec] | None = None) -> list[tuple[ModelSpec, str, str, HostedRoute]]:
    """(model, backend, mode, route) for every hosted route of `models` (default: the whole catalog)."""
    out = []
    for model in models if models is not None else MODELS.values():
        for backend in model.backends:
            route = model.routes[backend]
            if isinstance(route, HostedRoute):
                out.extend((model, backend, mode, route) for mode in model.modes_on(backend))
    return out


def endpoints(models: Iterable[ModelSpec] | None = None) -> list[tuple[str, str]]:
    """(provider, endpoint) of every hosted endpoint the catalog uses, sorted, without repeats."""
    return sorted({(route.provider, endpoint) for _, _, mode, route in hosted_routes(models)
                   for endpoint in (route.endpoint(mode), route.lora_endpoints.get(mode)) if endpoint})


def check(models: Iterable[ModelSpec] | None = None, reader: Reader = read) -> list[Mismatch]:
    """Every mismatch between the catalog's hosted routes and the providers' schemas."""
    problems: list[Mismatch] = []
    for model, backend, mode, route in hosted_routes(models):
        problems.extend(check_route(model, backend, mode, reader(route.provider, route.endpoint(mode))))
        if mode in route.lora_endpoints:  # with adapters the request goes to another endpoint
            lora_endpoint = route.lora_endpoints[mode]
            problems.extend(check_route(model, backend, mode, reader(route.provider, lora_endpoint),
                                        endpoint=lora_endpoint))
    return problems


def check_route(model: ModelSpec, backend: str, mode: str, spec: InputSpec | None,
                endpoint: str | None = None) -> list[Mismatch]:
    """The mismatches of one route (model on backend in mode) against `spec` (None: no schema).

    `endpoint`: the route's LoRA endpoint when checking what is sent with adapters; on the plain
    endpoint of a route that has one, `loras` is not checked (it is never sent there)."""
    route = model.routes[backend]
    assert isinstance(route, HostedRoute)
    with_adapters = endpoint is not None
    endpoint = endpoint or route.endpoint(mode)
    out: list[Mismatch] = []

    def bad(field: str, ours: str, theirs: str) -> None:
        out.append(Mismatch(model.id, backend, mode, field, ours, theirs, endpoint))

    if spec is None:
        bad("endpoint", endpoint, "publishes no input schema for it (no snapshot, or no longer published)")
        return out
    fields = spec.fields
    sent: set[str] = set()

    if "prompt" in fields:
        sent.add("prompt")
    else:
        bad("prompt", "sends prompt", f"{endpoint} has no prompt field")
    _check_seed(route, fields, bad, sent)
    _check_negative(model, backend, route, fields, bad)
    _check_images(model, backend, mode, route, fields, bad, sent)

    params = model.params_for(mode, backend)
    for param in params:
        if param.name in EDIT_STYLE_PARAMS:
            continue
        if param.name == "image_size":
            _check_size(param, route, fields, bad, sent)
            continue
        if param.kind == "loras":
            if with_adapters or mode not in route.lora_endpoints:
                _check_loras(param, route, fields, bad)
            continue
        native = route.native_name(param.name)
        field = fields.get(native)
        if field is None:
            bad(f"params.{param.name}", f"sends {native}", f"{endpoint} has no field {native}")
            continue
        _check_param(param, route, field, bad)
        if param.default is not None:
            sent.add(native)
    if model.edit_styles and any(p.name == "edit_style" for p in params):
        _check_edit_style(model, params, route, fields, bad)

    for name in sorted(spec.required - sent):
        bad(name, "not always sent", "required")
    return out


def _check_seed(route: HostedRoute, fields: dict[str, FieldSpec], bad: Any, sent: set[str]) -> None:
    if route.seed_field is None:
        if "seed" in fields:
            bad("seed", "not sent (route says the provider takes no seed)", "takes seed")
        return
    field = fields.get(route.seed_field)
    if field is None:
        bad("seed", f"sends {route.seed_field}", "has no seed field: the route must say it does not honour seeds")
        return
    sent.add(route.seed_field)
    if not field.types & {"integer", "number"}:
        bad("seed", "an integer", field.allowed_text())
    elif not (field.in_range(0) and field.in_range(SEED_MAX)):
        bad("seed", f"0 to {SEED_MAX}", field.bounds_text())


def _check_negative(model: ModelSpec, backend: str, route: HostedRoute, fields: dict[str, FieldSpec],
                    bad: Any) -> None:
    name = route.negative_prompt_field
    if backend in model.negative_prompt and not name:
        bad("negative_prompt", "offered", "route names no negative prompt field")
    if name and name not in fields:
        bad("negative_prompt", f"sends {name}", f"has no field {name}")
    elif name and "string" not in fields[name].types:
        bad("negative_prompt", "text", fields[name].allowed_text())


def _check_images(model: ModelSpec, backend: str, mode: str, route: HostedRoute, fields: dict[str, FieldSpec],
                  bad: Any, sent: set[str]) -> None:
    spec = model.modes[mode]
    image = route.image_fields.get(mode)
    if spec.min_images and image is None:
        bad("images", f"{spec.min_images}+ images", "route names no image field for this mode")
    if image is not None:
        field = fields.get(image.name)
        if field is None:
            bad("images", f"sends {image.name}", f"has no field {image.name}")
        else:
            if spec.min_images:
                sent.add(image.name)
            if image.shape == "list" and "array" not in field.types:
                bad("images", f"{image.name} as a list of URLs", f"{image.name} is {field.allowed_text()}")
            if image.shape == "single" and "string" not in field.types:
                bad("images", f"{image.name} as one URL", f"{image.name} is {field.allowed_text()}")
            limit = model.max_images(mode, backend)
            if field.max_items is not None and limit > field.max_items:
                bad("images", f"up to {limit} images", f"at most {field.max_items} in {image.name}")
    if mode == "inpaint":
        if not route.mask_field:
            bad("mask", "a mask", "route names no mask field")
        elif route.mask_field not in fields:
            bad("mask", f"sends {route.mask_field}", f"has no field {route.mask_field}")
        else:
            sent.add(route.mask_field)


def _check_param(param: Param, route: HostedRoute, field: FieldSpec, bad: Any) -> None:
    name = f"params.{param.name}"
    native = route.native_name(param.name)
    label = name if native == param.name else f"{name} ({native})"
    if param.kind == "bool":
        if "boolean" not in field.types:
            bad(label, "true/false", field.allowed_text())
    elif param.kind == "text":
        if "string" not in field.types:
            bad(label, "text", field.allowed_text())
    elif param.kind == "choice":
        for choice in param.choices or ():
            value = route.native_value(param.name, choice)
            if not field.accepts_type(value):
                bad(label, f"{value!r} ({json_type(value)})", field.allowed_text())
            elif field.enum is not None and value not in field.enum:
                bad(label, repr(value), field.allowed_text())
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and not field.in_range(value):
                bad(label, repr(value), field.allowed_text())
    elif param.kind in ("int", "float"):
        wanted = "integer" if param.kind == "int" else "number"
        if wanted not in field.types and not (wanted == "integer" and "number" in field.types):
            bad(label, f"a{'n' if wanted == 'integer' else ''} {wanted}", field.allowed_text())
        else:
            lo, hi = param.min, param.max
            if lo is None and (field.minimum is not None or field.exclusive_minimum is not None):
                bad(label, "no minimum", field.bounds_text())
            elif lo is not None and not field.in_range(lo):
                bad(label, f"minimum {_num(lo)}", field.bounds_text())
            if hi is None and (field.maximum is not None or field.exclusive_maximum is not None):
                bad(label, "no maximum", field.bounds_text())
            elif hi is not None and not field.in_range(hi):
                bad(label, f"maximum {_num(hi)}", field.bounds_text())
    if param.default is not None and field.has_default and param.name not in route.default_reasons:
        ours = route.native_value(param.name, param.default)
        if not _same(ours, field.default):
            bad(f"{label} default", repr(ours), repr(field.default))


def _check_loras(param: Param, route: HostedRoute, fields: dict[str, FieldSpec], bad: Any) -> None:
    """Adapters travel as fal's `loras: [{path, scale}]`, as cog-sdxl's `replicate_weights` + `lora_scale` or as
    cog-flux's `lora_weights` + `lora_scale`: the count and scale range we allow must fit the provider's field(s)."""
    name = f"params.{param.name}"
    if route.lora_shape in ("replicate_weights", "lora_weights"):
        key = route.lora_shape
        weights, scale = fields.get(key), fields.get("lora_scale")
        if weights is None or scale is None:
            bad(name, f"sends {key} and lora_scale", "has no such fields")
            return
        if "string" not in weights.types:
            bad(f"{name} ({key})", "one URL", weights.allowed_text())
        if param.max_items != 1:
            bad(f"{name} ({key})", f"up to {param.max_items} adapters", "one adapter")
        scale_field = scale
    else:
        field = fields.get("loras")
        if field is None or "array" not in field.types:
            bad(name, "sends loras (a list)", "has no list field loras")
            return
        if field.max_items is not None and (param.max_items is None or param.max_items > field.max_items):
            bad(name, f"up to {param.max_items} adapters", f"at most {field.max_items}")
        scale_field = field.item_parts.get("scale")
        if scale_field is None or "path" not in field.item_parts:
            bad(name, "entries {path, scale}", "entries " + ", ".join(field.item_parts or {"?": None}))
            return
    for end, value in (("minimum", param.min), ("maximum", param.max)):
        if value is None or not scale_field.in_range(value):
            bad(f"{name} scale", f"{end} {_num(value)}", scale_field.bounds_text())


def _check_size(param: Param, route: HostedRoute, fields: dict[str, FieldSpec], bad: Any, sent: set[str]) -> None:
    presets = tuple(param.choices or ())
    if route.size_style == "image_size":
        field = fields.get("image_size")
        if field is None:
            bad("params.image_size", "sends image_size", "has no field image_size")
            return
        for preset in presets:
            if field.enum is None or preset not in field.enum:
                bad("params.image_size", repr(preset), field.allowed_text())
        sides = [field.parts.get("width"), field.parts.get("height")]
        if "object" not in field.types or None in sides:
            bad("params.image_size", "width x height", "no explicit {width, height} size")
        else:
            for side in sides:
                if param.min is not None and not side.in_range(param.min):
                    bad(f"params.image_size {side.name}", f"minimum {_num(param.min)}", side.bounds_text())
                if param.max is not None and not side.in_range(param.max):
                    bad(f"params.image_size {side.name}", f"maximum {_num(param.max)}", side.bounds_text())
        if param.default is not None and field.has_default and "image_size" not in route.default_reasons:
            if not _same(param.default, field.default):
                bad("params.image_size default", repr(param.default), repr(field.default))
        if param.default is not None:
            sent.add("image_size")
        return
    for side in ("width", "height"):
        field = fields.get(side)
        if field is None:
            bad("params.image_size", f"sends {side}", f"has no field {side}")
            continue
        if param.default is not None:
            sent.add(side)
        sizes = [SIZE_PRESETS[p] for p in presets if p in SIZE_PRESETS]
        values = [w if side == "width" else h for w, h in sizes]
        values += [v for v in (param.min, param.max) if v is not None]
        for value in values:
            if not field.in_range(value):
                bad(f"params.image_size {side}", _num(value), field.bounds_text())


def _check_edit_style(model: ModelSpec, params: list[Param], route: HostedRoute, fields: dict[str, FieldSpec],
                      bad: Any) -> None:
    """Modify/Copy turn reference strength into `strength` (1 - reference) and Copy sends its own
    guidance and steps: those derived values must be ones the provider takes."""
    by_name = {p.name: p for p in params}
    ref = by_name.get("reference_strength")
    native = route.native_name("strength")
    field = fields.get(native)
    if ref is not None:
        if field is None:
            bad("params.reference_strength", f"sends {native} (1 - reference strength)", f"has no field {native}")
        else:
            for value in (ref.min, ref.max):
                if value is not None and not field.in_range(round(1.0 - value, 6)):
                    bad("params.reference_strength", f"{_num(value)} (sends {native}={_num(round(1 - value, 6))})",
                        f"{native} {field.bounds_text()}")
    for name, value in (("guidance_scale", COPY_GUIDANCE), ("num_inference_steps", COPY_STEPS)):
        if name in by_name:
            copy_field = fields.get(route.native_name(name))
            if copy_field is not None and not copy_field.in_range(value):
                bad(f"params.{name}", f"{_num(value)} in Copy style", copy_field.bounds_text())


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        return float(ours) == float(theirs)
    return ours == theirs


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)
