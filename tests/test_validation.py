"""Validation: every bad input gets a clear problem naming the field, the value and what is allowed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from playground.images import Limits, content_hash, load_image, load_mask
from playground.params import ValidationError
from playground.request import Request
from playground.validation import for_backend, validate
from tests.conftest import make_image, make_mask


def problems_of(request: Request, **kw) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        validate(request, **kw)
    return {p.field: p.allowed for p in info.value.problems}


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_unknown_model_lists_known_ids():
    found = problems_of(Request(model="flux-9-ultra", prompt="x"))
    assert "sdxl-base" in found["model"] and "flux-2-dev" in found["model"]


def test_all_problems_are_reported_together():
    request = Request(model="sdxl-base", mode="image-to-image", prompt="x",
                      params={"num_inference_steps": 0, "guidance_scale": "lots", "bogus": 1},
                      images=[], seed="abc")
    with pytest.raises(ValidationError) as info:
        validate(request)
    fields = [p.field for p in info.value.problems]
    assert set(fields) == {"params.num_inference_steps", "params.guidance_scale", "params.bogus", "seed", "images"}
    message = str(info.value)
    assert "5 problems" in message
    assert "params.num_inference_steps: got 0; allowed: an integer from 1 to 500" in message
    assert "params.guidance_scale: got 'lots'; allowed: a number from 0 to 50" in message


def test_unknown_parameter_names_the_accepted_ones():
    found = problems_of(Request(model="sdxl-base", prompt="x", params={"cfg": 7}))
    assert "guidance_scale" in found["params.cfg"] and "num_inference_steps" in found["params.cfg"]


def test_parameter_of_another_mode_is_refused():
    found = problems_of(Request(model="sdxl-base", prompt="x", params={"reference_strength": 0.4}))
    assert found["params.reference_strength"] == "not used in text-to-image; used in image-to-image"


def test_parameter_of_another_backend_is_refused_on_that_backend():
    found = problems_of(Request(model="sdxl-base", prompt="x", params={"apply_watermark": False},
                                backend="local"))
    assert found["params.apply_watermark"] == "not accepted by local; accepted by replicate"
    # with auto the parameter is fine: replicate takes it
    assert validate(Request(model="sdxl-base", prompt="x", params={"apply_watermark": False})).params[
        "apply_watermark"] is False


def test_inputs_in_params_are_redirected_to_their_fields():
    found = problems_of(Request(model="sdxl-base", prompt="x", params={"seed": 3}))
    assert found["params.seed"] == "seed goes in its own field, not in params"


def test_wrong_types_and_ranges_per_kind():
    found = problems_of(Request(model="sdxl-base", prompt="x", params={
        "num_images": 2.5, "scheduler": "Fastest", "image_size": "huge", "guidance_rescale": True}))
    assert found["params.num_images"] == "an integer from 1 to 4"
    assert found["params.scheduler"].startswith("one of 'Default', 'Euler'")
    assert "a preset (square_hd" in found["params.image_size"] and "multiples of 8" in found["params.image_size"]
    assert found["params.guidance_rescale"] == "a number from 0 to 1"


def test_size_must_be_a_multiple_and_in_range():
    found = problems_of(Request(model="sdxl-base", prompt="x", params={"image_size": "1000x1001"}))
    assert "multiples of 8" in found["params.image_size"]
    ok = validate(Request(model="sdxl-base", prompt="x", params={"image_size": "64x128"}))
    assert ok.params["image_size"] == {"width": 64, "height": 128}


def test_mode_the_model_lacks():
    found = problems_of(Request(model="flux-schnell", mode="inpaint", prompt="x"))
    assert found["mode"] == "for flux-schnell: one of text-to-image"


def test_mode_the_backend_lacks():
    found = problems_of(Request(model="flux-kontext-dev", mode="inpaint", prompt="x", backend="fal",
                                images=[make_image()], mask=make_mask()))
    assert found["mode"].startswith("for flux-kontext-dev on fal: one of image-to-image")


def test_backend_that_does_not_serve_the_model():
    found = problems_of(Request(model="sdxl-turbo", prompt="x", backend="fal"))
    assert found["backend"] == "for sdxl-turbo: auto, local"
    found = problems_of(Request(model="sdxl-turbo", prompt="x", backend="modal"))
    assert found["backend"] == "one of auto, local, fal, replicate"


def test_missing_required_image_and_mask():
    found = problems_of(Request(model="sdxl-base", mode="inpaint", prompt="x"))
    assert found["images"] == "at least 1 for sdxl-base in inpaint"
    assert found["mask"].startswith("a mask image")


def test_too_many_reference_images():
    images = [make_image(pattern=i) for i in range(3)]
    found = problems_of(Request(model="sdxl-base", mode="image-to-image", prompt="x", images=images))
    assert found["images"] == "at most 1 for sdxl-base in image-to-image"


def test_too_many_for_one_backend_but_fine_for_the_model():
    images = [make_image(pattern=i) for i in range(6)]
    prepared = validate(Request(model="flux-2-dev", mode="image-to-image", prompt="x", images=images,
                                backend="local"))
    assert len(prepared.images) == 6
    with pytest.raises(ValidationError) as info:
        for_backend(prepared, "fal")
    assert str(info.value.problems[0]) == "images: got '6 images'; allowed: at most 4 on fal"


def test_identical_reference_images_are_deduplicated():
    a, b = make_image(pattern=0), make_image(pattern=1)
    prepared = validate(Request(model="flux-2-dev", mode="image-to-image", prompt="x",
                                images=[a, png_bytes(a), b, np.asarray(a)]))
    assert [img.sha256 for img in prepared.images] == [content_hash(a), content_hash(b)]
    assert prepared.image_map == [0, 0, 1, 0]


def test_mask_in_a_mode_without_masks():
    found = problems_of(Request(model="sdxl-base", prompt="x", mask=make_mask()))
    assert found["mask"] == "a mask only in inpaint mode"


def test_prompt_required_and_length_limited():
    found = problems_of(Request(model="flux-2-pro", prompt="  "))
    assert found["prompt"] == "a non-empty prompt (required by flux-2-pro)"
    assert problems_of(Request(model="flux-2-pro", prompt="a" * 2001))["prompt"] == "at most 2000 characters"


def test_negative_prompt_only_where_the_model_takes_one():
    found = problems_of(Request(model="flux-2-pro", prompt="x", negative_prompt="blurry"))
    assert found["negative_prompt"] == "none: flux-2-pro takes no negative prompt"


def test_seed_random_when_unset_and_checked_when_set():
    drawn = validate(Request(model="sdxl-base", prompt="x"))
    assert drawn.seed_drawn and 0 <= drawn.seed < 2**32
    assert validate(Request(model="sdxl-base", prompt="x", seed=-1)).seed_drawn
    assert validate(Request(model="sdxl-base", prompt="x", seed="42")).seed == 42
    assert "or -1 for random" in problems_of(Request(model="sdxl-base", prompt="x", seed=2**32))["seed"]


def test_default_negative_prompts_per_mode_and_none_in_copy():
    t2i = validate(Request(model="sdxl-base", prompt="x", backend="local"))
    i2i = validate(Request(model="sdxl-base", mode="image-to-image", prompt="x", images=[make_image()]))
    copy = validate(Request(model="sdxl-base", mode="image-to-image", prompt="x", images=[make_image()],
                            params={"edit_style": "copy"}))
    assert "watermark" in t2i.negative_prompt
    assert i2i.negative_prompt == "blurry, low quality" and len(i2i.negative_prompt) < len(t2i.negative_prompt)
    assert copy.negative_prompt == ""
    explicit = validate(Request(model="sdxl-base", prompt="x", negative_prompt=""))
    assert explicit.negative_prompt == ""


def test_modify_and_copy_mapping_is_exact():
    image = [make_image()]
    modify = validate(Request(model="sdxl-base", mode="image-to-image", prompt="x", images=image)).params
    assert (modify["edit_style"], modify["reference_strength"], modify["strength"]) == ("modify", 0.5, 0.5)
    modify = validate(Request(model="sdxl-base", mode="image-to-image", prompt="x", images=image,
                              params={"reference_strength": 0.8})).params
    assert modify["strength"] == 0.2
    copy = validate(Request(model="sdxl-base", mode="image-to-image", prompt="x", images=image, backend="local",
                            params={"edit_style": "copy"})).params
    assert (copy["reference_strength"], copy["guidance_scale"], copy["num_inference_steps"], copy["strength"]) == (
        0.95, 1.0, 15, 0.05)
    clamped = validate(Request(model="sdxl-base", mode="image-to-image", prompt="x", images=image,
                               params={"edit_style": "copy", "reference_strength": 0.3})).params
    assert clamped["strength"] == 0.05


def test_backend_defaults_apply_when_resolved_for_a_backend():
    prepared = validate(Request(model="sdxl-base", prompt="x"))
    assert prepared.params["num_inference_steps"] == 25
    assert for_backend(prepared, "local").params["num_inference_steps"] == 50
    assert for_backend(prepared, "local").params["guidance_scale"] == 5.0
    assert "apply_watermark" not in for_backend(prepared, "local").params


# --- images ---------------------------------------------------------------------------------------
def test_images_from_every_input_kind_hash_the_same(tmp_path):
    image = make_image()
    path = tmp_path / "in.png"
    image.save(path)
    hashes = {load_image(v, "images[0]").sha256 for v in (image, np.asarray(image), png_bytes(image), str(path),
                                                          path, {"path": str(path)})}
    assert hashes == {content_hash(image)}


def test_corrupt_and_non_image_inputs_are_refused(tmp_path):
    good = png_bytes(make_image())
    with pytest.raises(ValidationError, match=r"images\[0\]: got '.*not an image'"):
        load_image(b"hello, not a picture", "images[0]")
    with pytest.raises(ValidationError, match=r"corrupt or truncated"):
        load_image(good[: len(good) // 2], "images[0]")
    with pytest.raises(ValidationError, match=r"a path to an existing image file"):
        load_image(str(tmp_path / "missing.png"), "images[0]")
    with pytest.raises(ValidationError, match=r"a PIL image, numpy array, file path, bytes or data URI"):
        load_image(3.5, "images[0]")


def test_oversized_images_and_bombs_are_refused():
    big = png_bytes(Image.new("RGB", (300, 200)))
    with pytest.raises(ValidationError, match=r"up to 256x256 pixels"):
        load_image(big, "images[0]", Limits(max_side=256))
    with pytest.raises(ValidationError, match=r"images up to 100 bytes"):
        load_image(big, "images[0]", Limits(max_bytes=100))
    bomb = png_bytes(Image.new("1", (20000, 20000)))  # 400 Mpx of zeros compresses to a few KB
    with pytest.raises(ValidationError, match=r"decompression bomb|20000x20000 image"):
        load_image(bomb, "images[0]")


def test_mask_is_resized_by_the_stated_rule_or_refused():
    mask = load_mask(make_mask(32, 32), (64, 64))
    assert mask.image.size == (64, 64) and set(np.unique(np.asarray(mask.image))) == {0, 255}
    with pytest.raises(ValidationError, match=r"mask: got '64x32 mask'"):
        load_mask(make_mask(64, 32), (64, 64))
    with pytest.raises(ValidationError, match=r"an empty mask"):
        load_mask(Image.new("L", (64, 64), 0), (64, 64))
    painted = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    painted.paste((255, 0, 0, 255), (0, 0, 16, 16))
    from_alpha = load_mask(painted, (64, 64)).image
    assert from_alpha.getpixel((1, 1)) == 255 and from_alpha.getpixel((40, 40)) == 0
