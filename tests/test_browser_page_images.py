"""Images shown at their own size (never blown up past it) and reference images removable one by one,
in a real browser (Debian's Chromium through Playwright, set up as in test_browser.py). Screenshots go
to artifacts/browser/.
"""

# ruff: noqa: F811 - `page` is the shared fixture, taken by name
from __future__ import annotations

from playground.images import content_hash
from tests.conftest import make_image, screenshot
from tests.test_browser import pick_model, sync_api  # noqa: F401 - the skip; browser, page: conftest
from tests.test_browser_compare import fill_small_local_grid
from tests.test_browser_history import app, load_tiny, run_and_wait  # noqa: F401 - fixture

expect = sync_api.expect
# The shown size of each image in a component, and its own (natural) size.
SIZES_JS = """(selector) => [...document.querySelectorAll(selector + ' img')].map(img => {
    const box = img.getBoundingClientRect();
    return [Math.round(box.width), Math.round(box.height), img.naturalWidth, img.naturalHeight]; })"""


def test_a_64x64_result_is_shown_at_its_own_size_not_stretched(page):
    load_tiny(page)
    run_and_wait(page)
    page.wait_for_function("() => document.querySelector('#results img')?.complete")
    assert page.evaluate(SIZES_JS, "#results") == [[64, 64, 64, 64]], "shown at its own size"
    screenshot(page.locator("#results"), "result-64x64.png")
    # The check can fail: Gradio's own style stretches the image to the gallery's width.
    page.add_style_tag(content="#results#results .thumbnail-item img "
                               "{ width: 100% !important; height: 100% !important; }")
    assert page.evaluate(SIZES_JS, "#results")[0][0] > 64


def test_compare_cells_and_grid_are_not_blown_up_and_come_in_the_chosen_format(page):
    fill_small_local_grid(page, steps="1")
    expect(page.locator("#compare-plan")).to_contain_text("2 cells")
    page.locator("#compare-file-format").get_by_text("Output file format").click()
    page.locator("#compare-out-format").get_by_label("JPEG").check()  # cells honour the chosen format
    page.locator("#compare-run").click()
    expect(page.locator("#compare-status")).to_contain_text("Done: 2 of 2 cells done", timeout=120_000)
    expect(page.locator("#compare-cells img")).to_have_count(2)
    page.wait_for_function("() => [...document.querySelectorAll('#compare-cells img, #compare-grid img')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    sources = [img.get_attribute("src") for img in page.locator("#compare-cells img").all()]
    assert all(src.endswith(".jpg") for src in sources), sources
    cells = page.evaluate(SIZES_JS, "#compare-cells")
    assert cells == [[64, 64, 64, 64]] * 2, cells
    ((width, height, natural_width, natural_height),) = page.evaluate(SIZES_JS, "#compare-grid")
    assert width <= natural_width and height <= natural_height
    screenshot(page, "compare-natural-size.png", full_page=True)


CAPTIONS_JS = """() => [...document.querySelectorAll('#refs .gallery-item')].map(item =>
    [item.querySelector('img')?.getAttribute('src') || '', item.querySelector('.caption-label')?.innerText || ''])"""


def test_each_reference_image_has_its_own_remove_and_the_rest_are_numbered_again(page, hosted, tmp_path):
    red, blue, green = tmp_path / "red-ref.png", tmp_path / "blue-ref.png", tmp_path / "green-ref.png"
    make_image(64, 64, (200, 40, 40)).save(red)
    make_image(64, 64, (40, 40, 200)).save(blue)
    make_image(64, 64, (40, 200, 40)).save(green)
    page.locator("#keys").get_by_text("Your API keys").click()
    page.locator("#fal-key input").fill("test-browser-refs")
    pick_model(page, "FLUX.2 › FLUX.2 [dev]")
    page.locator("#backend").get_by_label("fal").check()
    page.locator("#mode").get_by_label("Edit (image to image)").check()
    page.locator("#refs input[type=file]").set_input_files([str(red), str(blue)])
    expect(page.locator("#refs img")).to_have_count(2)
    expect(page.locator("#refs")).to_contain_text("image 2")
    shown = page.evaluate(CAPTIONS_JS)
    expect(page.locator("#refs .delete-button").first).to_have_css("opacity", "1")
    assert ["red-ref" in src for src, _ in shown] == [True, False] and [c for _, c in shown] == ["image 1", "image 2"]
    screenshot(page.locator("#refs"), "refs-two-with-remove.png")

    page.locator("#refs .gallery-item").nth(0).get_by_role("button", name="Delete image").click()
    expect(page.locator("#refs img")).to_have_count(1)
    expect(page.locator("#refs")).not_to_contain_text("image 2")
    ((src, caption),) = page.evaluate(CAPTIONS_JS)
    assert "blue-ref" in src and caption == "image 1", "the blue image, once image 2, is image 1 now"

    page.locator("#refs input[type=file]").set_input_files([str(green)])  # adding keeps the numbering true
    expect(page.locator("#refs img")).to_have_count(2)
    page.locator("#refs .gallery-item").nth(1).get_by_role("button", name="Delete image").click()
    expect(page.locator("#refs img")).to_have_count(1)
    ((src, caption),) = page.evaluate(CAPTIONS_JS)
    assert "blue-ref" in src and caption == "image 1"
    screenshot(page.locator("#refs"), "refs-after-remove.png")
    page.locator("#prompt textarea").fill("the fox from image 1")
    run_and_wait(page)  # the run uses what the gallery shows
    page.locator("#record-box").get_by_text("Record of the run").click()
    expect(page.locator("#record")).to_contain_text(content_hash(make_image(64, 64, (40, 40, 200))))
