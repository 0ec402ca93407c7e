"""Tiny LoRA adapters for the tiny pipelines, built in code like the pipelines themselves.

peft injects random (non-zero) LoRA layers into a fresh copy of the tiny denoiser, and the pipeline
class's own `save_lora_weights` writes them in diffusers' format as safetensors, so the files load
through the same `load_lora_weights` path a real adapter from the Hub takes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import Flux2Pipeline, Flux2Transformer2DModel, StableDiffusionXLPipeline, UNet2DConditionModel
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

SDXL_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
FLUX2_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out",
                 "to_qkv_mlp_proj", "linear_in", "linear_out"]


def _lora_layers(model: torch.nn.Module, targets: list[str], seed: int, alpha: float) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=alpha, target_modules=targets, init_lora_weights=False)
    return get_peft_model_state_dict(inject_adapter_in_model(config, model))


def build_sdxl_lora(pipeline_dir: Path, out_dir: Path, seed: int = 1, name: str = "tiny-sdxl") -> Path:
    """A UNet LoRA for the tiny SDXL pipeline in `pipeline_dir`; returns the .safetensors file."""
    unet = UNet2DConditionModel.from_pretrained(pipeline_dir, subfolder="unet")
    layers = _lora_layers(unet, SDXL_TARGETS, seed, alpha=4)
    StableDiffusionXLPipeline.save_lora_weights(out_dir, unet_lora_layers=layers, weight_name=f"{name}.safetensors")
    return Path(out_dir) / f"{name}.safetensors"


def build_flux2_lora(pipeline_dir: Path, out_dir: Path, seed: int = 1, name: str = "tiny-flux2") -> Path:
    """A transformer LoRA for the tiny FLUX.2 pipeline in `pipeline_dir`; returns the .safetensors file."""
    transformer = Flux2Transformer2DModel.from_pretrained(pipeline_dir, subfolder="transformer")
    layers = _lora_layers(transformer, FLUX2_TARGETS, seed, alpha=16)
    Flux2Pipeline.save_lora_weights(out_dir, transformer_lora_layers=layers, weight_name=f"{name}.safetensors")
    return Path(out_dir) / f"{name}.safetensors"
