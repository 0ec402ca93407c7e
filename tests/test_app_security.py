"""Safe to host for strangers: one app with PLAYGROUND_MULTI_USER=1 and two gradio_client sessions.

Visitors cannot see or touch each other's presets or kept inputs, no endpoint opens a server path
a caller names, the operator's caps are ceilings (refused before any provider request, checked on
the emulator's request log), and keys with control characters are refused.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from tests.conftest import running_app  # noqa: E402

KEYS = {"fal_key": "test-security-fal", "replicate_key": "test-security-rep"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shared-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLAYGROUND_HOME", str(folder))
        patch.setenv("PLAYGROUND_MULTI_USER", "1")
        yield folder


@pytest.fixture(scope="module")
def app(home, model_paths):
    with running_app(model_paths) as running:
        yield running


def new_client(app, tmp_path_factory) -> Client:
    """A visitor: its own gradio_client session (its own session hash)."""
    return Client(app.url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def alice(app, tmp_path_factory) -> Client:
    return new_client(app, tmp_path_factory)


@pytest.fixture(scope="module")
def bob(app, tmp_path_factory) -> Client:
    return new_client(app, tmp_path_factory)


def user_ids(client: Client) -> list[str]:
    return [p["id"] for p in client.predict(api_name="/presets/list")["presets"] if p["source"] == "user"]


def a_preset(name: str, prompt: str) -> dict:
    return {"schema": "playground.preset/1", "name": name, "model": "sdxl-turbo", "mode": "text-to-image",
            "prompt": prompt, "params": {"num_inference_steps": 2}, "seed": 3}


def rss_bytes() -> int:
    """This process's resident memory (the app runs in it)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


# --- visitors are isolated --------------------------------------------------------------------------
def test_one_visitors_preset_is_invisible_and_untouchable_for_another(alice, bob, home):
    saved = alice.predict(preset=a_preset("Alice portrait", "alice's secret prompt"), api_name="/presets/save")
    assert saved["id"] == "user:alice-portrait"
    assert user_ids(alice) == ["user:alice-portrait"]
    assert user_ids(bob) == []

    for ref in ("user:alice-portrait", "alice-portrait", "Alice portrait"):
        with pytest.raises(AppError) as refused:
            bob.predict(name=ref, api_name="/presets/load")
        assert "alice's secret prompt" not in str(refused.value)
        with pytest.raises(AppError, match="No user preset named"):
            bob.predict(name=ref, api_name="/presets/delete")
    # Saving over the name only ever writes Bob's own preset.
    bob.predict(preset=a_preset("Alice portrait", "bob was here"), overwrite=True, api_name="/presets/save")
    assert alice.predict(name="user:alice-portrait", api_name="/presets/load")["preset"]["prompt"] == \
        "alice's secret prompt"
    assert bob.predict(name="user:alice-portrait", api_name="/presets/load")["preset"]["prompt"] == "bob was here"
    bob.predict(name="user:alice-portrait", api_name="/presets/delete")
    assert user_ids(alice) == ["user:alice-portrait"] and user_ids(bob) == []

    # Nothing of a visitor lives where another could name it: not in the shared folder, and each home
    # is a keyed hash (not the session hash, not a plain hash of it).
    assert not (home / "presets").exists()
    homes = sorted(p.name for p in (home / "visitors").iterdir())
    assert len(homes) == 2 and all(h.startswith("s-") and len(h) == 34 for h in homes)
    for client in (alice, bob):
        assert not any(client.session_hash in h for h in homes)
    shipped = [p for p in alice.predict(api_name="/presets/list")["presets"] if p["source"] == "shipped"]
    assert shipped, "shipped presets are everyone's"
    with pytest.raises(AppError, match="shipped presets cannot be changed"):
        bob.predict(name=shipped[0]["id"], api_name="/presets/delete")


def test_a_shared_server_keeps_nothing_in_the_shared_folder_outside_a_visit(home):
    from playground import preset_store, storage

    assert storage.multi_user()
    with pytest.raises(preset_store.PresetStoreError, match="browser or client session"):
        preset_store.save_preset(a_preset("Nobody", "x"))
    assert [p["source"] for p in preset_store.list_presets()["presets"]] == ["shipped"] * len(
        preset_store.list_presets()["presets"])


def test_a_runs_inputs_cannot_be_downloaded_by_a_stranger_who_knows_their_hash(app, alice, bob, hosted, tmp_path):
    from gradio.utils import get_upload_folder

    started = time.time() - 1
    picture = tmp_path / "private.png"
    make_image(color=(10, 200, 30), pattern=5).save(picture)
    _, _, record = alice.predict(model="flux-kontext-pro", mode="image-to-image", prompt="make it blue",
                                 images=[handle_file(str(picture))], backend="fal", **KEYS, api_name="/generate")
    digest = record["inputs"][0]["sha256"] if isinstance(record["inputs"][0], dict) else record["inputs"][0]
    root = Path(get_upload_folder()).resolve()
    kept = [p for p in (root / "playground-inputs").rglob(f"{digest}.png") if p.stat().st_mtime >= started]
    assert len(kept) == 1, "the input was kept for its owner"
    assert kept[0].parent.name.startswith("s-") and kept[0].parent.parent.name == "playground-inputs"
    for guess in (root / "playground-inputs" / f"{digest}.png", root / f"{digest}.png"):
        response = httpx.get(f"{app.url}gradio_api/file={guess}")
        assert response.status_code in (403, 404), guess


# --- no server paths from callers -----------------------------------------------------------------
@pytest.mark.parametrize("record", ["/dev/zero", "__EXISTING__", {"path": "/dev/zero"}, "../../etc/passwd"])
def test_inspect_refuses_a_server_path_as_a_record_at_once_revealing_nothing(alice, tmp_path, record):
    secret = tmp_path / "server-secret.json"
    secret.write_text(json.dumps({"schema": "playground.record/1", "model": "top-secret"}))
    record = str(secret) if record == "__EXISTING__" else record
    before = rss_bytes()
    with pytest.raises(AppError) as refused:
        alice.predict(record=record, api_name="/inspect")
    message = str(refused.value)
    assert "record" in message and "upload it as `image`" in message
    for leaked in ("/dev/zero", str(tmp_path), "server-secret", "passwd", "top-secret"):
        assert leaked not in message
    assert rss_bytes() - before < 64 * 1024 * 1024, "nothing was read"


def test_inspect_names_an_uploaded_file_as_the_visitor_named_it(alice, tmp_path):
    from gradio.utils import get_upload_folder

    damaged = tmp_path / "holiday.png"
    data = (tmp_path / "x").with_suffix(".png")
    make_image().save(data)
    damaged.write_bytes(data.read_bytes()[:80])
    report = alice.predict(image=handle_file(str(damaged)), api_name="/inspect")
    assert report["status"] == "unreadable" and "damaged or truncated" in report["message"]
    assert str(Path(get_upload_folder()).resolve()) not in json.dumps(report)


# --- the operator's caps are ceilings -------------------------------------------------------------
def test_caps_cannot_be_raised_by_a_caller_and_nothing_reaches_a_provider(alice, hosted, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_COMPARE_MAX_CELLS", "4")
    monkeypatch.setenv("PLAYGROUND_DRIFT_MAX_STEPS", "3")
    axes = [{"kind": "seed", "values": "1:2"}]
    for endpoint in ("/compare_plan", "/compare"):
        with pytest.raises(AppError, match=r"max_cells.*at most 4 \(this server's cell cap"):
            alice.predict(model="flux-2-pro", backend="fal", prompt="a fox", axes=axes, max_cells=5000, **KEYS,
                          api_name=endpoint)
    chains = [{"model": "flux-kontext-pro", "backend": "fal", "steps": 2}]
    for endpoint in ("/drift_plan", "/drift"):
        with pytest.raises(AppError, match=r"max_steps.*at most 3 \(this server's step cap"):
            alice.predict(chains=chains, prompt="a fox", genesis_model="flux-2-pro", genesis_backend="fal",
                          max_steps=1000, **KEYS, api_name=endpoint)
    assert hosted.emulator.requests == []
    # Lowering is allowed, and a grid over the lowered cap is refused the same way.
    with pytest.raises(AppError, match=r"2 cells.*at most 1 cells"):
        alice.predict(model="flux-2-pro", backend="fal", prompt="a fox", axes=axes, max_cells=1, **KEYS,
                      api_name="/compare")
    plan = alice.predict(model="flux-2-pro", backend="fal", prompt="a fox", axes=axes, max_cells=2, **KEYS,
                         api_name="/compare_plan")
    assert plan["cap"] == 2
    assert hosted.emulator.requests == []


def test_a_key_with_control_characters_is_refused_as_malformed(alice, hosted):
    with pytest.raises(AppError, match="fal_key: got 'a key with spaces or control characters inside'") as refused:
        alice.predict(model="flux-2-pro", prompt="a fox", backend="fal", fal_key="key\r\nX-Evil: 1",
                      api_name="/generate")
    assert "X-Evil" not in str(refused.value)
    assert hosted.emulator.requests == []


def test_a_browser_gets_a_visitor_cookie_once_and_logins_come_first(app):
    from types import SimpleNamespace

    from playground.ui.visitors import COOKIE, visitor_identity

    first = httpx.get(app.url)
    given = first.headers.get("set-cookie", "")
    assert given.startswith(f"{COOKIE}=") and "HttpOnly" in given and "SameSite=Lax" in given
    token = first.cookies[COOKIE]
    again = httpx.get(app.url, cookies={COOKIE: token})
    assert COOKIE not in again.headers.get("set-cookie", "")

    def request(**fields):
        return SimpleNamespace(**{"username": None, "session_hash": "abc", "cookies": {}, **fields})

    assert visitor_identity(request()) == "session:abc"
    assert visitor_identity(request(cookies={COOKIE: token})) == f"browser:{token}"
    assert visitor_identity(request(cookies={COOKIE: "../../not-a-token"})) == "session:abc"
    assert visitor_identity(request(cookies={COOKIE: token}, username="alice")) == "user:alice"


def test_a_run_names_no_server_folder_to_the_visitor(alice, model_paths):
    folder = model_paths["sdxl-base"]
    _, _, record = alice.predict(model="sdxl-base", prompt="a fox", params={"image_size": "64x64",
                                 "num_inference_steps": 1}, backend="local", api_name="/generate")
    shown = json.dumps(record)
    assert folder not in shown  # weights are named by their folder's name alone on a shared server
    assert record["device"]["source"] == Path(folder).name
    estimate = alice.predict(model="sdxl-base", prompt="a fox", api_name="/estimate")
    assert folder not in json.dumps(estimate)
