"""Axis values: what a grid axis holds, read from what the user typed, and labelled.

Values come as a list or as text: "start:stop:step" ranges (numbers, stop included, `parse_range`), else
comma-separated (newline-separated when the text has newlines); numbers typed in a list are read as
numbers. A model axis's values are `ModelChoice`s, a seed axis's seeds, a parameter axis's values of that
parameter (`param_values`). `format_value` gives each value its short label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from playground.adapters import LORA_PARAM, axis_field, axis_label, axis_title
from playground.catalog import MODELS
from playground.params import Param, Problem, ValidationError, parse_size

# A range like 0:1e9:1 is refused before it is expanded.
MAX_AXIS_VALUES = 1000


@dataclass(frozen=True)
class ModelChoice:
    """A model and the backend asked for it ("auto" or a backend name)."""

    model: str
    backend: str = "auto"

    def label(self) -> str:
        return self.model if self.backend == "auto" else f"{self.model}@{self.backend}"


def parse_range(text: str, integer: bool = False) -> list[int | float]:
    """Expand "start:stop[:step]" (step default 1; stop included when the steps land on it).

    Raises ValueError for unreadable numbers, a zero step, a step pointing away from stop, or more
    than MAX_AXIS_VALUES values.
    """
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3):
        raise ValueError("a range is start:stop or start:stop:step")
    start, stop = float(parts[0]), float(parts[1])
    step = float(parts[2]) if len(parts) == 3 else 1.0
    if step == 0 or not all(math.isfinite(x) for x in (start, stop, step)):
        raise ValueError("the step must be a non-zero number")
    if (stop - start) * step < 0:
        raise ValueError("the step goes away from stop")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_AXIS_VALUES:
        raise ValueError(f"{count} values; at most {MAX_AXIS_VALUES}")
    values = [start + i * step for i in range(count)]
    if integer:
        if any(abs(v - round(v)) > 1e-9 for v in values):
            raise ValueError("an integer parameter needs whole-number start and step")
        return [int(round(v)) for v in values]
    return [int(v) if float(v).is_integer() else round(v, 10) for v in values]


def expand_values(values: list[Any] | str, integer: bool, where: str, problems: list[Problem],
                  ranges: bool) -> list[Any]:
    """An axis's values as a list: text is read as a range (when `ranges`) or split into items; a
    repeated value, too many values or an unreadable range is added to `problems` (as `where`.values)."""
    if isinstance(values, str):
        text = values.strip()
        if ranges and ":" in text and "\n" not in text and "," not in text:
            try:
                return list(parse_range(text, integer))
            except ValueError as err:
                problems.append(Problem(f"{where}.values", text, f"start:stop:step ({err})"))
                return []
        values = [_number_text(v, integer) for v in split_values(text)] if ranges else split_values(text)
    if not isinstance(values, (list, tuple)):
        problems.append(Problem(f"{where}.values", values, "a list of values or a start:stop:step range"))
        return []
    if len(values) > MAX_AXIS_VALUES:
        problems.append(Problem(f"{where}.values", f"{len(values)} values", f"at most {MAX_AXIS_VALUES}"))
        return []
    out: list[Any] = []
    for value in values:
        if any(_same(value, seen) for seen in out):
            problems.append(Problem(f"{where}.values", value, "each value once"))
            continue
        out.append(value)
    return out


def _number_text(text: str, integer: bool) -> Any:
    """A number typed in a list ("2", "2.5") as a number, like a range's values; other text unchanged."""
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number) or (integer and not number.is_integer()):
        return text
    return int(number) if number.is_integer() else number


def split_values(text: str) -> list[str]:
    """Comma-separated items (newline-separated when `text` has newlines), trimmed, empty ones dropped."""
    parts = text.split("\n") if "\n" in text else text.split(",")
    return [p.strip() for p in parts if p.strip()]


def size_value(value: Any) -> Any:
    """A size typed as text ("64x64") as the size parameter's value; other values unchanged."""
    size = parse_size(value)
    return value if size is None else size.as_value()


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def format_value(value: Any) -> str:
    """A short label for an axis value: 2.5, 64x64, true, a model id..."""
    if isinstance(value, ModelChoice):
        return value.label()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict) and set(value) == {"width", "height"}:
        return f"{value['width']}x{value['height']}"
    if value is None:
        return "default"
    return shorten(str(value), 40)


def model_label(choice: ModelChoice, backend: str | None) -> str:
    """A model axis label: the choice, or for "auto" the backend it resolved to."""
    if choice.backend != "auto":
        return choice.label()
    return f"{choice.model} (auto: {backend or 'none'})"


def seed_values(values: list[Any] | str, where: str, problems: list[Problem]) -> list[int]:
    """A seed axis's values as seeds (list, text or range); out-of-range seeds are added to `problems`."""
    seeds = []
    for value in expand_values(values, integer=True, where=where, problems=problems, ranges=True):
        try:
            seeds.append(Param("seed", "seed").coerce(value, f"{where}.values"))
        except ValidationError as err:
            problems.extend(err.problems)
    return seeds


def param_values(name: str, values: list[Any] | str, where: str, mode: str, choices: list[ModelChoice],
                 seen: set[str], problems: list[Problem]) -> tuple[str, list[Any], list[str]]:
    """A parameter axis's (title, values, labels) for the `choices`' models in `mode`.

    `name` is a parameter of at least one of those models, or one adapter's field (`loras[i].scale` /
    `loras[i].path`); numbers may come as ranges, sizes are read as sizes. A name no model takes, the seed
    or a name already in `seen` (another axis's) is added to `problems`; `name` is added to `seen`.
    """
    adapter = axis_field(name)  # `loras[i].scale` / `loras[i].path`: one adapter of the list
    lookup = LORA_PARAM if adapter else name
    specs = [p for c in choices if c.model in MODELS for p in MODELS[c.model].params_for(mode)
             if p.name == lookup and p.kind not in ("image", "image_list", "mask")]
    if name == "seed":
        problems.append(Problem(f"{where}.name", name, 'a seed axis (kind "seed"), not a parameter axis'))
    elif not specs:
        known = sorted({p.name for c in choices if c.model in MODELS for p in MODELS[c.model].params_for(mode)})
        problems.append(Problem(f"{where}.name", name, f"a parameter of the grid's models in {mode}: "
                                                     + ", ".join(known)))
    elif name in seen:
        problems.append(Problem(f"{where}.name", name, "a parameter not already on another axis"))
    seen.add(name)
    if adapter:
        expanded = expand_values(values, integer=False, where=where, problems=problems, ranges=adapter[1] == "scale")
        return axis_title(name), expanded, [axis_label(name, v) for v in expanded]
    numeric = next((p for p in specs if p.kind in ("int", "float")), None)
    expanded = expand_values(values, integer=bool(numeric and numeric.kind == "int"), where=where,
                             problems=problems, ranges=numeric is not None)
    if specs and specs[0].kind == "size":
        expanded = [size_value(v) for v in expanded]
    return (specs[0].title if specs else name), expanded, [format_value(v) for v in expanded]


def model_choices(values: list[Any] | str, problems: list[Problem], field_name: str,
                  default_backend: str = "auto") -> list[ModelChoice]:
    """A model axis's values as ModelChoices: "model-id", "model-id@backend" or {"model", "backend"}, in a
    list or as text (comma- or newline-separated); a model given without a backend gets `default_backend`.
    Unknown models, backends that do not serve the model and repeats are added to `problems`."""
    where = field_name
    raw = values
    if isinstance(raw, str):
        raw = split_values(raw)
    choices: list[ModelChoice] = []
    for value in raw or []:
        if isinstance(value, dict):
            model, backend = value.get("model"), value.get("backend") or "auto"
        elif isinstance(value, str):
            model, _, backend = value.strip().partition("@")
            backend = backend.strip() or default_backend
        else:
            problems.append(Problem(where, value, 'a model id, "model@backend" or {"model", "backend"}'))
            continue
        if model not in MODELS:
            problems.append(Problem(where, model, "one of " + ", ".join(MODELS)))
            continue
        spec = MODELS[model]
        if backend != "auto" and backend not in spec.backends:
            problems.append(Problem(where, f"{model}@{backend}", f"a backend of {model}: auto, "
                                                                 + ", ".join(spec.backends)))
            continue
        choice = ModelChoice(model, backend)
        if choice in choices:
            problems.append(Problem(where, choice.label(), "each model once"))
            continue
        choices.append(choice)
    if not choices and not problems:
        problems.append(Problem(where, raw, "at least one model"))
    return choices


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
