"""FLUX.1 Kontext: [dev] (local, fal, Replicate) and [pro] / [max] (fal, Replicate).

Facts from shared/reference/model-parameters.md §3 (fal §3.1-3.3, Replicate §3.4, diffusers 0.42.1
§3.5) and prices from §7. Local defaults follow the diffusers `__call__` signatures; hosted defaults
follow each provider's schema (per-backend overrides).
"""

from __future__ import annotations

from playground.catalog.common import (
    FLUX_ASPECT_RATIOS,
    I2I,
    INPAINT,
    REPLICATE_JPG,
    T2I,
    acceleration,
    as_strings,
    aspect_ratio,
    go_fast,
    guidance,
    image_size,
    loras,
    max_sequence_length,
    modes,
    num_images,
    only,
    output_format,
    output_quality,
    padding_mask_crop,
    prompt_expansion,
    safety_checker,
    safety_tolerance,
    steps,
    sync_mode,
)
from playground.catalog.spec import HostedRoute, ImageField, LocalRoute, ModelSpec, ModeSpec, Price
from playground.params import Param

IMAGE_MODES = modes(I2I, INPAINT)
# fal [pro]/[max] ratios (§3.2); Replicate adds match_input_image, 4:5, 5:4, 2:1 and 1:2 (§3.4).
FAL_PRO_RATIOS: tuple[str, ...] = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
PRO_RATIOS: tuple[str, ...] = (
    "match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4", "21:9", "9:21", "2:1", "1:2",
)
PRO_TOLERANCES: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
FAL_PRO_TOLERANCES: tuple[int, ...] = (1, 2, 3, 4, 5, 6)

KONTEXT_DEV = ModelSpec(
    id="flux-kontext-dev",
    family="kontext",
    label="FLUX.1 Kontext [dev]",
    description="FLUX.1 Kontext [dev]: open-weight instruction editing of one image; local inpainting.",
    modes={
        I2I: ModeSpec(I2I, 1, 1, "edit one image by instruction"),
        INPAINT: ModeSpec(INPAINT, 1, 1, "repaint the white part of the mask"),
    },
    params=(
        image_size(None, 64, 2048, modes=IMAGE_MODES, backends=only("local"), multiple_of=16,
                   description="Output size: a preset or width x height; empty follows the input's aspect "
                               "ratio at the max area."),
        Param("resolution_mode", "choice", "match_input", choices=("auto", "match_input", *FLUX_ASPECT_RATIOS),
              backends=only("fal"), label="Resolution mode",
              description="How fal sizes the output: match the input, let the model decide, or an aspect ratio."),
        aspect_ratio("match_input_image", ("match_input_image", *FLUX_ASPECT_RATIOS), backends=only("replicate")),
        steps(28, 1, 50, overrides={"fal": {"min": 10}, "replicate": {"min": 4}}),
        guidance(2.5, 0.0, 20.0,
                 overrides={"fal": {"min": 1.0}, "replicate": {"max": 10.0}, "local": {"default": 3.5}}),
        num_images(1, 4, backends=only("local", "fal")),
        Param("strength", "float", 1.0, 0.0, 1.0, 0.01, modes=modes(INPAINT), backends=only("local"),
              label="Denoising strength",
              description="How much of the masked area to repaint: 1 ignores what was there."),
        Param("true_cfg_scale", "float", 1.0, 1.0, 10.0, 0.1, backends=only("local"), advanced=True,
              label="True CFG scale",
              description="Real classifier-free guidance with the negative prompt when above 1 (twice the compute)."),
        Param("max_area", "int", 1024 * 1024, 4096, 4 * 1024 * 1024, 4096, backends=only("local"), advanced=True,
              label="Max area", description="Pixel area of the output when its size follows the input."),
        Param("auto_resize", "bool", True, backends=only("local"), advanced=True, label="Auto resize",
              description="Snap the input to the nearest of Kontext's 17 preferred resolutions (about 1 MP)."),
        padding_mask_crop(),
        max_sequence_length(512),
        # fal's published schema for flux-kontext/dev has no enhance_prompt (newer types dropped it).
        # fal-ai/flux-kontext-lora: `loras: LoraWeight[]`, scale 0 to 4, "any number" (catalog/schemas/fal/
        # fal-ai/flux-kontext-lora.json); the local limit of 5 stands. Replicate's kontext-dev takes no adapters.
        loras(backends=only("local", "fal"), overrides={"fal": {"min": 0.0, "max": 4.0}}),
        acceleration("none", backends=only("fal")),
        safety_checker(backends=only("fal", "replicate")),
        output_format("jpeg", ("jpeg", "png", "webp"), backends=only("fal", "replicate"),
                      overrides={"fal": {"choices": ("jpeg", "png")}, "replicate": {"default": "webp"}}),
        output_quality(),
        go_fast(),
        sync_mode(),
    ),
    routes={
        "local": LocalRoute(
            repo="black-forest-labs/FLUX.1-Kontext-dev",
            pipelines={I2I: "FluxKontextPipeline", INPAINT: "FluxKontextInpaintPipeline"},
            dtype="bfloat16",
            native={"num_images": "num_images_per_prompt", "auto_resize": "_auto_resize"},
            size_multiple=16,
            license_note="FLUX.1 [dev] Non-Commercial License; gated on the Hub.",
        ),
        # Neither provider's price is known (§7; Runpod sells the same model at $0.025).
        "fal": HostedRoute(
            provider="fal",
            endpoints={I2I: "fal-ai/flux-kontext/dev"},
            lora_endpoints={I2I: "fal-ai/flux-kontext-lora"},
            lora_price=Price(per_megapixel=0.035,
                             source="fal llms.txt for fal-ai/flux-kontext-lora (see its schema snapshot's sources)"),
            image_fields={I2I: ImageField("image_url")},
            # fal-ai/flux-kontext-lora defaults to 30 steps and png; the plain endpoint's 28 and jpeg are sent
            # explicitly to both, so a run with adapters differs from one without only by the adapters.
            default_reasons={"num_inference_steps": "flux-kontext-lora defaults to 30; 28 (flux-kontext/dev) is sent",
                             "output_format": "flux-kontext-lora defaults to png; jpeg (flux-kontext/dev) is sent"},
        ),
        "replicate": HostedRoute(
            provider="replicate",
            endpoints={I2I: "black-forest-labs/flux-kontext-dev"},
            image_fields={I2I: ImageField("input_image")},
            rename={"guidance_scale": "guidance"},
            values=REPLICATE_JPG,
            inverted={"enable_safety_checker": "disable_safety_checker"},
            output="uri",
        ),
    },
    # FluxKontextPipeline uses a negative prompt only with true_cfg_scale > 1.
    negative_prompt=only("local"),
)


def _pro_params() -> tuple[Param, ...]:
    """The fields Kontext [pro] and [max] share (§3.2-3.4)."""
    return (
        # fal's default differs per mode (1:1 for text-to-image, the input's shape for edits) and a Param has
        # one default, so it stays unset on fal; Replicate defaults to match_input_image in both modes.
        aspect_ratio(None, PRO_RATIOS, overrides={"fal": {"choices": FAL_PRO_RATIOS},
                                                  "replicate": {"default": "match_input_image"}},
                     description="Shape of the output (width:height); empty or match_input_image follows the "
                                 "input (1:1 without one)."),
        guidance(3.5, 1.0, 20.0, backends=only("fal")),
        num_images(1, 4, backends=only("fal")),
        prompt_expansion(False),
        # Replicate allows at most 2 when an input image is given (§3.4).
        safety_tolerance(2, PRO_TOLERANCES, overrides={"fal": {"choices": FAL_PRO_TOLERANCES},
                                                       "replicate:image-to-image": {"choices": (0, 1, 2)}},
                         description="Moderation level: 0 (Replicate) or 1 is the strictest, 6 the most "
                                     "permissive; Replicate allows at most 2 with an input image."),
        output_format("jpeg", ("jpeg", "png"), overrides={"replicate": {"default": "png"}}),
        sync_mode(),
    )


def _pro_model(key: str, name: str, description: str, per_image: float) -> ModelSpec:
    fal_base = "fal-ai/flux-pro/kontext" + ("/max" if name == "max" else "")
    return ModelSpec(
        id=key,
        family="kontext",
        label=f"FLUX.1 Kontext [{name}]",
        description=description,
        modes={T2I: ModeSpec(T2I), I2I: ModeSpec(I2I, 1, 1, "edit one image by instruction")},
        params=_pro_params(),
        routes={
            "fal": HostedRoute(
                provider="fal",
                endpoints={T2I: f"{fal_base}/text-to-image", I2I: fal_base},
                image_fields={I2I: ImageField("image_url")},
                rename={"enable_prompt_expansion": "enhance_prompt"},
                values=as_strings("safety_tolerance", FAL_PRO_TOLERANCES),
                price=Price(per_image=per_image, source="fal llms.txt (§3.2, §7)"),
            ),
            "replicate": HostedRoute(
                provider="replicate",
                endpoints={T2I: f"black-forest-labs/{key}", I2I: f"black-forest-labs/{key}"},
                image_fields={I2I: ImageField("input_image")},
                rename={"enable_prompt_expansion": "prompt_upsampling"},
                values=REPLICATE_JPG,
                output="uri",
                price=Price(per_image=per_image, source="aggregators quoting BFL prices (§3.4, §7, M)"),
            ),
        },
    )


KONTEXT_PRO = _pro_model("flux-kontext-pro", "pro",
                         "FLUX.1 Kontext [pro]: fast text-to-image and instruction editing of one image.", 0.04)
KONTEXT_MAX = _pro_model("flux-kontext-max", "max",
                         "FLUX.1 Kontext [max]: Kontext's strongest model; better typography and prompt following.",
                         0.08)

MODELS: tuple[ModelSpec, ...] = (KONTEXT_DEV, KONTEXT_PRO, KONTEXT_MAX)
