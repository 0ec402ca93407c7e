"""FLUX.2: [dev] (local, fal, Replicate), [pro] / [flex] / [max] (fal, Replicate), [klein] 4B / 9B (local, fal).

Facts from shared/reference/model-parameters.md §2 (fal §2.1-2.6, Replicate §2.7, diffusers 0.42.1
§2.8-2.9) and prices from §2 and §7. Local defaults follow the diffusers `__call__` signatures; hosted
defaults follow each provider's schema (per-backend overrides).
"""

from __future__ import annotations

from playground.catalog.common import (
    FAL_SIZE_PRESETS,
    I2I,
    INPAINT,
    REPLICATE_JPG,
    T2I,
    acceleration,
    as_strings,
    aspect_ratio,
    custom_size,
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

# Replicate's FLUX.2 aspect ratios, as its published schemas list them (catalog/schemas/replicate/
# black-forest-labs/flux-2-*.json): no 21:9 or 9:21.
REPLICATE_RATIOS: tuple[str, ...] = (
    "match_input_image", "custom", "1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3",
)
# §2.7: "0.5 MP ... 4 MP, match_input_image (exact list ?)".
REPLICATE_RESOLUTIONS: tuple[str, ...] = ("match_input_image", "0.5 MP", "1 MP", "2 MP", "4 MP")
TOLERANCES: tuple[int, ...] = (1, 2, 3, 4, 5)
EDIT_PRESETS: tuple[str, ...] = (*FAL_SIZE_PRESETS, "auto")
UNSET_SIZE = "landscape_4_3 on fal and 1024 x 1024 locally for text-to-image, the input's size for edits"


def _size(presets: tuple[str, ...], backends: frozenset[str], unset: str) -> Param:
    """One size for text-to-image and edits. fal's default differs per mode (landscape_4_3 for text-to-image,
    the input's size or `auto` for edits) and a Param has one default, so it stays unset and fal applies its
    own; locally an unset size is 1024 x 1024, and edits follow the input unless a size is given. fal takes
    `auto` in edits only."""
    overrides: dict[str, dict] = {"fal:text-to-image": {"choices": FAL_SIZE_PRESETS}}
    if "local" in backends:
        overrides["local"] = {"min": 64, "multiple_of": 16, "default": "square_hd"}
    return image_size(None, presets=presets, modes=modes(T2I, I2I), backends=backends, overrides=overrides,
                      description=f"Output size: a preset or width x height; empty uses {unset}.")


def _pro_params() -> tuple[Param, ...]:
    """The fields FLUX.2 [pro], [flex] and [max] share (§2.3-2.5, §2.7)."""
    return (
        # `auto` is for edits only (§2.3).
        _size(EDIT_PRESETS, only("fal"), "landscape_4_3 for text-to-image and auto (model decides) for edits"),
        aspect_ratio("1:1", REPLICATE_RATIOS, backends=only("replicate")),
        Param("resolution", "choice", "1 MP", choices=REPLICATE_RESOLUTIONS, backends=only("replicate"),
              description="Output megapixels (2 MP or less recommended; ignored for a custom aspect ratio)."),
        *custom_size(256, 2048, backends=only("replicate")),
        safety_tolerance(2, TOLERANCES),
        safety_checker(backends=only("fal")),
        output_format("jpeg", ("jpeg", "png", "webp"),
                      overrides={"fal": {"choices": ("jpeg", "png")}, "replicate": {"default": "webp"}}),
        output_quality(),
        sync_mode(),
    )


def _pro_model(key: str, name: str, description: str, max_refs: int, fal_price: Price,
               replicate_price: Price | None, extra: tuple[Param, ...] = (),
               rename: dict[str, str] | None = None) -> ModelSpec:
    fal_edit = f"fal-ai/{key}/edit"
    return ModelSpec(
        id=key,
        family="flux2",
        label=f"FLUX.2 [{name}]",
        description=description,
        modes={T2I: ModeSpec(T2I), I2I: ModeSpec(I2I, 1, max_refs, f"edit with up to {max_refs} reference images")},
        params=(*extra, *_pro_params()),
        routes={
            "fal": HostedRoute(
                provider="fal",
                endpoints={T2I: f"fal-ai/{key}", I2I: fal_edit},
                # The schema states no maximum for image_urls (§2.3, "?"); use Replicate's.
                image_fields={I2I: ImageField("image_urls", "list", max_refs)},
                values=as_strings("safety_tolerance", TOLERANCES),
                price=fal_price,
            ),
            "replicate": HostedRoute(
                provider="replicate",
                endpoints={T2I: f"black-forest-labs/{key}", I2I: f"black-forest-labs/{key}"},
                image_fields={I2I: ImageField("input_images", "list", max_refs)},
                rename=rename or {},
                price=replicate_price,
                values=REPLICATE_JPG,
                output="uri",
            ),
        },
    )


FLUX2_DEV = ModelSpec(
    id="flux-2-dev",
    family="flux2",
    label="FLUX.2 [dev]",
    description="FLUX.2 [dev]: 32B open-weight model for text-to-image and multi-reference editing.",
    modes={
        T2I: ModeSpec(T2I),
        # FLUX.2 takes up to 10 references (BFL) and diffusers states no limit; fal and Replicate take 4.
        I2I: ModeSpec(I2I, 1, 10, "edit with up to 10 reference images (4 on fal and Replicate)"),
    },
    params=(
        _size(FAL_SIZE_PRESETS, only("local", "fal"), UNSET_SIZE),
        aspect_ratio("1:1", REPLICATE_RATIOS, backends=only("replicate")),
        *custom_size(256, 1440, backends=only("replicate")),
        steps(28, 1, 50, backends=only("local", "fal"), overrides={"fal": {"min": 4}, "local": {"default": 50}}),
        guidance(2.5, 0.0, 20.0, backends=only("local", "fal"), overrides={"local": {"default": 4.0}}),
        num_images(1, 4, backends=only("local", "fal")),
        acceleration("regular", backends=only("fal")),
        prompt_expansion(False, backends=only("fal")),
        Param("caption_upsample_temperature", "float", None, 0.0, 2.0, 0.05, backends=only("local"), advanced=True,
              label="Prompt upsampling temperature",
              description="Rewrite the prompt with the text encoder before generating, at this temperature "
                          "(0.15 recommended; empty = off)."),
        max_sequence_length(512),
        # fal-ai/flux-2/lora and /lora/edit: `loras: LoRAInput[]` "maximum 3", scale 0 to 4 (fal-ai/fal-js
        # libs/client/src/types/endpoints.ts Flux2LoraInput; zod.gen.ts zLoRaInput at 53241327).
        loras(backends=only("local", "fal"), overrides={"fal": {"min": 0.0, "max": 4.0, "max_items": 3}}),
        safety_checker(backends=only("fal", "replicate")),
        output_format("png", ("jpeg", "png", "webp"), backends=only("fal", "replicate"),
                      overrides={"replicate": {"default": "webp"}}),
        output_quality(),
        go_fast(),
        sync_mode(),
    ),
    routes={
        "local": LocalRoute(
            repo="black-forest-labs/FLUX.2-dev",
            pipelines={T2I: "Flux2Pipeline", I2I: "Flux2Pipeline"},
            dtype="bfloat16",
            native={"num_images": "num_images_per_prompt"},
            size_multiple=16,
            license_note="FLUX [dev] Non-Commercial License; gated on the Hub.",
        ),
        "fal": HostedRoute(
            provider="fal",
            endpoints={T2I: "fal-ai/flux-2", I2I: "fal-ai/flux-2/edit"},
            lora_endpoints={T2I: "fal-ai/flux-2/lora", I2I: "fal-ai/flux-2/lora/edit"},
            image_fields={I2I: ImageField("image_urls", "list", 4)},
            # The edit price is unknown (§2.2, "?"); dev is billed per MP, inputs expected to count.
            price=Price(per_megapixel=0.012, inputs_count=True, source="fal llms.txt for fal-ai/flux-2 (§2.1, §7)"),
        ),
        "replicate": HostedRoute(
            provider="replicate",
            endpoints={T2I: "black-forest-labs/flux-2-dev", I2I: "black-forest-labs/flux-2-dev"},
            image_fields={I2I: ImageField("input_images", "list", 4)},
            inverted={"enable_safety_checker": "disable_safety_checker"},
            # $0.012/MP is the go_fast price (the default); $0.014/MP without it.
            price=Price(per_megapixel=0.012, inputs_count=True, source="Puter billing config (§7, L)"),
            values=REPLICATE_JPG,
            output="uri",
        ),
    },
)

FLUX2_PRO = _pro_model(
    "flux-2-pro", "pro", "FLUX.2 [pro]: BFL's production model for generation and multi-reference editing.", 8,
    Price(first_megapixel=0.03, per_megapixel=0.015, inputs_count=True, source="fal llms.txt (§2.3, §7)"),
    # $0.015 per run + $0.015 per input and output MP: the same as $0.03 first MP + $0.015 per extra MP.
    Price(first_megapixel=0.03, per_megapixel=0.015, inputs_count=True, source="Puter billing config (§7, L)"),
)

FLUX2_FLEX = _pro_model(
    "flux-2-flex", "flex", "FLUX.2 [flex]: adjustable steps and guidance; strong typography.", 10,
    Price(per_megapixel=0.05, inputs_count=True, source="fal llms.txt (§2.4, §7)"),
    None,
    extra=(
        # Replicate takes steps 1-50 (default 30) and guidance 1.5-10 (default 4.5); fal 2-50 and 1.5-10.
        steps(28, 2, 50, overrides={"replicate": {"default": 30, "min": 1}}),
        guidance(3.5, 1.5, 10.0, overrides={"replicate": {"default": 4.5}}),
        # fal's published schema no longer lists enable_prompt_expansion for [flex]; Replicate's does.
        prompt_expansion(True, backends=only("replicate")),
    ),
    rename={"num_inference_steps": "steps", "guidance_scale": "guidance",
            "enable_prompt_expansion": "prompt_upsampling"},
)

FLUX2_MAX = _pro_model(
    "flux-2-max", "max", "FLUX.2 [max]: BFL's highest-fidelity FLUX.2 model.", 8,
    Price(first_megapixel=0.07, per_megapixel=0.03, inputs_count=True, source="fal llms.txt (§2.5, §7)"),
    None,
)


def _klein(size: str, fal_price: Price, license_note: str) -> ModelSpec:
    name = size.upper()
    return ModelSpec(
        id=f"flux-2-klein-{size}",
        family="flux2",
        label=f"FLUX.2 [klein] {name}",
        description=f"FLUX.2 [klein] {name}: step-distilled compact model; 4 steps, no guidance.",
        modes={
            T2I: ModeSpec(T2I),
            # fal's edit takes at most 4 references; diffusers states no limit.
            I2I: ModeSpec(I2I, 1, 4, "edit with up to 4 reference images"),
            INPAINT: ModeSpec(INPAINT, 1, 1, "repaint the white part of the mask"),
        },
        params=(
            # No size for inpaint: Flux2KleinInpaintPipeline always works at the input's size.
            _size(FAL_SIZE_PRESETS, only("local", "fal"), UNSET_SIZE),
            # The distilled checkpoints ignore guidance_scale (diffusers' `is_distilled`), so none is offered.
            steps(4, 1, 50, overrides={"fal": {"min": 4, "max": 8}}),
            num_images(1, 4),
            Param("strength", "float", 0.8, 0.0, 1.0, 0.01, modes=modes(INPAINT), backends=only("local"),
                  label="Denoising strength",
                  description="How much of the masked area to repaint: 1 ignores what was there."),
            padding_mask_crop(),
            max_sequence_length(512),
            # fal-ai/flux-2/klein/{4b,9b}[/edit]/lora: `loras` "maximum 3", scale 0 to 4 (catalog/schemas/fal/
            # fal-ai/flux-2/klein/*/lora.json: fal-js endpoints.ts KleinLoRAInput, zod FalAiFlux2KleinLoRaInput).
            loras(backends=only("local", "fal"), overrides={"fal": {"min": 0.0, "max": 4.0, "max_items": 3}}),
            safety_checker(backends=only("fal")),
            output_format("png", ("jpeg", "png", "webp"), backends=only("fal")),
            sync_mode(),
        ),
        routes={
            "local": LocalRoute(
                repo=f"black-forest-labs/FLUX.2-klein-{name}",
                pipelines={T2I: "Flux2KleinPipeline", I2I: "Flux2KleinPipeline", INPAINT: "Flux2KleinInpaintPipeline"},
                dtype="bfloat16",
                native={"num_images": "num_images_per_prompt"},
                size_multiple=16,
                license_note=license_note,
            ),
            "fal": HostedRoute(
                provider="fal",
                endpoints={T2I: f"fal-ai/flux-2/klein/{size}", I2I: f"fal-ai/flux-2/klein/{size}/edit"},
                # The distilled model's LoRA endpoints (not the `.../base/...` ones, which serve the undistilled model).
                lora_endpoints={T2I: f"fal-ai/flux-2/klein/{size}/lora", I2I: f"fal-ai/flux-2/klein/{size}/edit/lora"},
                image_fields={I2I: ImageField("image_urls", "list", 4)},
                price=fal_price,
            ),
        },
    )


# One price per route: the edit prices (inputs count) stand for text-to-image too. fal's 9B text-to-image
# copy says $0.006/MP, which the reference flags as inconsistent (§2.6, §9); the 4B t2i price is unknown.
FLUX2_KLEIN_4B = _klein(
    "4b", Price(per_megapixel=0.01, inputs_count=True, source="fal llms.txt, klein 4b edit (§2.6, §7)"),
    "Apache-2.0.",
)
FLUX2_KLEIN_9B = _klein(
    "9b", Price(per_megapixel=0.011, inputs_count=True, source="fal llms.txt, klein 9b edit (§2.6, §7)"),
    "FLUX non-commercial licence.",
)

MODELS: tuple[ModelSpec, ...] = (FLUX2_DEV, FLUX2_PRO, FLUX2_FLEX, FLUX2_MAX, FLUX2_KLEIN_4B, FLUX2_KLEIN_9B)
