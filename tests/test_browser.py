"""The page in a real browser: Debian's Chromium driven by Playwright (never `playwright install`).

Checks that each family's panel shows its own parameters and defaults, that uploading an image
and running fills the gallery, that a bad input reads as a plain message, and that the page logs
no console errors. Screenshots go to artifacts/browser/ at the repo root (git-ignored).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

# The app, Chromium and the `page` fixture are shared from conftest (one app and one browser per session).
from tests.conftest import CHROMIUM, make_image, screenshot

if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
    reason = (f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}. Install Debian's Chromium "
              f"(apt-get install -y chromium) or set PLAYGROUND_CHROMIUM; never run `playwright install`.")
    warnings.warn(reason, stacklevel=1)
    pytest.skip(reason, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="BROWSER TESTS SKIPPED: playwright is not installed")


def pick_model(page, label: str) -> None:
    page.locator("#model input").click()
    page.get_by_role("option", name=label).click()
    page.wait_for_function("(label) => document.querySelector('#panel-header')?.innerText.includes(label)",
                           arg=label.split(" › ")[1])


def has_value(page, name: str, value: str) -> None:
    """The slot for parameter `name` shows `value` (sliders: their number box; dropdowns: their input)."""
    box = page.locator(f"#param-{name} input[type=number]")
    box = box if box.count() else page.locator(f"#param-{name} input").first
    sync_api.expect(box).to_have_value(value)


def hidden(page, selector: str) -> None:
    sync_api.expect(page.locator(selector)).to_have_count(0)


def test_each_family_shows_its_own_parameters_and_defaults(page):
    # FLUX.2 [dev] is the default model; on a machine without a GPU, auto shows the local panel first.
    sync_api.expect(page.locator("#panel-header")).to_contain_text("FLUX.2 [dev] on Local")
    has_value(page, "num_inference_steps", "50")
    has_value(page, "guidance_scale", "4")
    has_value(page, "image_size", "square_hd")
    hidden(page, "#negative")
    screenshot(page, "panel-flux2-dev.png", full_page=True)

    pick_model(page, "SDXL › SDXL 1.0 base")
    has_value(page, "guidance_scale", "5")
    has_value(page, "num_inference_steps", "50")
    has_value(page, "scheduler", "Default")
    sync_api.expect(page.locator("#negative textarea")).to_be_visible()
    screenshot(page, "panel-sdxl-base.png", full_page=True)

    pick_model(page, "FLUX.1 Kontext › FLUX.1 Kontext [dev]")
    has_value(page, "num_inference_steps", "28")
    has_value(page, "guidance_scale", "3.5")
    sync_api.expect(page.locator("#mode label")).to_have_text(["Edit (image to image)", "Inpaint"])
    sync_api.expect(page.locator("#refs")).to_be_visible()
    hidden(page, "#param-scheduler")
    screenshot(page, "panel-kontext-dev.png", full_page=True)

    pick_model(page, "Seedream / SeedEdit › Seedream 4.5")
    sync_api.expect(page.locator("#panel-header")).to_contain_text("on fal")
    has_value(page, "image_size", "2048x2048")
    has_value(page, "max_images", "1")
    hidden(page, "#param-num_inference_steps")
    hidden(page, "#param-guidance_scale")
    screenshot(page, "panel-seedream-4.5.png", full_page=True)

    pick_model(page, "FLUX.1 › FLUX.1 [schnell]")
    has_value(page, "num_inference_steps", "4")
    page.locator("#advanced").get_by_text("Advanced parameters").click()
    has_value(page, "max_sequence_length", "256")


def test_upload_run_copy_and_send_back(page, tmp_path):
    picture = tmp_path / "fox.png"
    make_image(64, 64).save(picture)
    pick_model(page, "SDXL › SDXL 1.0 base")
    page.locator("#backend").get_by_label("Local").check()
    page.locator("#mode").get_by_label("Edit (image to image)").check()
    page.locator("#refs input[type=file]").set_input_files(str(picture))
    page.wait_for_selector("#refs img")
    page.locator("#param-edit_style").get_by_label("Copy").check()
    has_value(page, "num_inference_steps", "15")
    has_value(page, "guidance_scale", "1")
    has_value(page, "reference_strength", "0.95")
    page.locator("#prompt textarea").fill("a red fox")
    page.wait_for_function("() => document.querySelector('#prompt-counter')?.innerText.startsWith('9 / 2000')")
    screenshot(page, "run-before.png", full_page=True)
    page.locator("#run").click()
    page.wait_for_selector("#results img", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('Done')")
    assert "on Local" in page.locator("#status").inner_text()
    assert int(page.locator("#seed-used input").input_value()) >= 0
    assert "StableDiffusionXLImg2ImgPipeline" in page.locator("#backend-used textarea, #backend-used input")\
        .first.input_value()
    screenshot(page, "run-after.png", full_page=True)

    page.locator("#send-to-input").click()
    page.wait_for_function("() => document.querySelector('#refs img')?.src.includes('sdxl-base-')")


def test_a_bad_input_reads_as_a_plain_message(page):
    page.locator("#run").click()  # FLUX.2 [dev] needs a prompt
    status = page.locator("#status")
    status.get_by_text("Invalid input").wait_for()
    text = status.inner_text()
    assert "prompt" in text and "required by flux-2-dev" in text and "Traceback" not in text
    page.get_by_text("a non-empty prompt").first.wait_for()
    screenshot(page, "bad-input.png")


def test_a_visitor_key_makes_fal_available_then_run_and_cancel(page, hosted):
    pick_model(page, "FLUX.2 › FLUX.2 [pro]")
    sync_api.expect(page.locator("#availability")).to_contain_text("No fal API key")
    page.locator("#keys").get_by_text("Your API keys").click()
    page.locator("#fal-key input").fill("test-browser-visitor")
    page.locator("#prompt textarea").fill("a lighthouse at dusk")  # moving focus on checks the key
    sync_api.expect(page.locator("#availability")).to_contain_text("fal (ready)")
    sync_api.expect(page.locator("#panel-header")).to_contain_text("on fal (auto would use it now)")
    sync_api.expect(page.locator("#estimate")).to_contain_text("runs on fal · about $0.03")
    page.locator("#run").click()
    page.wait_for_selector("#results img", timeout=60_000)
    sync_api.expect(page.locator("#status")).to_contain_text("on fal")
    screenshot(page, "hosted-run.png", full_page=True)
    assert {r["auth"] for r in hosted.emulator.requests if r["provider"] == "fal"} == {"Key test-browser-visitor"}

    hosted.emulator.inject("slow", seconds=30.0, provider="fal")
    before = _count(hosted, "submit")
    page.locator("#run").click()
    _wait_for(lambda: _count(hosted, "submit") > before)
    page.locator("#cancel").click()
    sync_api.expect(page.locator("#status")).to_contain_text("Cancelled")
    _wait_for(lambda: _count(hosted, "cancel") > 0)  # the remote job was asked to stop too


def _count(hosted, phase: str) -> int:
    return sum(1 for r in list(hosted.emulator.requests) if r["provider"] == "fal" and r["phase"] == phase)


def _wait_for(condition, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
