"""FLUX.1 [schnell]: the fast 1-4 step helper (local diffusers FluxPipeline, Replicate).

Facts from shared/reference/model-parameters.md §4 (Replicate cog-flux) and §7 (price). The local
route uses diffusers 0.42.1's `FluxPipeline`; schnell is guidance-free and its T5 prompt is cut at
256 tokens, so the local defaults differ from the pipeline's FLUX.1 [dev] oriented signature.
"""

from __future__ import annotations

from playground.catalog.common import (
    FLUX_ASPECT_RATIOS,
    REPLICATE_JPG,
    T2I,
    aspect_ratio,
    go_fast,
    image_size,
    loras,
    max_sequence_length,
    num_images,
    only,
    output_format,
    output_quality,
    safety_checker,
    steps,
)
from playground.catalog.spec import HostedRoute, LocalRoute, ModelSpec, ModeSpec, Price
from playground.params import Param

FLUX_SCHNELL = ModelSpec(
    id="flux-schnell",
    family="flux1",
    label="FLUX.1 [schnell]",
    description="FLUX.1 [schnell]: Apache-2.0 text-to-image in 1-4 steps; fast drafts and test images.",
    modes={T2I: ModeSpec(T2I)},
    params=(
        image_size("square_hd", 64, 2048, backends=only("local"), multiple_of=16),
        aspect_ratio("1:1", FLUX_ASPECT_RATIOS, backends=only("replicate")),
        Param("megapixels", "choice", "1", choices=("1", "0.25"), backends=only("replicate"), label="Megapixels",
              description="Approximate output size in megapixels."),
        # Timestep-distilled for 1-4 steps; locally more are allowed but rarely help.
        steps(4, 1, 50, overrides={"replicate": {"max": 4}}),
        num_images(1, 4),
        max_sequence_length(256),
        # Replicate serves adapters from black-forest-labs/flux-schnell-lora (the same cog-flux schnell weights):
        # one `lora_weights`, `lora_scale` -1 to 3 (catalog/schemas/replicate/black-forest-labs/flux-schnell-lora.json).
        # fal's FLUX.1 LoRA endpoints (fal-ai/flux-lora, ...) run FLUX.1 [dev], not schnell, so fal is not a route.
        loras(backends=only("local", "replicate"),
              overrides={"replicate": {"min": -1.0, "max": 3.0, "max_items": 1}}),
        safety_checker(backends=only("replicate")),
        output_format("webp", ("jpeg", "png", "webp"), backends=only("replicate")),
        output_quality(),
        go_fast(),
    ),
    routes={
        "local": LocalRoute(
            repo="black-forest-labs/FLUX.1-schnell",
            pipelines={T2I: "FluxPipeline"},
            dtype="bfloat16",
            native={"num_images": "num_images_per_prompt"},
            # schnell has no guidance embedding; FluxPipeline's 3.5 default would be ignored anyway.
            call_args={"guidance_scale": 0.0},
            size_multiple=16,
            license_note="Apache-2.0.",
        ),
        "replicate": HostedRoute(
            provider="replicate",
            endpoints={T2I: "black-forest-labs/flux-schnell"},
            lora_endpoints={T2I: "black-forest-labs/flux-schnell-lora"},
            lora_shape="lora_weights",
            rename={"num_images": "num_outputs"},
            values=REPLICATE_JPG,
            inverted={"enable_safety_checker": "disable_safety_checker"},
            output="uri_list",
            price=Price(per_image=0.003, source="replicate.com/pricing transcription (§4, §7, M)"),
        ),
    },
)

MODELS: tuple[ModelSpec, ...] = (FLUX_SCHNELL,)
