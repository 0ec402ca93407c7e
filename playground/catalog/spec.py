"""Catalog types: a model, its modes, its routes per backend, and its prices.

A model is declared once as data (`ModelSpec`); routes say how each backend runs it: the hub
repo and pipeline class per mode for local diffusers, the endpoint per mode and the mapping from
canonical to native names and shapes for fal and Replicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from playground.params import Param

MODES: tuple[str, ...] = ("text-to-image", "image-to-image", "inpaint")
BACKENDS: tuple[str, ...] = ("local", "fal", "replicate")
# Providers bill 1024 x 1024 as one megapixel (fal: 1024² = $0.03, 1920x1080 = $0.045 on FLUX.2 pro).
MEGAPIXEL = 1024 * 1024
FAMILIES: dict[str, str] = {
    "flux2": "FLUX.2",
    "kontext": "FLUX.1 Kontext",
    "seedream": "Seedream / SeedEdit",
    "sdxl": "SDXL",
    "flux1": "FLUX.1",
}
# Inputs that travel in their own Request fields, never inside `params`.
INPUT_FIELDS: tuple[str, ...] = ("prompt", "negative_prompt", "seed", "images", "mask")


@dataclass(frozen=True)
class ModeSpec:
    """A mode the model supports and how many input images it takes."""

    id: str
    min_images: int = 0
    max_images: int = 0
    description: str = ""


@dataclass(frozen=True)
class Price:
    """What one run costs, in US dollars, as the provider states it.

    `per_image`: flat per output image. `per_megapixel`: per output megapixel (each image rounded
    up to whole megapixels), plus input megapixels when `inputs_count`. `first_megapixel` with
    `per_megapixel`: the first megapixel of each output costs this, the rest `per_megapixel`.
    """

    per_image: float | None = None
    per_megapixel: float | None = None
    first_megapixel: float | None = None
    inputs_count: bool = False
    source: str = ""

    def estimate(self, outputs: int, width: int, height: int, input_megapixels: float = 0.0) -> float:
        """Estimated dollars for `outputs` images of width x height."""
        if self.per_image is not None:
            return round(outputs * self.per_image, 6)
        out_mp = max(1, math.ceil(width * height / MEGAPIXEL))
        extra_inputs = math.ceil(input_megapixels) if self.inputs_count else 0
        per = self.per_megapixel or 0.0
        if self.first_megapixel is not None:
            each = self.first_megapixel + per * (out_mp - 1 + extra_inputs)
        else:
            each = per * (out_mp + extra_inputs)
        return round(outputs * each, 6)

    def describe(self) -> str:
        if self.per_image is not None:
            return f"${self.per_image:g} per image"
        if self.first_megapixel is not None:
            return f"${self.first_megapixel:g} first MP + ${self.per_megapixel:g} per extra MP"
        if self.per_megapixel is not None:
            extra = " (inputs count)" if self.inputs_count else ""
            return f"${self.per_megapixel:g} per MP{extra}"
        return "price unknown"


@dataclass(frozen=True)
class LocalRoute:
    """How local diffusers runs a model: the hub repo, and the pipeline class for each mode.

    `native` renames canonical parameters to `__call__` arguments where they differ;
    `call_args` are always passed (e.g. `max_sequence_length`). `schedulers` maps the `scheduler`
    parameter's choices to a diffusers scheduler class and its options ("" keeps the checkpoint's own).
    """

    repo: str
    pipelines: dict[str, str]
    dtype: str = "bfloat16"
    native: dict[str, str] = field(default_factory=dict)
    call_args: dict[str, Any] = field(default_factory=dict)
    size_multiple: int = 8
    license_note: str = ""
    schedulers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


ImageShape = Literal["single", "list"]


@dataclass(frozen=True)
class ImageField:
    """The native field that carries input images, and whether it takes one URL or a list."""

    name: str
    shape: ImageShape = "single"
    max_items: int = 1


@dataclass(frozen=True)
class HostedRoute:
    """How a hosted provider serves a model.

    `endpoints`: fal endpoint id, or Replicate `owner/name` (official model) per mode;
    `version`: a pinned Replicate version id, if any. `rename` maps canonical → native names,
    `values` maps canonical values → native values per parameter, `inverted` names booleans the
    provider expresses negated (`enable_safety_checker` → `disable_safety_checker`).
    `output`: `images` (fal list of objects), `image` (fal single object), `uri` or `uri_list`.
    `seed_field`: the native seed field, or None when the provider's schema has no seed (the route
    does not honour seeds: none is sent, and its outputs cannot be reproduced from a seed).
    `default_reasons`: canonical parameters whose default differs from the provider's on purpose,
    with the reason (the conformance check accepts those and no others).
    """

    provider: Literal["fal", "replicate"]
    endpoints: dict[str, str]
    image_fields: dict[str, ImageField] = field(default_factory=dict)
    mask_field: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[Any, Any]] = field(default_factory=dict)
    inverted: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    output: Literal["images", "image", "uri", "uri_list"] = "images"
    price: Price | None = None
    negative_prompt_field: str | None = None
    seed_field: str | None = "seed"
    default_reasons: dict[str, str] = field(default_factory=dict)
    # How the canonical `image_size` travels: fal's `image_size` (preset or {width, height}),
    # or explicit `width`/`height` integers with presets resolved to pixels.
    size_style: Literal["image_size", "width_height"] = "image_size"
    # Where a family serves adapters from other endpoints (fal's `fal-ai/flux-2/lora`): mode → endpoint used
    # when `loras` is set; and how adapters travel (see adapters.native_loras).
    lora_endpoints: dict[str, str] = field(default_factory=dict)
    lora_shape: Literal["list", "replicate_weights", "lora_weights"] = "list"
    # What a run on a LoRA endpoint costs; None where the provider publishes no price for it (the plain
    # endpoint's price is never assumed to hold for another endpoint).
    lora_price: Price | None = None

    def endpoint(self, mode: str, params: dict[str, Any] | None = None) -> str:
        """The endpoint for `mode`; the LoRA endpoint when `params` carry adapters and the route has one."""
        if params and params.get("loras") and mode in self.lora_endpoints:
            return self.lora_endpoints[mode]
        return self.endpoints[mode]

    def price_for(self, mode: str, params: dict[str, Any] | None = None) -> Price | None:
        """The price of the endpoint a request with `params` goes to (see `endpoint`)."""
        if self.endpoint(mode, params) != self.endpoints[mode]:
            return self.lora_price
        return self.price

    @property
    def honours_seed(self) -> bool:
        return self.seed_field is not None

    def native_name(self, canonical: str) -> str:
        return self.inverted.get(canonical) or self.rename.get(canonical, canonical)

    def native_value(self, canonical: str, value: Any) -> Any:
        if canonical in self.inverted:
            return not value
        table = self.values.get(canonical)
        if table is not None and _hashable(value) and value in table:
            return table[value]
        return value


Route = LocalRoute | HostedRoute


@dataclass(frozen=True)
class ModelSpec:
    """One model: who makes it, what it does, every parameter, and how each backend runs it.

    `negative_prompt` lists the backends that accept a negative prompt; `default_negative`
    gives the negative prompt used per mode when the request leaves it unset; `edit_styles`
    turns on the Modify/Copy image-to-image semantics.
    """

    id: str
    family: str
    label: str
    description: str
    modes: dict[str, ModeSpec]
    params: tuple[Param, ...]
    routes: dict[str, Route]
    negative_prompt: frozenset[str] = frozenset()
    default_negative: dict[str, str] = field(default_factory=dict)
    edit_styles: bool = False
    prompt_required: bool = True
    prompt_max: int = 2000
    feature_flag: str | None = None

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends with a route for this model: the built-in ones in their usual order, then any other."""
        return tuple(b for b in BACKENDS if b in self.routes) + tuple(b for b in self.routes if b not in BACKENDS)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def params_for(self, mode: str | None = None, backend: str | None = None) -> list[Param]:
        """The parameters this model takes in `mode` on `backend`, with backend overrides applied."""
        specs = (p.for_backend(backend, mode) for p in self.params)
        return [p for p in specs if p.applies(mode, backend)]

    def controls(self, mode: str, backend: str) -> frozenset[str]:
        """Parameters of `mode` on `backend` that are playground controls (`Param.control`): a backend
        never passes them on by name."""
        return frozenset(p.name for p in self.params_for(mode, backend) if p.control)

    def modes_on(self, backend: str) -> tuple[str, ...]:
        route = self.routes.get(backend)
        if route is None:
            return ()
        served = route.pipelines if isinstance(route, LocalRoute) else route.endpoints
        return tuple(m for m in self.modes if m in served)

    def max_images(self, mode: str, backend: str | None = None) -> int:
        """Most reference images for `mode` (on `backend`, when the backend takes fewer)."""
        limit = self.modes[mode].max_images if mode in self.modes else 0
        route = self.routes.get(backend) if backend else None
        if isinstance(route, HostedRoute) and mode in route.image_fields:
            limit = min(limit, route.image_fields[mode].max_items)
        return limit

    def price(self, backend: str) -> Price | None:
        route = self.routes.get(backend)
        return route.price if isinstance(route, HostedRoute) else None

    def summary(self) -> dict[str, Any]:
        """A short description for listings (CLI, UI picker, /models)."""
        return {
            "id": self.id,
            "family": self.family,
            "label": self.label,
            "description": self.description,
            "modes": list(self.modes),
            "backends": list(self.backends),
            "modes_by_backend": {b: list(self.modes_on(b)) for b in self.backends},
            "max_images": {m: s.max_images for m, s in self.modes.items() if s.max_images},
            "prices": {b: p.describe() for b in self.backends if (p := self.price(b))},
            "negative_prompt": sorted(self.negative_prompt),
        }

    def json_schema(self) -> dict[str, Any]:
        """JSON schema of a request for this model (canonical names), for the API and presets."""
        params = {p.name: p.json_schema() for p in self.params}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.label,
            "description": self.description,
            "type": "object",
            "x-model": self.id,
            "x-family": self.family,
            "x-backends": list(self.backends),
            "x-modes": {
                m: {"min_images": s.min_images, "max_images": s.max_images, "backends": [
                    b for b in self.backends if m in self.modes_on(b)]}
                for m, s in self.modes.items()
            },
            "properties": {
                "model": {"const": self.id},
                "mode": {"enum": list(self.modes)},
                "prompt": {"type": "string", "maxLength": self.prompt_max},
                "negative_prompt": {"type": ["string", "null"], "x-backends": sorted(self.negative_prompt)},
                "seed": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**32 - 1},
                "images": {"type": "array", "items": {"type": "string"},
                           "maxItems": max((s.max_images for s in self.modes.values()), default=0)},
                "mask": {"type": ["string", "null"]},
                "params": {"type": "object", "properties": params, "additionalProperties": False},
            },
            "required": ["model", "mode"] + (["prompt"] if self.prompt_required else []),
        }


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
