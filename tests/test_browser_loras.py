"""The adapters editor in a real browser: add a LoRA, set its scale with the slider, run, and find it in
the record; routes without adapters show no editor."""

from __future__ import annotations

import json

import pytest

from tests.conftest import screenshot
from tests.test_browser import pick_model, sync_api  # noqa: F401 - app, browser, page: conftest
from tests.tiny_loras import build_sdxl_lora


@pytest.fixture(scope="module")
def adapter(tiny_root, tmp_path_factory):
    return build_sdxl_lora(tiny_root["sdxl"], tmp_path_factory.mktemp("browser-lora"), seed=1, name="style-a")


def slot_value(page) -> list:  # noqa: F811 - `page` is the fixture's page
    text = page.locator("#param-loras textarea, #param-loras input").first.input_value()
    return json.loads(text) if text.strip() else []


def test_add_a_lora_set_its_scale_run_and_find_it_in_the_record(page, adapter):  # noqa: F811
    sync_api.expect(page.locator("#lora-editor").first).to_be_visible()  # FLUX.2 [dev] on local takes adapters
    pick_model(page, "FLUX.2 › FLUX.2 [pro]")
    sync_api.expect(page.locator("#lora-editor")).to_have_count(0)
    sync_api.expect(page.locator("#param-loras")).to_be_hidden()

    pick_model(page, "SDXL › SDXL 1.0 base")
    page.locator("#backend").get_by_label("Local").check()
    sync_api.expect(page.locator("#estimate")).to_contain_text("runs on Local")  # the panel has refreshed
    sync_api.expect(page.locator("#lora-add")).to_contain_text("0/5")
    page.locator("#lora-add").click()
    path = page.locator("#lora-path-0 textarea, #lora-path-0 input").first
    path.fill(str(adapter))
    path.blur()
    page.wait_for_function("() => (document.querySelector('#param-loras textarea')?.value || '').includes('style-a')")
    # As soon as the path edit lands (no pause for anything else): drag the scale slider to 0.5 and let
    # go (the row reports on release, as a drag ends). A row's own edit redraws nothing, so this one is kept.
    page.evaluate("""() => { const r = document.querySelector('#lora-scale-0 input[type=range]');
        r.value = '0.5'; r.dispatchEvent(new Event('input', {bubbles: true}));
        r.dispatchEvent(new PointerEvent('pointerup', {bubbles: true})); }""")
    page.wait_for_function("() => (document.querySelector('#param-loras textarea')?.value || '').includes('0.5')")
    assert slot_value(page) == [{"path": str(adapter), "scale": 0.5}]
    sync_api.expect(page.locator("#lora-add")).to_contain_text("1/5")

    page.locator("#prompt textarea").fill("a red fox")
    page.locator("#param-image_size input").first.fill("64x64")
    page.locator("#param-image_size input").first.press("Enter")
    page.locator("#run").click()
    page.wait_for_selector("#results img", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Done')")
    screenshot(page, "lora-run.png", full_page=True)
    page.locator("#record-box").get_by_text("Record of the run").click()
    record_text = page.locator("#record").inner_text()
    assert "style-a" in record_text and "sha256" in record_text

    page.locator("#lora-remove-0").click()
    page.wait_for_function("() => !(document.querySelector('#param-loras textarea')?.value || '').includes('style')")
    sync_api.expect(page.locator("#lora-path-0")).to_have_count(0)
