"""Apply speed settings (playground.speed) to a loaded diffusers pipeline, and undo them.

`apply` brings a pipeline's shared modules to the asked settings, switching each one on or off
only when it changes (state lives with the loaded weights), and returns the settings in effect:
a setting that does not apply to this pipeline (channels-last on a transformer, an attention
backend a UNet's processors cannot use) is recorded as off, with a warning, so the record says
what really ran. `call_context` wraps the pipeline call for attention choices that work through
torch's SDPA kernel selection instead of diffusers' dispatcher. dtype is applied at load time by
the backend (it is part of the cache key), not here.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from playground.params import Problem, ValidationError
from playground.speed import SpeedSettings

# Attention choices a processor without diffusers' dispatcher (SDXL's AttnProcessor2_0) can still
# honour: they name torch SDPA kernels, selected around the call with torch.nn.attention.sdpa_kernel.
SDPA_KERNELS: dict[str, str] = {
    "_native_flash": "FLASH_ATTENTION", "_native_efficient": "EFFICIENT_ATTENTION",
    "_native_math": "MATH", "_native_cudnn": "CUDNN_ATTENTION",
}  # fmt: skip


def denoiser(pipe: Any) -> Any:
    """The pipeline's denoising network: its UNet or its transformer (None if it has neither)."""
    return getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)


def is_unet(module: Any) -> bool:
    return type(module).__name__.startswith("UNet")


def uses_dispatcher(module: Any) -> bool:
    """Whether the module's attention goes through diffusers' attention dispatcher."""
    processors = getattr(module, "attn_processors", None) or {}
    return any(hasattr(p, "_attention_backend") for p in processors.values())


def apply(pipe: Any, state: dict[str, Any], speed: SpeedSettings) -> tuple[SpeedSettings, list[str]]:
    """Bring `pipe` to `speed`; returns the settings in effect and warnings for those that did not apply.

    `state` is the per-weights memory of what is switched on now (start with `{}`)."""
    import torch

    net, vae = denoiser(pipe), getattr(pipe, "vae", None)
    name = type(net).__name__ if net is not None else type(pipe).__name__
    warnings: list[str] = []
    effective = speed

    def skip(setting: str, off: Any, why: str) -> None:
        nonlocal effective
        effective = replace(effective, **{setting: off})
        warnings.append(f"speed setting {setting}={getattr(speed, setting)} has no effect here ({why}); "
                        f"recorded as {off}")

    for setting, method in (("vae_tiling", "tiling"), ("vae_slicing", "slicing")):
        wanted = getattr(speed, setting)
        if wanted and not hasattr(vae, f"enable_{method}"):
            skip(setting, False, f"{type(vae).__name__} cannot {method[:-3]}e")
        elif state.get(setting, False) != wanted:
            state[setting] = None  # unknown until the switch is done (it may raise half-way)
            getattr(vae, f"{'enable' if wanted else 'disable'}_{method}")()
            state[setting] = wanted

    if speed.channels_last and not is_unet(net):
        skip("channels_last", False, f"{name} is not a UNet")
    elif state.get("channels_last", False) != speed.channels_last:
        state["channels_last"] = None
        net.to(memory_format=torch.channels_last if speed.channels_last else torch.contiguous_format)
        state["channels_last"] = speed.channels_last

    if speed.fuse_qkv and not hasattr(net, "fuse_qkv_projections"):
        skip("fuse_qkv", False, f"{name} offers no fused QKV projections")
    elif state.get("fuse_qkv", False) != speed.fuse_qkv:
        state["fuse_qkv"] = None
        net.fuse_qkv_projections() if speed.fuse_qkv else net.unfuse_qkv_projections()
        state["fuse_qkv"] = speed.fuse_qkv
        state["attention"] = None  # fusing may swap processors: choose their backend again

    try:
        _apply_attention(net, state, speed.attention, name, skip)
    except (RuntimeError, ValueError, ImportError) as err:
        raise ValidationError([Problem("speed.attention", speed.attention,
                                       f"an attention backend usable here ({_reason(err)})")]) from None
    try:
        _apply_compile(net, state, speed.compile)
    except (RuntimeError, ValueError, ImportError) as err:
        raise ValidationError([Problem("speed.compile", speed.compile, f"off here ({_reason(err)})")]) from None
    return effective, warnings


def _reason(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__)[:200]


def _apply_attention(net: Any, state: dict[str, Any], wanted: str, name: str, skip: Any) -> None:
    if state.get("attention", "default") == wanted:
        return
    state["attention"] = state["sdpa_kernel"] = None
    if uses_dispatcher(net):
        if wanted == "default":
            net.reset_attention_backend()
        else:
            net.set_attention_backend(wanted)
    elif wanted in SDPA_KERNELS:
        state["sdpa_kernel"] = SDPA_KERNELS[wanted]
    elif wanted not in ("default", "native"):
        skip("attention", "default", f"{name}'s attention processors do not use diffusers' dispatcher; "
                                     f"use one of {', '.join(SDPA_KERNELS)}")
        wanted = "default"
    state["attention"] = wanted


def _apply_compile(net: Any, state: dict[str, Any], wanted: str) -> None:
    if state.get("compile", "off") == wanted:
        return
    state["compile"] = None
    # Both kinds compile in place with nn.Module.compile; clearing its hook returns to eager.
    for module in net.modules():
        if getattr(module, "_compiled_call_impl", None) is not None:
            module._compiled_call_impl = None
    if wanted == "full":
        net.compile()
    elif wanted == "regional":
        net.compile_repeated_blocks()
    state["compile"] = wanted


def call_context(state: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
    """Context for the pipeline call: the SDPA kernel an attention choice selected, else nothing."""
    kernel = state.get("sdpa_kernel")
    if not kernel:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(getattr(SDPBackend, kernel))


__all__ = ["SDPA_KERNELS", "apply", "call_context", "denoiser", "is_unet", "uses_dispatcher"]
