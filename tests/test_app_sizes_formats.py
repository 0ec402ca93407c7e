"""The size rule and the output formats, through the launched app's /generate (gradio_client).

Image modes follow the input's size (rounded to what the model needs) unless a size is chosen,
in the validation core, so the page and the API agree. Every backend's images come back as PNG,
JPEG or WebP with the record embedded and readable back.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PIL import Image

from playground.__main__ import main
from playground.records import read_record
from playground.request import Request
from playground.validation import validate
from tests.conftest import make_image, make_mask

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

STEPS = {"num_inference_steps": 2}


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("wide")
    paths = SimpleNamespace(image=folder / "wide.png", mask=folder / "mask.png", odd=folder / "odd.png")
    make_image(256, 192).save(paths.image)
    make_mask(256, 192).save(paths.mask)
    make_image(250, 190).save(paths.odd)
    return paths


def opened(images: list) -> Image.Image:
    path = images[0]["image"] if isinstance(images[0], dict) else images[0]
    image = Image.open(path)
    image.load()
    return image


# --- the size rule --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["inpaint", "image-to-image"])
def test_sdxl_local_image_modes_follow_the_inputs_size(client, wide, mode):
    extra = {"mask": handle_file(str(wide.mask))} if mode == "inpaint" else {}
    images, _, record = client.predict(model="sdxl-base", mode=mode, prompt="a moon",
                                       images=[handle_file(str(wide.image))], params=STEPS, seed=3,
                                       backend="local", api_name="/generate", **extra)
    assert opened(images).size == (256, 192)
    if mode == "inpaint":
        assert record["native"]["width"] == 256 and record["native"]["height"] == 192


def test_a_chosen_size_wins_over_the_input(client, wide):
    images, _, _ = client.predict(model="sdxl-base", mode="inpaint", prompt="a moon",
                                  images=[handle_file(str(wide.image))], mask=handle_file(str(wide.mask)),
                                  params={**STEPS, "image_size": "128x128"}, backend="local", api_name="/generate")
    assert opened(images).size == (128, 128)


def test_the_inputs_size_is_rounded_to_the_models_multiple():
    prepared = validate(Request(model="sdxl-base", mode="inpaint", prompt="x", images=[make_image(250, 190)],
                                mask=make_mask(250, 190), backend="local"))
    assert prepared.params["image_size"] == {"width": 248, "height": 192}
    big = validate(Request(model="sdxl-base", mode="inpaint", prompt="x", images=[make_image(4000, 1000)],
                           mask=make_mask(4000, 1000), backend="fal"))
    assert big.params["image_size"] == {"width": 4000, "height": 1000}
    assert validate(Request(model="sdxl-turbo", mode="inpaint", prompt="x", images=[make_image(4000, 1000)],
                            mask=make_mask(4000, 1000), backend="local")).params["image_size"] == {
        "width": 2048, "height": 512}, "scaled into the allowed sides, keeping the aspect ratio"


def test_without_the_rule_an_inpaint_comes_back_square(client, wide, monkeypatch):
    """The size check above can fail: with the rule switched off the default square size is used."""
    from playground import validation

    monkeypatch.setattr(validation, "follow_input_size", lambda model, mode, backend, params, *rest: params)
    images, _, _ = client.predict(model="sdxl-base", mode="inpaint", prompt="a moon",
                                  images=[handle_file(str(wide.image))], mask=handle_file(str(wide.mask)),
                                  params=STEPS, backend="local", api_name="/generate")
    width, height = opened(images).size
    assert width == height


def test_hosted_inpaint_sends_the_inputs_size(client, hosted, wide):
    client.predict(model="sdxl-base", mode="inpaint", prompt="a moon", images=[handle_file(str(wide.image))],
                   mask=handle_file(str(wide.mask)), backend="fal", fal_key="test-size", api_name="/generate")
    (submit,) = [r for r in hosted.emulator.requests if r["phase"] == "submit"]
    assert submit["json"]["image_size"] == {"width": 256, "height": 192}


# --- output formats -------------------------------------------------------------------------------
@pytest.mark.parametrize(("fmt", "pil_name", "suffix"), [("png", "PNG", ".png"), ("jpeg", "JPEG", ".jpg"),
                                                        ("webp", "WEBP", ".webp")])
def test_local_runs_return_each_format_with_the_record_inside(client, fmt, pil_name, suffix):
    images, seed, record = client.predict(model="sdxl-base", prompt="a fox", params={**STEPS, "image_size": "64x64"},
                                          seed=5, backend="local", output_format=fmt, output_quality=80,
                                          api_name="/generate")
    image = opened(images)
    path = images[0]["image"] if isinstance(images[0], dict) else images[0]
    assert image.format == pil_name and str(path).endswith(suffix)
    embedded = read_record(path)
    assert embedded is not None and embedded["seed"] == seed == 5 and embedded["backend"] == "local"


def test_hosted_runs_return_the_chosen_format_too(client, hosted):
    images, _, record = client.predict(model="flux-2-pro", prompt="a fox", backend="fal", fal_key="test-format",
                                       output_format="webp", api_name="/generate")
    path = images[0]["image"] if isinstance(images[0], dict) else images[0]
    assert opened(images).format == "WEBP"
    assert read_record(path)["backend"] == "fal" == record["backend"]


def test_the_providers_own_output_format_param_decides_when_no_format_is_chosen(client, hosted):
    images, _, _ = client.predict(model="flux-2-pro", prompt="a fox", backend="fal", fal_key="test-format",
                                  params={"output_format": "jpeg"}, api_name="/generate")
    assert opened(images).format == "JPEG"


def test_a_bad_format_or_quality_is_refused_with_the_field_named(client):
    with pytest.raises(AppError) as caught:
        client.predict(model="sdxl-base", prompt="a fox", backend="local", output_format="gif", output_quality=300,
                       api_name="/generate")
    message = str(caught.value)
    assert "output_format: got 'gif'; allowed: png, jpeg or webp" in message
    assert "output_quality: got 300; allowed: an integer from 1 to 100" in message


def test_the_estimate_says_which_size_will_be_used(client, wide):
    told = client.predict(model="sdxl-base", mode="inpaint", prompt="a moon", images=[handle_file(str(wide.image))],
                          mask=handle_file(str(wide.mask)), backend="local", api_name="/estimate")
    assert told["output_size"] == "256x192 (the input's size)"
    odd = client.predict(model="sdxl-base", mode="inpaint", prompt="a moon", images=[handle_file(str(wide.odd))],
                         mask=handle_file(str(wide.odd)), backend="local", api_name="/estimate")
    assert odd["output_size"] == "248x192 (the input's 250x190, rounded for the model)"


# --- the command line -----------------------------------------------------------------------------
@pytest.mark.parametrize(("fmt", "pil_name", "suffix"), [("jpeg", "JPEG", "jpg"), ("webp", "WEBP", "webp")])
def test_the_command_line_writes_the_chosen_format_with_the_record_inside(local, tmp_path, fmt, pil_name, suffix):
    out = tmp_path / "out"
    argv = ["run", "--model", "sdxl-base", "--prompt", "a fox", "--backend", "local", "--seed", "3",
            "--set", "num_inference_steps=2", "--set", "image_size=\"64x64\"", "--format", fmt, "--quality", "80",
            "--out", str(out), "--json"]
    assert main(argv) == 0
    path = out / f"sdxl-base-3-0.{suffix}"
    with Image.open(path) as image:
        assert image.format == pil_name
    assert read_record(path)["seed"] == 3 and (out / "sdxl-base-3-0.json").is_file()


def test_the_command_line_refuses_a_format_it_cannot_write(local, tmp_path, capsys):
    argv = ["run", "--model", "sdxl-base", "--prompt", "a fox", "--backend", "local", "--format", "gif",
            "--out", str(tmp_path / "out")]
    assert main(argv) != 0
    assert "output_format: got 'gif'; allowed: png, jpeg or webp" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
