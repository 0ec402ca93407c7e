"""LoRA adapters as parameters: where an adapter comes from, who may use which source, how hosted
providers spell them, and how a Compare axis addresses one adapter of the list.

The canonical value of the `loras` parameter is a list of `{"path": str, "scale": float}` (checked by
`params.Param.coerce`). A path is one of:

- a Hugging Face repo id, `owner/repo`, optionally followed by the weights file inside it
  (`owner/repo/pixel-art.safetensors`, or `owner/repo/sub/folder/x.safetensors`);
- an https URL of a `.safetensors` file (fal and Replicate fetch it themselves; locally it is
  downloaded into the hub cache with a size limit);
- a local file (absolute, or starting with `./`, `../` or `~`), only on a single-user machine and only
  for local runs: a shared server never reads its own files for a visitor, and a hosted provider
  cannot read this machine's files at all.

This module is pure (no torch, no network); the local loading lives in `backends/lora.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from playground.params import Problem
from playground.storage import multi_user

Source = Literal["hub", "url", "file"]
# owner/repo as the Hub allows it, then an optional path to the weights inside the repo.
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96})(?:/(?P<file>[^\s]+))?$")
_AXIS_FIELD = re.compile(r"^loras\[(?P<index>\d)\]\.(?P<field>path|scale)$")
LORA_PARAM = "loras"


@dataclass(frozen=True)
class AdapterRef:
    """Where one adapter's weights come from: `source` and, for the Hub, repo id and file."""

    path: str
    source: Source
    repo_id: str | None = None
    weight_name: str | None = None

    @property
    def name(self) -> str:
        """A short name for labels and A1111's `Lora hashes`: the file's stem, else the repo's name."""
        tail = self.weight_name or (self.repo_id or self.path).rstrip("/")
        stem = re.split(r"[/\\]", tail.split("?", 1)[0])[-1]
        for suffix in (".safetensors", ".bin", ".pt", ".ckpt"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
        return stem or self.path


def parse_path(path: str) -> AdapterRef | None:
    """Classify an adapter path; None when it is none of a Hub id, an https URL or a local file."""
    text = path.strip()
    if text.lower().startswith("https://"):
        return AdapterRef(text, "url")
    if "://" in text:
        return None
    if text.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return AdapterRef(text, "file")
    match = _HUB_ID.match(text)
    if match and ".." not in text.split("/"):
        return AdapterRef(text, "hub", match.group("repo"), match.group("file"))
    return None


def path_problems(loras: list[dict[str, Any]] | None, backend: str, field: str = "params.loras",
                  shape: str | None = None) -> list[Problem]:
    """What is wrong with the adapters' paths for `backend` ("auto": judged for a local run).

    Hosted providers take Hub ids and https URLs; Replicate's SDXL (`shape` "replicate_weights", the
    default on replicate) takes one https URL of a Replicate training's weights, cog-flux's `lora_weights`
    a Hub id or https URL of a `.safetensors` file. Local files are refused on a shared server and on every
    hosted backend.
    """
    if backend == "replicate" and shape is None:
        shape = "replicate_weights"
    problems: list[Problem] = []
    for i, item in enumerate(loras or []):
        where, path = f"{field}[{i}].path", item.get("path", "")
        ref = parse_path(path)
        if ref is None:
            problems.append(Problem(where, path, "a Hugging Face repo id (owner/repo or owner/repo/file.safetensors),"
                                                 " an https URL, or a local file path"))
        elif ref.source == "file" and backend not in ("local", "auto"):
            problems.append(Problem(where, path, f"a Hugging Face repo id or an https URL on {backend} "
                                                 f"(a hosted provider cannot read files on this machine)"))
        elif ref.source == "file" and multi_user():
            problems.append(Problem(where, path, "a Hugging Face repo id or an https URL (this server is shared: "
                                                 "it does not read its own files for visitors)"))
        elif shape == "replicate_weights" and ref.source != "url":
            problems.append(Problem(where, path, "an https URL of Replicate trained weights (a .tar from a "
                                                 "Replicate SDXL fine-tune) on replicate"))
        elif shape == "lora_weights" and ref.source == "hub" and ref.weight_name \
                and not ref.weight_name.lower().endswith(".safetensors"):
            problems.append(Problem(where, path, f"a .safetensors file in the repo on {backend} (it loads no "
                                                 "other format)"))
    return problems


# -- hosted payloads ------------------------------------------------------------------------------------

def native_loras(loras: list[dict[str, Any]], shape: str) -> dict[str, Any]:
    """The payload fields that carry `loras` on a hosted route.

    "list": fal's `loras: [{path, scale}]` (fast-sdxl `LoraWeight`, FLUX.2 LoRA `LoRAInput`).
    "replicate_weights": cog-sdxl's `replicate_weights` (one URL) and `lora_scale`.
    "lora_weights": cog-flux's `lora_weights` (one adapter) and `lora_scale`; a Hub id travels as the
    `huggingface.co/...` address cog-flux reads as the Hub (a bare `owner/name` would mean a Replicate model).
    """
    if not loras:
        return {}
    if shape == "replicate_weights":
        first = loras[0]
        return {"replicate_weights": first["path"], "lora_scale": first["scale"]}
    if shape == "lora_weights":
        first = loras[0]
        return {"lora_weights": cog_flux_weights(first["path"]), "lora_scale": first["scale"]}
    return {"loras": [{"path": item["path"], "scale": item["scale"]} for item in loras]}


def cog_flux_weights(path: str) -> str:
    """An adapter path as cog-flux's `lora_weights` reads it: a Hub repo as `huggingface.co/owner/repo`
    (its only .safetensors file), a file in it as its https `resolve/main` URL, an https URL as it is."""
    ref = parse_path(path)
    if ref is None or ref.source != "hub":
        return path.strip()
    if ref.weight_name:
        return f"https://huggingface.co/{ref.repo_id}/resolve/main/{ref.weight_name}"
    return f"huggingface.co/{ref.repo_id}"


# -- records --------------------------------------------------------------------------------------------

def recorded(adapters: list[dict[str, Any]] | None, loras: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The adapters a record keeps: the backend's own account (local: with file hashes), else the
    requested list (hosted: the provider fetches the file, so its bytes are not hashed here)."""
    if adapters:
        return [dict(a) for a in adapters]
    out = []
    for item in loras or []:
        ref = parse_path(str(item.get("path", "")))
        out.append({"path": item.get("path"), "name": ref.name if ref else item.get("path"),
                    "source": ref.source if ref else None, "scale": item.get("scale"), "sha256": None})
    return out


def lora_hashes(adapters: list[dict[str, Any]]) -> str | None:
    """A1111's `Lora hashes` value: "name: first 12 hex of the hash, ..." with A1111's own safetensors hash
    (tensor bytes after the header) where known; adapters without a hash (hosted runs) are left out."""
    parts = [f"{a.get('name') or a.get('path')}: {(a.get('tensor_sha256') or a['sha256'])[:12]}"
             for a in adapters or [] if a.get("sha256")]
    return ", ".join(parts) or None


# -- Compare axes ---------------------------------------------------------------------------------------

def axis_field(name: str) -> tuple[int, str] | None:
    """`loras[i].scale` or `loras[i].path` as (i, field); None for any other name."""
    match = _AXIS_FIELD.match(name or "")
    return (int(match.group("index")), match.group("field")) if match else None


def axis_title(name: str) -> str:
    index, field = axis_field(name) or (0, "")
    return f"LoRA {index + 1} scale" if field == "scale" else f"LoRA {index + 1}"


def axis_label(name: str, value: Any) -> str:
    """The cell label of one axis value: the scale as a number, the adapter by its short name."""
    if axis_field(name) and axis_field(name)[1] == "path":  # type: ignore[index]
        ref = parse_path(str(value))
        return ref.name if ref else str(value)
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def with_axis_value(loras: Any, name: str, value: Any) -> list[dict[str, Any]]:
    """The shared adapter list with adapter i's scale or path replaced by `value`.

    An index one past the end adds an adapter (scale 1 for a path axis; a scale axis needs the
    adapter's path in the shared list, so the cell then fails validation naming the missing path).
    """
    index, field = axis_field(name)  # type: ignore[misc]
    if isinstance(loras, str):
        try:
            loras = json.loads(loras) if loras.strip() else []
        except ValueError:
            loras = []
    items = [dict(item) for item in loras if isinstance(item, dict)] if isinstance(loras, (list, tuple)) else []
    while len(items) <= index:
        items.append({"path": "", "scale": 1.0})
    items[index][field] = value
    return items
