"""The parameter panel, generated from the catalog.

The page holds a fixed pool of components, one *slot* per distinct (parameter name, widget) found
anywhere in the catalog. Choosing a model, mode and backend shows the slots of exactly the
parameters `ModelSpec.params_for(mode, backend)` returns, each set to that parameter's label,
default, range or choices and description; the rest are hidden. Values go back as canonical
params, and only those the visitor changed from the default are sent (so `auto` can still pick
any backend, and the catalog's defaults stay the single source of truth).

Pure functions: they return property dicts that the handlers wrap in `gr.update`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from playground.backends import auto_order
from playground.catalog import MODELS, ModelSpec
from playground.params import INPUT_KINDS, Param, ValidationError, parse_size
from playground.request import EDIT_STYLE_DEFAULTS

Widget = Literal["slider", "number", "checkbox", "dropdown", "radio", "size", "text", "loras"]
Placement = Literal["basic", "advanced", "edit"]
# Parameters shown next to the reference images instead of in the parameter list, and the
# choice shown as a toggle (radio) rather than a dropdown.
EDIT_CONTROLS = frozenset({"edit_style", "reference_strength"})
TOGGLES = frozenset({"edit_style"})
UNSET = ""  # dropdown value for "no value: the backend decides"


@dataclass(frozen=True)
class Slot:
    """One component of the pool: the parameter it shows, how, and where on the page."""

    name: str
    widget: Widget
    placement: Placement
    key: str  # stable id, used as elem_id `param-<key>`: the name, plus the widget where a name has two


def widget_for(param: Param) -> Widget:
    """The widget that shows a parameter: sliders need a range and a default; empty-able numbers use a box."""
    if param.kind in ("int", "float", "seed"):
        bounded = param.min is not None and param.max is not None and param.default is not None
        return "slider" if bounded and param.kind != "seed" else "number"
    if param.kind == "bool":
        return "checkbox"
    if param.kind == "choice":
        return "radio" if param.name in TOGGLES else "dropdown"
    if param.kind == "size":
        return "size"
    if param.kind == "loras":
        return "loras"  # the adapters list as JSON text, edited row by row in ui/lora_editor.py
    return "text"


def panel_params(model: ModelSpec, mode: str, backend: str) -> list[Param]:
    """The parameters shown for `model` in `mode` on a concrete `backend`, overrides applied."""
    return [p for p in model.params_for(mode, backend) if p.kind not in INPUT_KINDS]


def panel_backend(model: ModelSpec, mode: str, backend: str, planned: str | None = None) -> str:
    """The concrete backend whose parameters the panel shows.

    A named backend shows its own; `auto` shows the backend auto would pick now (`planned`), else
    the first backend in auto's order that serves the mode.
    """
    if backend != "auto" and backend in model.backends:
        return backend
    if planned in model.backends:
        return planned
    serving = [b for b in auto_order() if b in model.backends and mode in model.modes_on(b)]
    serving += [b for b in model.backends if mode in model.modes_on(b) and b not in serving]
    return serving[0] if serving else model.backends[0]


def _all_slots() -> list[Slot]:
    """One slot per (name, widget) over every model, mode and backend, in catalog order; a slot
    sits where the first parameter that needs it says (basic, advanced, or by the images)."""
    seen: dict[tuple[str, Widget], Placement] = {}
    for model in MODELS.values():
        for backend in model.backends:
            for mode in model.modes_on(backend):
                for param in panel_params(model, mode, backend):
                    placement: Placement = ("edit" if param.name in EDIT_CONTROLS
                                            else "advanced" if param.advanced else "basic")
                    seen.setdefault((param.name, widget_for(param)), placement)
    names = [name for name, _ in seen]
    return [Slot(name, widget, placement, name if names.count(name) == 1 else f"{name}-{widget}")
            for (name, widget), placement in seen.items()]


SLOTS: list[Slot] = _all_slots()
SLOT_INDEX: dict[tuple[str, str], int] = {(s.name, s.widget): i for i, s in enumerate(SLOTS)}


def slot_of(param: Param) -> int:
    """Index in SLOTS of the component that shows `param`."""
    return SLOT_INDEX[(param.name, widget_for(param))]


def display_value(param: Param, value: Any) -> Any:
    """A canonical value as its widget holds it (sizes as text, unset choices as "")."""
    if param.kind == "size":
        if value is None:
            return UNSET
        size = parse_size(value)
        return size.preset if size and size.preset else f"{size.width}x{size.height}" if size else str(value)
    if param.kind == "choice" and value is None:
        return UNSET
    if param.kind == "loras":
        return loras_text(value)
    return value


def loras_text(value: Any) -> str:
    """An adapters list as the JSON text its slot holds ("" for none); text is kept as it is."""
    if isinstance(value, str):
        return value
    return json.dumps(list(value), ensure_ascii=False) if value else UNSET


def loras_items(text: Any) -> list[dict[str, Any]]:
    """The adapters a slot's text holds, best effort (unreadable text: none; validation says why later)."""
    if not isinstance(text, str):
        return [dict(i) for i in text or [] if isinstance(i, dict)]
    try:
        items = json.loads(text) if text.strip() else []
    except ValueError:
        return []
    return [dict(i) for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def canonical_value(param: Param, value: Any) -> Any:
    """A widget value as a canonical one ("" and None mean unset; so does an empty adapters list)."""
    if param.kind == "loras" and (value == [] or (isinstance(value, str) and "".join(value.split()) == "[]")):
        return None
    if value is None or (isinstance(value, str) and value.strip() == "" and param.kind != "text"):
        return None
    if isinstance(value, float) and param.kind == "int" and value.is_integer():
        return int(value)
    return value


def same_value(param: Param, a: Any, b: Any) -> bool:
    """Whether two widget values mean the same canonical value."""
    a, b = canonical_value(param, a), canonical_value(param, b)
    if a is None or b is None:
        return a is None and b is None
    if param.kind == "size":
        return parse_size(a) == parse_size(b)
    try:
        ca, cb = param.coerce(a), param.coerce(b)
    except ValidationError:
        return a == b
    if isinstance(ca, float) or isinstance(cb, float):
        return math.isclose(float(ca), float(cb), rel_tol=1e-9, abs_tol=1e-9)
    return ca == cb


def info_text(param: Param) -> str:
    """Help text: the description, then the default (and what is allowed where the widget cannot show it)."""
    default = display_value(param, param.default)
    text = f"{param.description} Default: {'empty' if default in (None, UNSET) else default}."
    widget = widget_for(param)
    if widget == "number":
        text += f" Allowed: {param.allowed()}."
    elif widget == "size":
        side = f"{_num(param.min)}-{_num(param.max)}"
        step = f", multiples of {param.multiple_of}" if param.multiple_of else ""
        text += f" Or type WIDTHxHEIGHT (sides {side}{step})."
    return text


def slot_props(param: Param, value: Any) -> dict[str, Any]:
    """Properties that turn a slot into the widget for `param` holding `value` (widget form)."""
    widget = widget_for(param)
    props: dict[str, Any] = {"visible": True, "label": param.title, "info": info_text(param), "value": value}
    if widget in ("slider", "number"):
        props.update(minimum=param.min, maximum=param.max)
        if widget == "slider":
            props["step"] = param.step or (1 if param.kind == "int" else 0.01)
        else:
            props["step"] = param.step or 1
            props["precision"] = 0 if param.kind in ("int", "seed") else None
    elif widget in ("dropdown", "radio"):
        choices = [(_choice_label(c), c) for c in param.choices or ()]
        if param.default is None:
            choices.insert(0, ("(backend default)", UNSET))
        props["choices"] = choices
    elif widget == "size":
        choices = [(c, c) for c in param.choices or ()]
        if param.default is None:
            choices.insert(0, ("(backend default)", UNSET))
        props["choices"] = choices
    return props


def panel_values(model: ModelSpec, mode: str, backend: str) -> dict[int, Any]:
    """Slot index → default (widget form) for every parameter of the panel."""
    return {slot_of(p): display_value(p, p.default) for p in panel_params(model, mode, backend)}


def next_values(model: ModelSpec, mode: str, backend: str, previous: dict[str, Any] | None,
                current: list[Any]) -> dict[int, Any]:
    """Values for a new panel: a value the visitor changed is kept when it still applies and is
    valid; everything else (and everything after a model change) starts at its default."""
    values = panel_values(model, mode, backend)
    if not previous or previous.get("model") != model.id:
        return values
    old_defaults: dict[str, Any] = previous.get("defaults", {})
    for param in panel_params(model, mode, backend):
        index = slot_of(param)
        key = str(index)
        if key not in old_defaults or index >= len(current):
            continue
        old_param = _param_in(model, previous, param.name) or param
        value = current[index]
        if same_value(old_param, value, old_defaults[key]):
            continue
        canonical = canonical_value(param, value)
        if canonical is not None:
            try:
                param.coerce(canonical)
            except ValidationError:
                continue
        values[index] = value
    return values


def context(model: ModelSpec, mode: str, backend: str) -> dict[str, Any]:
    """What the page remembers about the panel it shows (kept in a gr.State)."""
    return {"model": model.id, "mode": mode, "backend": backend,
            "defaults": {str(i): v for i, v in panel_values(model, mode, backend).items()}}


def explicit_params(model: ModelSpec, mode: str, backend: str, current: list[Any]) -> dict[str, Any]:
    """Canonical params the visitor changed from the panel's defaults (what the request sends)."""
    params: dict[str, Any] = {}
    for param in panel_params(model, mode, backend):
        index = slot_of(param)
        if index >= len(current):
            continue
        value = current[index]
        if not same_value(param, value, display_value(param, param.default)):
            params[param.name] = canonical_value(param, value)
    return params


def typed_params(model: ModelSpec, mode: str, backend: str, typed: Any) -> dict[str, Any]:
    """Canonical params for values typed past a slider's range (slot key → typed text), as numbers
    where they read as numbers, so validation refuses them exactly as it refuses the API's."""
    if not isinstance(typed, dict) or not typed:
        return {}
    params: dict[str, Any] = {}
    for param in panel_params(model, mode, backend):
        text = typed.get(SLOTS[slot_of(param)].key)
        if text is None:
            continue
        try:
            number = float(str(text).strip())
        except ValueError:
            params[param.name] = text
            continue
        params[param.name] = int(number) if number.is_integer() else number
    return params


def edit_style_values(model: ModelSpec, mode: str, backend: str, style: str) -> dict[int, Any]:
    """Slot values that switching the Modify/Copy toggle sets: `request.EDIT_STYLE_DEFAULTS[style]`, and
    the catalog default for what another style sets and this one does not."""
    shown = {p.name: p for p in panel_params(model, mode, backend)}
    wanted = EDIT_STYLE_DEFAULTS.get(style, EDIT_STYLE_DEFAULTS["modify"])
    driven = dict.fromkeys(name for table in EDIT_STYLE_DEFAULTS.values() for name in table)
    values: dict[int, Any] = {}
    for name in driven:
        param = shown.get(name)
        if param is not None:
            values[slot_of(param)] = display_value(param, wanted.get(name, param.default))
    return values


def _param_in(model: ModelSpec, previous: dict[str, Any], name: str) -> Param | None:
    mode, backend = previous.get("mode"), previous.get("backend")
    if mode not in model.modes or backend not in model.backends:
        return None
    return next((p for p in panel_params(model, mode, backend) if p.name == name), None)


def _num(x: float | None) -> str:
    return "?" if x is None else str(int(x)) if float(x).is_integer() else str(x)


def _choice_label(choice: Any) -> str:
    return choice.capitalize() if isinstance(choice, str) and choice in EDIT_STYLE_DEFAULTS else str(choice)
