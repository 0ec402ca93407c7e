"""playground.storage: the home folder per visitor, keyed folder names, leftovers of interrupted writes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from playground import preset_store, storage


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    monkeypatch.delenv("PLAYGROUND_MULTI_USER", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("PLAYGROUND_SECRET", raising=False)
    monkeypatch.setattr(storage, "_secret", None)
    monkeypatch.setattr(storage, "_identity_source", None)
    return tmp_path


def visiting(monkeypatch, identity: str | None) -> None:
    monkeypatch.setattr(storage, "_identity_source", lambda: identity)


def test_a_single_user_machine_keeps_presets_in_playground_home(home, monkeypatch):
    visiting(monkeypatch, "session:abc")
    assert not storage.multi_user()
    assert storage.user_dir() == home / "presets"


@pytest.mark.parametrize("env", [{"PLAYGROUND_MULTI_USER": "1"}, {"SPACE_ID": "owner/space"}])
def test_a_shared_server_gives_each_visitor_a_home_of_their_own(home, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert storage.multi_user()
    visiting(monkeypatch, None)
    with pytest.raises(storage.StorageError, match="session"):
        storage.playground_home()
    visiting(monkeypatch, "session:abc")
    first = storage.playground_home()
    visiting(monkeypatch, "session:xyz")
    second = storage.playground_home()
    visiting(monkeypatch, "user:alice")
    login = storage.playground_home()
    assert len({first, second, login}) == 3
    assert all(p.parent == home / "visitors" for p in (first, second, login))
    assert first.name.startswith("s-") and login.name.startswith("u-")
    assert "abc" not in first.name and "alice" not in login.name


def test_folder_names_need_the_servers_secret(home, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_SECRET", "one")
    one = storage.visitor_key("session:abc")
    monkeypatch.setattr(storage, "_secret", None)
    monkeypatch.setenv("PLAYGROUND_SECRET", "two")
    assert storage.visitor_key("session:abc") != one
    monkeypatch.delenv("PLAYGROUND_SECRET")
    monkeypatch.setattr(storage, "_secret", None)
    kept = storage.visitor_key("user:alice")
    secret = home / storage.SECRET_FILE
    assert secret.is_file() and oct(secret.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setattr(storage, "_secret", None)  # a restart: logins find their folder again
    assert storage.visitor_key("user:alice") == kept


def test_interrupted_writes_leave_no_tmp_files_after_the_next_start(home):
    folder = home / "presets"
    folder.mkdir()
    preset_store.save_preset({"name": "Kept", "model": "sdxl-turbo", "prompt": "x"})
    leftover = folder / ".half.json.0123abcd.tmp"
    leftover.write_bytes(b'{"name": "ha')
    nested = home / "visitors" / "s-x" / "presets" / ".other.json.ffff.tmp"
    nested.parent.mkdir(parents=True)
    nested.write_bytes(b"{")
    fresh = folder / ".writing.json.beef.tmp"  # a write in progress right now is left alone
    fresh.write_bytes(b"{")
    old = time.time() - 3600
    for path in (leftover, nested):
        os.utime(path, (old, old))
    assert storage.remove_stale_tmp() == 2
    assert not leftover.exists() and not nested.exists() and fresh.exists()
    assert (folder / "kept.json").is_file()


def test_old_session_homes_are_pruned_and_logins_are_kept(home):
    session, login = home / "visitors" / "s-old", home / "visitors" / "u-old"
    for folder in (session, login):
        (folder / "presets").mkdir(parents=True)
        (folder / "presets" / "p.json").write_text("{}")
        old = time.time() - 30 * 24 * 3600
        for path in (folder / "presets" / "p.json", folder / "presets", folder):
            os.utime(path, (old, old))
    recent = home / "visitors" / "s-new" / "presets"
    recent.mkdir(parents=True)
    assert storage.prune_session_homes() == 1
    assert not session.exists() and login.exists() and recent.exists()


def test_errors_name_the_file_never_the_servers_folder(home, monkeypatch):
    def full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(storage, "_write_new_file", full)
    with pytest.raises(storage.StorageError) as err:
        storage.atomic_write(home / "presets.json", b"{}", overwrite=True)
    assert "presets.json" in str(err.value) and str(home) not in str(err.value)
