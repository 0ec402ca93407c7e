"""One way to turn a Python value into JSON-ready data, for records, presets, grids and error reports.

`jsonable(value)` returns a JSON-ready copy of `value`; it also works as `json.dumps(..., default=jsonable)`.
Imports nothing from the playground, so every module can use it.
"""

from __future__ import annotations

import numbers
from typing import Any


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of `value`, the same every time for the same value.

    JSON scalars (None, bool, int, float, str) stay as they are; other integral or real numbers
    (numpy scalars) become int or float; lists and tuples become lists, sets become sorted lists,
    dicts get text keys; an object that names its own JSON form does so through `as_value()` (a
    `Size`: its preset name or {"width", "height"}) or else `label()` (a compare model choice).
    Anything else becomes `<TypeName>`: never its contents, which could hold a path, a key or pixels.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    for method in ("as_value", "label"):
        named = None if isinstance(value, type) else getattr(value, method, None)
        if callable(named):
            return jsonable(named())
    return f"<{type(value).__name__}>"
