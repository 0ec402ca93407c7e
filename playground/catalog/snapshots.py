"""The providers' own published input schemas, shipped as data in `catalog/schemas/`.

A snapshot is the provider's document in its own format: for fal, the OpenAPI document of one
endpoint (the input is the `post` request body of the endpoint's path, resolved through
`components.schemas`); for Replicate, the model object (`latest_version.openapi_schema`) or, for a
pinned version, the version object (`openapi_schema`), whose `components.schemas.Input` is the
input. Where and when each was taken, and any doubts about it, live under `x-playground-snapshot`.

`read(provider, endpoint)` turns a snapshot into `InputSpec`: one `FieldSpec` per input field, with
the JSON types, enum, bounds, default and list limits the provider states. Standard library only.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).with_name("schemas")
PROVIDERS: tuple[str, ...] = ("fal", "replicate")
META_KEY = "x-playground-snapshot"


@dataclass(frozen=True)
class FieldSpec:
    """One input field as the provider publishes it.

    `types` are JSON types (`integer`, `number`, `string`, `boolean`, `array`, `object`, `null`);
    `enum` lists the allowed strings/numbers when the provider restricts them; `parts` describes
    an object alternative (fal's `ImageSize` width/height) field by field.
    """

    name: str
    types: frozenset[str]
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    default: Any = None
    has_default: bool = False
    max_items: int | None = None
    min_items: int | None = None
    item_types: frozenset[str] = frozenset()
    parts: dict[str, FieldSpec] = field(default_factory=dict)
    # A list of objects (fal's LoRA weights `{path, scale}`): each entry's fields.
    item_parts: dict[str, FieldSpec] = field(default_factory=dict)

    def accepts_type(self, value: Any) -> bool:
        """Whether `value`'s JSON type is one this field takes (an integer also fits `number`)."""
        kind = json_type(value)
        return kind in self.types or (kind == "integer" and "number" in self.types)

    def bounds_text(self) -> str:
        """The range as the provider states it, e.g. `1 to 50`, `at least 0`, or `any`."""
        lo = self.minimum if self.minimum is not None else self.exclusive_minimum
        hi = self.maximum if self.maximum is not None else self.exclusive_maximum
        lo_s = (">" if self.minimum is None and lo is not None else "") + _num(lo) if lo is not None else None
        hi_s = ("<" if self.maximum is None and hi is not None else "") + _num(hi) if hi is not None else None
        if lo_s and hi_s:
            return f"{lo_s} to {hi_s}"
        if lo_s:
            return f"at least {lo_s}"
        if hi_s:
            return f"at most {hi_s}"
        return "any"

    def allowed_text(self) -> str:
        """What the provider allows, in words (for mismatch lines and error messages)."""
        bits = []
        if self.enum is not None:
            bits.append("one of " + ", ".join(json.dumps(v) for v in self.enum))
        numeric = self.types & {"integer", "number"}
        if numeric and self.bounds_text() != "any":
            bits.append(("an integer " if "number" not in numeric else "a number ") + self.bounds_text())
        if not bits:
            bits.append(" or ".join(sorted(self.types - {"null"})) or "anything")
        return "; ".join(bits)

    def in_range(self, value: float) -> bool:
        if self.minimum is not None and value < self.minimum:
            return False
        if self.maximum is not None and value > self.maximum:
            return False
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            return False
        if self.exclusive_maximum is not None and value >= self.exclusive_maximum:
            return False
        return True


@dataclass(frozen=True)
class InputSpec:
    """A provider's published input for one endpoint: its fields, which are required, and our notes."""

    provider: str
    endpoint: str
    fields: dict[str, FieldSpec]
    required: frozenset[str]
    meta: dict[str, Any]
    schema: dict[str, Any]

    @property
    def reconstructed(self) -> bool:
        return bool(self.meta.get("reconstructed"))


def snapshot_path(provider: str, endpoint: str) -> Path:
    """Where the snapshot of `endpoint` (fal endpoint id or Replicate `owner/name`) is shipped."""
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")
    parts = [p for p in endpoint.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"not an endpoint id: {endpoint!r}")
    return SCHEMA_DIR.joinpath(provider, *parts[:-1], parts[-1] + ".json")


def load(provider: str, endpoint: str) -> dict[str, Any] | None:
    """The shipped snapshot document of `endpoint`, or None if none is shipped (a fresh copy)."""
    doc = _load_cached(provider, endpoint)
    return copy.deepcopy(doc) if doc is not None else None


@cache
def _load_cached(provider: str, endpoint: str) -> dict[str, Any] | None:
    path = snapshot_path(provider, endpoint)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def clear_cache() -> None:
    """Forget loaded snapshots (after new ones are written)."""
    _load_cached.cache_clear()


def shipped() -> list[tuple[str, str]]:
    """(provider, endpoint) of every shipped snapshot, sorted."""
    out = []
    for provider in PROVIDERS:
        root = SCHEMA_DIR / provider
        for path in sorted(root.rglob("*.json")):
            out.append((provider, path.relative_to(root).with_suffix("").as_posix()))
    return out


def input_schema(provider: str, document: dict[str, Any], endpoint: str | None = None) -> dict[str, Any]:
    """The input JSON schema of a provider document, with every local `$ref` inlined.

    fal: the `post` request body schema of `/{endpoint}` (or of the only path with a `post` body);
    Replicate: `openapi_schema.components.schemas.Input` of the model's latest or pinned version.
    Raises ValueError when the document has no input schema.
    """
    if provider == "fal":
        paths = document.get("paths") or {}
        candidates = [f"/{endpoint}"] if endpoint and f"/{endpoint}" in paths else list(paths)
        for key in candidates:
            body = ((paths.get(key) or {}).get("post") or {}).get("requestBody") or {}
            schema = ((body.get("content") or {}).get("application/json") or {}).get("schema")
            if schema:
                return _resolve(schema, document, ())
        raise ValueError(f"fal document for {endpoint or '?'} has no POST request body schema")
    version = document.get("latest_version") if "latest_version" in document else document
    try:
        components = (version or {})["openapi_schema"]["components"]
        schema = components["schemas"]["Input"]
    except (KeyError, TypeError):
        raise ValueError(f"Replicate document for {endpoint or '?'} has no openapi_schema Input") from None
    return _resolve(schema, {"components": components}, ())


def version_of(document: dict[str, Any]) -> str | None:
    """The Replicate version id a document describes (latest or pinned), if it says."""
    version = document.get("latest_version") if "latest_version" in document else document
    return (version or {}).get("id")


def read(provider: str, endpoint: str, document: dict[str, Any] | None = None) -> InputSpec | None:
    """The published input of `endpoint`: from `document` when given, else the shipped snapshot."""
    doc = document if document is not None else _load_cached(provider, endpoint)
    if doc is None:
        return None
    schema = input_schema(provider, doc, endpoint)
    fields = {name: field_spec(name, node) for name, node in (schema.get("properties") or {}).items()}
    return InputSpec(provider=provider, endpoint=endpoint, fields=fields,
                     required=frozenset(schema.get("required") or ()), meta=dict(doc.get(META_KEY) or {}),
                     schema=schema)


def payload_problems(spec: InputSpec, payload: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """What the provider's published schema would refuse in `payload`: (field, value, what it allows)
    for every missing required field, unknown field, wrong type, value outside the enum or range,
    and list of the wrong length."""
    out: list[tuple[str, Any, str]] = []
    for name in sorted(spec.required - set(payload)):
        out.append((name, None, "a value (the provider requires it)"))
    for name, value in payload.items():
        field = spec.fields.get(name)
        if field is None:
            out.append((name, value, "no such field; the provider takes " + ", ".join(spec.fields)))
            continue
        out.extend((name, v, allowed) for v, allowed in _value_problems(field, value))
    return out


def _value_problems(field: FieldSpec, value: Any) -> list[tuple[Any, str]]:
    if isinstance(value, dict) and field.parts:
        problems = []
        for key, part in value.items():
            sub = field.parts.get(key)
            if sub is None:
                problems.append((value, f"an object with {', '.join(field.parts)} only"))
            else:
                problems.extend((value, f"{key} {allowed}") for _, allowed in _value_problems(sub, part))
        return problems
    if not field.accepts_type(value):
        return [(value, field.allowed_text())]
    if field.enum is not None and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        if value not in field.enum and not (field.parts and isinstance(value, dict)):
            return [(value, field.allowed_text())]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not field.in_range(value):
        return [(value, field.allowed_text())]
    if isinstance(value, (list, tuple)):
        if field.max_items is not None and len(value) > field.max_items:
            return [(f"{len(value)} items", f"at most {field.max_items} items")]
        if field.min_items is not None and len(value) < field.min_items:
            return [(f"{len(value)} items", f"at least {field.min_items} items")]
        if field.item_types and any(json_type(v) not in field.item_types for v in value):
            return [(value, "a list of " + " or ".join(sorted(field.item_types)))]
        if field.item_parts:
            return [problem for item in value if isinstance(item, dict)
                    for problem in _value_problems(FieldSpec(field.name, frozenset({"object"}),
                                                             parts=field.item_parts), item)]
    return []


def field_spec(name: str, node: dict[str, Any]) -> FieldSpec:
    """A FieldSpec from one resolved property schema (anyOf/oneOf/allOf alternatives merged)."""
    merged = _merge_all_of(node)
    branches = merged.get("anyOf") or merged.get("oneOf") or [merged]
    types: set[str] = set()
    enum: list[Any] | None = None
    nums: dict[str, float] = {}
    item_types: set[str] = set()
    parts: dict[str, FieldSpec] = {}
    item_parts: dict[str, FieldSpec] = {}
    max_items = min_items = None
    for raw in branches:
        branch = _merge_all_of(raw)
        kinds = branch.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else ({kinds} if kinds else set())
        if "enum" in branch:
            enum = (enum or []) + [v for v in branch["enum"] if v not in (enum or [])]
            kinds |= {json_type(v) for v in branch["enum"]}
        if branch.get("nullable"):
            kinds.add("null")
        types |= kinds
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if isinstance(branch.get(key), (int, float)) and not isinstance(branch.get(key), bool):
                nums[key] = branch[key]
        if "array" in kinds:
            items = _merge_all_of(branch.get("items") or {})
            it = items.get("type")
            item_types |= set(it) if isinstance(it, list) else ({it} if it else set())
            item_parts.update({k: field_spec(k, v) for k, v in (items.get("properties") or {}).items()})
            max_items = branch.get("maxItems", max_items)
            min_items = branch.get("minItems", min_items)
        if "object" in kinds:
            parts.update({k: field_spec(k, v) for k, v in (branch.get("properties") or {}).items()})
    default_holder = merged if "default" in merged else next((b for b in branches if "default" in b), None)
    return FieldSpec(
        name=name, types=frozenset(types), enum=tuple(enum) if enum is not None else None,
        minimum=nums.get("minimum"), maximum=nums.get("maximum"),
        exclusive_minimum=nums.get("exclusiveMinimum"), exclusive_maximum=nums.get("exclusiveMaximum"),
        default=(default_holder or {}).get("default"), has_default=default_holder is not None,
        max_items=max_items, min_items=min_items, item_types=frozenset(item_types), parts=parts,
        item_parts=item_parts,
    )


def json_type(value: Any) -> str:
    """The JSON type name of a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


def _merge_all_of(node: dict[str, Any]) -> dict[str, Any]:
    if "allOf" not in node:
        return node
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for part in node["allOf"]:
        for k, v in _merge_all_of(part).items():
            merged.setdefault(k, v)
    return merged


def _resolve(node: Any, root: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_resolve(v, root, seen) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/"):
        ref = node["$ref"]
        if ref in seen:
            raise ValueError(f"circular $ref {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        resolved = _resolve(target, root, (*seen, ref))
        extra = {k: _resolve(v, root, seen) for k, v in node.items() if k != "$ref"}
        return {**resolved, **extra}
    return {k: _resolve(v, root, seen) for k, v in node.items()}


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)
