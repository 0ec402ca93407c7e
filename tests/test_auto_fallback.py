"""`auto` dispatch: it moves on after each availability failure (no key, no weights, timeout,
unreachable host, 5xx, unknown endpoint) and stops at the user's own mistakes and the provider's
refusals (bad key, 422, failed job). Every case is checked on the result's `tried` list and on
what the emulator was actually sent."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from playground import backends
from playground.backends.fal import FalBackend
from playground.backends.local import LocalBackend, LocalSettings
from playground.backends.replicate import ReplicateBackend
from playground.errors import ProviderError
from playground.params import ValidationError
from playground.request import Request

KEYS = {"fal": "test-auto-fal", "replicate": "test-auto-rep"}
OTHER = {"fal": "replicate", "replicate": "fal"}
NAME = {"fal": "fal", "replicate": "Replicate"}
# flux-2-pro is served by fal and Replicate only; PLAYGROUND_AUTO_ORDER picks which is tried first.
PRO = dict(model="flux-2-pro", prompt="a lighthouse", seed=3)


def calls(emulator, provider: str, phase: str) -> list[dict]:
    return [r for r in emulator.requests if r["provider"] == provider and r["phase"] == phase]


def install(provider: str, settings) -> None:
    backend = FalBackend(settings) if provider == "fal" else ReplicateBackend(settings)
    backends.set_backend(provider, backend)


@pytest.fixture
def first(request, hosted, monkeypatch) -> str:
    """The provider auto tries first (the other one is the fallback)."""
    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", f"{request.param},{OTHER[request.param]}")
    return request.param


both = pytest.mark.parametrize("first", ["fal", "replicate"], indirect=True)


def outcomes(result) -> list[tuple[str, str]]:
    return [(t["backend"], t["outcome"]) for t in result.tried]


# --- availability failures: auto moves on --------------------------------------------------------
@both
def test_no_key_skips_to_the_next_backend_without_calling_the_first(first, hosted):
    other = OTHER[first]
    result = backends.run(Request(**PRO), keys={other: KEYS[other]})
    assert result.backend == other
    assert outcomes(result) == [(first, "skipped"), (other, "ran")]
    assert result.tried[0]["reason"] == f"No {NAME[first]} API key: enter your own {NAME[first]} key to run on " \
                                        f"{NAME[first]}."
    assert [r for r in hosted.emulator.requests if r["provider"] == first] == []
    assert len(calls(hosted.emulator, other, "submit")) == 1


def test_no_local_weights_skips_local_and_runs_on_fal(hosted, tmp_path):
    # An empty folder as the model's weights: health says why, nothing is loaded.
    backends.set_backend("local", LocalBackend(LocalSettings(model_paths={"flux-2-dev": str(tmp_path)},
                                                             device="cpu")))
    result = backends.run(Request(model="flux-2-dev", prompt="x", seed=1, params={"image_size": "square"}),
                          keys=KEYS)
    assert outcomes(result) == [("local", "skipped"), ("fal", "ran")]
    assert result.tried[0]["reason"] == f"{tmp_path} (from PLAYGROUND_MODEL_PATHS) has no model_index.json"
    assert backends.get_backend("local").stats == {"loads": 0, "from_pipe": 0, "runs": 0}


def test_weights_not_downloaded_skips_local(hosted):
    backends.set_backend("local", LocalBackend(LocalSettings(device="cpu")))  # empty hub cache (conftest)
    result = backends.run(Request(model="flux-2-dev", prompt="x", seed=1, params={"image_size": "square"}),
                          keys=KEYS)
    assert outcomes(result) == [("local", "skipped"), ("fal", "ran")]
    assert result.tried[0]["reason"].startswith("weights for flux-2-dev are not downloaded")


@both
def test_a_timeout_cancels_the_remote_job_and_falls_back(first, hosted):
    other = OTHER[first]
    install(first, replace(hosted.settings, timeout_s=1.0))
    hosted.emulator.inject("slow", seconds=20, provider=first)
    result = backends.run(Request(**PRO), keys=KEYS)
    assert outcomes(result) == [(first, "failed"), (other, "ran")]
    assert "did not finish within 1 s; it was cancelled" in result.tried[0]["reason"]
    assert len(calls(hosted.emulator, first, "cancel")) == 1
    assert len(calls(hosted.emulator, other, "submit")) == 1


@both
def test_an_unreachable_host_falls_back(first, hosted):
    other = OTHER[first]
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    field = "fal_url" if first == "fal" else "replicate_url"
    install(first, replace(hosted.settings, max_retries=0, **{field: dead}))
    result = backends.run(Request(**PRO), keys=KEYS)
    assert outcomes(result) == [(first, "failed"), (other, "ran")]
    assert f"{NAME[first]} could not be reached" in result.tried[0]["reason"]
    assert [r for r in hosted.emulator.requests if r["provider"] == first] == []
    assert len(calls(hosted.emulator, other, "submit")) == 1


@both
@pytest.mark.parametrize("status", ["500", "502"])
def test_a_server_error_falls_back_after_the_retries(first, hosted, status):
    other = OTHER[first]
    install(first, replace(hosted.settings, max_retries=1))
    hosted.emulator.inject(status, count=2, provider=first, on="submit")
    result = backends.run(Request(**PRO), keys=KEYS)
    assert outcomes(result) == [(first, "failed"), (other, "ran")]
    assert f"{NAME[first]} had a server error (HTTP {status})" in result.tried[0]["reason"]
    assert [r["status"] for r in calls(hosted.emulator, first, "submit")] == [int(status)] * 2
    assert len(calls(hosted.emulator, other, "submit")) == 1


def test_a_server_error_that_clears_on_retry_does_not_fall_back(hosted, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", "fal,replicate")
    install("fal", replace(hosted.settings, max_retries=1))
    hosted.emulator.inject("500", count=1, provider="fal", on="submit")
    result = backends.run(Request(**PRO), keys=KEYS)
    assert outcomes(result) == [("fal", "ran")]
    assert calls(hosted.emulator, "replicate", "submit") == []


# --- the user's own errors and provider refusals: auto stops ---------------------------------------
@both
@pytest.mark.parametrize("status", ["401", "403"])
def test_a_rejected_key_is_reported_not_fallen_back_from(first, hosted, status):
    hosted.emulator.inject(status, provider=first, on="submit")
    with pytest.raises(ProviderError, match=rf"{NAME[first]} rejected the API key \(HTTP {status}\)"):
        backends.run(Request(**PRO), keys=KEYS)
    assert len(calls(hosted.emulator, first, "submit")) == 1
    assert [r for r in hosted.emulator.requests if r["provider"] == OTHER[first]] == []


@both
def test_a_provider_validation_error_is_reported_not_fallen_back_from(first, hosted):
    hosted.emulator.inject("422", provider=first, field="prompt", msg="prompt is not allowed")
    with pytest.raises(ProviderError, match=r"refused the request \(HTTP 422\).*prompt is not allowed"):
        backends.run(Request(**PRO), keys=KEYS)
    assert [r for r in hosted.emulator.requests if r["provider"] == OTHER[first]] == []


@both
def test_a_failed_job_is_reported_not_fallen_back_from(first, hosted):
    hosted.emulator.inject("fail", provider=first, msg="the model ran out of ideas")
    with pytest.raises(ProviderError, match="failed.*the model ran out of ideas"):
        backends.run(Request(**PRO), keys=KEYS)
    assert [r for r in hosted.emulator.requests if r["provider"] == OTHER[first]] == []


def test_the_users_own_validation_error_stops_before_any_backend(hosted):
    with pytest.raises(ValidationError, match="safety_tolerance"):
        backends.run(Request(**PRO, params={"safety_tolerance": 9}), keys=KEYS)
    assert hosted.emulator.requests == []


def test_every_backend_unavailable_names_each_reason(hosted, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", "fal,replicate")
    with pytest.raises(Exception, match=r"No backend could run flux-2-pro \(text-to-image\)\. "
                                        r"fal: No fal API key.*; replicate: No Replicate API key"):
        backends.run(Request(**PRO), keys={})
    assert hosted.emulator.requests == []
