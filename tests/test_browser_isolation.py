"""Two visitors in two browser contexts (Debian's Chromium through Playwright) on one app with
PLAYGROUND_MULTI_USER=1: one saves a preset, the other never sees it; deleting asks first."""

from __future__ import annotations

import pytest

from tests.conftest import open_visitor, running_app, screenshot
from tests.test_browser import sync_api  # noqa: F401 - the skip; browser: conftest

expect = sync_api.expect


@pytest.fixture(scope="module")
def app(model_paths, tmp_path_factory):
    home = tmp_path_factory.mktemp("shared-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYGROUND_HOME", str(home))
        patch.setenv("PLAYGROUND_MULTI_USER", "1")
        with running_app(model_paths) as running:
            yield running


def visitor(browser, app):  # noqa: F811
    return open_visitor(browser, app.url)


def reload(tab, errors: list[str]) -> None:
    """Reload the page as a visitor would. Requests still in flight (the page's own start-up calls) are
    aborted by the reload; the browser logs that, which is the reload's doing, not an app error."""
    tab.reload(wait_until="load")
    tab.wait_for_selector("#param-num_inference_steps")
    errors[:] = [e for e in errors if "AbortError" not in e and "Connection errored out" not in e]


def options(tab, typed: str) -> list[str]:
    """The picker's options matching `typed` (the list is filtered as one types, like a visitor would)."""
    box = tab.locator("#preset input")
    box.click()
    box.fill("")
    box.press_sequentially(typed)
    tab.wait_for_function("""(typed) => document.querySelector('#preset input').value === typed &&
        [...document.querySelectorAll('[role=option]')]
            .every(o => o.innerText.toLowerCase().includes(typed.toLowerCase()))""", arg=typed, polling=100)
    names = [n.replace("✓", "").strip() for n in tab.get_by_role("option").all_inner_texts()]
    tab.keyboard.press("Escape")
    return names


def test_two_browsers_never_see_each_others_presets_and_deleting_asks_first(app, browser):  # noqa: F811
    (ctx_a, alice, errors_a), (ctx_b, bob, errors_b) = visitor(browser, app), visitor(browser, app)
    try:
        alice.locator("#prompt textarea").fill("alice's lighthouse")
        alice.locator("#preset-manage").get_by_text("Save, rename, delete").click()
        alice.locator("#preset-name textarea").fill("Alice only")
        alice.locator("#preset-save").click()
        expect(alice.locator("#preset-info")).to_contain_text("Saved as Alice only")
        expect(alice.locator("#preset input")).to_have_value("Yours › Alice only")

        reload(bob, errors_b)
        assert options(bob, "Alice") == []
        assert options(bob, "SDXL"), "the shipped presets are listed for everyone"
        assert options(alice, "Alice") == ["Yours › Alice only"]
        reload(alice, errors_a)
        assert options(alice, "Alice") == ["Yours › Alice only"]
        pick = alice.locator("#preset input")
        pick.click()
        pick.fill("")
        pick.press_sequentially("Alice")
        alice.get_by_role("option", name="Yours › Alice only").click()
        alice.locator("#preset-manage").get_by_text("Save, rename, delete").click()

        # Declining the page's "Delete ...?" keeps the preset; accepting deletes it.
        alice.once("dialog", lambda dialog: dialog.dismiss())
        with alice.expect_event("dialog") as asked:
            alice.locator("#preset-delete").click()
        assert "Delete the preset alice-only?" in asked.value.message
        expect(alice.locator("#preset input")).to_have_value("Yours › Alice only")
        assert options(alice, "Alice") == ["Yours › Alice only"]
        pick.click()
        pick.fill("")
        pick.press_sequentially("Alice")
        alice.get_by_role("option", name="Yours › Alice only").click()
        alice.once("dialog", lambda dialog: dialog.accept())
        alice.locator("#preset-delete").click()
        expect(alice.locator("#preset-info")).to_contain_text("Deleted alice-only")
        screenshot(alice, "isolation-alice-deleted.png", full_page=True)
        screenshot(bob, "isolation-bob.png", full_page=True)
    finally:
        ctx_a.close()
        ctx_b.close()
    assert not errors_a and not errors_b, f"browser console errors: {errors_a + errors_b}"
