"""SDXL: Stable Diffusion XL base (local, fal fast-sdxl, Replicate stability-ai/sdxl) and SDXL Turbo.

Facts from shared/reference/model-parameters.md §6. Local defaults follow diffusers 0.42.1's
`__call__` signatures; hosted defaults follow each provider's schema (per-backend overrides).
"""

from __future__ import annotations

from playground.catalog.common import (
    FAL_SIZE_PRESETS,
    I2I,
    INPAINT,
    T2I,
    edit_style_params,
    guidance,
    image_size,
    loras,
    modes,
    num_images,
    only,
    output_format,
    prompt_expansion,
    safety_checker,
    steps,
    sync_mode,
)
from playground.catalog.spec import HostedRoute, ImageField, LocalRoute, ModelSpec, ModeSpec, Price
from playground.params import Param

# UI names for schedulers → diffusers class and options; the Replicate names where it has them.
# "Default" keeps the scheduler the checkpoint ships with.
SCHEDULERS: dict[str, tuple[str, dict[str, object]]] = {
    "Default": ("", {}),
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler",
                            {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True}),
    "DPM2": ("KDPM2DiscreteScheduler", {}),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "PNDM": ("PNDMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "DEIS": ("DEISMultistepScheduler", {}),
}
REPLICATE_SCHEDULERS: dict[str, str] = {
    "DDIM": "DDIM",
    "DPM++ 2M": "DPMSolverMultistep",
    "Heun": "HeunDiscrete",
    "DPM++ 2M Karras": "KarrasDPM",
    "Euler a": "K_EULER_ANCESTRAL",
    "Euler": "K_EULER",
    "PNDM": "PNDM",
}
# The version whose published schema is shipped (catalog/schemas/replicate/stability-ai/sdxl.json); the
# older 39ed52f2... has none reachable and predates disable_safety_checker.
SDXL_REPLICATE_VERSION = "7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc"

NEGATIVE_T2I = ("blurry, low quality, lowres, jpeg artifacts, deformed, disfigured, bad anatomy, "
                "extra limbs, watermark, text, signature")
NEGATIVE_I2I = "blurry, low quality"

LOCAL_PIPELINES = {
    T2I: "StableDiffusionXLPipeline",
    I2I: "StableDiffusionXLImg2ImgPipeline",
    INPAINT: "StableDiffusionXLInpaintPipeline",
}
IMAGE_MODES = modes(I2I, INPAINT)


def _local_params() -> tuple[Param, ...]:
    return (
        Param("scheduler", "choice", "Default", choices=tuple(SCHEDULERS), backends=only("local", "replicate"),
              overrides={"local": {"control": True},  # applied from the local route's `schedulers`
                         "replicate": {"choices": tuple(REPLICATE_SCHEDULERS), "default": "Euler"}},
              label="Sampler",
              description="Sampler (noise scheduler) used for denoising."),
        Param("guidance_rescale", "float", 0.0, 0.0, 1.0, 0.05, backends=only("local"), advanced=True,
              description="Rescale classifier-free guidance to fix over-exposure (0 = off)."),
        Param("clip_skip", "int", None, 1, 10, 1, backends=only("local"), advanced=True,
              description="Skip the last N CLIP layers when encoding the prompt (empty = off)."),
        Param("eta", "float", 0.0, 0.0, 1.0, 0.01, backends=only("local"), advanced=True,
              description="DDIM eta: 0 is deterministic, 1 is fully stochastic (DDIM only)."),
        Param("aesthetic_score", "float", 6.0, 0.0, 10.0, 0.5, modes=IMAGE_MODES, backends=only("local"),
              advanced=True, description="Aesthetic conditioning (only refiner-style checkpoints use it)."),
        Param("negative_aesthetic_score", "float", 2.5, 0.0, 10.0, 0.5, modes=IMAGE_MODES,
              backends=only("local"), advanced=True, description="Negative aesthetic conditioning."),
        Param("padding_mask_crop", "int", None, 0, 1024, 8, modes=modes(INPAINT), backends=only("local"),
              advanced=True, description="Inpaint only a crop around the mask with this margin (empty = off)."),
    )


def _hosted_params() -> tuple[Param, ...]:
    return (
        output_format("jpeg", backends=only("fal")),
        safety_checker(backends=only("fal", "replicate")),
        Param("safety_checker_version", "choice", "v1", choices=("v1", "v2"), backends=only("fal"),
              advanced=True, description="v1: CompVis checker; v2: ViT checker."),
        prompt_expansion(False, backends=only("fal")),
        sync_mode(),
        Param("preserve_aspect_ratio", "bool", False, modes=modes(I2I), backends=only("fal"), advanced=True,
              description="Keep the input's aspect ratio instead of the requested size."),
        Param("crop_output", "bool", False, modes=modes(I2I), backends=only("fal"), advanced=True,
              description="Crop the output to the requested size after preserving aspect ratio."),
        Param("refine", "choice", "no_refiner",
              choices=("no_refiner", "expert_ensemble_refiner", "base_image_refiner"),
              backends=only("replicate"), advanced=True, description="Run the SDXL refiner after the base."),
        Param("high_noise_frac", "float", 0.8, 0.0, 1.0, 0.05, backends=only("replicate"), advanced=True,
              description="Fraction of noise for the base model with expert_ensemble_refiner."),
        Param("refine_steps", "int", None, 1, 100, 1, backends=only("replicate"), advanced=True,
              description="Refiner steps with base_image_refiner (empty = same as steps)."),
        Param("apply_watermark", "bool", True, backends=only("replicate"), advanced=True,
              description="Add an invisible watermark to the output."),
    )


def _sdxl_loras(*backends: str) -> Param:
    """Adapters for SDXL. fal fast-sdxl: `loras: LoraWeight[]`, scale 0 to 1, no stated maximum count (fal-js
    zod types, zLoraWeightType2 in fal-ai/fal-js libs/client/src/types/image/zod.gen.ts at 53241327); 5 here.
    Replicate stability-ai/sdxl: one `replicate_weights` URL (a Replicate SDXL training's .tar) and
    `lora_scale` 0 to 1 (replicate/cog-sdxl predict.py)."""
    return loras(backends=only(*backends), overrides={
        "fal": {"min": 0.0, "max": 1.0},
        "replicate": {"min": 0.0, "max": 1.0, "max_items": 1, "default": None},
    })


SDXL_BASE = ModelSpec(
    id="sdxl-base",
    family="sdxl",
    label="SDXL 1.0 base",
    description="Stable Diffusion XL base 1.0: classic 1 MP text-to-image with negative prompts, "
                "img2img with Modify/Copy strength, and inpainting.",
    modes={
        T2I: ModeSpec(T2I),
        I2I: ModeSpec(I2I, 1, 1, "img2img from one reference image"),
        INPAINT: ModeSpec(INPAINT, 1, 1, "repaint the white part of the mask"),
    },
    params=(
        # StableDiffusionXLImg2ImgPipeline has no height/width: a local img2img follows its input.
        # fal's fast-sdxl image-to-image defaults to `square`, the other modes to `square_hd`.
        image_size("square_hd", 64, 4096, FAL_SIZE_PRESETS, multiple_of=8, step=8,
                   overrides={"local:image-to-image": {"modes": frozenset({T2I, INPAINT})},
                              "fal:image-to-image": {"default": "square"}}),
        # fal fast-sdxl: steps 1-50 for text-to-image, 1-65 for edits; guidance 0-20.
        steps(25, 1, 500, overrides={"local": {"default": 50}, "replicate": {"default": 50}, "fal": {"max": 50},
                                     "fal:image-to-image": {"max": 65}, "fal:inpaint": {"max": 65}}),
        guidance(7.5, 0.0, 50.0, overrides={"local": {"default": 5.0}, "local:inpaint": {"default": 7.5},
                                            "replicate": {"min": 1.0}, "fal": {"max": 20.0}}),
        num_images(1, 4),
        Param("strength", "float", 0.95, 0.0, 1.0, 0.01, modes=modes(INPAINT), label="Denoising strength",
              overrides={"local": {"default": 0.9999}, "replicate": {"default": 0.8}, "fal": {"min": 0.01}},
              description="How much of the masked area to repaint: 1 ignores what was there."),
        # fal's image-to-image strength (1 - reference strength) is at least 0.05.
        *edit_style_params(strength_overrides={"fal": {"max": 0.95}}),
        *_local_params(),
        *_hosted_params(),
        _sdxl_loras("local", "fal", "replicate"),
    ),
    routes={
        "local": LocalRoute(
            repo="stabilityai/stable-diffusion-xl-base-1.0",
            pipelines=LOCAL_PIPELINES,
            dtype="float16",
            native={"num_images": "num_images_per_prompt"},
            schedulers=SCHEDULERS,
        ),
        "fal": HostedRoute(
            provider="fal",
            endpoints={T2I: "fal-ai/fast-sdxl", I2I: "fal-ai/fast-sdxl/image-to-image",
                       INPAINT: "fal-ai/fast-sdxl/inpainting"},
            image_fields={I2I: ImageField("image_url"), INPAINT: ImageField("image_url")},
            mask_field="mask_url",
            rename={"output_format": "format", "enable_prompt_expansion": "expand_prompt"},
            negative_prompt_field="negative_prompt",
            price=Price(per_image=0.0025, source="fal docs (dated): a typical 2.3 s run costs ~$0.0025"),
        ),
        "replicate": HostedRoute(
            provider="replicate",
            endpoints={T2I: "stability-ai/sdxl", I2I: "stability-ai/sdxl", INPAINT: "stability-ai/sdxl"},
            version=SDXL_REPLICATE_VERSION,
            image_fields={I2I: ImageField("image"), INPAINT: ImageField("image")},
            mask_field="mask",
            rename={"num_images": "num_outputs", "strength": "prompt_strength"},
            values={"scheduler": REPLICATE_SCHEDULERS},
            inverted={"enable_safety_checker": "disable_safety_checker"},
            negative_prompt_field="negative_prompt",
            size_style="width_height",
            output="uri_list",
            lora_shape="replicate_weights",
        ),
    },
    negative_prompt=only("local", "fal", "replicate"),
    default_negative={T2I: NEGATIVE_T2I, I2I: NEGATIVE_I2I, INPAINT: NEGATIVE_I2I},
    edit_styles=True,
    prompt_required=False,
)

SDXL_TURBO = ModelSpec(
    id="sdxl-turbo",
    family="sdxl",
    label="SDXL Turbo",
    description="Adversarially distilled SDXL: 512 px images in 1-4 steps without guidance.",
    modes=SDXL_BASE.modes,
    params=(
        image_size("square", 64, 2048, FAL_SIZE_PRESETS, multiple_of=8, step=8,
                   overrides={"local:image-to-image": {"modes": frozenset({T2I, INPAINT})}}),
        steps(1, 1, 50),
        guidance(0.0, 0.0, 10.0),
        num_images(1, 4),
        Param("strength", "float", 0.9999, 0.0, 1.0, 0.01, modes=modes(INPAINT), label="Denoising strength",
              description="How much of the masked area to repaint: 1 ignores what was there."),
        *edit_style_params(),
        *_local_params(),
        _sdxl_loras("local"),
    ),
    routes={
        "local": LocalRoute(
            repo="stabilityai/sdxl-turbo",
            pipelines=LOCAL_PIPELINES,
            dtype="float16",
            native={"num_images": "num_images_per_prompt"},
            schedulers=SCHEDULERS,
        ),
    },
    negative_prompt=only("local"),
    default_negative={T2I: NEGATIVE_T2I, I2I: NEGATIVE_I2I, INPAINT: NEGATIVE_I2I},
    edit_styles=True,
    prompt_required=False,
)

MODELS: tuple[ModelSpec, ...] = (SDXL_BASE, SDXL_TURBO)
