"""Local emulator of the fal queue protocol and the Replicate predictions protocol.

The real ``fal_client`` and ``replicate`` clients talk to it over plain http on
``127.0.0.1`` (random port).  It runs a stdlib ``ThreadingHTTPServer`` in a daemon
thread and draws its output images with Pillow.  Nothing is mocked on the client side.

Pointing the clients at it::

    emu = ProviderEmulator().start()
    with emu.patch_fal_client():                  # fal: patches fal_client.client URL globals
        fal_client.SyncClient(key="test-a").subscribe("fal-ai/flux-2", arguments={...})
    replicate.Client(api_token="test-a", base_url=emu.replicate_url).run(...)
    emu.stop()

Behaviour in short (see ``ProviderEmulator`` for the details):

* Jobs follow a time line: queued for ``queue_seconds``, processing for
  ``work_seconds`` (plus any injected ``slow`` time), then done.  fal reports
  ``IN_QUEUE`` -> ``IN_PROGRESS`` (growing logs with tqdm-like step lines) ->
  ``COMPLETED``; Replicate reports ``starting`` -> ``processing`` ->
  ``succeeded``/``failed``/``canceled``.
* Payloads are checked against the providers' published input schemas shipped under
  ``playground/catalog/schemas/`` (read directly from the JSON, never through the catalog's
  code): unknown fields, wrong types, values out of range or not in the enum, missing
  required fields and too many images give a 422 in the provider's own error shape.  Types
  are checked strictly (no ``"5"`` for an int; an integral float such as ``5.0`` is accepted
  for an int, as JSON schema does).  fal accepts ``null`` for optional fields without a
  default (pydantic ``Optional``); Replicate rejects ``null`` (JSON schema).  Endpoints and
  models without a snapshot are refused (fal 404 / Replicate 404).
  ``serve_schema(endpoint, document)`` makes one endpoint judge by a changed document.
* The two schema URLs are served from the same documents: fal's
  ``{fal_gateway_url}/api/openapi/queue/openapi.json?endpoint_id=...`` and Replicate's
  ``GET /v1/models/{owner}/{name}`` (and ``.../versions/{id}`` for the pinned SDXL).
* Image inputs must be http(s) URLs or ``data:image/...;base64,`` URIs
  (``data:application/octet-stream;base64,`` is also accepted, since that is what
  ``replicate`` sends for a nameless file object with ``file_encoding_strategy="base64"``).
  Data URIs are decoded and opened with Pillow.  URLs that point at this emulator
  (uploads, earlier outputs) are resolved and checked too; other URLs are accepted
  unchecked (there is no internet).
* Output images are real PNG/JPEG/WebP files, deterministic from
  ``(endpoint, prompt, seed, index)`` (see ``render_image``), sized from
  ``image_size``/``aspect_ratio``/``width``+``height``/``resolution``/``size`` or the input
  image, **with every side capped at 1024 px** (aspect ratio kept) to stay fast; 512x512
  where nothing says otherwise.  They are rendered lazily at first download and served
  from ``{base_url}/files/<name>``.  With no ``seed`` in the input one is drawn and
  returned (fal ``seed`` field, Replicate ``Using seed: N`` log line).
* fal input validation happens when the runner gets the job, as on the real service:
  the submit succeeds, the status goes ``IN_QUEUE`` -> ``COMPLETED`` and the result GET
  returns the 422.  Pass ``fal_validate_on_submit=True`` to reject at submit instead.
  The sync ``fal_run_url`` always answers 422 directly.
* Replicate official-model predictions report a deterministic fake version id,
  ``sha256("provider-emulator/<owner>/<name>")`` (see ``fake_version_id``), instead of
  the ``"hidden"`` the real service may give, so tests can see which model ran;
  ``stability-ai/sdxl`` uses its real pinned version ``SDXL_VERSION``.
  ``Prefer: wait[=N]`` holds the create request until the prediction is terminal or N
  seconds (default 60) pass; if it is not terminal by then the answer says ``starting``
  (``replicate.run`` treats any other non-terminal status as final).
* Output URLs are plain ``http://``, so ``replicate.run`` returns ``str`` rather than
  ``FileOutput`` (the client only wraps ``https:``/``data:`` strings).

Faults (``inject``) are described in ``ProviderEmulator.inject``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import email.parser
import email.policy
import hashlib
import io
import json
import math
import random
import re
import secrets
import socket
import string
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from PIL import Image, ImageDraw

__all__ = [
    "ENDPOINT_SCHEMAS",
    "FAL_SIZE_PRESETS",
    "FAULTS",
    "MAX_SIDE",
    "PHASES",
    "ProviderEmulator",
    "SDXL_VERSION",
    "fake_version_id",
    "render_image",
]

MAX_SIDE = 1024
"""Every generated image side is capped at this many pixels (aspect ratio kept)."""
DEFAULT_SIZE = (512, 512)
HUGE_IMAGE_BYTES = 60 * 1024 * 1024

FAL_SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}

FAULTS = frozenset(
    {
        "401",
        "403",
        "422",
        "429",
        "500",
        "502",
        "slow",
        "fail",
        "malformed",
        "nsfw",
        "drop",
        "bad_image",
        "huge_image",
    }
)
_HTTP_FAULTS = frozenset({"401", "403", "429", "500", "502", "drop"})
_JOB_FAULTS = frozenset({"422", "slow", "fail", "nsfw", "bad_image", "huge_image"})

PHASES = frozenset(
    {
        "submit",
        "status",
        "result",
        "cancel",
        "model",
        "storage_token",
        "cdn_upload",
        "storage_initiate",
        "storage_put",
        "file_upload",
        "file",
    }
)
_PHASE_GROUPS: dict[str, frozenset[str]] = {
    "api": frozenset({"submit", "status", "result", "cancel", "model"}),
    "upload": frozenset({"storage_token", "cdn_upload", "storage_initiate", "storage_put", "file_upload"}),
    "any": PHASES,
}

_CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def fake_version_id(model: str) -> str:
    """Deterministic 64-hex fake version id the emulator reports for an official model."""
    return hashlib.sha256(f"provider-emulator/{model}".encode()).hexdigest()


# --------------------------------------------------------------------------------------
# Schema table
# --------------------------------------------------------------------------------------
#
# What each endpoint ACCEPTS comes only from the providers' published schemas shipped under
# playground/catalog/schemas/ (read here directly as JSON, never through the catalog's code).
# What each endpoint RETURNS (output shape, result keys, how the output size is worked out, the
# format field) is the emulator's own knowledge below.

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "playground" / "catalog" / "schemas"
_MAX_IMAGE_SIDE = 14142
_FULL_EXTRAS = ("timings", "seed", "has_nsfw_concepts", "prompt")
_SEED_ONLY = ("seed",)


def _snapshot_file(provider: str, endpoint: str) -> Path:
    return SCHEMA_DIR.joinpath(provider, *endpoint.split("/")[:-1], endpoint.split("/")[-1] + ".json")


def load_snapshot(provider: str, endpoint: str) -> dict[str, Any] | None:
    """The shipped snapshot document of ``endpoint`` (a fresh copy), or None."""
    path = _snapshot_file(provider, endpoint)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _deref(node: Any, root: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_deref(v, root) for v in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        return {**_deref(target, root), **{k: _deref(v, root) for k, v in node.items() if k != "$ref"}}
    return {k: _deref(v, root) for k, v in node.items()}


def snapshot_input(provider: str, doc: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
    """The input JSON schema of a provider document (fal OpenAPI / Replicate model or version)."""
    if provider == "fal":
        paths = doc.get("paths") or {}
        keys = [f"/{endpoint}"] if f"/{endpoint}" in paths else list(paths)
        for key in keys:
            body = ((paths.get(key) or {}).get("post") or {}).get("requestBody") or {}
            schema = ((body.get("content") or {}).get("application/json") or {}).get("schema")
            if schema:
                return _deref(schema, doc)
        raise ValueError(f"no POST body schema for {endpoint}")
    version = doc.get("latest_version", doc)
    components = version["openapi_schema"]["components"]
    return _deref(components["schemas"]["Input"], {"components": components})


def _flatten(node: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in node.items() if k != "allOf"}
    for part in node.get("allOf", []):
        for k, v in _flatten(part).items():
            out.setdefault(k, v)
    return out


def _types(node: Mapping[str, Any]) -> set[str]:
    t = node.get("type")
    kinds = set(t) if isinstance(t, list) else ({t} if t else set())
    if "enum" in node:
        kinds |= {"string" if isinstance(v, str) else "integer" if isinstance(v, int) else "number"
                  for v in node["enum"]}
    return kinds


def _field(name: str, node: Mapping[str, Any], required: bool, images: tuple[str, ...]) -> dict[str, Any]:
    """One field in the emulator's own format, from its published JSON schema."""
    node = _flatten(node)
    branches = [_flatten(b) for b in node.get("anyOf") or node.get("oneOf") or [node]]
    kinds: set[str] = set()
    for b in branches:
        kinds |= _types(b)
    spec: dict[str, Any] = {}
    obj = next((b for b in branches if "object" in _types(b) and b.get("properties")), None)
    enum = [v for b in branches for v in b.get("enum", [])]
    if obj is not None and "string" in kinds:  # fal ImageSize or preset name
        side = _flatten(obj["properties"].get("width") or {})
        spec["type"] = "image_size"
        spec["enum"] = enum
        spec["min"] = side.get("minimum", 1)
        spec["max"] = side.get("maximum", _MAX_IMAGE_SIDE)
    elif name in images:
        spec["type"] = "image_list" if "array" in kinds else "image"
    elif "integer" in kinds:
        spec["type"] = "int"
    elif "number" in kinds:
        spec["type"] = "float"
    elif "boolean" in kinds:
        spec["type"] = "bool"
    elif "array" in kinds:
        spec["type"] = "list"
        item = _flatten(next((b.get("items") for b in branches if isinstance(b.get("items"), dict)), {}))
        if item.get("properties"):  # a list of objects (fal's LoRA weights): each entry checked too
            inner = set(item.get("required") or ())
            spec["items"] = {k: _field(k, v, k in inner, ()) for k, v in item["properties"].items()}
    else:
        spec["type"] = "str"
    if enum and spec["type"] != "image_size":
        spec["enum"] = enum
    for b in branches:
        for key, ours in (("minimum", "min"), ("maximum", "max"), ("maxItems", "max_items"),
                          ("maxLength", "max_length")):
            if isinstance(b.get(key), (int, float)) and not isinstance(b.get(key), bool):
                spec[ours] = b[key]
        if "exclusiveMinimum" in b and spec["type"] in ("int", "float"):
            spec["xmin"] = b["exclusiveMinimum"]
    if "default" in node:
        spec["default"] = node["default"]
    if required:
        spec["required"] = True
    return spec


def snapshot_fields(provider: str, doc: Mapping[str, Any], endpoint: str,
                    images: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Every input field of a provider document, in the emulator's field format."""
    schema = snapshot_input(provider, doc, endpoint)
    required = set(schema.get("required") or ())
    return {name: _field(name, node, name in required, images)
            for name, node in (schema.get("properties") or {}).items()}


def _fal(
    endpoint: str,
    *,
    image_field: str | None = None,
    image_shape: str | None = None,
    output: str = "images",
    extras: tuple[str, ...] = _SEED_ONLY,
    size_mode: str = "image_size",
    default_format: str = "png",
    format_field: str | None = "output_format",
    extra_image_fields: tuple[str, ...] = (),
    notes: str = "",
) -> dict[str, Any]:
    """A fal endpoint: how it answers (ours), and what it accepts (its published schema)."""
    doc = load_snapshot("fal", endpoint)
    if doc is None:
        raise RuntimeError(f"no shipped schema snapshot for fal {endpoint}")
    images = tuple(f for f in (image_field, *extra_image_fields) if f)
    fields = snapshot_fields("fal", doc, endpoint, images)
    return {
        "provider": "fal",
        "document": doc,
        "fields": fields,
        "image_field": image_field,
        "image_shape": image_shape if image_field else None,
        "extra_image_fields": extra_image_fields,
        "output": output,
        "output_keys": (output, *extras),
        "size_mode": size_mode,
        "format_field": format_field,
        "default_format": default_format,
        "count_field": "num_images" if "num_images" in fields else None,
        "notes": notes,
    }


def _rep(
    model: str,
    *,
    image_field: str | None,
    image_shape: str | None = None,
    output: str,
    size_mode: str = "ratio",
    default_format: str = "webp",
    format_field: str | None = "output_format",
    count_field: str | None = None,
    extra_image_fields: tuple[str, ...] = (),
    max_with_image: dict[str, int] | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """A Replicate model: how it answers (ours), and what it accepts (its published schema).

    A snapshot of a version object (with ``id`` at the top) is a pinned, non-official model that
    takes predictions by version only; a model object is an official model.
    """
    doc = load_snapshot("replicate", model)
    if doc is None:
        raise RuntimeError(f"no shipped schema snapshot for Replicate {model}")
    official = "latest_version" in doc
    images = tuple(f for f in (image_field, *extra_image_fields) if f)
    return {
        "provider": "replicate",
        "document": doc,
        "fields": snapshot_fields("replicate", doc, model, images),
        "image_field": image_field,
        "image_shape": image_shape if image_field else None,
        "extra_image_fields": extra_image_fields,
        "output": output,
        "size_mode": size_mode,
        "format_field": format_field,
        "default_format": default_format,
        "count_field": count_field,
        "official": official,
        "version": fake_version_id(model) if official else doc["id"],
        "max_with_image": max_with_image or {},
        "notes": notes,
    }


def _fal_flux2(endpoint: str, edit: bool, default_format: str, extras: tuple[str, ...]) -> dict[str, Any]:
    return _fal(endpoint, image_field="image_urls" if edit else None, image_shape="list", extras=extras,
                default_format=default_format)


def _fal_kontext_pro(endpoint: str, t2i: bool) -> dict[str, Any]:
    return _fal(endpoint, image_field=None if t2i else "image_url", image_shape="single", extras=_FULL_EXTRAS,
                size_mode="fal_aspect_ratio", default_format="jpeg")


def _fal_seedream(endpoint: str, edit: bool, extras: tuple[str, ...] = _SEED_ONLY) -> dict[str, Any]:
    return _fal(endpoint, image_field="image_urls" if edit else None, image_shape="list", extras=extras,
                default_format="png", format_field=None)


def _fal_sdxl(endpoint: str, kind: str) -> dict[str, Any]:
    return _fal(endpoint, image_field="image_url" if kind != "t2i" else None, image_shape="single",
                extras=_FULL_EXTRAS, default_format="jpeg", format_field="format",
                extra_image_fields=("mask_url",) if kind == "inpaint" else ())


def _rep_flux2(model: str) -> dict[str, Any]:
    return _rep(model, image_field="input_images", image_shape="list", output="uri")


ENDPOINT_SCHEMAS: dict[str, dict[str, Any]] = {
    # fal ------------------------------------------------------------------------------
    "fal-ai/flux-2": _fal_flux2("fal-ai/flux-2", False, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/edit": _fal_flux2("fal-ai/flux-2/edit", True, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/lora": _fal_flux2("fal-ai/flux-2/lora", False, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/lora/edit": _fal_flux2("fal-ai/flux-2/lora/edit", True, "png", _FULL_EXTRAS),
    "fal-ai/flux-2-pro": _fal_flux2("fal-ai/flux-2-pro", False, "jpeg", _SEED_ONLY),
    "fal-ai/flux-2-pro/edit": _fal_flux2("fal-ai/flux-2-pro/edit", True, "jpeg", _SEED_ONLY),
    "fal-ai/flux-2-flex": _fal_flux2("fal-ai/flux-2-flex", False, "jpeg", _SEED_ONLY),
    "fal-ai/flux-2-flex/edit": _fal_flux2("fal-ai/flux-2-flex/edit", True, "jpeg", _SEED_ONLY),
    "fal-ai/flux-2-max": _fal_flux2("fal-ai/flux-2-max", False, "jpeg", _SEED_ONLY),
    "fal-ai/flux-2-max/edit": _fal_flux2("fal-ai/flux-2-max/edit", True, "jpeg", _SEED_ONLY),
    "fal-ai/flux-2/klein/4b": _fal_flux2("fal-ai/flux-2/klein/4b", False, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/klein/4b/edit": _fal_flux2("fal-ai/flux-2/klein/4b/edit", True, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/klein/9b": _fal_flux2("fal-ai/flux-2/klein/9b", False, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/klein/9b/edit": _fal_flux2("fal-ai/flux-2/klein/9b/edit", True, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/klein/4b/lora": _fal_flux2("fal-ai/flux-2/klein/4b/lora", False, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/klein/4b/edit/lora": _fal_flux2("fal-ai/flux-2/klein/4b/edit/lora", True, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/klein/9b/lora": _fal_flux2("fal-ai/flux-2/klein/9b/lora", False, "png", _FULL_EXTRAS),
    "fal-ai/flux-2/klein/9b/edit/lora": _fal_flux2("fal-ai/flux-2/klein/9b/edit/lora", True, "png", _FULL_EXTRAS),
    "fal-ai/flux-kontext/dev": _fal("fal-ai/flux-kontext/dev", image_field="image_url", image_shape="single",
                                    extras=_FULL_EXTRAS, size_mode="fal_resolution_mode", default_format="jpeg"),
    "fal-ai/flux-kontext-lora": _fal("fal-ai/flux-kontext-lora", image_field="image_url", image_shape="single",
                                     extras=_FULL_EXTRAS, size_mode="fal_resolution_mode", default_format="png"),
    "fal-ai/flux-pro/kontext": _fal_kontext_pro("fal-ai/flux-pro/kontext", False),
    "fal-ai/flux-pro/kontext/text-to-image": _fal_kontext_pro("fal-ai/flux-pro/kontext/text-to-image", True),
    "fal-ai/flux-pro/kontext/max": _fal_kontext_pro("fal-ai/flux-pro/kontext/max", False),
    "fal-ai/flux-pro/kontext/max/text-to-image": _fal_kontext_pro("fal-ai/flux-pro/kontext/max/text-to-image", True),
    "fal-ai/bytedance/seedream/v3/text-to-image": _fal_seedream("fal-ai/bytedance/seedream/v3/text-to-image", False),
    "fal-ai/bytedance/seedream/v4/text-to-image": _fal_seedream("fal-ai/bytedance/seedream/v4/text-to-image", False),
    "fal-ai/bytedance/seedream/v4/edit": _fal_seedream("fal-ai/bytedance/seedream/v4/edit", True),
    "fal-ai/bytedance/seedream/v4.5/text-to-image": _fal_seedream("fal-ai/bytedance/seedream/v4.5/text-to-image",
                                                                  False),
    "fal-ai/bytedance/seedream/v4.5/edit": _fal_seedream("fal-ai/bytedance/seedream/v4.5/edit", True, ()),
    "fal-ai/bytedance/seededit/v3/edit-image": _fal(
        "fal-ai/bytedance/seededit/v3/edit-image", image_field="image_url", image_shape="single", output="image",
        size_mode="input", default_format="jpeg", format_field=None,
        notes="possibly retired on fal (absent from fal's newest client types)"),
    "fal-ai/fast-sdxl": _fal_sdxl("fal-ai/fast-sdxl", "t2i"),
    "fal-ai/fast-sdxl/image-to-image": _fal_sdxl("fal-ai/fast-sdxl/image-to-image", "i2i"),
    "fal-ai/fast-sdxl/inpainting": _fal_sdxl("fal-ai/fast-sdxl/inpainting", "inpaint"),
    # Replicate ------------------------------------------------------------------------
    "black-forest-labs/flux-2-dev": _rep_flux2("black-forest-labs/flux-2-dev"),
    "black-forest-labs/flux-2-pro": _rep_flux2("black-forest-labs/flux-2-pro"),
    "black-forest-labs/flux-2-flex": _rep_flux2("black-forest-labs/flux-2-flex"),
    "black-forest-labs/flux-2-max": _rep_flux2("black-forest-labs/flux-2-max"),
    "black-forest-labs/flux-kontext-dev": _rep("black-forest-labs/flux-kontext-dev", image_field="input_image",
                                               image_shape="single", output="uri"),
    "black-forest-labs/flux-kontext-pro": _rep("black-forest-labs/flux-kontext-pro", image_field="input_image",
                                               image_shape="single", output="uri", default_format="png",
                                               max_with_image={"safety_tolerance": 2}),
    "black-forest-labs/flux-kontext-max": _rep("black-forest-labs/flux-kontext-max", image_field="input_image",
                                               image_shape="single", output="uri", default_format="png",
                                               max_with_image={"safety_tolerance": 2}),
    "black-forest-labs/flux-schnell": _rep("black-forest-labs/flux-schnell", image_field=None, output="uris",
                                           count_field="num_outputs"),
    "black-forest-labs/flux-schnell-lora": _rep("black-forest-labs/flux-schnell-lora", image_field=None,
                                                output="uris", count_field="num_outputs"),
    "bytedance/seedream-3": _rep("bytedance/seedream-3", image_field=None, output="uri", default_format="jpeg",
                                 format_field=None),
    "bytedance/seedream-4": _rep("bytedance/seedream-4", image_field="image_input", image_shape="list",
                                 output="uris", default_format="jpeg", format_field=None,
                                 count_field="seq_max_images"),
    "bytedance/seedream-4.5": _rep("bytedance/seedream-4.5", image_field="image_input", image_shape="list",
                                   output="uris", default_format="jpeg", format_field=None,
                                   count_field="seq_max_images"),
    "bytedance/seededit-3.0": _rep("bytedance/seededit-3.0", image_field="image", image_shape="single",
                                   output="uri", size_mode="input", default_format="jpeg", format_field=None),
    "stability-ai/sdxl": _rep("stability-ai/sdxl", image_field="image", image_shape="single", output="uris",
                              size_mode="wh", default_format="png", format_field=None, count_field="num_outputs",
                              extra_image_fields=("mask",)),
}
"""Endpoint id (fal) or ``owner/name`` (Replicate) -> schema.

Keys of a schema: ``provider`` ("fal"/"replicate"); ``document`` (the shipped provider document);
``fields`` {name: {type, enum?, min?, max?, required?, max_items?, max_length?, default?}} read from
that document; ``image_field`` and ``image_shape`` ("single"/"list"/None); ``extra_image_fields``
(masks); ``output`` (fal "images" list / "image" single; Replicate "uri" single / "uris" list);
``output_keys`` (fal result keys); ``size_mode``; ``format_field``/``default_format``;
``count_field``; Replicate only: ``official``, ``version``, ``max_with_image``.
"""

SDXL_VERSION: str = ENDPOINT_SCHEMAS["stability-ai/sdxl"]["version"]
"""The pinned stability-ai/sdxl version: the id of the shipped version snapshot."""


def with_document(schema: Mapping[str, Any], doc: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
    """``schema`` judging by another provider document (a changed snapshot served on purpose)."""
    images = tuple(f for f in (schema.get("image_field"), *schema.get("extra_image_fields", ())) if f)
    out = dict(schema)
    out["document"] = copy.deepcopy(dict(doc))
    out["fields"] = snapshot_fields(schema["provider"], doc, endpoint, images)
    if schema["provider"] == "replicate" and not schema["official"]:
        out["version"] = doc.get("id", schema["version"])
    return out


def _published(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A provider document as the provider serves it: without our snapshot notes."""
    return {k: copy.deepcopy(v) for k, v in doc.items() if k != "x-playground-snapshot"}


_VERSION_INDEX: dict[str, str] = {
    s["version"]: name for name, s in ENDPOINT_SCHEMAS.items() if s["provider"] == "replicate"
}


# --------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------


def _norm_format(value: Any, default: str) -> str:
    v = str(value or default).lower()
    if v in ("jpg", "jpeg"):
        return "jpeg"
    if v in ("png", "webp"):
        return v
    return default if default in _CONTENT_TYPES else "png"


def render_image(
    endpoint: str,
    prompt: str,
    seed: int,
    index: int,
    width: int,
    height: int,
    fmt: str = "png",
    black: bool = False,
) -> bytes:
    """Render the deterministic test image for (endpoint, prompt, seed, index).

    Background colour from a hash of the four values; stripes in the inverse colour
    whose period and direction come from the seed; a corner block marks the index.
    ``black`` gives an all-black image (what fal returns for NSFW-flagged output).
    """
    fmt = _norm_format(fmt, "png")
    digest = hashlib.sha256(f"{endpoint}\x00{prompt}\x00{seed}\x00{index}".encode()).digest()
    bg = (0, 0, 0) if black else (digest[0], digest[1], digest[2])
    img = Image.new("RGB", (width, height), bg)
    if not black:
        fg = (255 - bg[0], 255 - bg[1], 255 - bg[2])
        draw = ImageDraw.Draw(img)
        period = 8 + seed % 57
        if (seed // 57) % 2:
            for x in range(0, width, 2 * period):
                draw.rectangle((x, 0, x + period - 1, height - 1), fill=fg)
        else:
            for y in range(0, height, 2 * period):
                draw.rectangle((0, y, width - 1, y + period - 1), fill=fg)
        block = max(4, min(width, height) // 10)
        draw.rectangle((0, 0, block * (index + 1) - 1, block - 1), fill=(digest[3], digest[4], 0))
    buf = io.BytesIO()
    if fmt == "jpeg":
        img.save(buf, format="JPEG", quality=85)
    elif fmt == "webp":
        img.save(buf, format="WEBP", quality=80, method=0)
    else:
        img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _probe_image(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) if ``data`` is a real image Pillow can open, else None."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            return (int(im.size[0]), int(im.size[1]))
    except Exception:  # noqa: BLE001 - any decode failure means "not an image"
        return None


def _round16(x: float) -> int:
    return max(16, int(round(x / 16.0)) * 16)


def _ratio_size(ratio: str, megapixels: float = 1.0) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*", ratio)
    if not m:
        return None
    a, b = float(m.group(1)), float(m.group(2))
    if a <= 0 or b <= 0:
        return None
    area = max(megapixels, 0.01) * 1024 * 1024
    w = math.sqrt(area * a / b)
    return _round16(w), _round16(w * b / a)


def _cap(size: tuple[int, int]) -> tuple[int, int]:
    w, h = max(1, int(size[0])), max(1, int(size[1]))
    scale = min(1.0, MAX_SIDE / max(w, h))
    return max(8, int(round(w * scale))), max(8, int(round(h * scale)))


def _megapixels(schema: dict[str, Any], inp: Mapping[str, Any], in_size: tuple[int, int] | None) -> float:
    """Target megapixels from Replicate ``resolution``/``megapixels``/``size`` fields."""
    fields = schema["fields"] or {}
    for name in ("resolution", "megapixels", "size"):
        if name not in fields:
            continue
        v = str(inp.get(name, fields[name].get("default", "")))
        if v == "match_input_image":
            return (in_size[0] * in_size[1] / 1048576.0) if in_size else 1.0
        m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(MP)?\s*$", v)
        if m:
            return float(m.group(1))
        table = {"1K": 1.0, "2K": 4.0, "4K": 16.0, "small": 0.25, "regular": 1.0, "big": 2.25}
        if v in table:
            return table[v]
    return 1.0


def _output_size(schema: dict[str, Any], inp: Mapping[str, Any], in_size: tuple[int, int] | None) -> tuple[int, int]:
    """Work out the (capped) output size for a job."""
    fields = schema["fields"] or {}
    mode = schema["size_mode"]
    fallback = in_size or (1024, 1024)
    size: tuple[int, int] | None = None
    if mode == "image_size":
        v = inp.get("image_size", fields.get("image_size", {}).get("default"))
        if isinstance(v, dict):
            size = (int(v.get("width", 512)), int(v.get("height", 512)))
        elif isinstance(v, str) and v in FAL_SIZE_PRESETS:
            size = FAL_SIZE_PRESETS[v]
        else:  # None (edit: follows input) or auto*
            size = fallback
    elif mode == "fal_aspect_ratio":
        ar = inp.get("aspect_ratio", fields.get("aspect_ratio", {}).get("default"))
        size = _ratio_size(ar) if isinstance(ar, str) else None
        size = size or fallback
    elif mode == "fal_resolution_mode":
        rm = inp.get("resolution_mode", "match_input")
        size = _ratio_size(rm) if isinstance(rm, str) else None
        size = size or fallback
    elif mode == "input":
        size = fallback
    elif mode == "wh":
        size = (int(inp.get("width", 1024)), int(inp.get("height", 1024)))
    elif mode == "ratio":
        ar = inp.get("aspect_ratio", fields.get("aspect_ratio", {}).get("default", "1:1"))
        mp = _megapixels(schema, inp, in_size)
        if ar == "custom":
            size = (
                int(inp.get("width", fields.get("width", {}).get("default", 1024))),
                int(inp.get("height", fields.get("height", {}).get("default", 1024))),
            )
        elif ar == "match_input_image":
            size = in_size or _ratio_size("1:1", mp)
        else:
            size = _ratio_size(str(ar), mp)
    return _cap(size or DEFAULT_SIZE)


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------

_PY_TYPE_NAMES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "image": "string",
    "image_list": "array",
    "image_size": "object",
}
_PYDANTIC_TYPE = {
    "str": ("string_type", "Input should be a valid string"),
    "int": ("int_type", "Input should be a valid integer"),
    "float": ("float_type", "Input should be a valid number"),
    "bool": ("bool_type", "Input should be a valid boolean"),
    "list": ("list_type", "Input should be a valid list"),
    "image": ("string_type", "Input should be a valid string"),
    "image_list": ("list_type", "Input should be a valid list"),
    "image_size": ("model_type", "Input should be a valid dictionary or a preset name"),
}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _num(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _type_ok(kind: str, v: Any) -> bool:
    if kind in ("str", "image"):
        return isinstance(v, str)
    if kind == "int":
        if isinstance(v, bool):
            return False
        return isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "bool":
        return isinstance(v, bool)
    if kind in ("list", "image_list"):
        return isinstance(v, list)
    if kind == "image_size":
        return isinstance(v, (str, dict))
    return True


@dataclass
class _Err:
    """One validation problem, with messages for both providers."""

    path: list[Any]
    fal_type: str
    fal_msg: str
    rep_type: str
    rep_msg: str
    value: Any = None
    has_value: bool = False

    def fal(self) -> dict[str, Any]:
        """The pydantic/FastAPI-style detail entry."""
        out: dict[str, Any] = {"loc": ["body", *self.path], "msg": self.fal_msg, "type": self.fal_type}
        if self.has_value:
            out["input"] = self.value
        return out

    def rep_field(self) -> str:
        """``input.<field>`` as Replicate names it."""
        return "input." + ".".join(str(p) for p in self.path) if self.path else "input"


def _enum_msgs(name: str, values: list[Any]) -> tuple[str, str]:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) > 1:
        fal = "Input should be " + ", ".join(quoted[:-1]) + " or " + quoted[-1]
    else:
        fal = "Input should be " + "".join(quoted)
    rep = f"input.{name} must be one of the following: " + ", ".join(json.dumps(v) for v in values)
    return fal, rep


# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------


@dataclass
class _Fault:
    name: str
    remaining: int
    endpoint: str | None
    opts: dict[str, Any]


@dataclass
class _StoredFile:
    content_type: str
    data: bytes | None = None
    render: tuple[Any, ...] | None = None
    bad: bool = False
    huge: int | None = None
    endpoint: str | None = None
    provider: str | None = None


@dataclass
class _Job:
    id: str
    provider: str
    endpoint: str
    key: str
    input: dict[str, Any]
    schema: dict[str, Any]
    version: str
    seed: int
    steps: int
    t_created: float
    t_start: float
    t_end: float
    created_wall: datetime
    errors: list[_Err] = field(default_factory=list)
    fail_msg: str | None = None
    fail_type: str = "internal_server_error"
    nsfw: bool = False
    urls: list[str] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    content_type: str = "image/png"
    result: dict[str, Any] | None = None
    canceled_at: float | None = None

    def phase(self, now: float) -> str:
        """queued / processing / done / canceled at monotonic time ``now``."""
        if self.canceled_at is not None:
            return "canceled"
        if now < self.t_start:
            return "queued"
        if now < self.t_end:
            return "processing"
        return "done"

    def wall(self, t: float) -> datetime:
        """Wall-clock time for monotonic ``t``."""
        return self.created_wall + timedelta(seconds=t - self.t_created)


@dataclass
class _Resp:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    stream_size: int | None = None
    stream_prefix: bytes = b""


def _json_resp(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Resp:
    return _Resp(status=status, body=json.dumps(obj).encode(), headers=dict(headers or {}))


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mmss(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60:02d}:{s % 60:02d}"


def _tqdm_line(i: int, total: int, elapsed: float) -> str:
    """A tqdm-style progress line, e.g. `` 50%|█████     | 2/4 [00:01<00:01, 2.00it/s]``."""
    frac = i / total if total else 1.0
    filled = int(frac * 10)
    bar = "█" * filled + " " * (10 - filled)
    rate = i / elapsed if elapsed > 0 else 0.0
    remaining = (total - i) / rate if rate > 0 else 0.0
    return f"{int(frac * 100):3d}%|{bar}| {i}/{total} [{_mmss(elapsed)}<{_mmss(remaining)}, {rate:.2f}it/s]"


def _rep_error(status: int, title: str, detail: str, **extra: Any) -> _Resp:
    return _json_resp(status, {"title": title, "detail": detail, "status": status, **extra})


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks connection threads so ``stop`` can end them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], emulator: ProviderEmulator) -> None:
        self.emulator = emulator
        self._conn_lock = threading.Lock()
        self._conns: dict[threading.Thread, socket.socket] = {}
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve each connection in a tracked daemon thread (TCP_NODELAY: no 40 ms Nagle stalls)."""
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = threading.Thread(
            target=self._serve_conn,
            args=(request, client_address),
            name=f"provider-emulator-{self.server_address[1]}-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[t] = request
        t.start()

    def _serve_conn(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._conn_lock:
                self._conns.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects; print anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ValueError)):
            return
        traceback.print_exc()

    def close_connections(self) -> list[threading.Thread]:
        """Shut down every open connection socket; return the threads to join."""
        with self._conn_lock:
            items = list(self._conns.items())
        for _, sock in items:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return [t for t, _ in items]


class _Handler(BaseHTTPRequestHandler):
    """Reads the request, asks the emulator for a ``_Resp``, writes it."""

    protocol_version = "HTTP/1.1"
    server_version = "ProviderEmulator/1.0"
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default stderr access log."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(n))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _go(self, method: str) -> None:
        body = self._read_body()
        resp = self.server.emulator._handle(method, self.path, self.headers, body)
        self._write(resp, head=method == "HEAD")

    def do_GET(self) -> None:  # noqa: N802
        """GET."""
        self._go("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        """HEAD."""
        self._go("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        """POST."""
        self._go("POST")

    def do_PUT(self) -> None:  # noqa: N802
        """PUT."""
        self._go("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        """DELETE."""
        self._go("DELETE")

    def _write(self, resp: _Resp, head: bool) -> None:
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            size = resp.stream_size if resp.stream_size is not None else len(resp.body)
            self.send_header("Content-Length", str(size))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if head:
                return
            if resp.stream_size is None:
                self.wfile.write(resp.body)
                return
            self.wfile.write(resp.stream_prefix)
            remaining = resp.stream_size - len(resp.stream_prefix)
            chunk = bytes(256 * 1024)
            stopping = self.server.emulator._stopping
            while remaining > 0 and not stopping.is_set():
                n = min(remaining, len(chunk))
                self.wfile.write(chunk[:n])
                remaining -= n
            if remaining > 0:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


_FAL_REQ_RE = re.compile(r"^(?:(?:workflows|comfy)/)?([^/]+)/([^/]+)/requests/([^/]+)(/status|/cancel)?/?$")
_REP_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("model_predictions", re.compile(r"^/v1/models/([^/]+)/([^/]+)/predictions/?$")),
    ("predictions", re.compile(r"^/v1/predictions/?$")),
    ("prediction_cancel", re.compile(r"^/v1/predictions/([^/]+)/cancel/?$")),
    ("prediction", re.compile(r"^/v1/predictions/([^/]+)/?$")),
    ("version", re.compile(r"^/v1/models/([^/]+)/([^/]+)/versions/([^/]+)/?$")),
    ("model", re.compile(r"^/v1/models/([^/]+)/([^/]+)/?$")),
    ("files", re.compile(r"^/v1/files/?$")),
    ("file_download", re.compile(r"^/v1/files/([^/]+)/download/?$")),
    ("file", re.compile(r"^/v1/files/([^/]+)/?$")),
]


# --------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------


class ProviderEmulator:
    """Emulates fal (queue, sync run, storage) and Replicate (predictions, models, files).

    ``work_seconds``/``queue_seconds`` set each job's time line.  Keyword options:
    ``fal_validate_on_submit`` (422 at submit instead of at result),
    ``port`` (0 = random).  Endpoints and models not in ``ENDPOINT_SCHEMAS`` get fal 404 /
    Replicate 404; ``serve_schema`` makes one endpoint judge (and publish) by a changed document.
    Auth: fal needs ``Authorization: Key test-*``, Replicate
    ``Authorization: Bearer test-*``; anything else is 401.  A request id created with
    another key gives fal 403 / Replicate 404.  ``requests`` records every request as
    ``{"provider", "method", "path", "auth", "json", "headers", "query", "endpoint",
    "phase", "status", "time"}`` (provider is "fal", "replicate" or "files").
    """

    def __init__(
        self,
        work_seconds: float = 0.3,
        queue_seconds: float = 0.1,
        *,
        fal_validate_on_submit: bool = False,
        port: int = 0,
    ) -> None:
        self.work_seconds = float(work_seconds)
        self.queue_seconds = float(queue_seconds)
        self.fal_validate_on_submit = fal_validate_on_submit
        self._documents: dict[str, dict[str, Any]] = {}
        self._want_port = port
        self._port: int | None = None
        self._lock = threading.RLock()
        self._held: dict[str, list[_Job]] = {}  # slow until_jobs: jobs waiting for their group
        self.requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._jobs: dict[str, _Job] = {}
        self._files: dict[str, _StoredFile] = {}
        self._cdn_tokens: dict[str, str] = {}
        self._pending_puts: dict[str, tuple[str, str]] = {}
        self._rep_files: dict[str, dict[str, Any]] = {}
        self._rng = random.Random()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> ProviderEmulator:
        """Bind 127.0.0.1 (random port unless ``port`` was given) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        srv = _Server(("127.0.0.1", self._want_port), self)
        self._server = srv
        self._port = int(srv.server_address[1])
        self._thread = threading.Thread(
            target=srv.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"provider-emulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listener and every open connection, join all threads."""
        srv = self._server
        if srv is None:
            return
        self._stopping.set()
        srv.shutdown()
        srv.server_close()
        threads = srv.close_connections()
        for t in threads:
            t.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> ProviderEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- URLs -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise RuntimeError("ProviderEmulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def fal_queue_url(self) -> str:
        """Queue root; a submission goes to ``{fal_queue_url}/{endpoint_id}``."""
        return self.base_url + "/fal/queue"

    @property
    def fal_run_url(self) -> str:
        """Sync run root; ``POST {fal_run_url}/{endpoint_id}``."""
        return self.base_url + "/fal/run"

    @property
    def fal_rest_url(self) -> str:
        """Stand-in for ``https://rest.fal.ai`` (storage token, upload initiate)."""
        return self.base_url + "/fal/rest"

    @property
    def fal_gateway_url(self) -> str:
        """One base for the queue and the upload hosts (what PLAYGROUND_FAL_URL names)."""
        return self.base_url + "/fal/gateway"

    @property
    def fal_cdn_url(self) -> str:
        """Stand-in for ``https://v3.fal.media`` (``/files/upload``)."""
        return self.base_url + "/fal/cdn"

    @property
    def replicate_url(self) -> str:
        """Give this as ``replicate.Client(base_url=...)``; requests go to ``/v1/...`` under it."""
        return self.base_url + "/replicate"

    @contextlib.contextmanager
    def _patched(self) -> Iterator[ProviderEmulator]:
        import fal_client.client as fcc

        names = ("QUEUE_URL_FORMAT", "RUN_URL_FORMAT", "REST_URL", "CDN_URL")
        saved = {n: getattr(fcc, n) for n in names}
        fcc.QUEUE_URL_FORMAT = self.fal_queue_url + "/"
        fcc.RUN_URL_FORMAT = self.fal_run_url + "/"
        fcc.REST_URL = self.fal_rest_url
        fcc.CDN_URL = self.fal_cdn_url
        try:
            yield self
        finally:
            for n, v in saved.items():
                setattr(fcc, n, v)

    def patch_fal_client(self) -> contextlib.AbstractContextManager[ProviderEmulator]:
        """Point ``fal_client.client`` QUEUE/RUN/REST/CDN URL globals here; restored on exit."""
        return self._patched()

    # -- faults -----------------------------------------------------------------------

    def inject(self, fault: str, *, count: int = 1, endpoint: str | None = None, **opts: Any) -> None:
        """Arm a fault for the next ``count`` matching requests (or jobs).

        ``endpoint`` limits it to one fal endpoint id / Replicate ``owner/name``.
        Common opts: ``provider="fal"|"replicate"``; ``on=<phase or group>`` for the
        HTTP faults (phases: submit, status, result, cancel, model, storage_token,
        cdn_upload, storage_initiate, storage_put, file_upload, file; groups: api
        (default), upload, any).

        HTTP faults (answer the request itself, counted per request):
        ``401``/``403`` auth errors; ``429`` with ``Retry-After`` (opt ``retry_after=1``);
        ``500`` (JSON, fal adds ``x-fal-request-id`` so fal_client does not retry);
        ``502`` (nginx HTML page, no ``x-fal-request-id``: fal_client retries it as an
        ingress error); ``drop`` (socket closed with no response).
        Job faults (taken when a job is created, counted per job):
        ``422`` (opts ``field="prompt"``, ``msg``, ``type``: a provider validation error),
        ``slow`` (opt ``seconds=1.0`` extra work time; opt ``until_jobs=N``: no job of
        the fault finishes its work before N jobs have taken it), ``fail`` (opts ``msg``,
        ``error_type``: fal COMPLETED with ``error`` and result 500; Replicate ``failed``),
        ``nsfw`` (fal: black images + ``has_nsfw_concepts`` true, or a 422
        ``content_policy_violation`` on endpoints without that key; Replicate: ``failed``
        with "NSFW content detected..."), ``bad_image`` (output URLs serve non-image
        bytes), ``huge_image`` (output URLs claim ``Content-Length`` of opt
        ``size=60 MiB`` and stream that many bytes).
        ``malformed``: the next result-bearing response (fal result GET / sync run,
        Replicate create/get of a terminal prediction) has an invalid JSON body.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {sorted(FAULTS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        on = opts.get("on")
        if on is not None and on not in PHASES and on not in _PHASE_GROUPS:
            raise ValueError(f"unknown phase {on!r}")
        if opts.get("provider") not in (None, "fal", "replicate"):
            raise ValueError("provider must be 'fal' or 'replicate'")
        if opts.get("until_jobs"):
            opts["group"] = uuid.uuid4().hex  # what the jobs taking this fault wait for together
        with self._lock:
            self._faults.append(_Fault(fault, int(count), endpoint, dict(opts)))

    def pending_faults(self) -> list[dict[str, Any]]:
        """The faults still armed, as dicts."""
        with self._lock:
            return [{"fault": f.name, "remaining": f.remaining, "endpoint": f.endpoint, **f.opts} for f in self._faults]

    def reset(self) -> None:
        """Clear the recorded requests, all armed faults and every changed schema document."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self._documents.clear()

    # -- schemas ----------------------------------------------------------------------

    def serve_schema(self, endpoint: str, document: Mapping[str, Any]) -> None:
        """From now until ``reset``, judge payloads for ``endpoint`` by ``document`` (a provider
        document like the shipped snapshot, e.g. with a range narrowed, an enum value or a field
        removed) and publish it at the schema URLs."""
        if endpoint not in ENDPOINT_SCHEMAS:
            raise KeyError(f"unknown endpoint {endpoint!r}")
        with self._lock:
            self._documents[endpoint] = copy.deepcopy(dict(document))

    def schema(self, endpoint: str | None) -> dict[str, Any] | None:
        """The schema ``endpoint`` is judged by now (its shipped snapshot unless changed), or None."""
        base = ENDPOINT_SCHEMAS.get(endpoint or "")
        if base is None:
            return None
        with self._lock:
            doc = self._documents.get(endpoint or "")
        return with_document(base, doc, endpoint or "") if doc is not None else base

    def _fault_matches(self, f: _Fault, provider: str | None, endpoint: str | None) -> bool:
        if f.opts.get("provider") not in (None, provider):
            return False
        return f.endpoint is None or f.endpoint == endpoint

    def _take(
        self, names: frozenset[str], provider: str | None, endpoint: str | None, phase: str | None
    ) -> _Fault | None:
        with self._lock:
            for f in self._faults:
                if f.name not in names or not self._fault_matches(f, provider, endpoint):
                    continue
                if phase is not None:
                    on = f.opts.get("on")
                    allowed = _PHASE_GROUPS["api"] if on is None else _PHASE_GROUPS.get(on, frozenset({on}))
                    if phase not in allowed:
                        continue
                f.remaining -= 1
                if f.remaining <= 0:
                    self._faults.remove(f)
                return _Fault(f.name, 1, f.endpoint, dict(f.opts))
        return None

    def _job_faults(self, provider: str, endpoint: str) -> dict[str, dict[str, Any]]:
        got: dict[str, dict[str, Any]] = {}
        for name in sorted(_JOB_FAULTS):
            f = self._take(frozenset({name}), provider, endpoint, None)
            if f is not None:
                got[name] = f.opts
        return got

    def _http_fault(self, provider: str, endpoint: str | None, phase: str) -> _Resp | None:
        f = self._take(_HTTP_FAULTS, provider, endpoint, phase)
        if f is None:
            return None
        fal = provider == "fal"
        fal_headers = {"x-fal-request-id": str(uuid.uuid4())}
        if f.name == "drop":
            return _Resp(drop=True)
        if f.name == "401":
            if fal:
                return _json_resp(401, {"detail": "Invalid API key (injected fault)"})
            return _rep_error(401, "Unauthenticated", "You did not pass a valid authentication token")
        if f.name == "403":
            if fal:
                return _json_resp(403, {"detail": "Forbidden (injected fault)"})
            return _rep_error(403, "Forbidden", "You do not have permission to perform this action.")
        if f.name == "429":
            ra = str(f.opts.get("retry_after", 1))
            if fal:
                return _json_resp(429, {"detail": "Too many requests (injected fault)"}, {"Retry-After": ra})
            resp = _rep_error(
                429, "Request was throttled.", f"Request was throttled. Expected available in {ra} second."
            )
            resp.headers["Retry-After"] = ra
            return resp
        if f.name == "500":
            msg = str(f.opts.get("msg", "Internal Server Error (injected fault)"))
            if fal:
                return _json_resp(500, {"detail": msg}, fal_headers)
            return _rep_error(500, "Internal Server Error", msg)
        # 502: nginx-looking ingress error
        return _Resp(status=502, body=_NGINX_502, content_type="text/html")

    # -- request entry ------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Resp:
        parts = urlsplit(raw_path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        hdrs = {k: v for k, v in headers.items()}
        low = {k.lower(): v for k, v in hdrs.items()}
        if path.startswith("/fal/"):
            provider = "fal"
        elif path.startswith("/replicate/"):
            provider = "replicate"
        else:
            provider = "files"
        js: Any = None
        bad_json = False
        if body and "json" in low.get("content-type", ""):
            try:
                js = json.loads(body)
            except ValueError:
                bad_json = True
        rec: dict[str, Any] = {
            "provider": provider,
            "method": method,
            "path": path,
            "query": query,
            "auth": low.get("authorization"),
            "json": js,
            "headers": hdrs,
            "endpoint": None,
            "phase": None,
            "status": None,
            "time": time.time(),
        }
        with self._lock:
            self.requests.append(rec)
        try:
            if provider == "fal":
                resp = self._route_fal(rec, method, path, query, low, body, js, bad_json)
            elif provider == "replicate":
                resp = self._route_replicate(rec, method, path[len("/replicate") :], low, body, js, bad_json)
            elif path == "/_log" and method == "GET":
                with self._lock:
                    snapshot = [{k: v for k, v in r.items() if k != "headers"} for r in self.requests]
                resp = _json_resp(200, snapshot)
            else:
                resp = self._serve_file(rec, method, path)
        except Exception as exc:  # noqa: BLE001 - surface emulator bugs as 500s
            traceback.print_exc()
            resp = _json_resp(500, {"detail": f"emulator error: {exc!r}"})
        rec["status"] = None if resp.drop else resp.status
        return resp

    # -- auth -----------------------------------------------------------------------------

    @staticmethod
    def _fal_key(low: Mapping[str, str]) -> tuple[str | None, _Resp | None]:
        auth = low.get("authorization", "")
        if not auth:
            return None, _json_resp(401, {"detail": "Missing Authorization header"})
        scheme, _, key = auth.partition(" ")
        if scheme != "Key" or not key.startswith("test-"):
            return None, _json_resp(401, {"detail": "Invalid API key: emulator keys look like 'Key test-...'"})
        return key, None

    @staticmethod
    def _rep_key(low: Mapping[str, str]) -> tuple[str | None, _Resp | None]:
        auth = low.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme != "Bearer" or not key.startswith("test-"):
            return None, _rep_error(401, "Unauthenticated", "You did not pass a valid authentication token")
        return key, None

    # -- validation ------------------------------------------------------------------------

    def _resolve_local(self, url: str) -> bytes | None | bool:
        """Bytes of an emulator-hosted URL; None if it is not ours; False if ours but missing."""
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost") or parts.port != self._port:
            return None
        path = parts.path
        m = re.fullmatch(r"/replicate/v1/files/([^/]+)/?", path)
        if m:
            path = f"/replicate/v1/files/{m.group(1)}/download"
        with self._lock:
            f = self._files.get(path)
        if f is None:
            return False
        if f.bad:
            return b"not an image"
        if f.huge:
            return False
        return self._file_bytes(f)

    def _check_image(self, value: str) -> tuple[str | None, tuple[int, int] | None]:
        """Return (error message or None, image size if known)."""
        if value.startswith("data:"):
            m = re.match(r"^data:([^;,]*)((?:;[^;,]*)*),(.*)$", value, re.DOTALL)
            if not m or ";base64" not in m.group(2):
                return "data URI must look like data:image/<type>;base64,<payload>", None
            mime = m.group(1).lower()
            if not (mime.startswith("image/") or mime == "application/octet-stream"):
                return f"data URI has media type {mime!r}, expected image/*", None
            try:
                raw = base64.b64decode(re.sub(r"\s+", "", m.group(3)), validate=True)
            except (binascii.Error, ValueError):
                return "data URI payload is not valid base64", None
            size = _probe_image(raw)
            if size is None:
                return "data URI does not contain a readable image", None
            return None, size
        if value.startswith(("http://", "https://")):
            local = self._resolve_local(value)
            if local is None:
                return None, None
            if local is False:
                return f"could not download image from {value}", None
            assert isinstance(local, bytes)
            size = _probe_image(local)
            if size is None:
                return f"file at {value} is not a readable image", None
            return None, size
        return "image must be an http(s) URL or a data:image/...;base64 URI", None

    def _validate(
        self, schema: dict[str, Any], inp: Mapping[str, Any], provider: str
    ) -> tuple[list[_Err], tuple[int, int] | None]:
        """Check ``inp`` against ``schema``; return errors and the first input image's size."""
        errors: list[_Err] = []
        in_size: tuple[int, int] | None = None
        fields = schema["fields"]
        fal = provider == "fal"

        for name, spec in fields.items():
            if spec.get("required") and name not in inp:
                errors.append(_Err([name], "missing", "Field required", "required", f"{name} is required"))
        for name, value in inp.items():
            spec = fields.get(name)
            if spec is None:
                errors.append(
                    _Err(
                        [name],
                        "extra_forbidden",
                        "Extra inputs are not permitted",
                        "additional_property_not_allowed",
                        f"Additional property {name} is not allowed",
                        value,
                        True,
                    )
                )
                continue
            kind = spec["type"]
            if value is None and fal and not spec.get("required") and "default" not in spec:
                continue
            if not _type_ok(kind, value):
                pt, pm = _PYDANTIC_TYPE[kind]
                errors.append(
                    _Err(
                        [name],
                        pt,
                        pm,
                        "invalid_type",
                        f"Invalid type. Expected: {_PY_TYPE_NAMES[kind]}, given: {_json_type(value)}",
                        value,
                        True,
                    )
                )
                continue
            errors.extend(self._check_value(name, spec, value, fal))
            if kind in ("image", "image_list"):
                items = value if isinstance(value, list) else [value]
                for i, item in enumerate(items):
                    path: list[Any] = [name, i] if kind == "image_list" else [name]
                    if not isinstance(item, str):
                        errors.append(
                            _Err(
                                path,
                                "string_type",
                                "Input should be a valid string",
                                "invalid_type",
                                f"Invalid type. Expected: string, given: {_json_type(item)}",
                            )
                        )
                        continue
                    err, size = self._check_image(item)
                    if err:
                        errors.append(_Err(path, "image_load_error", err, "format", err))
                    elif name == schema.get("image_field") and in_size is None and size:
                        in_size = size

        limits = schema.get("max_with_image") or {}
        img_field = schema.get("image_field")
        if limits and img_field and inp.get(img_field):
            for name, lim in limits.items():
                v = inp.get(name, fields[name].get("default"))
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v > lim:
                    errors.append(
                        _Err(
                            [name],
                            "less_than_equal",
                            f"Input should be less than or equal to {lim} when an input image is given",
                            "number_lte",
                            f"Must be less than or equal to {lim} when {img_field} is provided",
                            v,
                            True,
                        )
                    )
        return errors, in_size

    @staticmethod
    def _check_items(name: str, fields: dict[str, dict[str, Any]], items: list[Any], fal: bool) -> list[_Err]:
        """Each item of a list of objects (fal's `loras`) against its own field specs."""
        out: list[_Err] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                out.append(_Err([name, i], "model_type", "Input should be a valid dictionary", "invalid_type",
                                f"Invalid type. Expected: object, given: {_json_type(item)}", item, True))
                continue
            for key, sub in fields.items():
                if sub.get("required") and key not in item:
                    out.append(_Err([name, i, key], "missing", "Field required", "required", f"{key} is required"))
            for key, value in item.items():
                sub = fields.get(key)
                if sub is None:
                    out.append(_Err([name, i, key], "extra_forbidden", "Extra inputs are not permitted",
                                    "additional_property_not_allowed", f"Additional property {key} is not allowed",
                                    value, True))
                elif not _type_ok(sub["type"], value):
                    pt, pm = _PYDANTIC_TYPE[sub["type"]]
                    out.append(_Err([name, i, key], pt, pm, "invalid_type", f"Invalid type. Expected: "
                                    f"{_PY_TYPE_NAMES[sub['type']]}, given: {_json_type(value)}", value, True))
                else:
                    for err in ProviderEmulator._check_value(key, sub, value, fal):
                        err.path = [name, i, *err.path]
                        out.append(err)
        return out

    @staticmethod
    def _check_value(name: str, spec: dict[str, Any], value: Any, fal: bool) -> list[_Err]:
        """Range / enum / length checks for a value of the right type."""
        out: list[_Err] = []
        kind = spec["type"]
        if kind == "image_size":
            if isinstance(value, str):
                if value not in spec.get("enum", []):
                    fm, rm = _enum_msgs(name, spec.get("enum", []))
                    out.append(_Err([name], "literal_error", fm, "enum", rm, value, True))
                return out
            for dim in ("width", "height"):
                d = value.get(dim)
                if not _type_ok("int", d):
                    out.append(
                        _Err(
                            [name, dim],
                            "int_type",
                            "Input should be a valid integer",
                            "invalid_type",
                            f"Invalid type. Expected: integer, given: {_json_type(d)}",
                            d,
                            True,
                        )
                    )
                    continue
                lo, hi = spec.get("min", 1), spec.get("max", _MAX_IMAGE_SIDE)
                if d < lo or d <= 0:
                    out.append(
                        _Err(
                            [name, dim],
                            "greater_than_equal",
                            f"Input should be greater than or equal to {_num(lo)}",
                            "number_gte",
                            f"Must be greater than or equal to {_num(lo)}",
                            d,
                            True,
                        )
                    )
                elif d > hi:
                    out.append(
                        _Err(
                            [name, dim],
                            "less_than_equal",
                            f"Input should be less than or equal to {_num(hi)}",
                            "number_lte",
                            f"Must be less than or equal to {_num(hi)}",
                            d,
                            True,
                        )
                    )
            extra = set(value) - {"width", "height"}
            for k in sorted(extra):
                out.append(
                    _Err(
                        [name, k],
                        "extra_forbidden",
                        "Extra inputs are not permitted",
                        "additional_property_not_allowed",
                        f"Additional property {k} is not allowed",
                        value[k],
                        True,
                    )
                )
            if not out and _type_ok("int", value.get("width")) and _type_ok("int", value.get("height")):
                area = value["width"] * value["height"]
                if "min_area" in spec and area < spec["min_area"]:
                    msg = f"Value error, image area must be at least {spec['min_area']} pixels"
                    out.append(_Err([name], "value_error", msg, "value_error", msg, value, True))
                if "max_area" in spec and area > spec["max_area"]:
                    msg = f"Value error, image area must be at most {spec['max_area']} pixels"
                    out.append(_Err([name], "value_error", msg, "value_error", msg, value, True))
            return out
        if "enum" in spec and value not in spec["enum"]:
            fm, rm = _enum_msgs(name, spec["enum"])
            out.append(_Err([name], "literal_error", fm, "enum", rm, value, True))
            return out
        if kind in ("int", "float"):
            if "xmin" in spec and value <= spec["xmin"]:
                lo = _num(spec["xmin"])
                out.append(_Err([name], "greater_than", f"Input should be greater than {lo}", "number_gt",
                                f"Must be greater than {lo}", value, True))
            if "min" in spec and value < spec["min"]:
                lo = _num(spec["min"])
                out.append(
                    _Err(
                        [name],
                        "greater_than_equal",
                        f"Input should be greater than or equal to {lo}",
                        "number_gte",
                        f"Must be greater than or equal to {lo}",
                        value,
                        True,
                    )
                )
            if "max" in spec and value > spec["max"]:
                hi = _num(spec["max"])
                out.append(
                    _Err(
                        [name],
                        "less_than_equal",
                        f"Input should be less than or equal to {hi}",
                        "number_lte",
                        f"Must be less than or equal to {hi}",
                        value,
                        True,
                    )
                )
        if kind in ("list", "image_list") and "max_items" in spec and len(value) > spec["max_items"]:
            n = spec["max_items"]
            out.append(
                _Err(
                    [name],
                    "too_long",
                    f"List should have at most {n} items after validation, not {len(value)}",
                    "array_max_items",
                    f"Array must have at most {n} items",
                    value,
                    True,
                )
            )
        if kind == "list" and "items" in spec:
            out.extend(ProviderEmulator._check_items(name, spec["items"], value, fal))
        if kind == "str" and "max_length" in spec and len(value) > spec["max_length"]:
            n = spec["max_length"]
            out.append(
                _Err(
                    [name],
                    "string_too_long",
                    f"String should have at most {n} characters",
                    "string_lte",
                    f"String length must be less than or equal to {n}",
                    value,
                    True,
                )
            )
        return out

    @staticmethod
    def _fal_422(errors: list[_Err]) -> _Resp:
        return _json_resp(422, {"detail": [e.fal() for e in errors]}, {"x-fal-request-id": str(uuid.uuid4())})

    @staticmethod
    def _rep_422(errors: list[_Err]) -> _Resp:
        detail = "".join(f"- {e.rep_field()}: {e.rep_msg}\n" for e in errors)
        invalid = [{"type": e.rep_type, "field": e.rep_field(), "description": e.rep_msg} for e in errors]
        return _rep_error(422, "Input validation failed", detail, invalid_fields=invalid)

    @staticmethod
    def _injected_422(opts: Mapping[str, Any]) -> _Err:
        fld = str(opts.get("field", "prompt"))
        msg = str(opts.get("msg", "Injected validation error"))
        typ = str(opts.get("type", "value_error"))
        return _Err([fld], typ, msg, typ, msg)

    # -- jobs -----------------------------------------------------------------------------

    def _new_job(
        self,
        provider: str,
        endpoint: str,
        key: str,
        inp: dict[str, Any],
        schema: dict[str, Any],
        errors: list[_Err],
        faults: Mapping[str, Mapping[str, Any]],
        in_size: tuple[int, int] | None,
        version: str = "",
    ) -> _Job:
        """Create a job, its output files and (fal) its result JSON."""
        now = time.monotonic()
        fields = schema["fields"] or {}
        seed_v = inp.get("seed")
        seed = int(seed_v) if _type_ok("int", seed_v) else self._rng.randint(0, 2**31 - 1)
        steps_v = inp.get("num_inference_steps", inp.get("steps"))
        if not _type_ok("int", steps_v):
            steps_v = (fields.get("num_inference_steps") or fields.get("steps") or {}).get("default", 4)
        steps = max(1, min(50, int(steps_v or 4)))
        work = self.work_seconds + float(faults.get("slow", {}).get("seconds", 1.0) if "slow" in faults else 0.0)
        if errors:
            work = 0.0
        if provider == "fal":
            jid = str(uuid.uuid4())
        else:
            jid = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))
        job = _Job(
            id=jid,
            provider=provider,
            endpoint=endpoint,
            key=key,
            input=inp,
            schema=schema,
            version=version,
            seed=seed,
            steps=steps,
            t_created=now,
            t_start=now + self.queue_seconds,
            t_end=now + self.queue_seconds + work,
            created_wall=datetime.now(UTC),
            errors=list(errors),
        )
        if "fail" in faults:
            job.fail_msg = str(faults["fail"].get("msg", "Model crashed while generating (injected fault)"))
            job.fail_type = str(faults["fail"].get("error_type", "internal_server_error"))
        job.nsfw = "nsfw" in faults
        has_nsfw_key = "has_nsfw_concepts" in schema.get("output_keys", ())
        if provider == "replicate" and job.nsfw and job.fail_msg is None:
            job.fail_msg = "NSFW content detected. Try running it again, or try a different prompt."
        produces = not errors and job.fail_msg is None and not (provider == "fal" and job.nsfw and not has_nsfw_key)
        if produces:
            self._make_outputs(job, schema, inp, in_size, faults, black=job.nsfw and provider == "fal")
        with self._lock:
            self._jobs[jid] = job
            if "slow" in faults and faults["slow"].get("until_jobs") and not errors:
                self._hold(job, faults["slow"], work)
        return job

    def _hold(self, job: _Job, slow: Mapping[str, Any], work: float) -> None:
        """``slow`` with ``until_jobs=N``: the job works only once N jobs have taken that fault (a barrier,
        so that a test of overlapping jobs does not depend on how fast a loaded machine submits them).
        Call with the lock held."""
        group = self._held.setdefault(slow["group"], [])
        group.append(job)
        job.t_end = math.inf
        if len(group) >= int(slow["until_jobs"]):
            now = time.monotonic()
            for held in self._held.pop(slow["group"]):
                held.t_end = max(now, held.t_start) + work

    def _make_outputs(
        self,
        job: _Job,
        schema: dict[str, Any],
        inp: Mapping[str, Any],
        in_size: tuple[int, int] | None,
        faults: Mapping[str, Mapping[str, Any]],
        black: bool,
    ) -> None:
        fields = schema["fields"] or {}
        count = 1
        cf = schema.get("count_field")
        if cf == "seq_max_images":
            if inp.get("sequential_image_generation") == "auto":
                count = int(inp.get("max_images", 1))
        elif cf:
            count = int(inp.get(cf, fields.get(cf, {}).get("default", 1)) or 1)
        elif schema["fields"] is None:
            for k in ("num_images", "num_outputs"):
                if _type_ok("int", inp.get(k)):
                    count = int(inp[k])
        count = max(1, min(count, 16))
        fmt_field = schema.get("format_field")
        fmt_value = inp.get(fmt_field) if fmt_field else None
        if schema["fields"] is None:
            fmt_value = inp.get("output_format", inp.get("format"))
        fmt = _norm_format(fmt_value, schema["default_format"])
        ext = _EXTENSIONS[fmt]
        ct = _CONTENT_TYPES[fmt]
        w, h = (
            _output_size(schema, inp, in_size)
            if schema["fields"] is not None
            else (in_size and _cap(in_size)) or _cap(DEFAULT_SIZE)
        )
        prompt = str(inp.get("prompt", ""))
        huge = int(faults["huge_image"].get("size", HUGE_IMAGE_BYTES)) if "huge_image" in faults else None
        sync_mode = job.provider == "fal" and inp.get("sync_mode") is True
        job.content_type = ct
        for i in range(count):
            render = (job.endpoint, prompt, job.seed, i, w, h, fmt, black)
            if sync_mode and "bad_image" not in faults and huge is None:
                data = render_image(*render)
                url = f"data:{ct};base64,{base64.b64encode(data).decode()}"
            else:
                path = f"/files/{job.id}-{i}.{ext}"
                with self._lock:
                    self._files[path] = _StoredFile(
                        ct,
                        render=render,
                        bad="bad_image" in faults,
                        huge=huge,
                        endpoint=job.endpoint,
                        provider=job.provider,
                    )
                url = self.base_url + path
            job.urls.append(url)
            job.sizes.append((w, h))
        if job.provider == "fal":
            images = [
                {"url": u, "width": sw, "height": sh, "content_type": ct}
                for u, (sw, sh) in zip(job.urls, job.sizes, strict=True)
            ]
            keys = schema.get("output_keys", ("images", *_FULL_EXTRAS))
            result: dict[str, Any] = {}
            if schema["output"] == "image":
                result["image"] = images[0]
            else:
                result["images"] = images
            if "timings" in keys:
                result["timings"] = {"inference": round(job.t_end - job.t_start, 3)}
            if "seed" in keys:
                result["seed"] = job.seed
            if "has_nsfw_concepts" in keys:
                result["has_nsfw_concepts"] = [job.nsfw] * len(images)
            if "prompt" in keys:
                result["prompt"] = prompt
            job.result = result

    def _wait(self, job: _Job, deadline: float) -> None:
        """Block (stop-aware) until the job is terminal or ``deadline`` passes."""
        while not self._stopping.is_set():
            now = time.monotonic()
            if job.phase(now) in ("done", "canceled") or now >= deadline:
                return
            self._stopping.wait(min(0.02, max(0.0, min(job.t_end, deadline) - now)) or 0.005)

    def _get_job(self, jid: str) -> _Job | None:
        with self._lock:
            return self._jobs.get(jid)

    # -- fal --------------------------------------------------------------------------------

    def _fal_urls(self, job: _Job) -> dict[str, str]:
        parts = job.endpoint.split("/")
        if parts[0] in ("workflows", "comfy") and len(parts) >= 3:
            app = "/".join(parts[:3])
        else:
            app = "/".join(parts[:2])
        base = f"{self.fal_queue_url}/{app}/requests/{job.id}"
        return {
            "request_id": job.id,
            "response_url": base,
            "status_url": base + "/status",
            "cancel_url": base + "/cancel",
        }

    @staticmethod
    def _app_of(endpoint: str) -> tuple[str, str]:
        parts = endpoint.split("/")
        if parts[0] in ("workflows", "comfy") and len(parts) >= 3:
            return parts[1], parts[2]
        return parts[0], parts[1] if len(parts) > 1 else ""

    def _fal_logs(self, job: _Job, now: float) -> list[dict[str, Any]]:
        def entry(msg: str, t: float, level: str = "INFO") -> dict[str, Any]:
            return {"message": msg, "level": level, "source": "USER", "timestamp": _iso(job.wall(t))}

        if job.errors or now < job.t_start:
            return []
        end = min(now, job.t_end) if job.canceled_at is None else min(job.canceled_at, job.t_end)
        logs = [entry(f"Loading model for {job.endpoint}", job.t_start)]
        work = job.t_end - job.t_start
        done = job.steps if end >= job.t_end else int(job.steps * (end - job.t_start) / work) if work > 0 else job.steps
        for i in range(1, done + 1):
            ti = job.t_start + work * i / job.steps
            logs.append(entry(_tqdm_line(i, job.steps, ti - job.t_start), ti))
        if end >= job.t_end and job.canceled_at is None:
            if job.fail_msg:
                logs.append(entry(f"Error: {job.fail_msg}", job.t_end, "ERROR"))
            else:
                logs.append(entry(f"Generated {len(job.urls)} image(s) with seed {job.seed}", job.t_end))
        return logs

    def _fal_status(self, job: _Job, now: float, with_logs: bool) -> dict[str, Any]:
        phase = job.phase(now)
        out: dict[str, Any] = dict(self._fal_urls(job))
        if phase == "queued":
            with self._lock:
                ahead = sum(
                    1
                    for j in self._jobs.values()
                    if j.provider == "fal"
                    and j.endpoint == job.endpoint
                    and j.t_created < job.t_created
                    and j.phase(now) == "queued"
                )
            out.update(status="IN_QUEUE", queue_position=ahead, logs=None)
            return out
        logs = self._fal_logs(job, now) if with_logs else None
        if phase == "processing" and not job.errors:
            out.update(status="IN_PROGRESS", logs=logs)
            return out
        out.update(status="COMPLETED", logs=logs)
        if phase == "canceled":
            out.update(error="Request was cancelled", error_type="request_cancelled", metrics={})
        elif job.errors:
            out["metrics"] = {}
        else:
            out["metrics"] = {"inference_time": round(job.t_end - job.t_start, 3)}
            if job.fail_msg:
                out.update(error=job.fail_msg, error_type=job.fail_type)
        return out

    def _fal_result(self, job: _Job) -> _Resp:
        hdr = {"x-fal-request-id": job.id}
        if job.errors:
            return self._fal_422(job.errors)
        if job.fail_msg:
            return _json_resp(500, {"detail": job.fail_msg, "error_type": job.fail_type}, hdr)
        if job.result is None:  # nsfw on an endpoint without has_nsfw_concepts
            return _json_resp(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "prompt"],
                            "msg": "The content could not be processed because it contained material "
                            "flagged by a content checker.",
                            "type": "content_policy_violation",
                        }
                    ]
                },
                hdr,
            )
        if self._take(frozenset({"malformed"}), "fal", job.endpoint, None):
            return _Resp(200, b'{"images": [{"url": "', headers=hdr)
        return _json_resp(200, job.result, hdr)

    def _route_fal(
        self,
        rec: dict[str, Any],
        method: str,
        path: str,
        query: Mapping[str, str],
        low: Mapping[str, str],
        body: bytes,
        js: Any,
        bad_json: bool,
    ) -> _Resp:
        if path.rstrip("/") in ("/fal/gateway/api/openapi/queue/openapi.json", "/fal/api/openapi/queue/openapi.json"):
            return self._fal_openapi(rec, method, query)
        if path.startswith("/fal/gateway/"):
            # One base for queue and upload hosts, as PLAYGROUND_FAL_URL gives the app.
            rest = path[len("/fal/gateway/") :].strip("/")
            uploads = {"storage/auth/token": "/fal/rest/storage/auth/token",
                       "storage/upload/initiate": "/fal/rest/storage/upload/initiate",
                       "files/upload": "/fal/cdn/files/upload"}
            path = uploads.get(rest, "/fal/queue/" + rest)
        if path.startswith("/fal/queue/"):
            rest = path[len("/fal/queue/") :]
            m = _FAL_REQ_RE.match(rest)
            if m and method in ("GET", "PUT"):
                return self._fal_request_op(rec, method, m, query, low)
            if method == "POST":
                return self._fal_submit(rec, rest.strip("/"), low, js, bad_json, sync=False)
            return _json_resp(405, {"detail": "Method Not Allowed"})
        if path.startswith("/fal/run/"):
            if method != "POST":
                return _json_resp(405, {"detail": "Method Not Allowed"})
            return self._fal_submit(rec, path[len("/fal/run/") :].strip("/"), low, js, bad_json, sync=True)
        if path.rstrip("/") == "/fal/rest/storage/auth/token" and method == "POST":
            return self._fal_storage_token(rec, low)
        if path.rstrip("/") == "/fal/rest/storage/upload/initiate" and method == "POST":
            return self._fal_storage_initiate(rec, low, js)
        if path.rstrip("/") == "/fal/cdn/files/upload" and method == "POST":
            return self._fal_cdn_upload(rec, low, body)
        m2 = re.fullmatch(r"/fal/storage/upload/([^/]+)", path)
        if m2 and method == "PUT":
            return self._fal_storage_put(rec, m2.group(1), low, body)
        if method in ("GET", "HEAD"):
            return self._serve_file(rec, method, path)
        return _json_resp(404, {"detail": "Not Found"})

    def _fal_openapi(self, rec: dict[str, Any], method: str, query: Mapping[str, str]) -> _Resp:
        """fal's public per-endpoint OpenAPI document, served from the (possibly changed) snapshot."""
        endpoint = query.get("endpoint_id", "")
        rec.update(phase="schema", endpoint=endpoint or None)
        if method not in ("GET", "HEAD"):
            return _json_resp(405, {"detail": "Method Not Allowed"})
        if not endpoint:
            return _json_resp(400, {"detail": "endpoint_id is required"})
        schema = self.schema(endpoint)
        if schema is None or schema["provider"] != "fal":
            return _json_resp(404, {"detail": f"Application '{endpoint}' not found"})
        return _json_resp(200, _published(schema["document"]))

    def _fal_request_op(
        self, rec: dict[str, Any], method: str, m: re.Match[str], query: Mapping[str, str], low: Mapping[str, str]
    ) -> _Resp:
        owner, alias, rid, suffix = m.groups()
        phase = {"/status": "status", "/cancel": "cancel"}.get(suffix or "", "result")
        if (phase == "cancel") != (method == "PUT"):
            return _json_resp(405, {"detail": "Method Not Allowed"})
        job = self._get_job(rid)
        endpoint = job.endpoint if job is not None and job.provider == "fal" else None
        rec.update(phase=phase, endpoint=endpoint)
        fault = self._http_fault("fal", endpoint, phase)
        if fault is not None:
            return fault
        key, err = self._fal_key(low)
        if err is not None:
            return err
        if job is None or job.provider != "fal" or self._app_of(job.endpoint) != (owner, alias):
            return _json_resp(404, {"detail": f"Request {rid} not found"})
        if job.key != key:
            return _json_resp(403, {"detail": "This request belongs to another API key"})
        now = time.monotonic()
        if phase == "status":
            with_logs = query.get("logs", "").lower() in ("1", "true", "yes")
            return _json_resp(200, self._fal_status(job, now, with_logs), {"x-fal-request-id": job.id})
        if phase == "cancel":
            with self._lock:
                ph = job.phase(now)
                if ph == "done" or (job.errors and ph != "queued") or ph == "canceled":
                    return _json_resp(400, {"status": "ALREADY_COMPLETED", "detail": "Request already completed"})
                job.canceled_at = now
            return _json_resp(202, {"status": "CANCELLATION_REQUESTED"})
        ph = job.phase(now)
        if ph == "canceled":
            return _json_resp(400, {"detail": "Request was cancelled"}, {"x-fal-request-id": job.id})
        if ph == "queued" or (ph == "processing" and not job.errors):
            return _json_resp(400, {"detail": "Request is still in progress"}, {"x-fal-request-id": job.id})
        return self._fal_result(job)

    def _fal_submit(
        self, rec: dict[str, Any], endpoint: str, low: Mapping[str, str], js: Any, bad_json: bool, sync: bool
    ) -> _Resp:
        rec.update(phase="submit", endpoint=endpoint)
        fault = self._http_fault("fal", endpoint, "submit")
        if fault is not None:
            return fault
        key, err = self._fal_key(low)
        if err is not None:
            return err
        assert key is not None
        if endpoint.count("/") < 1:
            return _json_resp(404, {"detail": f"Application '{endpoint}' not found"})
        schema = self.schema(endpoint)
        if schema is None or schema["provider"] != "fal":
            return _json_resp(404, {"detail": f"Application '{endpoint}' not found"})
        if bad_json or not isinstance(js, dict):
            return _json_resp(
                422,
                {
                    "detail": [
                        {"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "model_attributes_type"}
                    ]
                },
            )
        errors, in_size = self._validate(schema, js, "fal")
        faults = self._job_faults("fal", endpoint)
        if "422" in faults:
            errors.append(self._injected_422(faults["422"]))
        if errors and (sync or self.fal_validate_on_submit):
            return self._fal_422(errors)
        job = self._new_job("fal", endpoint, key, js, schema, errors, faults, in_size)
        if sync:
            self._wait(job, job.t_end + 1.0)
            return self._fal_result(job)
        body = {"status": "IN_QUEUE", **self._fal_urls(job), "queue_position": 0}
        return _json_resp(200, body, {"x-fal-request-id": job.id})

    def _fal_storage_token(self, rec: dict[str, Any], low: Mapping[str, str]) -> _Resp:
        rec["phase"] = "storage_token"
        fault = self._http_fault("fal", None, "storage_token")
        if fault is not None:
            return fault
        key, err = self._fal_key(low)
        if err is not None:
            return err
        assert key is not None
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._cdn_tokens[token] = key
        expires = datetime.now(UTC) + timedelta(hours=1)
        return _json_resp(
            200,
            {"token": token, "token_type": "Bearer", "base_url": self.fal_cdn_url, "expires_at": expires.isoformat()},
        )

    def _fal_cdn_upload(self, rec: dict[str, Any], low: Mapping[str, str], body: bytes) -> _Resp:
        rec["phase"] = "cdn_upload"
        fault = self._http_fault("fal", None, "cdn_upload")
        if fault is not None:
            return fault
        scheme, _, token = low.get("authorization", "").partition(" ")
        with self._lock:
            ok = scheme == "Bearer" and token in self._cdn_tokens
        if not ok:
            return _json_resp(401, {"detail": "Invalid or missing CDN token"})
        ct = low.get("content-type", "application/octet-stream")
        uid = uuid.uuid4().hex[:12]
        name = low.get("x-fal-file-name") or f"{uid}.{self._ext_for(ct)}"
        path = f"/fal/cdn/files/{uid}/{quote(name)}"
        with self._lock:
            self._files[path] = _StoredFile(ct, data=body, provider="fal")
        return _json_resp(200, {"access_url": self.base_url + path})

    def _fal_storage_initiate(self, rec: dict[str, Any], low: Mapping[str, str], js: Any) -> _Resp:
        rec["phase"] = "storage_initiate"
        fault = self._http_fault("fal", None, "storage_initiate")
        if fault is not None:
            return fault
        _, err = self._fal_key(low)
        if err is not None:
            return err
        js = js if isinstance(js, dict) else {}
        name = str(js.get("file_name") or "upload.bin")
        ct = str(js.get("content_type") or "application/octet-stream")
        uid = uuid.uuid4().hex[:12]
        file_path = f"/fal/storage/files/{uid}/{quote(name)}"
        with self._lock:
            self._pending_puts[uid] = (file_path, ct)
        return _json_resp(
            200, {"upload_url": f"{self.base_url}/fal/storage/upload/{uid}", "file_url": self.base_url + file_path}
        )

    def _fal_storage_put(self, rec: dict[str, Any], uid: str, low: Mapping[str, str], body: bytes) -> _Resp:
        rec["phase"] = "storage_put"
        fault = self._http_fault("fal", None, "storage_put")
        if fault is not None:
            return fault
        with self._lock:
            pending = self._pending_puts.pop(uid, None)
            if pending is None:
                return _json_resp(404, {"detail": "Unknown upload"})
            file_path, ct = pending
            self._files[file_path] = _StoredFile(low.get("content-type", ct), data=body, provider="fal")
        return _Resp(200, b"", content_type="text/plain")

    @staticmethod
    def _ext_for(ct: str) -> str:
        return {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(
            ct.split(";")[0].strip(), "bin"
        )

    # -- files ------------------------------------------------------------------------------

    @staticmethod
    def _file_bytes(f: _StoredFile) -> bytes:
        if f.data is None and f.render is not None:
            f.data = render_image(*f.render)
        return f.data or b""

    def _serve_file(self, rec: dict[str, Any], method: str, path: str) -> _Resp:
        with self._lock:
            f = self._files.get(path)
        rec.update(phase="file", endpoint=f.endpoint if f else None)
        if method not in ("GET", "HEAD"):
            return _Resp(405, b"method not allowed", content_type="text/plain")
        fault = self._http_fault(f.provider if f and f.provider else "fal", f.endpoint if f else None, "file")
        if fault is not None:
            return fault
        if f is None:
            return _Resp(404, b"not found", content_type="text/plain")
        if f.bad:
            return _Resp(200, b"<html><body>this is not an image</body></html>", content_type=f.content_type)
        if f.huge:
            return _Resp(200, content_type=f.content_type, stream_size=f.huge, stream_prefix=_PNG_SIGNATURE)
        return _Resp(
            200, self._file_bytes(f), content_type=f.content_type, headers={"Cache-Control": "public, max-age=3600"}
        )

    # -- Replicate ---------------------------------------------------------------------------

    def _route_replicate(
        self, rec: dict[str, Any], method: str, sub: str, low: Mapping[str, str], body: bytes, js: Any, bad_json: bool
    ) -> _Resp:
        route, m = None, None
        for name, rx in _REP_ROUTES:
            m = rx.match(sub)
            if m:
                route = name
                break
        if route is None or m is None:
            return _rep_error(404, "Not found", "The requested resource could not be found.")
        if route == "file_download" and method in ("GET", "HEAD"):
            return self._serve_file(rec, method, f"/replicate/v1/files/{m.group(1)}/download")

        endpoint: str | None = None
        job: _Job | None = None
        if route == "model_predictions" and method == "POST":
            phase, endpoint = "submit", f"{m.group(1)}/{m.group(2)}"
        elif route == "predictions" and method == "POST":
            phase = "submit"
            endpoint = self._model_for_version(js.get("version") if isinstance(js, dict) else None)
        elif route == "predictions" and method == "GET":
            phase = "status"
        elif route in ("prediction", "prediction_cancel"):
            phase = "status" if route == "prediction" else "cancel"
            job = self._get_job(m.group(1))
            if job is not None and job.provider == "replicate":
                endpoint = job.endpoint
            else:
                job = None
        elif route in ("model", "version"):
            phase, endpoint = "model", f"{m.group(1)}/{m.group(2)}"
        else:
            phase = "file_upload" if (route == "files" and method == "POST") else "model"
        rec.update(phase=phase, endpoint=endpoint)
        fault = self._http_fault("replicate", endpoint, phase)
        if fault is not None:
            return fault
        key, err = self._rep_key(low)
        if err is not None:
            return err
        assert key is not None

        if route == "model_predictions" and method == "POST":
            return self._rep_create(key, f"{m.group(1)}/{m.group(2)}", None, low, js, bad_json)
        if route == "predictions" and method == "POST":
            version = js.get("version") if isinstance(js, dict) else None
            return self._rep_create(key, None, version, low, js, bad_json)
        if route == "predictions" and method == "GET":
            now = time.monotonic()
            with self._lock:
                mine = [j for j in self._jobs.values() if j.provider == "replicate" and j.key == key]
            mine.sort(key=lambda j: j.t_created, reverse=True)
            return _json_resp(
                200, {"results": [self._prediction_json(j, now) for j in mine], "next": None, "previous": None}
            )
        if route == "prediction" and method == "GET":
            if job is None or job.key != key:
                return _rep_error(404, "Not found", "The requested resource could not be found.")
            return self._rep_prediction_response(job, 200)
        if route == "prediction_cancel" and method == "POST":
            if job is None or job.key != key:
                return _rep_error(404, "Not found", "The requested resource could not be found.")
            with self._lock:
                if job.phase(time.monotonic()) in ("queued", "processing"):
                    job.canceled_at = time.monotonic()
            return _json_resp(200, self._prediction_json(job, time.monotonic()))
        if route == "model" and method == "GET":
            return self._rep_model(f"{m.group(1)}/{m.group(2)}")
        if route == "version" and method == "GET":
            return self._rep_version(f"{m.group(1)}/{m.group(2)}", m.group(3))
        if route == "files" and method == "POST":
            return self._rep_file_upload(key, low, body)
        if route == "file" and method == "GET":
            with self._lock:
                meta = self._rep_files.get(m.group(1))
            if meta is None or meta["_key"] != key:
                return _rep_error(404, "Not found", "The requested resource could not be found.")
            return _json_resp(200, {k: v for k, v in meta.items() if k != "_key"})
        return _rep_error(405, "Method not allowed", f"{method} is not allowed here")

    @staticmethod
    def _model_for_version(version: Any) -> str | None:
        if not isinstance(version, str):
            return None
        if "/" in version:
            return version.split(":", 1)[0]
        return _VERSION_INDEX.get(version)

    def _rep_create(
        self, key: str, model: str | None, version: Any, low: Mapping[str, str], js: Any, bad_json: bool
    ) -> _Resp:
        if bad_json or not isinstance(js, dict):
            return _rep_error(400, "Bad request", "Request body must be a JSON object")
        schema: dict[str, Any] | None
        if model is None:  # POST /v1/predictions
            if not isinstance(version, str) or not version:
                return self._rep_422([_Err([], "missing", "", "required", "version is required")])
            if "/" in version:
                model, _, vid = version.partition(":")
                schema = self.schema(model)
                if schema is not None and vid and vid != schema["version"]:
                    schema = None
            else:
                model = self._model_for_version(version)
                schema = self.schema(model) if model else None
            if schema is None or schema["provider"] != "replicate":
                return _rep_error(
                    422,
                    "Invalid version or not permitted",
                    "The specified version does not exist (or perhaps you don't have permission to use it?)",
                )
        else:
            schema = self.schema(model)
            if schema is None or schema["provider"] != "replicate":
                return _rep_error(404, "Not found", "The requested resource could not be found.")
            if not schema["official"]:
                return _rep_error(
                    404, "Not found", f"{model} is not an official model; create the prediction with a version"
                )
        assert model is not None
        inp = js.get("input")
        if not isinstance(inp, dict):
            return self._rep_422([_Err([], "missing", "", "required", "input is required")])
        errors, in_size = self._validate(schema, inp, "replicate")
        faults = self._job_faults("replicate", model)
        if "422" in faults:
            errors.append(self._injected_422(faults["422"]))
        if errors:
            return self._rep_422(errors)
        vid = schema["version"]
        job = self._new_job("replicate", model, key, inp, schema, [], faults, in_size, version=vid)
        prefer = low.get("prefer", "")
        pm = re.match(r"\s*wait(?:\s*=\s*(\d+))?", prefer)
        if pm:
            secs = max(1, min(60, int(pm.group(1) or 60)))
            self._wait(job, time.monotonic() + secs)
            return self._rep_prediction_response(job, 201, force_starting=True)
        return _json_resp(201, self._prediction_json(job, time.monotonic()))

    def _rep_prediction_response(self, job: _Job, status: int, force_starting: bool = False) -> _Resp:
        pred = self._prediction_json(job, time.monotonic(), force_starting=force_starting)
        if pred["status"] in ("succeeded", "failed", "canceled") and self._take(
            frozenset({"malformed"}), "replicate", job.endpoint, None
        ):
            return _Resp(status, b'{"id": "' + job.id.encode() + b'", "status": ')
        return _json_resp(status, pred)

    def _rep_logs(self, job: _Job, now: float) -> str:
        if now < job.t_start and job.canceled_at is None:
            return ""
        end = min(now, job.t_end) if job.canceled_at is None else min(job.canceled_at, job.t_end)
        if end < job.t_start:
            return ""
        lines = [f"Using seed: {job.seed}"]
        work = job.t_end - job.t_start
        done = job.steps if end >= job.t_end else int(job.steps * (end - job.t_start) / work) if work > 0 else job.steps
        for i in range(0, done + 1):
            lines.append(_tqdm_line(i, job.steps, work * i / job.steps))
        if end >= job.t_end and job.canceled_at is None:
            if job.nsfw:
                lines.append("NSFW content detected")
            elif job.fail_msg:
                lines.append("Traceback (most recent call last):")
                lines.append(f"RuntimeError: {job.fail_msg}")
        return "\n".join(lines) + "\n"

    def _prediction_json(self, job: _Job, now: float, force_starting: bool = False) -> dict[str, Any]:
        phase = job.phase(now)
        status = {
            "queued": "starting",
            "processing": "processing",
            "canceled": "canceled",
            "done": "failed" if job.fail_msg else "succeeded",
        }[phase]
        if force_starting and status in ("starting", "processing"):
            status = "starting"
        started = (
            job.wall(job.t_start)
            if (now >= job.t_start and (job.canceled_at is None or job.canceled_at >= job.t_start))
            else None
        )
        completed = None
        if phase == "done":
            completed = job.wall(job.t_end)
        elif phase == "canceled" and job.canceled_at is not None:
            completed = job.wall(job.canceled_at)
        output: Any = None
        if status == "succeeded":
            output = job.urls[0] if job.schema["output"] == "uri" else list(job.urls)
        metrics: dict[str, Any] = {}
        if phase == "done":
            metrics = {
                "predict_time": round(job.t_end - job.t_start, 3),
                "total_time": round(job.t_end - job.t_created, 3),
            }
            if status == "succeeded":
                metrics["image_count"] = len(job.urls)
        base = f"{self.replicate_url}/v1/predictions/{job.id}"
        return {
            "id": job.id,
            "model": job.endpoint,
            "version": job.version,
            "status": status,
            "input": job.input,
            "output": output,
            "logs": self._rep_logs(job, now),
            "error": job.fail_msg if status == "failed" else None,
            "metrics": metrics,
            "created_at": _iso(job.created_wall),
            "started_at": _iso(started),
            "completed_at": _iso(completed),
            "urls": {"get": base, "cancel": base + "/cancel", "web": f"https://replicate.com/p/{job.id}"},
            "data_removed": False,
            "source": "api",
        }

    @staticmethod
    def _version_json(schema: dict[str, Any]) -> dict[str, Any]:
        """The version object: the (possibly changed) published openapi_schema under our version id."""
        doc = _published(schema["document"])
        version = dict(doc.get("latest_version") or doc)
        version["id"] = schema["version"]
        version["created_at"] = version.get("created_at") or "2025-01-01T00:00:00.000000Z"
        version.setdefault("cog_version", "0.16.8")
        return version

    def _rep_model(self, model: str) -> _Resp:
        schema = self.schema(model)
        if schema is None or schema["provider"] != "replicate":
            return _rep_error(404, "Not found", "The requested resource could not be found.")
        owner, name = model.split("/", 1)
        return _json_resp(
            200,
            {
                "url": f"https://replicate.com/{model}",
                "owner": owner,
                "name": name,
                "description": f"{model} (emulated)",
                "visibility": "public",
                "github_url": None,
                "paper_url": None,
                "license_url": None,
                "run_count": 0,
                "cover_image_url": None,
                "default_example": None,
                "latest_version": self._version_json(schema),
            },
        )

    def _rep_version(self, model: str, vid: str) -> _Resp:
        schema = self.schema(model)
        if schema is None or schema["provider"] != "replicate" or schema["version"] != vid:
            return _rep_error(404, "Not found", "The requested resource could not be found.")
        return _json_resp(200, self._version_json(schema))

    def _rep_file_upload(self, key: str, low: Mapping[str, str], body: bytes) -> _Resp:
        ctype = low.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return _rep_error(400, "Bad request", "Expected multipart/form-data with a 'content' part")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
        )
        content: tuple[str, str, bytes] | None = None
        metadata: dict[str, Any] = {}
        for part in msg.iter_parts():
            pname = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if pname == "content":
                content = (part.get_filename() or "file", part.get_content_type(), payload)
            elif pname == "metadata":
                with contextlib.suppress(ValueError):
                    metadata = json.loads(payload)
        if content is None:
            return _rep_error(400, "Bad request", "Missing 'content' part")
        fname, ct, data = content
        fid = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))
        now = datetime.now(UTC)
        meta = {
            "id": fid,
            "name": fname,
            "content_type": ct,
            "size": len(data),
            "etag": hashlib.md5(data).hexdigest(),  # noqa: S324 - an etag, not security
            "checksums": {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()},  # noqa: S324
            "metadata": metadata,
            "created_at": _iso(now),
            "expires_at": _iso(now + timedelta(days=1)),
            "urls": {"get": f"{self.replicate_url}/v1/files/{fid}"},
            "_key": key,
        }
        with self._lock:
            self._rep_files[fid] = meta
            self._files[f"/replicate/v1/files/{fid}/download"] = _StoredFile(ct, data=data, provider="replicate")
        return _json_resp(201, {k: v for k, v in meta.items() if k != "_key"})


def main(argv: list[str] | None = None) -> None:
    """Start an emulator, print its URLs and serve until Ctrl-C."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--work-seconds", type=float, default=1.0)
    ap.add_argument("--queue-seconds", type=float, default=0.3)
    args = ap.parse_args(argv)
    emu = ProviderEmulator(args.work_seconds, args.queue_seconds, port=args.port).start()
    print(f"base_url       {emu.base_url}")
    print(f"fal_queue_url  {emu.fal_queue_url}")
    print(f"fal_run_url    {emu.fal_run_url}")
    print(f"fal_rest_url   {emu.fal_rest_url}")
    print(f"fal_cdn_url    {emu.fal_cdn_url}")
    print(f"replicate_url  {emu.replicate_url}   (replicate.Client(base_url=...))")
    print("keys: fal 'test-...', Replicate 'test-...'; request log at /_log. Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
