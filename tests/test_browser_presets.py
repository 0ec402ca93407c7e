"""Presets and records in a real browser (Debian's Chromium through Playwright, as test_browser.py).

Loads shipped presets and checks the panel shows their values; runs a tiny local preset, downloads
the result from the gallery (its record must survive), inspects it, loads it back into Generate and
re-runs it (byte-identical). No console errors. Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import pytest

from tests.conftest import running_app, screenshot
from tests.test_browser import has_value, sync_api  # noqa: F401 - the skip; browser, page: conftest

expect = sync_api.expect

TINY = {"name": "Tiny SDXL", "model": "sdxl-base", "mode": "text-to-image", "backend": "local", "prompt": "a red fox",
        "params": {"image_size": "64x64", "num_inference_steps": 2, "guidance_scale": 6.5}, "seed": 5}


@pytest.fixture(scope="module")
def app(model_paths, tmp_path_factory):
    from playground import preset_store

    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYGROUND_HOME", str(home))
        preset_store.save_preset(TINY)
        with running_app(model_paths) as running:
            yield running


def load_preset(page, label: str) -> None:  # noqa: F811
    page.locator("#preset input").click()
    page.get_by_role("option", name=label).click()
    name = label.split(" › ")[1]
    page.wait_for_function("(name) => document.querySelector('#preset-info')?.innerText.includes(name)", arg=name)
    page.locator("#preset-load").click()
    expect(page.locator("#preset-info")).to_contain_text(f"Loaded {name}")


def seed_is(page, seed: str) -> None:  # noqa: F811
    expect(page.locator("#seed input")).to_have_value(seed)
    expect(page.locator("#random-seed input")).not_to_be_checked()


def test_a_shipped_preset_sets_the_model_panel(page):  # noqa: F811
    load_preset(page, "Shipped › SDXL text-to-image")
    expect(page.locator("#model input")).to_have_value("SDXL › SDXL 1.0 base")
    expect(page.locator("#prompt textarea")).to_have_value("A cosy reading nook with a blue sofa, afternoon sun, "
                                                           "film photograph")
    expect(page.locator("#mode").get_by_label("Text to image")).to_be_checked()
    seed_is(page, "42")
    has_value(page, "num_inference_steps", "30")
    has_value(page, "guidance_scale", "7")
    has_value(page, "image_size", "square_hd")
    expect(page.locator("#status")).to_contain_text("Loaded preset")
    screenshot(page, "preset-sdxl-text-to-image.png", full_page=True)

    page.locator("#preset-manage").get_by_text("Save, rename, delete").click()
    page.locator("#preset-name textarea").fill("My nook")
    page.locator("#preset-save").click()
    expect(page.locator("#preset-info")).to_contain_text("Saved as My nook")
    expect(page.locator("#preset input")).to_have_value("Yours › My nook")
    screenshot(page, "preset-saved.png", full_page=True)

    load_preset(page, "Shipped › FLUX.2 dev multi-reference edit")
    expect(page.locator("#model input")).to_have_value("FLUX.2 › FLUX.2 [dev]")
    expect(page.locator("#mode").get_by_label("Edit (image to image)")).to_be_checked()
    expect(page.locator("#refs img")).to_have_count(2)
    seed_is(page, "7")
    has_value(page, "num_inference_steps", "28")
    has_value(page, "guidance_scale", "3.5")
    screenshot(page, "preset-flux2-multi-reference.png", full_page=True)


def test_generate_then_inspect_load_back_and_rerun(page, tmp_path):  # noqa: F811
    from playground.records import read_record

    load_preset(page, "Yours › Tiny SDXL")
    page.locator("#run").click()
    expect(page.locator("#status")).to_contain_text("Done", timeout=120_000)
    page.locator("#results img").first.click()
    with page.expect_download() as download:  # the gallery's own download button
        page.locator("#results button[aria-label='Download']").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert read_record(saved)["seed"] == 5, "the downloaded file keeps its record"
    screenshot(page, "records-generated.png", full_page=True)

    pick = page.locator("#model input")  # move away from everything the record holds
    pick.click()
    page.get_by_role("option", name="FLUX.2 › FLUX.2 [dev]").click()
    expect(page.locator("#panel-header")).to_contain_text("FLUX.2 [dev]")
    page.locator("#prompt textarea").fill("something else")

    page.get_by_role("tab", name="Inspect").click()
    page.locator("#inspect-file input[type=file]").set_input_files(str(saved))
    expect(page.locator("#inspect-status")).to_contain_text("Record found")
    expect(page.locator("#inspect-table")).to_contain_text("sdxl-base")
    expect(page.locator("#inspect-table")).to_contain_text("a red fox")
    screenshot(page, "records-inspect.png", full_page=True)

    page.locator("#inspect-load").click()
    expect(page.locator("#model input")).to_have_value("SDXL › SDXL 1.0 base")
    expect(page.locator("#prompt textarea")).to_have_value("a red fox")
    expect(page.locator("#backend").get_by_label("Local", exact=True)).to_be_checked()
    seed_is(page, "5")
    has_value(page, "num_inference_steps", "2")
    has_value(page, "guidance_scale", "6.5")
    has_value(page, "image_size", "64x64")
    expect(page.locator("#status")).to_contain_text("Loaded from the record")
    screenshot(page, "records-loaded-back.png", full_page=True)

    page.get_by_role("tab", name="Inspect").click()
    page.locator("#inspect-rerun").click()
    expect(page.locator("#inspect-verdict")).to_contain_text("Identical", timeout=120_000)
    expect(page.locator("#inspect-verdict")).to_contain_text("byte-identical")
    expect(page.locator("#inspect-rerun-image img")).to_be_visible()
    screenshot(page, "records-rerun-identical.png", full_page=True)

    page.get_by_role("tab", name="Generate").click()
    page.locator("#inspect-result").click()  # the shortcut: a result straight into Inspect, read afresh
    expect(page.locator("#inspect-verdict")).to_have_text("")
    expect(page.locator("#inspect-status")).to_contain_text("Record found")
    expect(page.locator("#inspect-file")).to_contain_text("sdxl-base-5-1")


def test_an_a1111_image_is_read_and_loaded_into_generate(page, tmp_path):  # noqa: F811
    import piexif
    import piexif.helper

    from tests.conftest import make_image

    text = ("a lighthouse, dusk\nNegative prompt: blurry\nSteps: 3, Sampler: DPM++ 2M, Schedule type: Karras, "
            "CFG scale: 6.5, Seed: 1234, Size: 64x96, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, VAE: vae.pt")
    path = tmp_path / "00001-1234.jpg"
    make_image().save(path, format="JPEG")
    piexif.insert(piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(
        text, encoding="unicode")}}), str(path))

    page.get_by_role("tab", name="Inspect").click()
    page.locator("#inspect-file input[type=file]").set_input_files(str(path))
    expect(page.locator("#inspect-status")).to_contain_text("Made with AUTOMATIC1111")
    expect(page.locator("#inspect-table")).to_contain_text("scheduler = DPM++ 2M Karras")
    expect(page.locator("#inspect-table")).to_contain_text("not mapped")
    screenshot(page, "import-a1111-inspect.png", full_page=True)

    page.locator("#inspect-load").click()
    expect(page.locator("#status")).to_contain_text("Loaded from AUTOMATIC1111")
    expect(page.locator("#model input")).to_have_value("SDXL › SDXL 1.0 base")
    expect(page.locator("#prompt textarea")).to_have_value("a lighthouse, dusk")
    seed_is(page, "1234")
    has_value(page, "num_inference_steps", "3")
    has_value(page, "guidance_scale", "6.5")
    has_value(page, "scheduler", "DPM++ 2M Karras")
    screenshot(page, "import-a1111-loaded.png", full_page=True)
