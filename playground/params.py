"""The parameter language: declarative parameter specs, coercion with clear problems, JSON schema.

A `Param` describes one canonical parameter of a model. Everything that shows, checks or sends a
parameter (UI panels, validation, presets, provider payloads) reads it from here. This module
imports nothing heavy.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "choice", "text", "seed", "size", "image", "image_list", "mask", "loras"]
KINDS: tuple[str, ...] = ("int", "float", "bool", "choice", "text", "seed", "size", "image", "image_list", "mask",
                          "loras")
# Input kinds are checked by playground.images, not by Param.coerce.
INPUT_KINDS: frozenset[str] = frozenset({"image", "image_list", "mask"})

SEED_MAX = 2**32 - 1
MAX_ADAPTER_PATH = 1000

# fal's named sizes; local backends turn them into width/height with this table.
SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: which field, the value given, and what is allowed."""

    field: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        shown = _short(self.value)
        return f"{self.field}: got {shown}; allowed: {self.allowed}"


class ValidationError(ValueError):
    """Every problem found in one request, reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self.describe())

    def describe(self) -> str:
        if len(self.problems) == 1:
            return f"Invalid input: {self.problems[0]}"
        lines = "\n".join(f"- {p}" for p in self.problems)
        return f"Invalid input ({len(self.problems)} problems):\n{lines}"


@dataclass(frozen=True)
class Size:
    """A size value: a named preset (`square_hd`, `auto`, ...) or explicit width x height."""

    preset: str | None = None
    width: int | None = None
    height: int | None = None

    def as_value(self) -> str | dict[str, int]:
        return self.preset if self.preset else {"width": int(self.width), "height": int(self.height)}

    def pixels(self) -> tuple[int, int] | None:
        """Width and height in pixels, or None for presets that follow the input (`auto`...)."""
        if self.preset:
            return SIZE_PRESETS.get(self.preset)
        return int(self.width), int(self.height)


@dataclass(frozen=True)
class Param:
    """One canonical parameter of a model.

    `backends` limits the backends that accept it (None: every backend of the model);
    `modes` limits the modes it applies to (None: every mode); `overrides` narrows the spec for
    a backend, a mode or both, e.g. `{"replicate": {"max": 10}, "local:inpaint": {"default": 7.5}}`.
    For `size`, `choices` are the allowed presets
    and min/max bound each side of an explicit size. For `loras` (a list of `{path, scale}` adapters),
    min/max bound each scale and `max_items` the number of adapters.
    `control`: a playground control, never passed to a backend by name: validation resolves it
    (edit style, reference strength) or the backend applies it with its own code (the output size,
    adapters, the local sampler). Backends pass every other parameter through the route's names.
    """

    name: str
    kind: Kind
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    description: str = ""
    advanced: bool = False
    modes: frozenset[str] | None = None
    backends: frozenset[str] | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    multiple_of: int | None = None
    label: str | None = None
    max_items: int | None = None
    control: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TypeError(f"Param {self.name}: unknown kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise TypeError(f"Param {self.name}: a choice needs choices")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def applies(self, mode: str | None = None, backend: str | None = None) -> bool:
        """Whether this parameter exists for the given mode and backend (None: don't filter)."""
        if mode is not None and self.modes is not None and mode not in self.modes:
            return False
        if backend is not None and self.backends is not None and backend not in self.backends:
            return False
        return True

    def for_backend(self, backend: str | None, mode: str | None = None) -> Param:
        """This spec narrowed for a backend and mode: overrides keyed by the backend, then by the
        mode, then by "backend:mode" apply in that order."""
        keys = [k for k in (backend, mode, f"{backend}:{mode}" if backend and mode else None) if k]
        changes: dict[str, Any] = {}
        for key in keys:
            changes.update(self.overrides.get(key, {}))
        return replace(self, overrides={}, **changes) if changes else self

    def allowed(self) -> str:
        """A human description of the allowed values."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices or ())
        if self.kind == "seed":
            return f"an integer 0 to {SEED_MAX}, or empty for a random seed"
        if self.kind == "text":
            return f"text of at most {int(self.max)} characters" if self.max else "text"
        if self.kind == "image_list":
            return f"{_num(self.min or 0)} to {_num(self.max)} images (PNG, JPEG, WebP, ...)"
        if self.kind in ("image", "mask"):
            return "one image (PNG, JPEG, WebP, ...)"
        if self.kind == "loras":
            return (f"a list of at most {self.max_items} adapters {{path, scale}}, each scale "
                    f"{_num(self.min)} to {_num(self.max)}; path a Hugging Face repo id (optionally "
                    f"/weights.safetensors), an https URL, or a local file on a single-user machine")
        if self.kind == "size":
            presets = ", ".join(self.choices or ())
            side = f"width and height {_num(self.min)} to {_num(self.max)}"
            if self.multiple_of:
                side += f", multiples of {self.multiple_of}"
            return f"a preset ({presets}) or {side}" if presets else side
        kind = "an integer" if self.kind == "int" else "a number"
        if self.min is not None and self.max is not None:
            rng = f" from {_num(self.min)} to {_num(self.max)}"
        elif self.min is not None:
            rng = f" of at least {_num(self.min)}"
        elif self.max is not None:
            rng = f" of at most {_num(self.max)}"
        else:
            rng = ""
        return kind + rng

    def coerce(self, value: Any, field_name: str | None = None) -> Any:
        """Return `value` converted to this parameter's type, or raise ValidationError."""
        if self.kind in INPUT_KINDS:
            raise TypeError(f"{self.name}: images are checked by playground.images")
        name = field_name or self.name
        bad = ValidationError([Problem(name, value, self.allowed())])
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.strip().lower() in ("true", "1", "yes")
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise bad
        if self.kind == "choice":
            for choice in self.choices or ():
                if value == choice or (isinstance(value, (int, float, str)) and str(value) == str(choice)):
                    return choice
            raise bad
        if self.kind == "text":
            if not isinstance(value, str) or (self.max is not None and len(value) > self.max):
                raise bad
            return value
        if self.kind == "seed":
            number = _as_number(value, integer=True)
            if number is None or not 0 <= number <= SEED_MAX:
                raise bad
            return int(number)
        if self.kind == "size":
            return self._coerce_size(value, bad)
        if self.kind == "loras":
            return self._coerce_loras(value, name)
        number = _as_number(value, integer=self.kind == "int")
        if number is None:
            raise bad
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise bad
        return int(number) if self.kind == "int" else float(number)

    def _coerce_size(self, value: Any, bad: ValidationError) -> dict[str, int] | str:
        size = parse_size(value)
        if size is None:
            raise bad
        if size.preset is not None:
            if size.preset not in (self.choices or ()):
                raise bad
            return size.preset
        for side in (size.width, size.height):
            if (self.min is not None and side < self.min) or (self.max is not None and side > self.max):
                raise bad
            if self.multiple_of and side % self.multiple_of:
                raise bad
        return {"width": int(size.width), "height": int(size.height)}

    def _coerce_loras(self, value: Any, name: str) -> list[dict[str, Any]]:
        """A list of `{path, scale}` (scale defaults to 1); a JSON text of that list is read too."""
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except ValueError:
                raise ValidationError([Problem(name, value, self.allowed())]) from None
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValidationError([Problem(name, value, self.allowed())])
        problems: list[Problem] = []
        if self.max_items is not None and len(value) > self.max_items:
            problems.append(Problem(name, f"{len(value)} adapters", f"at most {self.max_items}"))
        out: list[dict[str, Any]] = []
        scale_rule = f"a number from {_num(self.min)} to {_num(self.max)}"
        for i, item in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(item, dict) or set(item) - {"path", "scale"}:
                problems.append(Problem(where, item, "an object {path, scale}"))
                continue
            path = item.get("path")
            if not isinstance(path, str) or not path.strip() or len(path) > MAX_ADAPTER_PATH:
                problems.append(Problem(f"{where}.path", path, "a Hugging Face repo id, an https URL or a file path"))
                continue
            scale = _as_number(item.get("scale", 1.0), integer=False)
            if scale is None or (self.min is not None and scale < self.min) or \
                    (self.max is not None and scale > self.max):
                problems.append(Problem(f"{where}.scale", item.get("scale"), scale_rule))
                continue
            out.append({"path": path.strip(), "scale": float(scale)})
        if problems:
            raise ValidationError(problems)
        return out

    def json_schema(self) -> dict[str, Any]:
        """JSON schema of this parameter (for the API and for presets)."""
        schema: dict[str, Any] = {"description": self.description, "x-advanced": self.advanced}
        if self.default is not None:
            schema["default"] = self.default
        if self.kind in ("int", "float", "seed"):
            schema["type"] = "number" if self.kind == "float" else "integer"
            lo, hi = (0, SEED_MAX) if self.kind == "seed" else (self.min, self.max)
            if lo is not None:
                schema["minimum"] = lo
            if hi is not None:
                schema["maximum"] = hi
            if self.step is not None:
                schema["x-step"] = self.step
        elif self.kind == "bool":
            schema["type"] = "boolean"
        elif self.kind == "choice":
            schema["enum"] = list(self.choices or ())
        elif self.kind == "text":
            schema["type"] = "string"
            if self.max is not None:
                schema["maxLength"] = int(self.max)
        elif self.kind in INPUT_KINDS:
            item = {"type": "string", "description": "file path, URL or data URI of an image"}
            if self.kind == "image_list":
                schema.update(type="array", items=item, maxItems=int(self.max or 0))
            else:
                schema.update(item)
        elif self.kind == "loras":
            scale: dict[str, Any] = {"type": "number", "default": 1.0}
            if self.min is not None:
                scale["minimum"] = self.min
            if self.max is not None:
                scale["maximum"] = self.max
            schema.update(type="array", items={
                "type": "object", "required": ["path"], "additionalProperties": False,
                "properties": {"path": {"type": "string", "description": "Hugging Face repo id (optionally "
                                        "owner/repo/weights.safetensors), https URL, or local file"},
                               "scale": scale}})
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
        elif self.kind == "size":
            side: dict[str, Any] = {"type": "integer"}
            if self.min is not None:
                side["minimum"] = self.min
            if self.max is not None:
                side["maximum"] = self.max
            if self.multiple_of:
                side["multipleOf"] = self.multiple_of
            explicit = {
                "type": "object",
                "properties": {"width": side, "height": side},
                "required": ["width", "height"],
                "additionalProperties": False,
            }
            schema["oneOf"] = ([{"enum": list(self.choices)}] if self.choices else []) + [explicit]
        if self.backends is not None:
            schema["x-backends"] = sorted(self.backends)
        if self.modes is not None:
            schema["x-modes"] = sorted(self.modes)
        return schema


_SIZE_TEXT = re.compile(r"^\s*(\d+)\s*[xX×*,]\s*(\d+)\s*$")


def parse_size(value: Any) -> Size | None:
    """Read a size from a preset name, "WxH", (w, h), or {"width", "height"}; None if unreadable."""
    if isinstance(value, Size):
        return value
    if isinstance(value, str):
        match = _SIZE_TEXT.match(value)
        if match:
            return Size(width=int(match.group(1)), height=int(match.group(2)))
        return Size(preset=value.strip()) if value.strip() else None
    if isinstance(value, dict) and set(value) == {"width", "height"}:
        w, h = _as_number(value["width"], integer=True), _as_number(value["height"], integer=True)
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        w, h = _as_number(value[0], integer=True), _as_number(value[1], integer=True)
    else:
        return None
    if w is None or h is None:
        return None
    return Size(width=int(w), height=int(h))


def _as_number(value: Any, *, integer: bool) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if integer:
        if float(value) != int(value):
            return None
        return int(value)
    return value


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
