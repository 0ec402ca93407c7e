"""Outputs carry AUTOMATIC1111's `parameters` text where other tools look for it: a PNG text chunk,
and for JPEG and WebP the EXIF UserComment (type UNDEFINED, UNICODE prefix) that piexif's helper
reads, as AUTOMATIC1111 and sd-prompt-reader do. The text names the sampler and schedule type that
actually ran. The reader below is written here, to A1111's published format, not taken from the app."""

from __future__ import annotations

import io
import json
import re

import piexif
import piexif.helper
import pytest
from PIL import Image

from playground import backends, infotext, records
from playground.request import Request
from playground.validation import validate

# AUTOMATIC1111 modules/infotext_utils.py: the pattern of one `Key: value` pair of the last line.
A1111_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def a1111_parse(text: str) -> dict[str, str]:
    """AUTOMATIC1111's parse_generation_parameters, reduced to what these tests compare."""
    *lines, last = text.strip().split("\n")
    if len(A1111_PAIR.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, done = "", "", False
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done = True
            line = line[16:].strip()
        if done:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    out = {"Prompt": prompt, "Negative prompt": negative}
    for key, value in A1111_PAIR.findall(last):
        if value[:1] == '"' and value[-1:] == '"':
            value = json.loads(value)
        size = re.match(r"^(\d+)x(\d+)$", value)
        if size:
            out[f"{key}-1"], out[f"{key}-2"] = size.group(1), size.group(2)
        else:
            out[key] = value
    return out


def parameters_as_other_tools_read_them(data: bytes) -> str:
    """A1111's read_info_from_image: the PNG text chunk, else piexif's UserComment helper."""
    image = Image.open(io.BytesIO(data))
    if "parameters" in image.info:
        return image.info["parameters"]
    comment = piexif.load(image.info["exif"])["Exif"][piexif.ExifIFD.UserComment]
    assert isinstance(comment, bytes), "UserComment must be UNDEFINED bytes, not a tuple of BYTE values"
    return piexif.helper.UserComment.load(comment)


PROMPT = 'a fox, at dusk: "golden" light\nsecond line'
NEGATIVE = "blurry, lowres"


@pytest.fixture(scope="module")
def karras_run(model_paths):
    from playground.backends.local import LocalBackend, LocalSettings

    local = LocalBackend(LocalSettings(model_paths=model_paths, device="cpu"))
    request = Request(model="sdxl-base", prompt=PROMPT, negative_prompt=NEGATIVE, seed=1234567, backend="local",
                      params={"scheduler": "DPM++ 2M Karras", "num_inference_steps": 3, "guidance_scale": 6.5,
                              "image_size": "64x96"})
    result = local.run(validate(request, "local"))
    return records.for_image(records.build_record(result, request), 0), result.images[0]


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_every_format_is_read_by_a1111s_reader_exactly(karras_run, fmt):
    record, image = karras_run
    parsed = a1111_parse(parameters_as_other_tools_read_them(records.encode_image(image, record, fmt)))
    assert parsed["Prompt"] == PROMPT and parsed["Negative prompt"] == NEGATIVE
    assert (parsed["Steps"], parsed["Sampler"], parsed["Schedule type"]) == ("3", "DPM++ 2M", "Karras")
    assert (parsed["CFG scale"], parsed["Seed"]) == ("6.5", "1234567")
    assert (parsed["Size-1"], parsed["Size-2"]) == ("64", "96")
    assert parsed["Model"] == "sdxl-base" and parsed["Backend"] == "local"
    # The app's own reader agrees with the other tools.
    prompt, negative, fields = infotext.parse_infotext(records.embedded_parameters(
        records.encode_image(image, record, fmt)))
    assert (prompt, negative, fields["Sampler"]) == (PROMPT, NEGATIVE, "DPM++ 2M")


def test_the_exif_tags_have_their_standard_types(karras_run):
    record, image = karras_run
    for fmt in ("jpeg", "webp"):
        exif = Image.open(io.BytesIO(records.encode_image(image, record, fmt))).getexif().get_ifd(0x8769)
        comment, note = exif[0x9286], exif[0x927C]
        assert isinstance(comment, bytes) and comment.startswith(b"UNICODE\0")
        assert isinstance(note, bytes) and json.loads(note)["digest"] == record["digest"]


def test_the_checkpoints_own_scheduler_is_named_not_default(local_backend):
    backends.set_backend("local", local_backend)
    request = Request(model="sdxl-base", prompt="a fox", seed=1, backend="local",
                      params={"num_inference_steps": 2, "image_size": "64x64"})
    result = backends.run(request)
    text = records.a1111_parameters(records.for_image(records.build_record(result, request), 0))
    parsed = a1111_parse(text)
    assert result.params["scheduler"] == "Default" and "Default" not in text
    # The tiny SDXL ships EulerDiscreteScheduler, as the real checkpoint does.
    assert (parsed["Sampler"], parsed["Schedule type"]) == ("Euler", "Automatic")
    assert result.native["scheduler"]["class"] == "EulerDiscreteScheduler"


def test_values_that_would_be_misread_are_quoted():
    text = infotext.format_infotext("p", None, [("Steps", 2), ("Sampler", "Euler"), ("Model", 'a, b: "c"'),
                                                ("Lora", '"quoted"'), ("Seed", 1)])
    parsed = a1111_parse(text)
    assert parsed["Model"] == 'a, b: "c"' and parsed["Lora"] == '"quoted"' and parsed["Seed"] == "1"
    # Break the subject: A1111's bare `quote` would leave a leading quote unprotected and lose it.
    bare = "p\nSteps: 2, Sampler: Euler, Lora: \"quoted\", Seed: 1"
    assert a1111_parse(bare)["Lora"] == "quoted"


@pytest.mark.parametrize(("facts", "names"), [
    ({"class": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
     ("DPM++ 2M SDE", "Karras")),
    ({"class": "EulerAncestralDiscreteScheduler", "timestep_spacing": "trailing"}, ("Euler a", "SGM Uniform")),
    ({"class": "FlowMatchEulerDiscreteScheduler", "shift": 3.0}, ("Euler", "Simple")),
    ({"class": "PNDMScheduler"}, ("PLMS", "Automatic")),
])
def test_diffusers_schedulers_get_a1111_names(facts, names):
    assert infotext.sampler_of_diffusers(facts) == names


def test_a_hosted_run_names_the_sampler_it_asked_for(hosted):
    request = Request(model="sdxl-base", prompt="a fox", seed=3, backend="replicate",
                      params={"scheduler": "DPM++ 2M Karras", "num_inference_steps": 4, "image_size": "512x512"})
    result = backends.run(request, keys={"replicate": "test-key"})
    assert result.native["scheduler"] == "KarrasDPM"  # Replicate's own name for it, as sent
    parsed = a1111_parse(records.a1111_parameters(records.for_image(records.build_record(result, request), 0)))
    assert (parsed["Sampler"], parsed["Schedule type"], parsed["Backend"]) == ("DPM++ 2M", "Karras", "replicate")
    assert parsed["Endpoint"] == result.endpoint and ":" in result.endpoint  # quoted, read back whole
