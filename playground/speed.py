"""Speed settings of the local backend: what they are, their defaults, and how they are written down.

Each setting can change the output bits, so the one a run used is kept in its record (`speed`) and
a re-run from that record asks for it again. Operators set the defaults with environment
variables; a request (or a re-run) may carry its own, which win key by key.

| setting       | variable                  | values                                           | default |
|---------------|---------------------------|--------------------------------------------------|---------|
| dtype         | PLAYGROUND_DTYPE          | float32, float16, bfloat16 (empty: the route's)   | route   |
| attention     | PLAYGROUND_ATTENTION      | default, or a diffusers attention backend name    | default |
| compile       | PLAYGROUND_COMPILE        | off, regional (repeated blocks), full            | off     |
| channels_last | PLAYGROUND_CHANNELS_LAST  | 1/0 (UNet denoisers only)                         | 0       |
| fuse_qkv      | PLAYGROUND_FUSE_QKV       | 1/0 (fused QKV projections of the denoiser)       | 0       |
| vae_tiling    | PLAYGROUND_VAE_TILING     | 1/0                                              | 0       |
| vae_slicing   | PLAYGROUND_VAE_SLICING    | 1/0 (decode a batch one image at a time)          | 0       |

None is on by default: none is free (each changes the bits or costs memory or start-up time).
This module is pure data; applying the settings to a pipeline is `playground.backends.speedups`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from playground.params import Problem, ValidationError

DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")
COMPILE_MODES: tuple[str, ...] = ("off", "regional", "full")
# diffusers 0.42.1 `AttentionBackendName` values (tests check this list against the installed enum).
ATTENTION_BACKENDS: tuple[str, ...] = (
    "flash", "flash_hub", "flash_varlen", "flash_varlen_hub", "flash_4_hub", "_flash_3", "_flash_varlen_3",
    "_flash_3_hub", "_flash_3_varlen_hub", "aiter_fa2_hub", "flex", "native", "_native_cudnn",
    "_native_efficient", "_native_flash", "_native_math", "_native_npu", "_native_xla", "sage", "sage_hub",
    "sage_blackwell_hub", "sage_varlen", "_sage_qk_int8_pv_fp8_cuda", "_sage_qk_int8_pv_fp8_cuda_sm90",
    "_sage_qk_int8_pv_fp16_cuda", "_sage_qk_int8_pv_fp16_triton", "xformers",
)  # fmt: skip
ATTENTION_CHOICES: tuple[str, ...] = ("default", *ATTENTION_BACKENDS)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")
ENV: dict[str, str] = {
    "dtype": "PLAYGROUND_DTYPE", "attention": "PLAYGROUND_ATTENTION", "compile": "PLAYGROUND_COMPILE",
    "channels_last": "PLAYGROUND_CHANNELS_LAST", "fuse_qkv": "PLAYGROUND_FUSE_QKV",
    "vae_tiling": "PLAYGROUND_VAE_TILING", "vae_slicing": "PLAYGROUND_VAE_SLICING",
}  # fmt: skip


@dataclass(frozen=True)
class SpeedSettings:
    """How the local backend runs a pipeline; `dtype=None` means the route's default for the device."""

    dtype: str | None = None
    attention: str = "default"
    compile: str = "off"
    channels_last: bool = False
    fuse_qkv: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SpeedSettings:
        """The operator's defaults from PLAYGROUND_* variables (see the module docstring)."""
        env = os.environ if environ is None else environ
        given = {name: env[var] for name, var in ENV.items() if var in env}
        return cls().merged(given, source="env")

    def merged(self, overrides: Mapping[str, Any] | None, source: str = "speed") -> SpeedSettings:
        """These settings with `overrides` (names as in `as_dict`) applied; raises ValidationError
        naming `source.name` for every unknown name or value not allowed."""
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise ValidationError([Problem(source, overrides, "an object of speed settings: "
                                           + ", ".join(f.name for f in fields(self)))])
        problems: list[Problem] = []
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            where = ENV[name] if source == "env" and name in ENV else f"{source}.{name}"
            parsed = _parse(name, value, where, problems)
            if parsed is not _INVALID:
                changes[name] = parsed
        if problems:
            raise ValidationError(problems)
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as kept in records."""
        return asdict(self)

    def changed(self) -> dict[str, Any]:
        """Only the settings that differ from the built-in defaults."""
        default = SpeedSettings().as_dict()
        return {k: v for k, v in self.as_dict().items() if v != default[k]}


_INVALID = object()


def _parse(name: str, value: Any, where: str, problems: list[Problem]) -> Any:
    if name == "dtype":
        if value is None or value == "":
            return None
        if value in DTYPES:
            return value
        problems.append(Problem(where, value, "one of " + ", ".join(DTYPES) + " (or empty for the route's default)"))
    elif name == "attention":
        if value in ATTENTION_CHOICES:
            return value
        problems.append(Problem(where, value, "default, or a diffusers attention backend: "
                                + ", ".join(b for b in ATTENTION_BACKENDS if not b.startswith("_"))
                                + " (and the _native_* variants)"))
    elif name == "compile":
        if value in COMPILE_MODES:
            return value
        problems.append(Problem(where, value, "one of " + ", ".join(COMPILE_MODES)))
    elif name in ("channels_last", "fuse_qkv", "vae_tiling", "vae_slicing"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        problems.append(Problem(where, value, "true or false (1/0)"))
    else:
        problems.append(Problem(where, value, "a speed setting: " + ", ".join(ENV)))
    return _INVALID


__all__ = ["ATTENTION_BACKENDS", "COMPILE_MODES", "DTYPES", "ENV", "SpeedSettings"]
