"""History, send-to, honest status and the input's own size, in a real browser (Debian's Chromium
through Playwright, set up as in test_browser.py). Screenshots go to artifacts/browser/.
"""

# ruff: noqa: F811 - `page` is the shared fixture, taken by name
from __future__ import annotations

import json
import zipfile

from tests.conftest import make_image, screenshot
from tests.test_browser import has_value, pick_model, sync_api  # noqa: F401 - browser, page: conftest
from tests.test_browser_presets import TINY, app  # noqa: F401 - app: the tiny preset saved, one app per module

expect = sync_api.expect

SIZE_JS = "() => { const img = document.querySelector('#results img'); return img && img.complete ? " \
          "[img.naturalWidth, img.naturalHeight] : null; }"


def load_tiny(page) -> None:
    page.locator("#preset input").click()
    page.get_by_role("option", name="Yours › Tiny SDXL").click()
    page.wait_for_function("() => document.querySelector('#preset-info')?.innerText.includes('Tiny SDXL')")
    page.locator("#preset-load").click()
    expect(page.locator("#preset-info")).to_contain_text("Loaded Tiny SDXL")
    has_value(page, "num_inference_steps", "2")


def run_and_wait(page) -> None:
    """Run, and wait for this run's "Done", not the previous run's. A tiny run can finish before a poll
    sees "Running…", so a MutationObserver notes that the status changed at all after the click."""
    page.evaluate("""() => { window.__statusChanged = false;
        new MutationObserver(() => { window.__statusChanged = true; })
            .observe(document.querySelector('#status'), {subtree: true, childList: true, characterData: true}); }""")
    page.locator("#run").click()
    page.wait_for_function("""() => window.__statusChanged &&
        (document.querySelector('#status')?.innerText || '').includes('Done')""", timeout=120_000)


def type_number(page, name: str, value: str) -> None:
    box = page.locator(f"#param-{name} input[type=number]")
    box.fill(value)
    box.press("Tab")


def test_two_runs_give_two_history_items_and_restoring_the_first_brings_back_every_control(page):
    load_tiny(page)
    run_and_wait(page)
    expect(page.locator("#history img")).to_have_count(1)
    page.locator("#prompt textarea").fill("a blue fox")
    type_number(page, "num_inference_steps", "3")
    page.locator("#random-seed input").check()
    page.locator("#file-format").get_by_text("Output file format").click()
    page.locator("#out-format").get_by_label("JPEG").check()
    run_and_wait(page)
    expect(page.locator("#history img")).to_have_count(2)
    assert ".jpg" in page.locator("#results img").first.get_attribute("src")
    screenshot(page, "history-two-runs.png", full_page=True)

    page.locator("#history img").nth(1).click()  # newest first: the second thumbnail is the first run
    expect(page.locator("#status")).to_contain_text("Restored from the history")
    expect(page.locator("#prompt textarea")).to_have_value("a red fox")
    has_value(page, "num_inference_steps", "2")
    has_value(page, "guidance_scale", "6.5")
    has_value(page, "image_size", "64x64")
    expect(page.locator("#seed input")).to_have_value("5")
    expect(page.locator("#random-seed input")).not_to_be_checked()
    expect(page.locator("#backend input[value=local]")).to_be_checked()
    expect(page.locator("#out-format input[value=png]")).to_be_checked()
    expect(page.locator("#seed-used input")).to_have_value("5")
    page.locator("#history-record-box").get_by_text("Record of the selected run").click()
    expect(page.locator("#history-record")).to_contain_text("a red fox")
    screenshot(page, "history-restored.png", full_page=True)

    page.locator("#history-compare").get_by_text("Compare the selected run").click()
    page.locator("#history-other input").click()
    page.get_by_role("option", name="#2").click()
    expect(page.locator("#history-slider img")).to_have_count(2)
    expect(page.locator("#history-differences")).to_contain_text("num_inference_steps")
    screenshot(page, "history-side-by-side.png", full_page=True)

    page.reload()
    page.wait_for_selector("#param-num_inference_steps")
    expect(page.locator("#history img")).to_have_count(2)  # kept in this browser across a reload

    page.locator("#history-download").click()
    link = page.locator("#history-zip a").first
    expect(link).to_contain_text("KB")
    with zipfile.ZipFile(link.get_attribute("href").split("file=", 1)[1]) as archive:
        listing = json.loads(archive.read("history.json"))
        names = archive.namelist()
    assert [run["prompt"] for run in listing["runs"]] == ["a blue fox", "a red fox"]
    assert any(n.endswith(".jpg") for n in names) and any(n.endswith(".png") for n in names)
    assert sum(n.endswith(".json") and n != "history.json" for n in names) == 2, "each image's record"


def test_send_to_inpaint_opens_the_editor_on_the_result(page):
    load_tiny(page)
    run_and_wait(page)
    page.locator("#send-inpaint").click()
    expect(page.locator("#mode input[value=inpaint]")).to_be_checked()
    expect(page.locator("#inpaint-group").first).to_be_visible()
    # The editor holds the result: a run now lacks only the painted mask (not the image).
    page.locator("#run").click()
    expect(page.locator("#status")).to_contain_text("mask: got None", timeout=60_000)
    expect(page.locator("#status")).not_to_contain_text("images")
    expect(page.locator("#estimate")).to_contain_text("output size 64x64", timeout=60_000)
    screenshot(page, "send-to-inpaint.png", full_page=True)

    page.locator("#send-compare").click()
    expect(page.locator("#compare-mode").get_by_label("Edit (image to image)")).to_be_checked(timeout=30_000)
    page.wait_for_selector("#compare-refs img")
    expect(page.locator("#compare-prompt textarea")).to_have_value("a red fox")
    screenshot(page, "send-to-compare.png", full_page=True)


def test_a_queued_local_run_shows_its_position_then_runs(page):
    from playground.ui.progress import LOCAL_TURNS

    load_tiny(page)
    ahead = LOCAL_TURNS.enter()  # another run holds the local device
    try:
        page.locator("#run").click()
        expect(page.get_by_text("Waiting for the local device: 1 run ahead of yours").first).to_be_visible()
        screenshot(page, "queued-local-run.png", full_page=True)
    finally:
        LOCAL_TURNS.leave(ahead)
    expect(page.locator("#status")).to_contain_text("Done", timeout=120_000)


def test_a_256x192_input_to_sdxl_inpaint_and_img2img_keeps_its_size(page, tmp_path):
    page.locator("#examples").get_by_text("SDXL · inpaint the sun").click()
    expect(page.locator("#status")).to_contain_text("Loaded the example", timeout=30_000)
    expect(page.locator("#mode input[value=inpaint]")).to_be_checked()
    page.locator("#backend").get_by_label("Local").check()
    expect(page.locator("#estimate")).to_contain_text("runs on Local", timeout=30_000)  # the panel has refreshed
    type_number(page, "num_inference_steps", "2")
    has_value(page, "num_inference_steps", "2")
    expect(page.locator("#estimate")).to_contain_text("output size 256x192 (the input's size)", timeout=30_000)
    run_and_wait(page)
    page.wait_for_function(SIZE_JS)
    assert page.evaluate(SIZE_JS) == [256, 192]
    screenshot(page, "inpaint-256x192.png", full_page=True)

    picture = tmp_path / "wide.png"
    make_image(256, 192).save(picture)
    page.locator("#mode").get_by_label("Edit (image to image)").check()
    page.locator("#refs input[type=file]").set_input_files(str(picture))
    page.wait_for_selector("#refs img")
    expect(page.locator("#refs")).to_contain_text("image 1")
    type_number(page, "num_inference_steps", "4")
    run_and_wait(page)
    page.wait_for_function(SIZE_JS)
    assert page.evaluate(SIZE_JS) == [256, 192]


def test_steps_typed_as_9999_is_refused_and_nothing_runs_and_the_seed_box_clears(app, page):
    load_tiny(page)
    run_and_wait(page)
    expect(page.locator("#seed-used input")).to_have_value("5")
    runs = app.local.stats["runs"]
    box = page.locator("#param-num_inference_steps input[type=number]")
    box.fill("9999")
    page.locator("#prompt textarea").click()
    page.keyboard.press("Control+Enter")  # the run shortcut
    expect(page.locator("#status")).to_contain_text(
        "params.num_inference_steps: got 9999; allowed: an integer from 1 to 500")
    assert app.local.stats["runs"] == runs, "a refused run must not run"
    expect(page.locator("#seed-used input")).to_have_value("")
    expect(page.locator("#backend-used input, #backend-used textarea").first).to_have_value("")
    screenshot(page, "typed-9999-refused.png", full_page=True)
