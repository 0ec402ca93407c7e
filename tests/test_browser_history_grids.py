"""A Drift run joins the history and restoring it fills the Drift tab again, in a real browser
(Debian's Chromium through Playwright, set up as in test_browser.py). Screenshots go to
artifacts/browser/.
"""

# ruff: noqa: F811 - `page` is the shared fixture, taken by name
from __future__ import annotations

from tests.conftest import screenshot
from tests.test_browser import sync_api  # noqa: F401 - the skip; app, browser, page: conftest
from tests.test_browser_compare import fill_two_step_local_drift

expect = sync_api.expect


def test_a_drift_run_appears_in_the_history_and_restoring_it_fills_the_drift_tab(page):
    fill_two_step_local_drift(page)
    expect(page.locator("#drift-plan")).to_contain_text("2 edit steps")
    page.locator("#drift-run").click()
    expect(page.locator("#drift-status")).to_contain_text("Done in", timeout=120_000)

    page.locator("#drift-prompt textarea").fill("something else")  # changed after the run
    page.locator("#drift-steps input").fill("5")
    page.get_by_role("tab", name="Generate").click()
    expect(page.locator("#history img")).to_have_count(1)
    expect(page.locator("#history")).to_contain_text("drift · flux-schnell · local")
    expect(page.locator("#history")).to_contain_text("chains=sdxl-turbo")
    screenshot(page.locator("#history-box"), "history-drift-item.png")

    page.locator("#history img").first.click()
    expect(page.get_by_role("tab", name="Drift")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#drift-prompt textarea")).to_have_value("a lighthouse at dusk")
    expect(page.locator("#drift-steps input")).to_have_value("2")
    expect(page.locator("#drift-genesis-params textarea")).to_have_value(
        "image_size=64x64\nnum_inference_steps=2\nmax_sequence_length=128")
    expect(page.locator("#drift-chain-1-model input")).to_have_value("SDXL Turbo")
    screenshot(page, "history-drift-restored.png", full_page=True)
