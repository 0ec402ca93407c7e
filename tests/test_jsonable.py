"""The one JSON helper: what each kind of value becomes, the same for records, presets, grids and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from playground import compare, presets, records
from playground.jsonable import jsonable
from playground.params import Size


def test_json_values_stay_and_containers_are_copied_with_text_keys() -> None:
    value = {"a": [1, 2.5, None, True, "x"], 3: (4, 5), "s": {"b", "a"}}
    assert jsonable(value) == {"a": [1, 2.5, None, True, "x"], "3": [4, 5], "s": ["a", "b"]}
    assert json.loads(json.dumps(jsonable(value))) == jsonable(value)


def test_objects_that_name_their_json_form_give_it() -> None:
    assert jsonable(Size(width=640, height=480)) == {"width": 640, "height": 480}
    assert jsonable(Size(preset="square_hd")) == "square_hd"
    assert jsonable([compare.ModelChoice("sdxl-base", "fal"), compare.ModelChoice("sdxl-turbo")]) == \
        ["sdxl-base@fal", "sdxl-turbo"]
    assert jsonable(np.int64(7)) == 7 and type(jsonable(np.int64(7))) is int
    assert jsonable(np.float32(0.5)) == 0.5 and type(jsonable(np.float32(0.5))) is float


def test_anything_else_is_named_by_its_type_never_its_contents() -> None:
    assert jsonable(Path("/srv/secret/place.png")) == f"<{type(Path()).__name__}>"
    assert jsonable(Image.new("RGB", (4, 4))) == "<Image>"
    assert jsonable(Size) == "<type>"  # a class, not a Size: its as_value is not called
    assert "secret" not in json.dumps({"p": Path("/srv/secret")}, default=jsonable)


def test_every_user_of_the_helper_uses_this_one() -> None:
    assert records._jsonable is jsonable and compare._jsonable is jsonable and presets.jsonable is jsonable
