"""AUTOMATIC1111's `parameters` text ("infotext"): names, quoting, writing and reading.

The format (AUTOMATIC1111 `modules/infotext_utils.py`, also written by Forge and read by
sd-prompt-reader, sd-parsers, Civitai and most image browsers):

    <prompt, possibly several lines>
    Negative prompt: <negative prompt, possibly several lines>
    Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 832x1216, ...

The last line holds `Key: value` pairs; a value with a comma, colon, newline or a leading quote
is written as a JSON string (A1111's `quote`). This module also holds the sampler tables that
translate between diffusers schedulers, the playground's scheduler choices and the names
AUTOMATIC1111 (sampler + schedule type), ComfyUI and InvokeAI use. It imports nothing heavy.
"""

from __future__ import annotations

import json
import re
from typing import Any

NEGATIVE_PREFIX = "Negative prompt:"
# A1111's own pattern for one `Key: value` pair of the last line.
PARAM_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
MIN_PAIRS = 3  # A1111 treats a last line with fewer pairs as part of the prompt
AUTOMATIC = "Automatic"

# The playground's scheduler choices (catalog/sdxl.py SCHEDULERS) as A1111 writes them:
# (sampler, schedule type). "Default" is not here: the scheduler that ran is named instead.
A1111_NAMES: dict[str, tuple[str, str]] = {
    "Euler": ("Euler", AUTOMATIC),
    "Euler a": ("Euler a", AUTOMATIC),
    "DPM++ 2M": ("DPM++ 2M", AUTOMATIC),
    "DPM++ 2M Karras": ("DPM++ 2M", "Karras"),
    "DPM++ 2M SDE": ("DPM++ 2M SDE", AUTOMATIC),
    "DPM++ 2M SDE Karras": ("DPM++ 2M SDE", "Karras"),
    "DPM2": ("DPM2", AUTOMATIC),
    "DPM2 a": ("DPM2 a", AUTOMATIC),
    "Heun": ("Heun", AUTOMATIC),
    "LMS": ("LMS", AUTOMATIC),
    "DDIM": ("DDIM", AUTOMATIC),
    "PNDM": ("PLMS", AUTOMATIC),
    "UniPC": ("UniPC", AUTOMATIC),
    "DEIS": ("DEIS", AUTOMATIC),
}
# diffusers scheduler classes as A1111 sampler names (DPMSolverMultistep depends on its algorithm).
DIFFUSERS_SAMPLERS: dict[str, str] = {
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "FlowMatchEulerDiscreteScheduler": "Euler",
    "KDPM2DiscreteScheduler": "DPM2",
    "KDPM2AncestralDiscreteScheduler": "DPM2 a",
    "HeunDiscreteScheduler": "Heun",
    "LMSDiscreteScheduler": "LMS",
    "DDIMScheduler": "DDIM",
    "PNDMScheduler": "PLMS",
    "UniPCMultistepScheduler": "UniPC",
    "DEISMultistepScheduler": "DEIS",
    "LCMScheduler": "LCM",
    "DPMSolverSinglestepScheduler": "DPM++ SDE",
}
# Scheduler config entries that decide the A1111 name (kept in the record as what ran).
SCHEDULER_FACTS: tuple[str, ...] = ("algorithm_type", "use_karras_sigmas", "use_exponential_sigmas",
                                    "use_beta_sigmas", "timestep_spacing", "shift", "use_dynamic_shifting")
# ComfyUI's sampler_name values and InvokeAI's scheduler values, as the playground's choices.
COMFY_SAMPLERS: dict[str, str] = {
    "euler": "Euler", "euler_ancestral": "Euler a", "dpmpp_2m": "DPM++ 2M", "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpm_2": "DPM2", "dpm_2_ancestral": "DPM2 a", "heun": "Heun", "lms": "LMS", "ddim": "DDIM", "uni_pc": "UniPC",
    "uni_pc_bh2": "UniPC", "deis": "DEIS",
}
COMFY_SCHEDULES: dict[str, str] = {
    "normal": AUTOMATIC, "karras": "Karras", "exponential": "Exponential", "sgm_uniform": "SGM Uniform",
    "simple": "Simple", "ddim_uniform": "DDIM", "beta": "Beta", "kl_optimal": "KL Optimal",
}
INVOKE_SCHEDULERS: dict[str, str] = {
    "euler": "Euler", "euler_a": "Euler a", "dpmpp_2m": "DPM++ 2M", "dpmpp_2m_k": "DPM++ 2M Karras",
    "dpmpp_2m_sde": "DPM++ 2M SDE", "dpmpp_2m_sde_k": "DPM++ 2M SDE Karras", "kdpm_2": "DPM2",
    "kdpm_2_a": "DPM2 a", "heun": "Heun", "lms": "LMS", "ddim": "DDIM", "pndm": "PNDM", "unipc": "UniPC",
    "deis": "DEIS",
}


def quote(value: Any) -> str:
    """A value as A1111 writes it: JSON-quoted when a reader would otherwise split or unquote it."""
    text = str(value)
    if any(c in text for c in ",:\n") or text.startswith('"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def unquote(text: str) -> str:
    """The inverse of `quote` (A1111's `unquote`): a JSON string becomes its text."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def format_infotext(prompt: str, negative_prompt: str | None, pairs: list[tuple[str, Any]]) -> str:
    """The `parameters` text: the prompt, the negative prompt (when there is one), then the pairs
    whose value is not None or empty, quoted as A1111 does."""
    lines = [prompt or ""]
    if negative_prompt:
        lines.append(f"{NEGATIVE_PREFIX} {negative_prompt}")
    lines.append(", ".join(f"{key}: {quote(value)}" for key, value in pairs if value is not None and value != ""))
    return "\n".join(lines)


def parse_infotext(text: str) -> tuple[str, str, dict[str, str]]:
    """Read a `parameters` text as AUTOMATIC1111 does: (prompt, negative prompt, {key: value}).

    Values stay text, unquoted; nothing is filled in or dropped (`Size` stays "WxH").
    """
    *lines, last = text.strip().split("\n")
    if len(PARAM_PAIR.findall(last)) < MIN_PAIRS:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PREFIX):
            in_negative = True
            line = line[len(NEGATIVE_PREFIX):].strip()
        (negative if in_negative else prompt).append(line)
    fields = {key: unquote(value) for key, value in PARAM_PAIR.findall(last)}
    return "\n".join(prompt), "\n".join(negative), fields


def looks_like_infotext(text: str) -> bool:
    """Whether `text` has A1111's shape: a last line of at least three `Key: value` pairs."""
    return bool(text) and len(PARAM_PAIR.findall(text.strip().split("\n")[-1])) >= MIN_PAIRS


def sampler_of_choice(choice: str | None) -> tuple[str | None, str | None]:
    """A1111 (sampler, schedule type) for a playground scheduler choice; (None, None) if unknown."""
    return A1111_NAMES.get(choice or "", (None, None))


def sampler_of_diffusers(facts: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """A1111 (sampler, schedule type) for a diffusers scheduler described by `scheduler_facts`."""
    if not isinstance(facts, dict) or not facts.get("class"):
        return None, None  # not a local run (a provider's own `scheduler` field is a plain name)
    name = facts["class"]
    if name == "DPMSolverMultistepScheduler":
        sampler = "DPM++ 2M SDE" if "sde" in str(facts.get("algorithm_type", "")) else "DPM++ 2M"
    else:
        sampler = DIFFUSERS_SAMPLERS.get(name, name)
    if facts.get("use_karras_sigmas"):
        schedule = "Karras"
    elif facts.get("use_exponential_sigmas"):
        schedule = "Exponential"
    elif facts.get("use_beta_sigmas"):
        schedule = "Beta"
    elif name == "FlowMatchEulerDiscreteScheduler":
        schedule = "Simple"  # what Forge writes for FLUX's flow-matching schedule
    elif facts.get("timestep_spacing") == "trailing":
        schedule = "SGM Uniform"
    else:
        schedule = AUTOMATIC
    return sampler, schedule


def scheduler_facts(scheduler: Any) -> dict[str, Any]:
    """The class and the naming-relevant config entries of a diffusers scheduler object."""
    config = dict(getattr(scheduler, "config", {}) or {})
    facts: dict[str, Any] = {"class": type(scheduler).__name__}
    facts.update({key: config[key] for key in SCHEDULER_FACTS if key in config})
    return facts


def choice_of_sampler(sampler: str | None, schedule: str | None = None) -> tuple[str | None, str | None]:
    """The playground scheduler choice for an A1111 sampler and schedule type.

    Returns (choice, left_over): left_over names a schedule type the choice cannot express
    (None when it maps exactly). Old A1111 names with the schedule joined in ("DPM++ 2M Karras")
    are read too. (None, None) for a sampler the playground does not have.
    """
    if not sampler:
        return None, None
    sampler = sampler.strip()
    schedule = (schedule or AUTOMATIC).strip()
    for suffix in (" Karras", " Exponential"):
        if sampler.endswith(suffix) and schedule == AUTOMATIC:
            sampler, schedule = sampler[: -len(suffix)], suffix.strip()
    if sampler == "PLMS":
        sampler = "PNDM"
    if sampler not in A1111_NAMES and A1111_NAMES.get(sampler + " Karras") is None:
        return None, None
    if schedule in (AUTOMATIC, "Normal", "Uniform", ""):
        return sampler, None
    joined = f"{sampler} {schedule}"
    if joined in A1111_NAMES:
        return joined, None
    return sampler, schedule


__all__ = [
    "A1111_NAMES", "COMFY_SAMPLERS", "COMFY_SCHEDULES", "INVOKE_SCHEDULERS", "choice_of_sampler", "format_infotext",
    "looks_like_infotext", "parse_infotext", "quote", "sampler_of_choice", "sampler_of_diffusers", "scheduler_facts",
    "unquote",
]
