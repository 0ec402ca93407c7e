"""Request, Prepared (a validated request) and Result, plus the Modify/Copy edit semantics.

A `Request` is what a user asks for, in canonical names. `validation.validate` turns it into a
`Prepared` request for one backend (or "auto"): images decoded and de-duplicated, every
parameter filled with its default, the edit style resolved and the seed drawn. A backend turns a
`Prepared` into a `Result`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playground.catalog.spec import MEGAPIXEL, ModelSpec
from playground.images import InputImage, content_hash
from playground.params import SEED_MAX, Param, parse_size

if TYPE_CHECKING:
    from PIL import Image

MODIFY_REFERENCE_STRENGTH = 0.5
COPY_REFERENCE_STRENGTH = 0.95
COPY_GUIDANCE = 1.0
COPY_STEPS = 15
COPY_MAX_DENOISE = 0.05
# The Modify/Copy table: what each edit style sets unless the user set it (`resolve_edit_style`). A parameter
# one style sets and another does not is back at its catalog default under the other (the page's toggle).
EDIT_STYLE_DEFAULTS: dict[str, dict[str, Any]] = {
    "modify": {"reference_strength": MODIFY_REFERENCE_STRENGTH},
    "copy": {"reference_strength": COPY_REFERENCE_STRENGTH, "guidance_scale": COPY_GUIDANCE,
             "num_inference_steps": COPY_STEPS, "enable_prompt_expansion": False},
}
DEFAULT_PIXELS = (1024, 1024)
# `strength` in image-to-image, where the Modify/Copy control's reference strength is the other name.
EDIT_STRENGTH = Param("strength", "float", None, 0.0, 1.0, 0.01, label="Denoising strength",
                      description="How much to change the image (1 - reference strength); "
                                  "the alternative to reference_strength.")


@dataclass
class Request:
    """What the user asks for. `params` uses canonical names; `seed=None` draws a random seed;
    `negative_prompt=None` uses the model's default negative prompt for the mode (if it takes one)."""

    model: str
    mode: str = "text-to-image"
    prompt: str = ""
    negative_prompt: str | None = None
    images: list[Any] = field(default_factory=list)
    mask: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    backend: str = "auto"
    speed: dict[str, Any] | None = None  # local speed settings over the operator's (playground.speed)


@dataclass
class Prepared:
    """A validated request, resolved for `backend` ("auto": checked against every backend's union).

    `params` holds every canonical parameter of the mode with defaults filled in (None = not sent);
    `explicit` is what the user set; `image_map[i]` is the index in `images` of input i after
    de-duplication.
    """

    model: ModelSpec
    mode: str
    prompt: str
    negative_prompt: str
    images: list[InputImage]
    mask: InputImage | None
    params: dict[str, Any]
    explicit: dict[str, Any]
    seed: int
    seed_drawn: bool
    backend: str
    image_map: list[int] = field(default_factory=list)
    negative_prompt_given: str | None = None
    speed: dict[str, Any] | None = None

    @property
    def num_images(self) -> int:
        return int(self.params.get("num_images") or 1)

    def output_pixels(self) -> tuple[int, int]:
        """Best guess of the output width x height: the explicit size, the first input, or 1024²."""
        size = parse_size(self.params.get("image_size")) if self.params.get("image_size") else None
        pixels = size.pixels() if size else None
        if pixels:
            return pixels
        if self.images:
            return self.images[0].size
        return DEFAULT_PIXELS

    def input_megapixels(self) -> float:
        return sum(img.size[0] * img.size[1] for img in self.images) / MEGAPIXEL


@dataclass
class Result:
    """What ran and what came out. `native` is the payload as sent, in the backend's own names,
    with images shown as their sha256; `seeds[i]` reproduces `images[i]`."""

    images: list[Image.Image]
    seeds: list[int]
    backend: str
    model: str
    mode: str
    endpoint: str
    params: dict[str, Any]
    native: dict[str, Any]
    prompt: str
    negative_prompt: str
    model_version: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cost: float | None = None
    device: dict[str, str] | None = None
    input_hashes: list[str] = field(default_factory=list)
    mask_hash: str | None = None
    request_id: str | None = None
    nsfw: list[bool] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tried: list[dict[str, str]] = field(default_factory=list)
    # LoRA adapters as run: path, name, scale, and (local runs) sha256 and size of the file.
    adapters: list[dict[str, Any]] = field(default_factory=list)
    speed: dict[str, Any] | None = None  # the local speed settings the run used (playground.speed)

    def summary(self) -> dict[str, Any]:
        """Everything but the pixels, JSON-ready."""
        return {
            "model": self.model,
            "mode": self.mode,
            "backend": self.backend,
            "endpoint": self.endpoint,
            "model_version": self.model_version,
            "seeds": list(self.seeds),
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "params": dict(self.params),
            "native": dict(self.native),
            "timings": dict(self.timings),
            "cost": self.cost,
            "device": self.device,
            "input_hashes": list(self.input_hashes),
            "mask_hash": self.mask_hash,
            "output_hashes": [content_hash(img) for img in self.images],
            "request_id": self.request_id,
            "nsfw": list(self.nsfw),
            "warnings": list(self.warnings),
            "tried": list(self.tried),
            "adapters": list(self.adapters),
            "speed": self.speed,
        }


def draw_seed() -> int:
    """A fresh random seed in the range every backend accepts."""
    return secrets.randbelow(SEED_MAX + 1)


def resolve_seed(seed: Any) -> int:
    """A seed as given, or a fresh one for None, "" or -1 (ValidationError if out of range)."""
    if seed is None or seed == "" or (seed == -1 and not isinstance(seed, bool)):
        return draw_seed()
    return Param("seed", "seed").coerce(seed, "seed")


def resolve_edit_style(params: dict[str, Any], explicit: dict[str, Any]) -> dict[str, Any]:
    """Apply the Modify/Copy image-to-image semantics to filled-in params; returns a new dict.

    Modify: reference strength defaults to 0.5 and denoise `strength` = 1 - reference strength;
    an explicit `strength` (the name diffusers, A1111 and the providers use) is sent unchanged
    instead, and reference strength becomes 1 - strength.
    Copy: reference strength defaults to 0.95, guidance to 1.0, steps to 15, prompt expansion to
    off, and denoise is clamped to at most 0.05. Values the user set explicitly win, except the
    clamp.
    """
    style = params.get("edit_style")
    if style is None:
        return dict(params)
    out = dict(params)
    if style == "copy":
        for name, value in EDIT_STYLE_DEFAULTS["copy"].items():
            if name not in explicit and (name in out or name == "reference_strength"):
                out[name] = value
        out["strength"] = round(min(1.0 - out["reference_strength"], COPY_MAX_DENOISE), 6)
    elif "strength" in explicit:  # the native name (diffusers, A1111, the providers), sent as given
        out["strength"] = explicit["strength"]
        out["reference_strength"] = round(1.0 - explicit["strength"], 6)
    else:
        if "reference_strength" not in explicit:
            out["reference_strength"] = EDIT_STYLE_DEFAULTS["modify"]["reference_strength"]
        out["strength"] = round(1.0 - out["reference_strength"], 6)
    return out
