"""The catalog against the research notes: every parameter shared/reference/model-parameters.md lists.

`ROWS` is a transcription of the reference's tables (§2-§6) for the FLUX.2, Kontext, Seedream/SeedEdit,
FLUX.1 [schnell] and SDXL base routes: model, backend, native name (canonical `image_size` for sizes),
default, range or choices, and the modes a row covers. `...` means the reference does not say; it is
not checked. The tests read the catalog only through `ModelSpec.params_for(mode, backend)` and the
route's native names and values, the way the backends do.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any

import pytest

from playground.catalog import BACKENDS, MODELS, MODES, HostedRoute, ImageField, LocalRoute, ModelSpec
from playground.params import INPUT_KINDS, Param, parse_size

T2I, I2I, INPAINT = "text-to-image", "image-to-image", "inpaint"
U: Any = ...  # the reference does not say
PRESETS = ("square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9")
FLUX1_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
FLUX_FAMILIES = ("flux2", "kontext", "flux1")
CHECKED = (
    "flux-2-dev", "flux-2-pro", "flux-2-flex", "flux-2-max", "flux-2-klein-4b", "flux-2-klein-9b",
    "flux-kontext-dev", "flux-kontext-pro", "flux-kontext-max",
    "seedream-3", "seedream-4", "seedream-4.5", "seededit-3", "flux-schnell", "sdxl-base",
)


@dataclass(frozen=True)
class Ref:
    model: str
    backend: str
    name: str
    default: Any = U
    lo: Any = U
    hi: Any = U
    choices: Any = U
    includes: tuple[Any, ...] = ()
    modes: tuple[str, ...] | None = None  # None: every mode the route serves
    source: str = ""
    # The provider applies this default itself: the catalog leaves the parameter unset (None) because the
    # default differs per mode and a Param has one default.
    deferred: bool = False

    def __str__(self) -> str:
        scope = "+".join(self.modes) if self.modes else "all"
        return f"{self.model}/{self.backend}/{self.name}/{scope}"


def r(model: str, backend: str, name: str, default: Any = U, lo: Any = U, hi: Any = U, choices: Any = U,
      *, includes: tuple[Any, ...] = (), modes: tuple[str, ...] | None = None, source: str = "",
      deferred: bool = False) -> Ref:
    return Ref(model, backend, name, default, lo, hi, choices, includes, modes, source, deferred)


def _flux2_rows() -> list[Ref]:
    rows = [
        # §2.1 fal-ai/flux-2, §2.2 fal-ai/flux-2/edit (ranges assumed as 2.1).
        r("flux-2-dev", "fal", "guidance_scale", 2.5, 0, 20),
        r("flux-2-dev", "fal", "num_inference_steps", 28, 4, 50),
        r("flux-2-dev", "fal", "image_size", "landscape_4_3", 512, 2048, PRESETS, modes=(T2I,), deferred=True),
        r("flux-2-dev", "fal", "image_size", None, 512, 2048, PRESETS, modes=(I2I,)),
        r("flux-2-dev", "fal", "num_images", 1, 1, 4),
        r("flux-2-dev", "fal", "acceleration", "regular", choices=("none", "regular", "high")),
        r("flux-2-dev", "fal", "enable_prompt_expansion", False),
        r("flux-2-dev", "fal", "sync_mode", False),
        r("flux-2-dev", "fal", "enable_safety_checker", True),
        r("flux-2-dev", "fal", "output_format", "png", choices=("jpeg", "png", "webp")),
        # §2.7 Replicate black-forest-labs/flux-2-dev.
        r("flux-2-dev", "replicate", "go_fast", True),
        r("flux-2-dev", "replicate", "aspect_ratio", "1:1", includes=("match_input_image", "custom", "1:1")),
        r("flux-2-dev", "replicate", "width", U, 256, 1440),
        r("flux-2-dev", "replicate", "height", U, 256, 1440),
        r("flux-2-dev", "replicate", "output_format", "webp", choices=("webp", "jpg", "png")),
        r("flux-2-dev", "replicate", "output_quality", 80, 0, 100),
        r("flux-2-dev", "replicate", "disable_safety_checker", False),
        # §2.8 Flux2Pipeline: height/width None -> 1024 (follow the last reference when editing).
        r("flux-2-dev", "local", "image_size", (1024, 1024), modes=(T2I,)),
        r("flux-2-dev", "local", "image_size", modes=(I2I,), source="follows the input unless a size is given"),
        r("flux-2-dev", "local", "num_inference_steps", 50),
        r("flux-2-dev", "local", "guidance_scale", 4.0),
        r("flux-2-dev", "local", "num_images_per_prompt", 1),
        r("flux-2-dev", "local", "max_sequence_length", 512),
        r("flux-2-dev", "local", "caption_upsample_temperature", None),
    ]
    for model in ("flux-2-pro", "flux-2-flex", "flux-2-max"):
        rows += [
            # §2.3-2.5: fal pro, flex and max share these fields.
            # One size for both modes: `auto` (edit only) is offered in text-to-image too.
            r(model, "fal", "image_size", "landscape_4_3", includes=PRESETS, modes=(T2I,), deferred=True),
            r(model, "fal", "image_size", "auto", choices=(*PRESETS, "auto"), modes=(I2I,), deferred=True),
            r(model, "fal", "safety_tolerance", "2", choices=("1", "2", "3", "4", "5")),
            r(model, "fal", "enable_safety_checker", True),
            r(model, "fal", "output_format", "jpeg", choices=("jpeg", "png")),
            r(model, "fal", "sync_mode", False),
            # §2.7: Replicate flex and max have flux-2-pro's fields.
            r(model, "replicate", "aspect_ratio", "1:1", includes=("match_input_image", "custom", "1:1")),
            r(model, "replicate", "resolution", "1 MP", includes=("0.5 MP", "1 MP", "4 MP", "match_input_image")),
            r(model, "replicate", "width", U, 256, 2048),
            r(model, "replicate", "height", U, 256, 2048),
            r(model, "replicate", "safety_tolerance", 2, choices=(1, 2, 3, 4, 5)),
            r(model, "replicate", "output_format", "webp", choices=("webp", "jpg", "png")),
            r(model, "replicate", "output_quality", 80, 0, 100),
        ]
    rows += [
        r("flux-2-flex", "fal", "guidance_scale", 3.5, 1.5, 10),
        r("flux-2-flex", "fal", "num_inference_steps", 28, 2, 50),
        # fal's newest published schema dropped enable_prompt_expansion (catalog/schemas, issue 9).
        r("flux-2-flex", "replicate", "prompt_upsampling", True, source="provider schema snapshot"),
        r("flux-2-flex", "replicate", "steps", 30, 1, 50, source="provider schema snapshot"),
        r("flux-2-flex", "replicate", "guidance", 4.5, 1.5, 10, source="provider schema snapshot"),
    ]
    for model in ("flux-2-klein-4b", "flux-2-klein-9b"):
        rows += [
            # §2.6 fal klein (4b t2i "presumably as 9b").
            r(model, "fal", "num_inference_steps", 4, 4, 8),
            r(model, "fal", "image_size", "landscape_4_3", modes=(T2I,), deferred=True),
            r(model, "fal", "image_size", None, modes=(I2I,)),
            r(model, "fal", "output_format", "png", choices=("jpeg", "png", "webp")),
            r(model, "fal", "num_images", 1, 1, 4),
            r(model, "fal", "enable_safety_checker", True),
            r(model, "fal", "sync_mode", False),
            # §2.9 Flux2KleinPipeline / Flux2KleinInpaintPipeline; "use ~4 steps with distilled".
            r(model, "local", "image_size", (1024, 1024), modes=(T2I,)),
            r(model, "local", "image_size", modes=(I2I,), source="follows the input unless a size is given"),
            r(model, "local", "num_inference_steps", 4),
            r(model, "local", "num_images_per_prompt", 1),
            r(model, "local", "max_sequence_length", 512),
            r(model, "local", "strength", 0.8, modes=(INPAINT,)),
            r(model, "local", "padding_mask_crop", None, modes=(INPAINT,)),
        ]
    return rows


def _kontext_rows() -> list[Ref]:
    rows = [
        # §3.1 fal-ai/flux-kontext/dev.
        r("flux-kontext-dev", "fal", "num_inference_steps", 28, 10, 50),
        r("flux-kontext-dev", "fal", "guidance_scale", 2.5, 1, 20),
        r("flux-kontext-dev", "fal", "sync_mode", False),
        r("flux-kontext-dev", "fal", "num_images", 1, 1, 4),
        r("flux-kontext-dev", "fal", "enable_safety_checker", True),
        r("flux-kontext-dev", "fal", "output_format", "jpeg", choices=("jpeg", "png")),
        r("flux-kontext-dev", "fal", "acceleration", "none", choices=("none", "regular", "high")),
        r("flux-kontext-dev", "fal", "resolution_mode", "match_input", choices=("auto", "match_input", *FLUX1_RATIOS)),
        # fal's newest published schema for flux-kontext/dev has no enhance_prompt (issue 9).
        # §3.4 Replicate flux-kontext-dev (cog source).
        r("flux-kontext-dev", "replicate", "aspect_ratio", "match_input_image",
          choices=(*FLUX1_RATIOS, "match_input_image")),
        r("flux-kontext-dev", "replicate", "num_inference_steps", 28, 4, 50),
        r("flux-kontext-dev", "replicate", "guidance", 2.5, 0, 10),
        r("flux-kontext-dev", "replicate", "output_format", "webp", choices=("webp", "jpg", "png")),
        r("flux-kontext-dev", "replicate", "output_quality", 80, 0, 100),
        r("flux-kontext-dev", "replicate", "disable_safety_checker", False),
        r("flux-kontext-dev", "replicate", "go_fast", True),
        # §3.5 FluxKontextPipeline / FluxKontextInpaintPipeline.
        r("flux-kontext-dev", "local", "image_size", None),
        r("flux-kontext-dev", "local", "true_cfg_scale", 1.0),
        r("flux-kontext-dev", "local", "num_inference_steps", 28),
        r("flux-kontext-dev", "local", "guidance_scale", 3.5),
        r("flux-kontext-dev", "local", "num_images_per_prompt", 1),
        r("flux-kontext-dev", "local", "max_sequence_length", 512),
        r("flux-kontext-dev", "local", "max_area", 1024 * 1024),
        r("flux-kontext-dev", "local", "_auto_resize", True),
        r("flux-kontext-dev", "local", "strength", 1.0, modes=(INPAINT,)),
        r("flux-kontext-dev", "local", "padding_mask_crop", None, modes=(INPAINT,)),
    ]
    fal_ratios = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
    replicate_ratios = ("match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4",
                        "21:9", "9:21", "2:1", "1:2")
    for model in ("flux-kontext-pro", "flux-kontext-max"):
        rows += [
            # §3.2 (edit) and §3.3 (text-to-image) fal.
            r(model, "fal", "guidance_scale", 3.5, 1, 20),
            r(model, "fal", "sync_mode", False),
            r(model, "fal", "num_images", 1, 1, 4),
            r(model, "fal", "output_format", "jpeg", choices=("jpeg", "png")),
            r(model, "fal", "safety_tolerance", "2", choices=("1", "2", "3", "4", "5", "6")),
            r(model, "fal", "enhance_prompt", False),
            r(model, "fal", "aspect_ratio", None, choices=fal_ratios, modes=(I2I,)),
            r(model, "fal", "aspect_ratio", "1:1", choices=fal_ratios, modes=(T2I,), deferred=True),
            # §3.4 Replicate pro / max.
            r(model, "replicate", "aspect_ratio", "match_input_image", choices=replicate_ratios),
            r(model, "replicate", "prompt_upsampling", False),
            r(model, "replicate", "output_format", "png", choices=("jpg", "png")),
            r(model, "replicate", "safety_tolerance", 2, choices=(0, 1, 2, 3, 4, 5, 6), modes=(T2I,)),
            r(model, "replicate", "safety_tolerance", 2, choices=(0, 1, 2), modes=(I2I,)),
        ]
    return rows


def _flux1_rows() -> list[Ref]:
    return [
        # §4 Replicate black-forest-labs/flux-schnell.
        r("flux-schnell", "replicate", "aspect_ratio", "1:1", choices=FLUX1_RATIOS),
        r("flux-schnell", "replicate", "num_outputs", 1, 1, 4),
        r("flux-schnell", "replicate", "num_inference_steps", 4, 1, 4),
        r("flux-schnell", "replicate", "output_format", "webp", choices=("webp", "jpg", "png")),
        r("flux-schnell", "replicate", "output_quality", 80, 0, 100),
        r("flux-schnell", "replicate", "disable_safety_checker", False),
        r("flux-schnell", "replicate", "go_fast", True),
        r("flux-schnell", "replicate", "megapixels", "1", choices=("1", "0.25")),
        # Local FluxPipeline is not in the reference: diffusers' signature (1024 px) and schnell's practice
        # (4 steps, T5 prompt cut at 256 tokens), as the catalog brief states.
        r("flux-schnell", "local", "image_size", (1024, 1024), source="diffusers FluxPipeline"),
        r("flux-schnell", "local", "num_inference_steps", 4, source="FLUX.1-schnell"),
        r("flux-schnell", "local", "num_images_per_prompt", 1, source="diffusers FluxPipeline"),
        r("flux-schnell", "local", "max_sequence_length", 256, source="FLUX.1-schnell"),
    ]


def _seedream_rows() -> list[Ref]:
    seedream_ratios = ("1:1", "3:4", "4:3", "16:9", "9:16", "2:3", "3:2", "21:9")
    rows = [
        # §5.3 (parenthetical) fal seedream v3; sync_mode is on every fal endpoint (§1.3).
        r("seedream-3", "fal", "guidance_scale", 2.5),
        r("seedream-3", "fal", "image_size", U, 512, 2048),
        r("seedream-3", "fal", "num_images"),
        r("seedream-3", "fal", "sync_mode", False),
        # §5.5 Replicate bytedance/seedream-3.
        r("seedream-3", "replicate", "aspect_ratio", "16:9", choices=(*seedream_ratios, "custom")),
        r("seedream-3", "replicate", "size", "regular", choices=("small", "regular", "big")),
        r("seedream-3", "replicate", "width", 2048, 512, 2048),
        r("seedream-3", "replicate", "height", 2048, 512, 2048),
        r("seedream-3", "replicate", "guidance_scale", 2.5, 1, 10),
        # §5.4 fal seededit v3, §5.5 Replicate bytedance/seededit-3.0.
        r("seededit-3", "fal", "guidance_scale", 0.5, 0, 1),
        r("seededit-3", "fal", "sync_mode", False),
        r("seededit-3", "fal", "enable_safety_checker", True),
        r("seededit-3", "replicate", "guidance_scale", 5.5, 1, 10),
        # §5.1-5.3 fal seedream v4 / v4.5 and §5.5 Replicate seedream-4 / -4.5.
        r("seedream-4", "fal", "image_size", {"width": 2048, "height": 2048},
          choices=(*PRESETS, "auto", "auto_2K", "auto_4K")),
        r("seedream-4", "fal", "enhance_prompt_mode", "standard", choices=("standard", "fast")),
        r("seedream-4", "fal", "enable_safety_checker", True),
        r("seedream-4", "replicate", "size", "2K", choices=("1K", "2K", "4K", "custom")),
        r("seedream-4", "replicate", "enhance_prompt", U, source="? probably true"),
        r("seedream-4.5", "fal", "image_size", {"width": 2048, "height": 2048},
          choices=(*PRESETS, "auto_2K", "auto_4K")),
        r("seedream-4.5", "fal", "enable_safety_checker", True, source="as 5.1"),
        # Replicate's newest published 4.5 schema: 2K / 4K, no custom width/height (issue 9).
        r("seedream-4.5", "replicate", "size", "2K", choices=("2K", "4K")),
        r("seedream-4.5", "replicate", "disable_safety_checker"),
    ]
    for model in ("seedream-4", "seedream-4.5"):
        rows += [
            r(model, "fal", "num_images", 1, 1, 6),
            r(model, "fal", "max_images", 1, 1, 6),
            r(model, "fal", "sync_mode", False),
            r(model, "replicate", "aspect_ratio", "match_input_image", includes=("match_input_image",)),
            *([r(model, "replicate", "width", U, 1024, 4096), r(model, "replicate", "height", U, 1024, 4096)]
              if model == "seedream-4" else []),  # 4.5's published schema has no custom size (issue 9)
            r(model, "replicate", "sequential_image_generation", "disabled", choices=("disabled", "auto")),
            r(model, "replicate", "max_images", 1, 1, 15),
        ]
    return rows


def _sdxl_rows() -> list[Ref]:
    schedulers = ("DDIM", "DPMSolverMultistep", "HeunDiscrete", "KarrasDPM", "K_EULER_ANCESTRAL", "K_EULER", "PNDM")
    m = "sdxl-base"
    return [
        # §6.1 fal-ai/fast-sdxl (+ /image-to-image, /inpainting).
        r(m, "fal", "image_size", "square_hd", choices=PRESETS, modes=(T2I, INPAINT)),
        r(m, "fal", "image_size", "square", choices=PRESETS, modes=(I2I,), source="provider schema snapshot"),
        r(m, "fal", "num_inference_steps", 25),
        r(m, "fal", "guidance_scale", 7.5),
        r(m, "fal", "num_images", 1),
        r(m, "fal", "enable_safety_checker", True),
        r(m, "fal", "safety_checker_version", "v1", choices=("v1", "v2")),
        r(m, "fal", "expand_prompt", False),
        r(m, "fal", "format", "jpeg", choices=("jpeg", "png")),
        r(m, "fal", "sync_mode", False),
        r(m, "fal", "preserve_aspect_ratio", modes=(I2I,)),
        r(m, "fal", "crop_output", modes=(I2I,)),
        r(m, "fal", "strength", 0.95, modes=(INPAINT,)),
        # §6.2 Replicate stability-ai/sdxl (cog-sdxl).
        r(m, "replicate", "image_size", (1024, 1024)),
        r(m, "replicate", "num_outputs", 1, 1, 4),
        r(m, "replicate", "scheduler", "K_EULER", choices=schedulers),
        r(m, "replicate", "num_inference_steps", 50, 1, 500),
        r(m, "replicate", "guidance_scale", 7.5, 1, 50),
        r(m, "replicate", "prompt_strength", 0.8, 0, 1, modes=(INPAINT,)),
        r(m, "replicate", "refine", "no_refiner",
          choices=("no_refiner", "expert_ensemble_refiner", "base_image_refiner")),
        r(m, "replicate", "high_noise_frac", 0.8, 0, 1),
        r(m, "replicate", "refine_steps", None),
        r(m, "replicate", "apply_watermark", True),
        # cog-sdxl's `replicate_weights` + `lora_scale` (0-1) travel as the canonical `loras` (one adapter).
        r(m, "replicate", "loras", None, 0, 1),
        r(m, "replicate", "disable_safety_checker", False),
        # §6.3 diffusers StableDiffusionXL{,Img2Img,Inpaint}Pipeline.
        r(m, "local", "image_size", (1024, 1024), modes=(T2I, INPAINT)),
        r(m, "local", "num_inference_steps", 50),
        r(m, "local", "guidance_scale", 5.0, modes=(T2I, I2I)),
        r(m, "local", "guidance_scale", 7.5, modes=(INPAINT,)),
        r(m, "local", "num_images_per_prompt", 1),
        r(m, "local", "eta", 0.0),
        r(m, "local", "guidance_rescale", 0.0),
        r(m, "local", "clip_skip", None),
        r(m, "local", "strength", 0.9999, modes=(INPAINT,)),
        r(m, "local", "aesthetic_score", 6.0, modes=(I2I, INPAINT)),
        r(m, "local", "negative_aesthetic_score", 2.5, modes=(I2I, INPAINT)),
        r(m, "local", "padding_mask_crop", None, modes=(INPAINT,)),
        r(m, "local", "scheduler", includes=("Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DDIM", "PNDM",
                                             "UniPC", "DEIS", "Heun", "LMS", "DPM2", "DPM2 a")),
    ]


def _lora_rows() -> list[Ref]:
    """Adapters (issue 15): fal fast-sdxl `loras` scale 0-1 (§6.1), fal FLUX.2 LoRA endpoints scale 0-4 (§2.2);
    diffusers states no range, so locally every LoRA-capable pipeline gets the playground's -4 to 4. The fal
    [klein] and Kontext [dev] LoRA endpoints (0-4) and Replicate's flux-schnell-lora (`lora_scale` -1 to 3) are
    not in the reference; their snapshots in catalog/schemas/ are the source."""
    local = [r(m, "local", "loras", None, -4, 4) for m in ("flux-2-dev", "flux-2-klein-4b", "flux-2-klein-9b",
                                                          "flux-kontext-dev", "flux-schnell", "sdxl-base")]
    snapshots = [r("flux-2-klein-4b", "fal", "loras", None, 0, 4), r("flux-2-klein-9b", "fal", "loras", None, 0, 4),
                 r("flux-kontext-dev", "fal", "loras", None, 0, 4, modes=(I2I,)),
                 r("flux-schnell", "replicate", "loras", None, -1, 3)]
    return [*local, *snapshots, r("sdxl-base", "fal", "loras", None, 0, 1), r("flux-2-dev", "fal", "loras", None, 0, 4)]


ROWS: list[Ref] = [*_flux2_rows(), *_kontext_rows(), *_flux1_rows(), *_seedream_rows(), *_sdxl_rows(),
                   *_lora_rows()]

# Rows the catalog knowingly disagrees with: (row id) -> why. Reported, not fixed here (sdxl.py is not ours).
KNOWN_GAPS: dict[str, str] = {}

# Reference parameters the catalog deliberately leaves out: (model, backend) -> {native name: why}.
OMITTED: dict[tuple[str, str], dict[str, str]] = {
    ("flux-2-klein-4b", "local"): {"guidance_scale": "ignored by the distilled checkpoint"},
    ("flux-2-klein-9b", "local"): {"guidance_scale": "ignored by the distilled checkpoint"},
    ("sdxl-base", "fal"): {"embeddings": "no textual inversions yet",
                           "request_id": "echo id, not a generation setting"},
    ("sdxl-base", "local"): {"prompt_2": "one prompt per request", "negative_prompt_2": "one prompt per request",
                             "denoising_end": "no base->refiner hand-off", "original_size": "micro-conditioning",
                             "target_size": "micro-conditioning"},
    ("flux-kontext-dev", "local"): {"prompt_2": "one prompt per request", "negative_prompt_2": "one prompt",
                                    "image_reference": "one input image per mode"},
    ("flux-2-dev", "local"): {"text_encoder_out_layers": "model internals", "sigmas": "custom schedules"},
}

# Reference parameters the app derives from its own Modify/Copy controls (request.resolve_edit_style).
DERIVED: dict[tuple[str, str, str], str] = {
    ("sdxl-base", "fal", "strength"): "reference_strength",
    ("sdxl-base", "replicate", "prompt_strength"): "reference_strength",
    ("sdxl-base", "local", "strength"): "reference_strength",
}
APP_PARAMS = frozenset({"edit_style", "reference_strength"})

IMAGE_FIELDS: list[tuple[str, str, str, str, str, Any]] = [
    # model, backend, mode, native field, shape, max items (U: not stated)
    ("flux-2-dev", "fal", I2I, "image_urls", "list", 4),
    ("flux-2-dev", "replicate", I2I, "input_images", "list", 4),
    ("flux-2-pro", "fal", I2I, "image_urls", "list", U),
    ("flux-2-pro", "replicate", I2I, "input_images", "list", 8),
    ("flux-2-flex", "fal", I2I, "image_urls", "list", U),
    ("flux-2-flex", "replicate", I2I, "input_images", "list", 10),
    ("flux-2-max", "fal", I2I, "image_urls", "list", U),
    ("flux-2-max", "replicate", I2I, "input_images", "list", 8),
    ("flux-2-klein-4b", "fal", I2I, "image_urls", "list", 4),
    ("flux-2-klein-9b", "fal", I2I, "image_urls", "list", 4),
    ("flux-kontext-dev", "fal", I2I, "image_url", "single", 1),
    ("flux-kontext-dev", "replicate", I2I, "input_image", "single", 1),
    ("flux-kontext-pro", "fal", I2I, "image_url", "single", 1),
    ("flux-kontext-pro", "replicate", I2I, "input_image", "single", 1),
    ("flux-kontext-max", "fal", I2I, "image_url", "single", 1),
    ("flux-kontext-max", "replicate", I2I, "input_image", "single", 1),
    ("seedream-4", "fal", I2I, "image_urls", "list", 10),
    ("seedream-4", "replicate", I2I, "image_input", "list", 10),
    ("seedream-4.5", "fal", I2I, "image_urls", "list", 10),
    ("seedream-4.5", "replicate", I2I, "image_input", "list", 10),  # 14 on Replicate; the app caps at 10
    ("seededit-3", "fal", I2I, "image_url", "single", 1),
    ("seededit-3", "replicate", I2I, "image", "single", 1),
    ("sdxl-base", "fal", I2I, "image_url", "single", 1),
    ("sdxl-base", "fal", INPAINT, "image_url", "single", 1),
    ("sdxl-base", "replicate", I2I, "image", "single", 1),
    ("sdxl-base", "replicate", INPAINT, "image", "single", 1),
]
MASK_FIELDS = {("sdxl-base", "fal"): "mask_url", ("sdxl-base", "replicate"): "mask"}
NEGATIVE_PROMPT = {"sdxl-base": {"local", "fal", "replicate"}, "flux-kontext-dev": {"local"}}

_FAL_SEEDREAM = "fal-ai/bytedance/seedream"
ENDPOINTS: dict[tuple[str, str], dict[str, str]] = {
    ("flux-2-dev", "fal"): {T2I: "fal-ai/flux-2", I2I: "fal-ai/flux-2/edit"},
    ("flux-2-pro", "fal"): {T2I: "fal-ai/flux-2-pro", I2I: "fal-ai/flux-2-pro/edit"},
    ("flux-2-flex", "fal"): {T2I: "fal-ai/flux-2-flex", I2I: "fal-ai/flux-2-flex/edit"},
    ("flux-2-max", "fal"): {T2I: "fal-ai/flux-2-max", I2I: "fal-ai/flux-2-max/edit"},
    ("flux-2-klein-4b", "fal"): {T2I: "fal-ai/flux-2/klein/4b", I2I: "fal-ai/flux-2/klein/4b/edit"},
    ("flux-2-klein-9b", "fal"): {T2I: "fal-ai/flux-2/klein/9b", I2I: "fal-ai/flux-2/klein/9b/edit"},
    ("flux-kontext-dev", "fal"): {I2I: "fal-ai/flux-kontext/dev"},
    ("flux-kontext-pro", "fal"): {T2I: "fal-ai/flux-pro/kontext/text-to-image", I2I: "fal-ai/flux-pro/kontext"},
    ("flux-kontext-max", "fal"): {T2I: "fal-ai/flux-pro/kontext/max/text-to-image",
                                  I2I: "fal-ai/flux-pro/kontext/max"},
    ("seedream-3", "fal"): {T2I: f"{_FAL_SEEDREAM}/v3/text-to-image"},
    ("seedream-4", "fal"): {T2I: f"{_FAL_SEEDREAM}/v4/text-to-image", I2I: f"{_FAL_SEEDREAM}/v4/edit"},
    ("seedream-4.5", "fal"): {T2I: f"{_FAL_SEEDREAM}/v4.5/text-to-image", I2I: f"{_FAL_SEEDREAM}/v4.5/edit"},
    ("seededit-3", "fal"): {I2I: "fal-ai/bytedance/seededit/v3/edit-image"},
    ("sdxl-base", "fal"): {T2I: "fal-ai/fast-sdxl", I2I: "fal-ai/fast-sdxl/image-to-image",
                           INPAINT: "fal-ai/fast-sdxl/inpainting"},
    **{(m, "replicate"): {T2I: f"black-forest-labs/{m}", I2I: f"black-forest-labs/{m}"}
       for m in ("flux-2-dev", "flux-2-pro", "flux-2-flex", "flux-2-max", "flux-kontext-pro", "flux-kontext-max")},
    ("flux-kontext-dev", "replicate"): {I2I: "black-forest-labs/flux-kontext-dev"},
    ("flux-schnell", "replicate"): {T2I: "black-forest-labs/flux-schnell"},
    ("seedream-3", "replicate"): {T2I: "bytedance/seedream-3"},
    ("seedream-4", "replicate"): {T2I: "bytedance/seedream-4", I2I: "bytedance/seedream-4"},
    ("seedream-4.5", "replicate"): {T2I: "bytedance/seedream-4.5", I2I: "bytedance/seedream-4.5"},
    ("seededit-3", "replicate"): {I2I: "bytedance/seededit-3.0"},
    ("sdxl-base", "replicate"): {T2I: "stability-ai/sdxl", I2I: "stability-ai/sdxl", INPAINT: "stability-ai/sdxl"},
}
_KLEIN = {T2I: "Flux2KleinPipeline", I2I: "Flux2KleinPipeline", INPAINT: "Flux2KleinInpaintPipeline"}
LOCAL: dict[str, tuple[str, dict[str, str]]] = {
    "flux-2-dev": ("black-forest-labs/FLUX.2-dev", {T2I: "Flux2Pipeline", I2I: "Flux2Pipeline"}),
    "flux-2-klein-4b": ("black-forest-labs/FLUX.2-klein-4B", _KLEIN),
    "flux-2-klein-9b": ("black-forest-labs/FLUX.2-klein-9B", _KLEIN),
    "flux-kontext-dev": ("black-forest-labs/FLUX.1-Kontext-dev",
                         {I2I: "FluxKontextPipeline", INPAINT: "FluxKontextInpaintPipeline"}),
    "flux-schnell": ("black-forest-labs/FLUX.1-schnell", {T2I: "FluxPipeline"}),
    "sdxl-base": ("stabilityai/stable-diffusion-xl-base-1.0",
                  {T2I: "StableDiffusionXLPipeline", I2I: "StableDiffusionXLImg2ImgPipeline",
                   INPAINT: "StableDiffusionXLInpaintPipeline"}),
}
OUTPUTS: dict[tuple[str, str], str] = {
    **{(m, "fal"): "images" for m in CHECKED if "fal" in MODELS[m].routes},
    ("seededit-3", "fal"): "image",
    **{(m, "replicate"): "uri" for m in CHECKED if "replicate" in MODELS[m].routes},
    ("flux-schnell", "replicate"): "uri_list",
    ("seedream-4", "replicate"): "uri_list",
    ("seedream-4.5", "replicate"): "uri_list",
    ("sdxl-base", "replicate"): "uri_list",
}
# §2-§5 and §7: (per_image, per_megapixel, first_megapixel, inputs_count); None where unknown.
PRICES: dict[tuple[str, str], tuple[float | None, float | None, float | None, bool] | None] = {
    ("flux-2-dev", "fal"): (None, 0.012, None, True),
    ("flux-2-dev", "replicate"): (None, 0.012, None, True),  # go_fast price; 0.014 without
    ("flux-2-pro", "fal"): (None, 0.015, 0.03, True),
    ("flux-2-pro", "replicate"): (None, 0.015, 0.03, True),
    ("flux-2-flex", "fal"): (None, 0.05, None, True),
    ("flux-2-flex", "replicate"): None,
    ("flux-2-max", "fal"): (None, 0.03, 0.07, True),
    ("flux-2-max", "replicate"): None,
    ("flux-2-klein-4b", "fal"): (None, 0.01, None, True),
    ("flux-2-klein-9b", "fal"): (None, 0.011, None, True),
    ("flux-kontext-dev", "fal"): None,
    ("flux-kontext-dev", "replicate"): None,
    ("flux-kontext-pro", "fal"): (0.04, None, None, False),
    ("flux-kontext-pro", "replicate"): (0.04, None, None, False),
    ("flux-kontext-max", "fal"): (0.08, None, None, False),
    ("flux-kontext-max", "replicate"): (0.08, None, None, False),
    ("flux-schnell", "replicate"): (0.003, None, None, False),
    ("seedream-3", "fal"): None,
    ("seedream-3", "replicate"): (0.03, None, None, False),
    ("seedream-4", "fal"): (0.03, None, None, False),
    ("seedream-4", "replicate"): (0.03, None, None, False),
    ("seedream-4.5", "fal"): None,
    ("seedream-4.5", "replicate"): (0.04, None, None, False),
    ("seededit-3", "fal"): (0.03, None, None, False),
    ("seededit-3", "replicate"): (0.03, None, None, False),
}
# DESIGN.md, "Models that belong in the catalog".
DESIGN_IDS = (
    "flux-2-dev", "flux-2-pro", "flux-2-flex", "flux-2-max", "flux-2-klein-4b", "flux-2-klein-9b",
    "flux-kontext-dev", "flux-kontext-pro", "flux-kontext-max",
    "seedream-3", "seedream-4", "seedream-4.5", "seededit-3", "sdxl-base", "sdxl-turbo", "flux-schnell",
)
FAMILY_OF = {
    **dict.fromkeys(DESIGN_IDS[:6], "flux2"), **dict.fromkeys(DESIGN_IDS[6:9], "kontext"),
    **dict.fromkeys(DESIGN_IDS[9:13], "seedream"), "sdxl-base": "sdxl", "sdxl-turbo": "sdxl", "flux-schnell": "flux1",
}


# --- how the backends read the catalog -------------------------------------------------------------


def native_name(model: ModelSpec, backend: str, canonical: str) -> str:
    route = model.routes[backend]
    if isinstance(route, LocalRoute):
        return route.native.get(canonical, canonical)
    return route.native_name(canonical)


def native_value(model: ModelSpec, backend: str, canonical: str, value: Any) -> Any:
    route = model.routes[backend]
    return route.native_value(canonical, value) if isinstance(route, HostedRoute) else value


def declared(model: ModelSpec, mode: str, backend: str, name: str) -> list[Param]:
    """The parameters a row names: sizes by canonical `image_size`, the rest by native name."""
    params = model.params_for(mode, backend)
    if name == "image_size":
        return [p for p in params if p.name == "image_size"]
    return [p for p in params if native_name(model, backend, p.name) == name]


def row_modes(ref: Ref) -> tuple[str, ...]:
    return ref.modes or MODELS[ref.model].modes_on(ref.backend)


def _row_params() -> list[Any]:
    return [pytest.param(ref, id=str(ref),
                         marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[str(ref)])] if str(ref) in KNOWN_GAPS
                         else []) for ref in ROWS]


# --- the reference, row by row ---------------------------------------------------------------------


@pytest.mark.parametrize("ref", _row_params())
def test_reference_parameter_is_declared_with_its_default_and_range(ref: Ref) -> None:
    model = MODELS[ref.model]
    assert ref.backend in model.routes, f"{ref.model} has no {ref.backend} route"
    for mode in row_modes(ref):
        assert mode in model.modes_on(ref.backend), f"{ref}: {ref.backend} does not serve {mode}"
        found = declared(model, mode, ref.backend, ref.name)
        assert len(found) == 1, f"{ref} in {mode}: expected one parameter, found {[p.name for p in found]}"
        param = found[0]
        if ref.deferred:
            assert param.default is None, f"{ref} in {mode}: leave it unset; the provider applies {ref.default!r}"
        elif ref.default is not U:
            default = native_value(model, ref.backend, param.name, param.default)
            if isinstance(ref.default, tuple):  # a size in pixels
                assert default is not None and parse_size(default).pixels() == ref.default, f"{ref} in {mode}"
            else:
                assert default == ref.default and type(default) is type(ref.default), (
                    f"{ref} in {mode}: default {default!r}, reference {ref.default!r}")
        if ref.lo is not U:
            assert param.min == ref.lo, f"{ref} in {mode}: min {param.min}, reference {ref.lo}"
        if ref.hi is not U:
            assert param.max == ref.hi, f"{ref} in {mode}: max {param.max}, reference {ref.hi}"
        natives = [native_value(model, ref.backend, param.name, c) for c in param.choices or ()]
        if ref.choices is not U:
            assert sorted(map(str, natives)) == sorted(map(str, ref.choices)), f"{ref} in {mode}: {natives}"
            assert all(type(n) is type(c) for n, c in zip(sorted(natives, key=str), sorted(ref.choices, key=str),
                                                          strict=True)), f"{ref}: choice types"
        assert set(ref.includes) <= set(natives), f"{ref} in {mode}: {natives} lacks some of {ref.includes}"


def test_every_declared_parameter_traces_to_the_reference() -> None:
    missing = []
    for model_id in CHECKED:
        model = MODELS[model_id]
        for backend in model.backends:
            for mode in model.modes_on(backend):
                for param in model.params_for(mode, backend):
                    if param.name in APP_PARAMS:
                        continue
                    name = "image_size" if param.name == "image_size" else native_name(model, backend, param.name)
                    if not any(ref.model == model_id and ref.backend == backend and ref.name == name
                               and mode in row_modes(ref) for ref in ROWS):
                        missing.append(f"{model_id}/{backend}/{mode}/{name}")
    # sdxl.py offers a size for local image-to-image, which StableDiffusionXLImg2ImgPipeline does not take.
    known = {"sdxl-base/local/image-to-image/image_size"}
    assert sorted(set(missing) - known) == []


def test_omitted_reference_parameters_are_not_half_declared() -> None:
    for (model_id, backend), names in OMITTED.items():
        model = MODELS[model_id]
        for mode in model.modes_on(backend):
            declared_names = {native_name(model, backend, p.name) for p in model.params_for(mode, backend)}
            assert not declared_names & set(names), f"{model_id}/{backend}: {declared_names & set(names)}"


def test_derived_strengths_come_from_the_edit_style_controls() -> None:
    for (model_id, backend, _native), canonical in DERIVED.items():
        assert any(p.name == canonical for p in MODELS[model_id].params_for(I2I, backend))


@pytest.mark.parametrize(("model_id", "backend", "mode", "name", "shape", "max_items"), IMAGE_FIELDS)
def test_input_images_travel_in_the_reference_field(model_id: str, backend: str, mode: str, name: str, shape: str,
                                                    max_items: Any) -> None:
    route = MODELS[model_id].routes[backend]
    assert isinstance(route, HostedRoute)
    field = route.image_fields[mode]
    assert (field.name, field.shape) == (name, shape)
    if max_items is not U:
        assert field.max_items == max_items
    assert field.max_items <= MODELS[model_id].modes[mode].max_images


def test_every_hosted_image_mode_has_an_image_field_and_only_inpaint_has_a_mask() -> None:
    listed = {(m, b, mode) for m, b, mode, *_ in IMAGE_FIELDS}
    for model_id in CHECKED:
        model = MODELS[model_id]
        for backend, route in model.routes.items():
            if not isinstance(route, HostedRoute):
                continue
            for mode in model.modes_on(backend):
                needs_images = model.modes[mode].min_images > 0
                assert (mode in route.image_fields) == needs_images, f"{model_id}/{backend}/{mode}"
                assert (model_id, backend, mode) in listed or not needs_images
            assert route.mask_field == MASK_FIELDS.get((model_id, backend))
            assert (route.mask_field is not None) == (INPAINT in route.endpoints)


def test_negative_prompts_go_only_where_the_backend_takes_one() -> None:
    for model_id in CHECKED:
        model = MODELS[model_id]
        assert set(model.negative_prompt) == NEGATIVE_PROMPT.get(model_id, set()), model_id
        for backend, route in model.routes.items():
            if isinstance(route, HostedRoute):
                takes = backend in model.negative_prompt
                assert (route.negative_prompt_field == "negative_prompt") == takes, f"{model_id}/{backend}"
                # Replicate's Seedream 4 / 4.5 publish no seed field (catalog/schemas, issue 9).
                no_seed = backend == "replicate" and model_id in ("seedream-4", "seedream-4.5")
                assert route.seed_field == (None if no_seed else "seed"), f"{model_id}/{backend}"


def test_routes_use_the_reference_endpoints_and_pipelines() -> None:
    for model_id in CHECKED:
        model = MODELS[model_id]
        for backend, route in model.routes.items():
            if isinstance(route, HostedRoute):
                assert route.endpoints == ENDPOINTS[(model_id, backend)], f"{model_id}/{backend}"
                assert route.provider == backend
                assert route.output == OUTPUTS[(model_id, backend)], f"{model_id}/{backend}"
            else:
                assert (route.repo, route.pipelines) == LOCAL[model_id], model_id
                assert route.native.get("num_images") == "num_images_per_prompt"
    expected = {k for k in ENDPOINTS} | {(m, "local") for m in LOCAL}
    assert {(m, b) for m in CHECKED for b in MODELS[m].routes} == expected


def test_official_replicate_models_are_not_pinned() -> None:
    for model_id in CHECKED:
        route = MODELS[model_id].routes.get("replicate")
        if isinstance(route, HostedRoute) and model_id != "sdxl-base":  # stability-ai/sdxl needs a version
            assert route.version is None, model_id


def test_prices_follow_the_reference() -> None:
    for (model_id, backend), expected in PRICES.items():
        price = MODELS[model_id].price(backend)
        if expected is None:
            assert price is None, f"{model_id}/{backend}"
            continue
        assert price is not None and price.source, f"{model_id}/{backend}"
        got = (price.per_image, price.per_megapixel, price.first_megapixel, price.inputs_count)
        assert got == expected, f"{model_id}/{backend}: {got}"


def test_flux2_pro_price_matches_the_reference_examples() -> None:
    price = MODELS["flux-2-pro"].price("fal")
    assert price.estimate(1, 1024, 1024) == pytest.approx(0.03)
    assert price.estimate(1, 1920, 1080) == pytest.approx(0.045)
    assert MODELS["flux-2-flex"].price("fal").estimate(1, 1920, 1080) == pytest.approx(0.10)


def test_seededit_fal_is_behind_a_feature_flag() -> None:
    assert MODELS["seededit-3"].feature_flag == "PLAYGROUND_ENABLE_SEEDEDIT_FAL"


# --- local routes against the installed diffusers ----------------------------------------------------

LOCAL_CASES = [(m, mode) for m in sorted(MODELS) for mode in MODELS[m].modes_on("local")]
# Parameters the local backend handles itself rather than passing to `__call__`.
BACKEND_HANDLED = frozenset({"scheduler", "edit_style", "reference_strength", "loras"})


@pytest.mark.parametrize(("model_id", "mode"), LOCAL_CASES)
def test_local_parameters_are_pipeline_arguments(model_id: str, mode: str) -> None:
    diffusers = pytest.importorskip("diffusers")
    model = MODELS[model_id]
    route = model.routes["local"]
    assert isinstance(route, LocalRoute)
    accepted = set(inspect.signature(getattr(diffusers, route.pipelines[mode]).__call__).parameters)
    for param in model.params_for(mode, "local"):
        if param.name in BACKEND_HANDLED:
            continue
        if param.name == "image_size":
            if model.family == "sdxl" and mode == I2I:
                continue  # reported: sdxl.py offers a size the img2img pipeline has no argument for
            assert {"height", "width"} <= accepted, f"{model_id}/{mode}: no height/width"
            continue
        assert native_name(model, "local", param.name) in accepted, f"{model_id}/{mode}: {param.name}"
    assert set(route.call_args) <= accepted
    if model.negative_prompt and "local" in model.negative_prompt:
        assert "negative_prompt" in accepted


@pytest.mark.parametrize("model_id", [m for m in sorted(MODELS) if MODELS[m].family in FLUX_FAMILIES
                                      and "local" in MODELS[m].routes])
def test_local_flux_sizes_are_multiples_of_16_and_allow_tiny_test_images(model_id: str) -> None:
    model = MODELS[model_id]
    assert model.routes["local"].size_multiple == 16
    for mode in model.modes_on("local"):
        for param in model.params_for(mode, "local"):
            if param.name == "image_size":
                assert param.multiple_of == 16 and param.min <= 64, f"{model_id}/{mode}"
                assert param.coerce("64x64") == {"width": 64, "height": 64}
                with pytest.raises(ValueError):
                    param.coerce("72x64")
            if param.name == "max_sequence_length":
                assert param.coerce(128) == 128


# --- catalog-wide invariants -------------------------------------------------------------------------


def test_every_design_model_exists_in_its_family() -> None:
    for model_id in DESIGN_IDS:
        assert model_id in MODELS, model_id
        assert MODELS[model_id].family == FAMILY_OF[model_id]


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_modes_are_known_and_served(model_id: str) -> None:
    model = MODELS[model_id]
    for mode_id, spec in model.modes.items():
        assert mode_id in MODES and spec.id == mode_id
        assert 0 <= spec.min_images <= spec.max_images <= 10
        assert (spec.min_images > 0) == (mode_id != T2I)
        assert any(mode_id in model.modes_on(b) for b in model.backends), f"nobody serves {mode_id}"


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_hosted_routes_have_an_endpoint_for_every_mode_they_serve(model_id: str) -> None:
    model = MODELS[model_id]
    for backend, route in model.routes.items():
        served = route.pipelines if isinstance(route, LocalRoute) else route.endpoints
        assert set(served) <= set(model.modes), f"{backend} serves an undeclared mode"
        if isinstance(route, HostedRoute):
            for mode in model.modes_on(backend):
                assert isinstance(route.endpoint(mode), str) and route.endpoint(mode)
            assert set(route.image_fields) <= set(route.endpoints)
            assert all(isinstance(f, ImageField) and f.max_items >= 1 for f in route.image_fields.values())


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_every_default_passes_its_own_coerce(model_id: str) -> None:
    model = MODELS[model_id]
    for param in model.params:
        for backend in (None, *model.backends):
            for mode in model.modes:
                spec = param.for_backend(backend, mode)
                if spec.kind in INPUT_KINDS or spec.default is None:
                    continue
                assert spec.coerce(spec.default) == spec.default, f"{param.name} on {backend} in {mode}"
            spec = param.for_backend(backend)
            if spec.kind in INPUT_KINDS or spec.default is None:  # None: unset, the backend decides
                continue
            assert spec.coerce(spec.default) == spec.default, f"{param.name} on {backend}"


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_params_are_well_formed(model_id: str) -> None:
    model = MODELS[model_id]
    for param in model.params:
        assert param.description, param.name
        # Shared helpers (sdxl's) may name backends a sibling model lacks; they must still be real backends.
        allowed = set(model.backends) if model.family in FLUX_FAMILIES + ("seedream",) else set(BACKENDS)
        assert param.backends is None or param.backends <= allowed, param.name
        assert param.modes is None or param.modes <= set(model.modes), param.name
        # Override keys: a backend, a mode, or "backend:mode".
        keys = allowed | set(model.modes) | {f"{b}:{m}" for b in allowed for m in model.modes}
        assert set(param.overrides) <= keys, param.name
        assert any(param.applies(m, b) for b in model.backends for m in model.modes_on(b)), f"{param.name} unused"
    for backend in model.backends:
        for mode in model.modes_on(backend):
            names = [p.name for p in model.params_for(mode, backend)]
            assert len(names) == len(set(names)), f"{backend}/{mode}: duplicate {names}"


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_parameter_names_are_unique_per_model(model_id: str) -> None:
    # validation.py looks parameters up by name (`ModelSpec.param`) and json_schema keys them by name.
    names = [p.name for p in MODELS[model_id].params]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_json_schema_and_summary_are_json(model_id: str) -> None:
    model = MODELS[model_id]
    schema = json.loads(json.dumps(model.json_schema()))
    assert schema["x-model"] == model_id
    assert set(schema["properties"]["params"]["properties"]) == {p.name for p in model.params}
    json.dumps(model.summary())
