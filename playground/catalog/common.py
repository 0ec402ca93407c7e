"""Parameters shared by many models, declared once and reused by the family modules.

Each helper returns a `Param`; keyword arguments override any field, so a family can narrow a
range or change a default without restating the description.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from playground.params import SIZE_PRESETS, Param

I2I = "image-to-image"
T2I = "text-to-image"
INPAINT = "inpaint"
FAL_SIZE_PRESETS: tuple[str, ...] = tuple(SIZE_PRESETS)
EDIT_STYLES: tuple[str, ...] = ("modify", "copy")


def only(*backends: str) -> frozenset[str]:
    return frozenset(backends)


def modes(*names: str) -> frozenset[str]:
    return frozenset(names)


def _param(base: Param, overrides: dict[str, Any]) -> Param:
    return replace(base, **overrides) if overrides else base


def steps(default: int, lo: int, hi: int, **kw: Any) -> Param:
    return _param(Param("num_inference_steps", "int", default, lo, hi, 1,
                        description="Denoising steps: more is slower and usually cleaner.",
                        label="Steps"), kw)


def guidance(default: float, lo: float, hi: float, **kw: Any) -> Param:
    return _param(Param("guidance_scale", "float", default, lo, hi, 0.1,
                        description="How closely the image follows the prompt.",
                        label="Guidance scale"), kw)


def num_images(default: int = 1, hi: int = 4, **kw: Any) -> Param:
    return _param(Param("num_images", "int", default, 1, hi, 1,
                        description="Images generated per run (seeds seed, seed+1, ... locally).",
                        label="Number of images"), kw)


def image_size(default: Any, lo: int = 512, hi: int = 2048, presets: tuple[str, ...] = FAL_SIZE_PRESETS,
               **kw: Any) -> Param:
    return _param(Param("image_size", "size", default, lo, hi, 16, choices=presets,
                        description="Output size: a preset or width x height.",
                        label="Image size", control=True), kw)


def output_format(default: str, choices: tuple[str, ...] = ("jpeg", "png"), **kw: Any) -> Param:
    return _param(Param("output_format", "choice", default, choices=choices,
                        description="File format of the output images.", advanced=True,
                        label="Output format"), kw)


def safety_checker(default: bool = True, **kw: Any) -> Param:
    return _param(Param("enable_safety_checker", "bool", default,
                        description="Filter NSFW output (flagged images are returned black or refused).",
                        advanced=True, label="Safety checker"), kw)


def safety_tolerance(default: Any, choices: tuple[Any, ...], **kw: Any) -> Param:
    return _param(Param("safety_tolerance", "choice", default, choices=choices,
                        description="Moderation level: 1 is the strictest.", advanced=True,
                        label="Safety tolerance"), kw)


def sync_mode(**kw: Any) -> Param:
    return _param(Param("sync_mode", "bool", False, backends=only("fal"), advanced=True,
                        description="fal returns images inline as data URIs and keeps no request history.",
                        label="Sync mode"), kw)


def prompt_expansion(default: bool = False, **kw: Any) -> Param:
    return _param(Param("enable_prompt_expansion", "bool", default, advanced=True,
                        description="Let the provider rewrite the prompt with an LLM before generating.",
                        label="Prompt expansion"), kw)


def acceleration(default: str, **kw: Any) -> Param:
    return _param(Param("acceleration", "choice", default, choices=("none", "regular", "high"),
                        description="Speed versus quality trade-off on fal.", advanced=True,
                        label="Acceleration"), kw)


def output_quality(**kw: Any) -> Param:
    return _param(Param("output_quality", "int", 80, 0, 100, 1, backends=only("replicate"), advanced=True,
                        description="Quality of jpg/webp output (100 is best).", label="Output quality"), kw)


def go_fast(default: bool = True, **kw: Any) -> Param:
    return _param(Param("go_fast", "bool", default, backends=only("replicate"), advanced=True,
                        description="Replicate's fp8 fast path: cheaper, and not bit-reproducible.",
                        label="Go fast"), kw)


def edit_style_params(image_modes: frozenset[str] = frozenset({I2I}),
                      strength_overrides: dict[str, dict[str, Any]] | None = None) -> tuple[Param, Param]:
    """The Modify/Copy toggle and the reference strength it drives (see request.resolve_edit_style);
    `strength_overrides` narrows the reference strength per backend (e.g. where the provider's
    denoise `strength` = 1 - reference strength has a minimum above 0)."""
    return (
        Param("edit_style", "choice", "modify", choices=EDIT_STYLES, modes=image_modes, label="Edit style",
              control=True, description="Modify: change the image (denoise = 1 - reference strength). "
                          "Copy: stay as close as possible (strength 0.95, guidance 1, 15 steps, "
                          "denoise at most 0.05, no prompt additions)."),
        Param("reference_strength", "float", 0.5, 0.0, 1.0, 0.01, modes=image_modes,
              overrides=strength_overrides or {}, label="Reference strength", control=True,
              description="How much of the reference image to keep: 1 keeps it all."),
    )


# Replicate's FLUX and Kontext models spell JPEG `jpg`.
REPLICATE_JPG: dict[str, dict[Any, Any]] = {"output_format": {"jpeg": "jpg"}}

# FLUX.1 aspect ratios (Replicate cog-flux and Kontext; §3.4, §4).
FLUX_ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")


def aspect_ratio(default: Any, choices: tuple[str, ...], **kw: Any) -> Param:
    return _param(Param("aspect_ratio", "choice", default, choices=choices,
                        description="Shape of the output (width:height); match_input_image follows the input.",
                        label="Aspect ratio"), kw)


def custom_size(lo: int, hi: int, default: int | None = None, step: int = 32, **kw: Any) -> tuple[Param, Param]:
    """Replicate's `width` / `height`, used only when `aspect_ratio` (or `size`) is `custom`."""

    def side(name: str) -> Param:
        return _param(Param(name, "int", default, lo, hi, step, label=name.capitalize(),
                            description=f"Output {name} in pixels; only used when the aspect ratio is custom."), kw)

    return side("width"), side("height")


def max_sequence_length(default: int, hi: int = 512, **kw: Any) -> Param:
    return _param(Param("max_sequence_length", "int", default, 32, hi, 32, backends=only("local"), advanced=True,
                        description="Most text tokens read from the prompt (longer prompts are cut).",
                        label="Max sequence length"), kw)


def padding_mask_crop(**kw: Any) -> Param:
    return _param(Param("padding_mask_crop", "int", None, 0, 1024, 8, modes=modes(INPAINT), backends=only("local"),
                        advanced=True,
                        description="Inpaint only a crop around the mask with this margin (empty = off)."), kw)


# diffusers' `set_adapters` takes any weight; ComfyUI's LoraLoader allows -100 to 100. Locally the playground
# offers -4 to 4 (negative scales invert "slider" LoRAs) and at most 5 adapters at once.
LOCAL_LORA_SCALE: tuple[float, float] = (-4.0, 4.0)
LOCAL_MAX_LORAS = 5


def loras(**kw: Any) -> Param:
    """The canonical adapters list; backends narrow count and scale range with `overrides`."""
    lo, hi = LOCAL_LORA_SCALE
    return _param(Param("loras", "loras", None, lo, hi, 0.05, max_items=LOCAL_MAX_LORAS, label="LoRA adapters",
                        control=True,
                        description="LoRA adapters applied to the model, each {path, scale}: a Hugging Face repo id "
                                    "(owner/repo or owner/repo/file.safetensors), an https URL, or (single-user "
                                    "machines, local runs) a local file. Scale 0 switches one off."), kw)


def as_strings(name: str, choices: tuple[Any, ...]) -> dict[str, dict[Any, str]]:
    """A `HostedRoute.values` table sending integer choices as strings (fal's `safety_tolerance`)."""
    return {name: {c: str(c) for c in choices}}
