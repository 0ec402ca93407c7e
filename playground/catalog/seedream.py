"""ByteDance Seedream 3 / 4 / 4.5 and SeedEdit 3 (fal, Replicate).

Facts from shared/reference/model-parameters.md §5 (fal §5.1-5.4, Replicate §5.5) and prices from §7.
fal sizes the output with `image_size`; Replicate with `size` + `aspect_ratio` (+ `width`/`height` for
`custom`). Defaults follow each provider's schema (per-backend overrides).
"""

from __future__ import annotations

from playground.catalog.common import (
    FAL_SIZE_PRESETS,
    I2I,
    T2I,
    aspect_ratio,
    custom_size,
    guidance,
    image_size,
    num_images,
    only,
    prompt_expansion,
    safety_checker,
    sync_mode,
)
from playground.catalog.spec import HostedRoute, ImageField, ModelSpec, ModeSpec, Price
from playground.params import Param

MAX_REFERENCES = 10  # fal takes 10 (§5.2); Replicate 10 (v4) or 14 (v4.5); the app caps at 10.
# Replicate seedream-4/4.5 list match_input_image but not the whole enum (§5.5, L); the rest are
# seedream-3's ratios (also L).
SEEDREAM_RATIOS: tuple[str, ...] = ("1:1", "3:4", "4:3", "16:9", "9:16", "2:3", "3:2", "21:9")


def _multi_image_params(replicate_sizes: tuple[str, ...], side_min: int, presets: tuple[str, ...]) -> tuple[Param, ...]:
    """The sizing and multi-output fields Seedream 4 and 4.5 share (§5.1-5.3, §5.5). Replicate's custom
    width/height exist only where its schema offers a `custom` size (4, not 4.5)."""
    custom = "custom" in replicate_sizes
    return (
        # fal bounds the total area (4: 960² to 4096²; 4.5: 2560x1440 to 4096²), which a size
        # parameter cannot express; these per-side bounds are the nearest fit.
        image_size({"width": 2048, "height": 2048}, side_min, 4096, presets, backends=only("fal")),
        Param("size", "choice", "2K", choices=replicate_sizes, backends=only("replicate"), label="Resolution",
              description="Output resolution class" + ("; custom uses width and height." if custom else ".")),
        aspect_ratio("match_input_image", ("match_input_image", *SEEDREAM_RATIOS), backends=only("replicate")),
        *(custom_size(1024, 4096, 2048, step=16, backends=only("replicate"),
                      description="Output side in pixels; only used when the resolution is custom.") if custom else ()),
        num_images(1, 6, backends=only("fal"),
                   description="Separate generations per run (each may return up to max images)."),
        Param("max_images", "int", 1, 1, 15, 1, overrides={"fal": {"max": 6}}, label="Max images per generation",
              description="Above 1, one generation may return a set of related images (inputs + outputs <= 15)."),
        Param("sequential_image_generation", "choice", "disabled", choices=("disabled", "auto"),
              backends=only("replicate"), label="Image sets",
              description="auto lets the model return a set of related images (up to max images)."),
        sync_mode(),
    )


def _seedream(key: str, version: str, label: str, description: str, params: tuple[Param, ...],
              fal_price: Price | None, replicate_price: Price, *, rename: dict[str, str] | None = None,
              inverted: dict[str, str] | None = None, prompt_max: int = 2000) -> ModelSpec:
    fal_base = f"fal-ai/bytedance/seedream/v{version}"
    return ModelSpec(
        id=key,
        family="seedream",
        label=label,
        description=description,
        modes={
            T2I: ModeSpec(T2I),
            I2I: ModeSpec(I2I, 1, MAX_REFERENCES, f"edit or combine up to {MAX_REFERENCES} reference images"),
        },
        params=params,
        routes={
            "fal": HostedRoute(
                provider="fal",
                endpoints={T2I: f"{fal_base}/text-to-image", I2I: f"{fal_base}/edit"},
                image_fields={I2I: ImageField("image_urls", "list", MAX_REFERENCES)},
                price=fal_price,
            ),
            "replicate": HostedRoute(
                provider="replicate",
                endpoints={T2I: f"bytedance/{key}", I2I: f"bytedance/{key}"},
                image_fields={I2I: ImageField("image_input", "list", MAX_REFERENCES)},
                output="uri_list",
                rename=rename or {},
                inverted=inverted or {},
                price=replicate_price,
                # Replicate's published Seedream 4 / 4.5 inputs have no seed: none is sent, and the
                # output cannot be reproduced from a seed.
                seed_field=None,
            ),
        },
        prompt_max=prompt_max,
    )


SEEDREAM_3 = ModelSpec(
    id="seedream-3",
    family="seedream",
    label="Seedream 3.0",
    description="ByteDance Seedream 3.0: bilingual text-to-image up to 2K.",
    modes={T2I: ModeSpec(T2I)},
    params=(
        # fal's v3 default size is not in the reference (§5.3); empty lets fal choose.
        image_size(None, 512, 2048, backends=only("fal")),
        aspect_ratio("16:9", (*SEEDREAM_RATIOS, "custom"), backends=only("replicate")),
        Param("size", "choice", "regular", choices=("small", "regular", "big"), backends=only("replicate"),
              label="Resolution", description="small: shortest side 512; regular: 1 MP; big: longest side 2048 "
                                              "(ignored for a custom aspect ratio)."),
        *custom_size(512, 2048, 2048, step=16, backends=only("replicate")),
        # fal's guidance range is not stated (§5.3); Replicate's 1-10 is assumed.
        guidance(2.5, 1.0, 10.0),
        # fal's num_images range is not stated (§5.3, "?").
        num_images(1, 4, backends=only("fal")),
        sync_mode(),
    ),
    routes={
        "fal": HostedRoute(
            provider="fal",
            endpoints={T2I: "fal-ai/bytedance/seedream/v3/text-to-image"},
            price=None,  # unknown (§7)
        ),
        "replicate": HostedRoute(
            provider="replicate",
            endpoints={T2I: "bytedance/seedream-3"},
            output="uri",
            price=Price(per_image=0.03, source="~$0.03 (§5.5, §7, L)"),
        ),
    },
)

SEEDREAM_4 = _seedream(
    "seedream-4", "4", "Seedream 4.0",
    "ByteDance Seedream 4.0: 2K-4K text-to-image, editing with up to 10 references, and image sets.",
    (
        *_multi_image_params(("1K", "2K", "4K", "custom"), 512, (*FAL_SIZE_PRESETS, "auto", "auto_2K", "auto_4K")),
        Param("enhance_prompt_mode", "choice", "standard", choices=("standard", "fast"), backends=only("fal"),
              advanced=True, label="Prompt enhancer",
              description="fal's prompt enhancer: standard (better) or fast."),
        # Replicate's enhance_prompt default is not confirmed (§5.5, "probably true").
        prompt_expansion(True, backends=only("replicate")),
        safety_checker(backends=only("fal")),
    ),
    Price(per_image=0.03, source="fal llms.txt (§5.1, §5.2, §7)"),
    Price(per_image=0.03, source="Together/Vercel list price (§5.5, §7, M)"),
    rename={"enable_prompt_expansion": "enhance_prompt"},
)

SEEDREAM_45 = _seedream(
    "seedream-4.5", "4.5", "Seedream 4.5",
    "ByteDance Seedream 4.5: sharper 2K-4K text-to-image and multi-reference editing, image sets.",
    (
        # Replicate's newest published 4.5 schema has sizes 2K and 4K only (no custom width/height).
        *_multi_image_params(("2K", "4K"), 1440, (*FAL_SIZE_PRESETS, "auto_2K", "auto_4K")),
        safety_checker(backends=only("fal", "replicate")),
    ),
    None,  # fal's price is unknown (§5.3; aggregators say ~$0.04)
    Price(per_image=0.04, source="Puter billing config (§5.5, §7, L)"),
    inverted={"enable_safety_checker": "disable_safety_checker"},
    prompt_max=4000,  # Replicate's limit; fal's is not stated
)

SEEDEDIT_3 = ModelSpec(
    id="seededit-3",
    family="seedream",
    label="SeedEdit 3.0",
    description="ByteDance SeedEdit 3.0: instruction editing of one image that keeps the rest intact.",
    modes={I2I: ModeSpec(I2I, 1, 1, "edit one image by instruction")},
    params=(
        guidance(0.5, 0.0, 10.0, overrides={"fal": {"max": 1.0}, "replicate": {"min": 1.0, "default": 5.5}},
                 description="How closely the edit follows the prompt (fal's scale is 0-1, Replicate's 1-10)."),
        safety_checker(backends=only("fal")),
        sync_mode(),
    ),
    routes={
        "fal": HostedRoute(
            provider="fal",
            endpoints={I2I: "fal-ai/bytedance/seededit/v3/edit-image"},
            image_fields={I2I: ImageField("image_url")},
            output="image",
            price=Price(per_image=0.03, source="fal llms.txt / docs excerpt (§5.4, §7, M)"),
        ),
        "replicate": HostedRoute(
            provider="replicate",
            endpoints={I2I: "bytedance/seededit-3.0"},
            image_fields={I2I: ImageField("image")},
            output="uri",
            price=Price(per_image=0.03, source="~$0.03 (§5.5, §7, L)"),
        ),
    },
    # fal's seededit/v3 is missing from @fal-ai/client 1.10.1 and its OpenAPI fetch failed in one audit
    # (§5.4): it may be retired, so it is only offered when this environment variable is set.
    feature_flag="PLAYGROUND_ENABLE_SEEDEDIT_FAL",
)

MODELS: tuple[ModelSpec, ...] = (SEEDREAM_3, SEEDREAM_4, SEEDREAM_45, SEEDEDIT_3)
