"""The real architectures of the local models, written down as configs, built with random weights.

Used by bench/gpu_fullsize.py. Each `*_FULL` config is the published `config.json` of the model's
component (source named above it), copied value by value; each `*_TINY` replaces the sizes so that
`--scale tiny` runs the very same construction code on a CPU in milliseconds. Building on
`torch.device("meta")` costs nothing and gives the full-size parameter counts (tests check them).
Tokenizers are the hand-made ones of tests/tiny_pipelines.py: prompts are padded to the same
lengths as with the real ones (77 for CLIP, max_sequence_length for T5, Mistral and Qwen), so the
compute is the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from tests.tiny_pipelines import _clip_tokenizer, _mistral_tokenizer, _qwen_tokenizer, _t5_tokenizer

# -- SDXL base: stabilityai/stable-diffusion-xl-base-1.0 --------------------------------------------
# unet/config.json
SDXL_UNET_FULL: dict[str, Any] = {
    "act_fn": "silu", "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280],
    "center_input_sample": False, "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816, "sample_size": 128, "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "use_linear_projection": True,
}  # fmt: skip
SDXL_UNET_TINY: dict[str, Any] = {
    "attention_head_dim": [2, 4], "block_out_channels": [16, 32], "cross_attention_dim": 64,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"], "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 80, "transformer_layers_per_block": [1, 1],
    "norm_num_groups": 8, "sample_size": 8,
}  # fmt: skip
# vae/config.json (the FLUX.1 VAE has the same layout with 16 latent channels, see FLUX1_VAE_FULL)
SDXL_VAE_FULL: dict[str, Any] = {
    "act_fn": "silu", "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
    "force_upcast": True, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32,
    "out_channels": 3, "sample_size": 1024, "scaling_factor": 0.13025, "up_block_types": ["UpDecoderBlock2D"] * 4,
}  # fmt: skip
VAE_TINY: dict[str, Any] = {"block_out_channels": [8, 8, 16, 16], "layers_per_block": 1, "norm_num_groups": 4,
                            "sample_size": 64}
# text_encoder/config.json (openai/clip-vit-large-patch14's text tower; FLUX.1's text_encoder too)
CLIP_L_FULL: dict[str, Any] = {
    "hidden_act": "quick_gelu", "hidden_size": 768, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77, "num_attention_heads": 12, "num_hidden_layers": 12, "projection_dim": 768,
    "vocab_size": 49408,
}  # fmt: skip
# text_encoder_2/config.json (OpenCLIP ViT-bigG/14's text tower, CLIPTextModelWithProjection)
CLIP_BIGG_FULL: dict[str, Any] = {
    "hidden_act": "gelu", "hidden_size": 1280, "intermediate_size": 5120, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77, "num_attention_heads": 20, "num_hidden_layers": 32, "projection_dim": 1280,
    "vocab_size": 49408,
}  # fmt: skip
CLIP_TINY: dict[str, Any] = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                             "num_hidden_layers": 5, "projection_dim": 32}
# scheduler/scheduler_config.json
SDXL_SCHEDULER: dict[str, Any] = {
    "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1, "timestep_spacing": "leading",
}  # fmt: skip

# -- FLUX.1: black-forest-labs/FLUX.1-Kontext-dev and FLUX.1-schnell (same transformer layout) -------
# transformer/config.json (Kontext-dev and dev: guidance_embeds true; schnell: false)
FLUX1_TRANSFORMER_FULL: dict[str, Any] = {
    "attention_head_dim": 128, "axes_dims_rope": [16, 56, 56], "guidance_embeds": True, "in_channels": 64,
    "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 19, "num_single_layers": 38,
    "patch_size": 1, "pooled_projection_dim": 768,
}  # fmt: skip
FLUX1_TRANSFORMER_TINY: dict[str, Any] = {
    "attention_head_dim": 16, "axes_dims_rope": [4, 6, 6], "joint_attention_dim": 32, "num_attention_heads": 2,
    "num_layers": 1, "num_single_layers": 1, "pooled_projection_dim": 32,
}  # fmt: skip
# vae/config.json
FLUX1_VAE_FULL: dict[str, Any] = {
    **SDXL_VAE_FULL, "latent_channels": 16, "scaling_factor": 0.3611, "shift_factor": 0.1159,
    "use_quant_conv": False, "use_post_quant_conv": False,
}  # fmt: skip
# text_encoder_2/config.json (google/t5-v1_1-xxl's encoder)
T5_XXL_FULL: dict[str, Any] = {
    "d_ff": 10240, "d_kv": 64, "d_model": 4096, "dense_act_fn": "gelu_new", "feed_forward_proj": "gated-gelu",
    "is_gated_act": True, "layer_norm_epsilon": 1e-06, "num_heads": 64, "num_layers": 24,
    "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32, "tie_word_embeddings": False,
    "vocab_size": 32128,
}  # fmt: skip
T5_TINY: dict[str, Any] = {"d_ff": 37, "d_kv": 8, "d_model": 32, "num_heads": 4, "num_layers": 2,
                           "relative_attention_max_distance": 32, "relative_attention_num_buckets": 8}
# scheduler/scheduler_config.json (Kontext-dev: dynamic shifting; schnell: static shift 1.0)
FLUX1_SCHEDULER: dict[str, Any] = {
    "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15,
    "num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": True,
}  # fmt: skip
SCHNELL_SCHEDULER: dict[str, Any] = {**FLUX1_SCHEDULER, "shift": 1.0, "use_dynamic_shifting": False}

# -- FLUX.2: black-forest-labs/FLUX.2-klein-4B and FLUX.2-dev ---------------------------------------
# FLUX.2-klein-4B transformer/config.json (also diffusers' scripts/convert_flux2_to_diffusers.py "klein-4b")
FLUX2_KLEIN_4B_TRANSFORMER_FULL: dict[str, Any] = {
    "attention_head_dim": 128, "axes_dims_rope": [32, 32, 32, 32], "eps": 1e-06, "guidance_embeds": False,
    "in_channels": 128, "joint_attention_dim": 7680, "mlp_ratio": 3.0, "num_attention_heads": 24, "num_layers": 5,
    "num_single_layers": 20, "patch_size": 1, "rope_theta": 2000, "timestep_guidance_channels": 256,
}  # fmt: skip
# FLUX.2-dev transformer/config.json (also the defaults of diffusers' Flux2Transformer2DModel)
FLUX2_DEV_TRANSFORMER_FULL: dict[str, Any] = {
    **FLUX2_KLEIN_4B_TRANSFORMER_FULL, "guidance_embeds": True, "joint_attention_dim": 15360,
    "num_attention_heads": 48, "num_layers": 8, "num_single_layers": 48,
}  # fmt: skip
FLUX2_TRANSFORMER_TINY: dict[str, Any] = {
    "attention_head_dim": 16, "axes_dims_rope": [4, 4, 4, 4], "joint_attention_dim": 48, "num_attention_heads": 2,
    "num_layers": 1, "num_single_layers": 1,
}  # fmt: skip
# FLUX.2-dev vae/config.json, shared by klein (AutoencoderKLFlux2)
FLUX2_VAE_FULL: dict[str, Any] = {
    "act_fn": "silu", "batch_norm_eps": 0.0001, "batch_norm_momentum": 0.1, "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3, "latent_channels": 32, "layers_per_block": 2,
    "mid_block_add_attention": True, "norm_num_groups": 32, "out_channels": 3, "patch_size": [2, 2],
    "sample_size": 1024, "up_block_types": ["UpDecoderBlock2D"] * 4, "use_post_quant_conv": True,
    "use_quant_conv": True,
}  # fmt: skip
# FLUX.2-klein-4B text_encoder/config.json (Qwen/Qwen3-4B, Qwen3ForCausalLM)
QWEN3_4B_FULL: dict[str, Any] = {
    "head_dim": 128, "hidden_act": "silu", "hidden_size": 2560, "intermediate_size": 9728,
    "max_position_embeddings": 40960, "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000, "tie_word_embeddings": True, "vocab_size": 151936,
}  # fmt: skip
QWEN3_TINY: dict[str, Any] = {"head_dim": 4, "hidden_size": 16, "intermediate_size": 37,
                              "max_position_embeddings": 1024, "num_attention_heads": 4, "num_hidden_layers": 27,
                              "num_key_value_heads": 2}
# FLUX.2-dev text_encoder/config.json (mistralai/Mistral-Small-3.1-24B-Instruct-2503, Mistral3ForConditionalGeneration)
MISTRAL_TEXT_FULL: dict[str, Any] = {
    "model_type": "mistral", "head_dim": 128, "hidden_act": "silu", "hidden_size": 5120, "intermediate_size": 32768,
    "max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 1000000000.0, "sliding_window": None, "tie_word_embeddings": False,
    "vocab_size": 131072,
}  # fmt: skip
MISTRAL_VISION_FULL: dict[str, Any] = {
    "model_type": "pixtral", "head_dim": 64, "hidden_act": "silu", "hidden_size": 1024, "image_size": 1540,
    "intermediate_size": 4096, "num_attention_heads": 16, "num_channels": 3, "num_hidden_layers": 24,
    "patch_size": 14, "rope_theta": 10000.0,
}  # fmt: skip
MISTRAL3_FULL: dict[str, Any] = {"image_token_index": 10, "multimodal_projector_bias": False,
                                 "projector_hidden_act": "gelu", "spatial_merge_size": 2, "tie_word_embeddings": False,
                                 "vision_feature_layer": -1}
MISTRAL_TEXT_TINY: dict[str, Any] = {"head_dim": 4, "hidden_size": 16, "intermediate_size": 37,
                                     "max_position_embeddings": 1024, "num_attention_heads": 4,
                                     "num_hidden_layers": 30, "num_key_value_heads": 2}
MISTRAL_VISION_TINY: dict[str, Any] = {"head_dim": 4, "hidden_size": 16, "image_size": 32, "intermediate_size": 37,
                                       "num_attention_heads": 4, "num_hidden_layers": 1, "patch_size": 8}
FLUX2_SCHEDULER: dict[str, Any] = FLUX1_SCHEDULER


def scaled(full: dict[str, Any], tiny: dict[str, Any], scale: str, tokenizer: Any = None) -> dict[str, Any]:
    """`full` as published, or with `tiny`'s sizes for --scale tiny (and, for a text model, a vocabulary
    the size of the hand-made `tokenizer`: a 150k-entry LM head would be most of a tiny model's time)."""
    if scale == "full":
        return dict(full)
    return {**full, **tiny, **({"vocab_size": len(tokenizer)} if tokenizer is not None else {})}


@contextlib.contextmanager
def building(device: str, dtype: torch.dtype) -> Iterator[None]:
    """Create parameters directly on `device` in `dtype` (no float32 copy of a 24B model first)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous)


def _on_host(factory: Callable[..., Any], **config: Any) -> Any:
    """Build a scheduler on the CPU in float32, whatever `building` says (schedulers keep CPU tables)."""
    with building("cpu", torch.float32):
        return factory(**config)


def _eval(*modules: torch.nn.Module) -> None:
    for module in modules:
        module.eval()


def _clip(config: dict[str, Any], tokenizer: Any, with_projection: bool) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(**config, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg)


def sdxl_components(scale: str) -> dict[str, Any]:
    """SDXL base: UNet (2.6 B), VAE, CLIP-L and OpenCLIP bigG text towers, Euler scheduler."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel

    tokenizer, tokenizer_2 = _clip_tokenizer(), _clip_tokenizer()
    torch.manual_seed(0)
    return {
        "unet": UNet2DConditionModel(**scaled(SDXL_UNET_FULL, SDXL_UNET_TINY, scale)),
        "vae": AutoencoderKL(**scaled(SDXL_VAE_FULL, VAE_TINY, scale)),
        "text_encoder": _clip(scaled(CLIP_L_FULL, CLIP_TINY, scale, tokenizer), tokenizer, with_projection=False),
        "text_encoder_2": _clip(scaled(CLIP_BIGG_FULL, CLIP_TINY, scale, tokenizer_2), tokenizer_2,
                                with_projection=True),
        "tokenizer": tokenizer,
        "tokenizer_2": tokenizer_2,
        "scheduler": _on_host(EulerDiscreteScheduler, **SDXL_SCHEDULER),
    }


def flux1_components(scale: str, schnell: bool) -> dict[str, Any]:
    """FLUX.1 (Kontext-dev, or schnell): transformer (11.9 B), T5-XXL encoder, CLIP-L, 16-channel VAE."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    tokenizer, tokenizer_2 = _clip_tokenizer(), _t5_tokenizer()
    transformer = {**scaled(FLUX1_TRANSFORMER_FULL, FLUX1_TRANSFORMER_TINY, scale), "guidance_embeds": not schnell}
    t5 = T5Config(**scaled(T5_XXL_FULL, T5_TINY, scale, tokenizer_2), pad_token_id=tokenizer_2.pad_token_id,
                  eos_token_id=tokenizer_2.eos_token_id, decoder_start_token_id=tokenizer_2.pad_token_id)
    torch.manual_seed(0)
    return {
        "transformer": FluxTransformer2DModel(**transformer),
        "vae": AutoencoderKL(**scaled(FLUX1_VAE_FULL, VAE_TINY, scale)),
        "text_encoder": _clip(scaled(CLIP_L_FULL, CLIP_TINY, scale, tokenizer), tokenizer, with_projection=False),
        "text_encoder_2": T5EncoderModel(t5),
        "tokenizer": tokenizer,
        "tokenizer_2": tokenizer_2,
        "scheduler": _on_host(FlowMatchEulerDiscreteScheduler, **(SCHNELL_SCHEDULER if schnell else FLUX1_SCHEDULER)),
    }


def flux2_klein_components(scale: str) -> dict[str, Any]:
    """FLUX.2 klein 4B (distilled): transformer (3.9 B), Qwen3-4B text encoder, FLUX.2 VAE."""
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = _qwen_tokenizer()
    qwen = Qwen3Config(**scaled(QWEN3_4B_FULL, QWEN3_TINY, scale, tokenizer),
                       bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
                       eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    return {
        "transformer": Flux2Transformer2DModel(**scaled(FLUX2_KLEIN_4B_TRANSFORMER_FULL, FLUX2_TRANSFORMER_TINY,
                                                        scale)),
        "vae": AutoencoderKLFlux2(**scaled(FLUX2_VAE_FULL, VAE_TINY, scale)),
        "text_encoder": Qwen3ForCausalLM(qwen),
        "tokenizer": tokenizer,
        "scheduler": _on_host(FlowMatchEulerDiscreteScheduler, **FLUX2_SCHEDULER),
        "is_distilled": True,
    }


def flux2_dev_components(scale: str) -> dict[str, Any]:
    """FLUX.2 dev: transformer (32 B), Mistral Small 3.1 24B text encoder, FLUX.2 VAE."""
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    tokenizer = _mistral_tokenizer()
    text = {**scaled(MISTRAL_TEXT_FULL, MISTRAL_TEXT_TINY, scale, tokenizer), "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    mistral = Mistral3Config(text_config=text, vision_config=scaled(MISTRAL_VISION_FULL, MISTRAL_VISION_TINY, scale),
                             **{**MISTRAL3_FULL, "image_token_index": tokenizer.convert_tokens_to_ids("[IMG]")})
    transformer = scaled(FLUX2_DEV_TRANSFORMER_FULL, FLUX2_TRANSFORMER_TINY, scale)
    torch.manual_seed(0)
    return {
        "transformer": Flux2Transformer2DModel(**transformer),
        "vae": AutoencoderKLFlux2(**scaled(FLUX2_VAE_FULL, VAE_TINY, scale)),
        "text_encoder": Mistral3ForConditionalGeneration(mistral),
        "tokenizer": tokenizer,
        "scheduler": _on_host(FlowMatchEulerDiscreteScheduler, **FLUX2_SCHEDULER),
    }


@dataclass(frozen=True)
class BenchModel:
    """One catalog model as the benchmark builds and runs it."""

    model_id: str
    pipeline: str  # diffusers pipeline class the folder is saved as
    components: Callable[[str], dict[str, Any]]
    mode: str = "text-to-image"


MODELS: dict[str, BenchModel] = {
    m.model_id: m for m in (
        BenchModel("flux-2-klein-4b", "Flux2KleinPipeline", flux2_klein_components),
        BenchModel("sdxl-base", "StableDiffusionXLPipeline", sdxl_components),
        BenchModel("flux-schnell", "FluxPipeline", lambda scale: flux1_components(scale, schnell=True)),
        BenchModel("flux-kontext-dev", "FluxKontextPipeline", lambda scale: flux1_components(scale, schnell=False),
                   mode="image-to-image"),
        BenchModel("flux-2-dev", "Flux2Pipeline", flux2_dev_components),
    )
}  # fmt: skip


def build_pipeline(model: BenchModel, scale: str, device: str, dtype: torch.dtype) -> Any:
    """The random-weight pipeline of `model`, its parameters created on `device` in `dtype`, in eval mode."""
    import diffusers

    with building(device, dtype):
        components = model.components(scale)
    pipe = getattr(diffusers, model.pipeline)(**components)
    _eval(*(c for c in pipe.components.values() if isinstance(c, torch.nn.Module)))
    return pipe


def parameter_counts(model: BenchModel, scale: str = "full") -> dict[str, int]:
    """Parameters per component, counted on the meta device (no memory, no time)."""
    with building("meta", torch.float32):
        components = model.components(scale)
    return {name: sum(p.numel() for p in c.parameters()) for name, c in components.items()
            if isinstance(c, torch.nn.Module)}


__all__ = ["MODELS", "BenchModel", "build_pipeline", "parameter_counts", "scaled"]
