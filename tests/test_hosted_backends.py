"""fal and Replicate backends against the emulator: progress, timeouts, cancel, keys, fallback, faults."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from playground import backends
from playground.backends import hosted as hosted_module
from playground.backends.fal import FalBackend
from playground.backends.hosted import HostedSettings, resolve_key
from playground.backends.replicate import ReplicateBackend, output_urls
from playground.catalog.sdxl import SDXL_REPLICATE_VERSION
from playground.errors import BackendUnavailable, Cancelled, ProviderError, TransportError
from playground.params import ValidationError
from playground.request import Request
from tests.conftest import make_image

FAL_T2I = dict(model="flux-2-dev", prompt="a red lighthouse", seed=7, params={"image_size": "square"})
REP_T2I = dict(model="flux-2-pro", prompt="a red lighthouse", seed=7)
FAL = {"fal": "test-user-fal"}
REP = {"replicate": "test-user-rep"}


def fal_run(keys: dict[str, str] = FAL, **kw):
    return backends.run(Request(**{**FAL_T2I, "backend": "fal", **kw}), keys=keys)


def submits(emulator, provider: str) -> list[dict]:
    return [r for r in emulator.requests if r["provider"] == provider and r["phase"] == "submit"]


# --- progress -------------------------------------------------------------------------------------
def test_fal_progress_reports_queue_then_logs_in_order(hosted, monkeypatch):
    # A queue long enough that a poll sees it on a loaded machine (the usual 0.1 s can pass between polls).
    monkeypatch.setattr(hosted.emulator, "queue_seconds", 1.0)
    events: list[dict] = []
    result = backends.run(Request(**FAL_T2I, backend="fal"), progress=events.append, keys=FAL)
    stages = [e["stage"] for e in events]
    assert stages[0] == "submitted" and events[0]["request_id"] == result.request_id
    assert "queue" in stages and "log" in stages
    assert stages.index("queue") < stages.index("log")
    assert max(i for i, s in enumerate(stages) if s == "queue") < min(i for i, s in enumerate(stages) if s == "log")
    logs = [e["message"] for e in events if e["stage"] == "log"]
    assert len(logs) == len(set(logs)), "each log line is reported once"


def test_replicate_progress_reports_status_logs_and_steps(hosted, monkeypatch):
    monkeypatch.setattr(hosted.emulator, "work_seconds", 1.0)  # long enough for a poll to see "processing"
    events: list[dict] = []
    result = backends.run(Request(**REP_T2I, backend="replicate"), progress=events.append, keys=REP)
    stages = [e["stage"] for e in events]
    assert stages[0] == "submitted" and events[0]["request_id"] == result.request_id
    assert stages.index("starting") < stages.index("processing") < stages.index("succeeded")
    steps = [(e["step"], e["total"]) for e in events if e["stage"] == "step"]
    assert steps and steps == sorted(steps) and steps[-1][0] == steps[-1][1]


# --- timeouts and cancellation --------------------------------------------------------------------
def test_fal_timeout_cancels_the_remote_job(hosted):
    backends.set_backend("fal", FalBackend(replace(hosted.settings, timeout_s=1.0)))
    hosted.emulator.inject("slow", seconds=5, provider="fal")
    with pytest.raises(TransportError, match=r"did not finish within 1 s; it was cancelled"):
        fal_run()
    assert [r["method"] for r in hosted.emulator.requests if r["phase"] == "cancel"] == ["PUT"]


def test_replicate_timeout_cancels_the_prediction(hosted):
    backends.set_backend("replicate", ReplicateBackend(replace(hosted.settings, timeout_s=1.0)))
    hosted.emulator.inject("slow", seconds=5, provider="replicate")
    with pytest.raises(TransportError, match=r"did not finish within 1 s; it was cancelled"):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)
    cancels = [r for r in hosted.emulator.requests if r["phase"] == "cancel"]
    assert len(cancels) == 1 and cancels[0]["path"].endswith("/cancel")


@pytest.mark.parametrize("provider", ["fal", "replicate"])
def test_user_cancel_stops_the_remote_job(hosted, provider):
    cancel = threading.Event()
    request = Request(**(FAL_T2I if provider == "fal" else REP_T2I), backend=provider)
    hosted.emulator.inject("slow", seconds=3, provider=provider)
    with pytest.raises(Cancelled, match="was asked to stop"):
        backends.run(request, progress=lambda event: cancel.set(), cancel=cancel, keys={**FAL, **REP})
    assert len([r for r in hosted.emulator.requests if r["phase"] == "cancel"]) == 1


# --- keys -----------------------------------------------------------------------------------------
def test_concurrent_requests_each_use_their_own_key(hosted):
    results: dict[str, object] = {}

    def go(key: str, provider: str) -> None:
        request = Request(**(FAL_T2I if provider == "fal" else REP_T2I), backend=provider)
        results[key] = backends.run(request, keys={provider: key})

    threads = [threading.Thread(target=go, args=(k, p)) for k, p in
               (("test-alice", "fal"), ("test-bob", "fal"), ("test-carol", "replicate"), ("test-dan", "replicate"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key, result in results.items():
        # The job the provider made for this result was submitted with this key ...
        assert hosted.emulator._jobs[result.request_id].key == key
        # ... and every later call about it (status, result, files) carried the same key.
        mine = [r for r in hosted.emulator.requests if result.request_id in r["path"] and r["auth"]]
        assert mine and {r["auth"].split(" ", 1)[1] for r in mine} == {key}


def test_empty_key_is_refused_even_with_a_server_key(hosted, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "test-server-fal")
    with pytest.raises(BackendUnavailable, match="the fal key field is empty"):
        fal_run(keys={"fal": ""})
    with pytest.raises(BackendUnavailable, match="enter your own fal key"):
        fal_run(keys={})
    assert submits(hosted.emulator, "fal") == []
    lent = HostedSettings(server_keys=True)
    assert resolve_key("fal", {}, lent) == "test-server-fal"
    with pytest.raises(BackendUnavailable, match="the fal key field is empty"):
        resolve_key("fal", {"fal": "  "}, lent)


def test_server_key_only_when_the_operator_enables_it(hosted, monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "test-server-rep")
    backends.set_backend("replicate", ReplicateBackend(replace(hosted.settings, server_keys=True)))
    backends.run(Request(**REP_T2I, backend="replicate"), keys={})
    assert submits(hosted.emulator, "replicate")[0]["auth"] == "Bearer test-server-rep"


def test_no_key_in_logs_results_or_errors(hosted, caplog):
    secret = "test-SECRET-4242"
    caplog.set_level(logging.DEBUG)
    result = fal_run(keys={"fal": secret})
    rep = backends.run(Request(**REP_T2I, backend="replicate"), keys={"replicate": secret})
    hosted.emulator.inject("401", provider="fal")
    with pytest.raises(ProviderError) as failure:
        fal_run(keys={"fal": secret})
    text = caplog.text + json.dumps(result.summary()) + json.dumps(rep.summary()) + str(failure.value)
    assert secret not in text
    line = next(r.getMessage() for r in caplog.records if r.name == "playground.hosted")
    assert "endpoint=fal-ai/flux-2" in line and "'seed': 7" in line and "model=flux-2-dev" in line


def test_log_line_shows_images_as_hash_and_size(hosted, caplog):
    caplog.set_level(logging.INFO, logger="playground.hosted")
    backends.run(Request(model="flux-2-dev", mode="image-to-image", prompt="x", images=[make_image()],
                         backend="fal"), keys=FAL)
    line = caplog.records[-1].getMessage()
    assert "'image_urls': ['<image sha256=" in line and "bytes>'" in line and "base64" not in line


# --- dispatch and fallback ------------------------------------------------------------------------
def test_auto_skips_unavailable_backends_and_records_why(hosted, local_backend):
    backends.set_backend("local", local_backend)
    result = backends.run(Request(model="flux-2-dev", prompt="x", seed=1), keys=REP)
    assert result.backend == "replicate"
    assert [(t["backend"], t["outcome"]) for t in result.tried] == [
        ("local", "skipped"), ("fal", "skipped"), ("replicate", "ran")]
    assert "no GPU on this machine" in result.tried[0]["reason"]
    assert result.tried[1]["reason"] == "No fal API key: enter your own fal key to run on fal."


def test_auto_falls_back_after_a_transport_failure(hosted):
    hosted.emulator.inject("500", count=3, provider="fal")
    result = backends.run(Request(model="flux-2-pro", prompt="x", seed=1), keys={**FAL, **REP})
    assert [(t["backend"], t["outcome"]) for t in result.tried] == [("fal", "failed"), ("replicate", "ran")]
    assert "fal had a server error (HTTP 500)" in result.tried[0]["reason"]


def test_auto_does_not_fall_back_on_provider_refusals_or_user_mistakes(hosted):
    hosted.emulator.inject("401", provider="fal")
    with pytest.raises(ProviderError, match="fal rejected the API key"):
        backends.run(Request(model="flux-2-pro", prompt="x"), keys={**FAL, **REP})
    with pytest.raises(ValidationError):
        backends.run(Request(model="flux-2-pro", prompt="x", params={"safety_tolerance": 9}), keys={**FAL, **REP})
    assert submits(hosted.emulator, "replicate") == []


def test_configured_order_is_followed(hosted, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", "replicate,fal")
    result = backends.run(Request(model="flux-2-pro", prompt="x"), keys={**FAL, **REP})
    assert result.backend == "replicate" and [t["backend"] for t in result.tried] == ["replicate"]


def test_too_many_references_are_refused_before_anything_is_sent(hosted):
    images = [make_image(pattern=i) for i in range(5)]
    with pytest.raises(ValidationError, match="at most 4 for flux-2-dev in image-to-image on fal"):
        backends.run(Request(model="flux-2-dev", mode="image-to-image", prompt="x", images=images, backend="fal"),
                     keys=FAL)
    assert hosted.emulator.requests == []


# --- faults ---------------------------------------------------------------------------------------
def test_provider_validation_errors_name_our_parameter(hosted):
    hosted.emulator.inject("422", provider="fal", field="guidance_scale", msg="Input should be less than 20")
    with pytest.raises(ProviderError) as info:
        fal_run()
    assert "params.guidance_scale (sent as guidance_scale): Input should be less than 20" in str(info.value)
    hosted.emulator.inject("422", provider="replicate", field="num_outputs", msg="must be <= 4")
    with pytest.raises(ProviderError) as info:
        backends.run(Request(model="flux-schnell", prompt="x", backend="replicate"), keys=REP)
    assert "params.num_images (sent as num_outputs): must be <= 4" in str(info.value)


def test_rate_limit_is_retried_after_retry_after(hosted):
    hosted.emulator.inject("429", provider="replicate", retry_after=1)
    result = backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)
    assert result.images
    creates = submits(hosted.emulator, "replicate")
    assert [r["status"] for r in creates] == [429, 201]
    assert creates[1]["time"] - creates[0]["time"] >= 1.0


def test_persistent_rate_limit_gives_a_clear_error(hosted):
    hosted.emulator.inject("429", count=10, provider="fal", retry_after=0)
    with pytest.raises(TransportError, match=r"fal is rate limiting this key \(HTTP 429\)"):
        fal_run()
    assert len(submits(hosted.emulator, "fal")) == 1 + hosted.settings.max_retries


def test_server_errors_are_retried_a_bounded_number_of_times(hosted):
    hosted.emulator.inject("500", count=1, provider="fal")
    assert fal_run().images
    hosted.emulator.reset()
    hosted.emulator.inject("500", count=10, provider="replicate")
    with pytest.raises(TransportError, match=r"Replicate had a server error \(HTTP 500\)"):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)
    assert len(submits(hosted.emulator, "replicate")) == 1 + hosted.settings.max_retries


def test_bad_key_is_a_clear_error(hosted):
    hosted.emulator.inject("401", provider="replicate")
    with pytest.raises(ProviderError, match=r"Replicate rejected the API key \(HTTP 401\)\. Check that your "):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)


def test_failed_jobs_are_reported(hosted):
    hosted.emulator.inject("fail", provider="fal", msg="CUDA out of memory")
    with pytest.raises(ProviderError, match="fal .*CUDA out of memory"):
        fal_run()
    hosted.emulator.inject("fail", provider="replicate", msg="CUDA out of memory")
    with pytest.raises(ProviderError, match=r"Replicate prediction .* failed: .*CUDA out of memory"):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)


def test_malformed_and_dropped_responses(hosted):
    # A garbled result (a body cut short on the way) is fetched again within the job's timeout.
    hosted.emulator.inject("malformed", provider="fal")
    assert fal_run().images
    results = [r for r in hosted.emulator.requests if r["provider"] == "fal" and r["phase"] == "result"]
    assert len(results) == 2
    # A create that was dropped is not repeated (it may have started a job): a clear error instead.
    hosted.emulator.inject("drop", provider="replicate")
    with pytest.raises(TransportError, match="Replicate could not be reached"):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)


def test_nsfw_flags_are_surfaced(hosted):
    hosted.emulator.inject("nsfw", provider="fal")
    result = fal_run()
    assert result.nsfw == [True] and result.warnings == ["fal flagged image 1 as NSFW (it may be black)."]
    hosted.emulator.inject("nsfw", provider="replicate")
    with pytest.raises(ProviderError, match="Replicate's safety checker flagged the output as NSFW"):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)


def test_bad_and_oversized_outputs_are_refused(hosted):
    hosted.emulator.inject("bad_image", provider="fal")
    with pytest.raises(TransportError, match="not a readable image"):
        fal_run()
    backends.set_backend("replicate", ReplicateBackend(replace(hosted.settings, max_download_bytes=1_000_000)))
    hosted.emulator.inject("huge_image", provider="replicate", size=5_000_000)
    with pytest.raises(TransportError, match="over the 1000000-byte limit"):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)


def test_a_cookie_from_an_output_host_never_goes_out_with_a_later_download(monkeypatch):
    """Downloads share one client (pooled connections) across visitors, so it must keep no cookies."""
    png = io.BytesIO()
    make_image().save(png, format="PNG")
    sent: list[str | None] = []

    class FileHost(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            sent.append(self.headers.get("Cookie"))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Set-Cookie", "visitor=first; Path=/")
            self.send_header("Content-Length", str(len(png.getvalue())))
            self.end_headers()
            self.wfile.write(png.getvalue())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FileHost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/out.png"
    try:
        for _ in range(2):
            image, _ = hosted_module.download_image(url, "fal", HostedSettings())
            assert image.size == (64, 64)
        assert sent == [None, None]
        # The same check catches a client that keeps cookies.
        keeping = httpx.Client()
        monkeypatch.setattr(hosted_module, "_download_client", lambda: keeping)
        for _ in range(2):
            hosted_module.download_image(url, "fal", HostedSettings())
        assert sent[-1] == "visitor=first"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(30)
def test_unreachable_host_fails_without_hidden_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = HostedSettings(fal_url=f"http://127.0.0.1:{port}", replicate_url=f"http://127.0.0.1:{port}",
                          poll_interval_s=0.1, timeout_s=5.0)
    backends.set_backend("fal", FalBackend(dead))
    backends.set_backend("replicate", ReplicateBackend(dead))
    with pytest.raises(TransportError, match="fal could not be reached"):
        fal_run()
    with pytest.raises(TransportError, match="Replicate could not be reached"):
        backends.run(Request(**REP_T2I, backend="replicate"), keys=REP)


# --- inputs, outputs, records ----------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["fal", "replicate"])
def test_large_inputs_are_uploaded_once_per_content(hosted, provider):
    backend = (FalBackend if provider == "fal" else ReplicateBackend)(replace(hosted.settings, upload_threshold=0))
    backends.set_backend(provider, backend)
    image = make_image(pattern=3)
    request = Request(model="flux-kontext-pro", mode="image-to-image", prompt="x", images=[image], backend=provider)
    keys = {**FAL, **REP}
    first, second = backends.run(request, keys=keys), backends.run(request, keys=keys)
    uploads = [r for r in hosted.emulator.requests if r["phase"] in ("cdn_upload", "file_upload", "storage_put")]
    assert len(uploads) == 1
    field = "image_url" if provider == "fal" else "input_image"
    assert first.native[field].startswith("<uploaded image sha256=")
    sent = [r["json"] for r in submits(hosted.emulator, provider)]
    urls = [(s.get("input") or s)[field] for s in sent]
    assert urls[0] == urls[1] and urls[0].startswith("http://127.0.0.1")
    assert second.images


def test_results_carry_ids_versions_seeds_and_cost(hosted):
    fal = fal_run()
    assert fal.seeds == [7] and fal.request_id and fal.endpoint == "fal-ai/flux-2"
    assert fal.cost == pytest.approx(0.012 * 1)  # square = 512x512, billed as 1 MP
    sdxl = backends.run(Request(model="sdxl-base", prompt="x", seed=3, backend="replicate",
                                params={"image_size": "square"}), keys=REP)
    assert sdxl.model_version == SDXL_REPLICATE_VERSION  # the pinned version whose schema is shipped
    assert sdxl.endpoint == f"stability-ai/sdxl:{SDXL_REPLICATE_VERSION}"
    assert (sdxl.native["width"], sdxl.native["height"], sdxl.native["num_outputs"]) == (512, 512, 1)
    assert sdxl.native["disable_safety_checker"] is False and sdxl.native["scheduler"] == "K_EULER"


def test_output_urls_handle_file_outputs_and_strings():
    from replicate.helpers import FileOutput

    class Fake(FileOutput):
        def __init__(self, url: str):
            self.url = url

    assert output_urls("https://x/a.png") == ["https://x/a.png"]
    assert output_urls([Fake("https://x/a.png"), "https://x/b.png"]) == ["https://x/a.png", "https://x/b.png"]
    with pytest.raises(TransportError, match="malformed"):
        output_urls([None])


def test_plan_estimates_cost_and_names_the_backend_auto_would_pick(hosted):
    from playground.validation import validate

    prepared = validate(Request(model="flux-2-pro", prompt="x"))
    plan = backends.plan(prepared, keys=REP)
    assert plan["backend"] == "replicate" and plan["ready"]
    assert plan["passed"] == [{"backend": "fal", "reason": "No fal API key: enter your own fal key to run on fal."}]
    sized = validate(Request(model="flux-2-pro", prompt="x", params={"image_size": "landscape_16_9"}))
    assert backends.plan(sized, keys=FAL)["cost"] == pytest.approx(0.03)  # 1024x576: the first megapixel
    assert backends.plan(sized, keys=REP) == {
        "backend": None, "ready": False, "cost": None, "why": "no backend can run it now",
        "passed": [{"backend": "fal", "reason": "No fal API key: enter your own fal key to run on fal."},
                   {"backend": "replicate", "reason": "Invalid input: params.image_size: got 'landscape_16_9'; "
                                                      "allowed: not accepted by replicate; accepted by fal"}]}


# --- hosted jobs are never orphaned (issue 10) -----------------------------------------------------
@pytest.mark.parametrize("provider", ["fal", "replicate"])
def test_a_dropped_polling_connection_is_retried_and_the_run_succeeds(hosted, provider):
    hosted.emulator.inject("drop", provider=provider, on="status")
    request = Request(**(FAL_T2I if provider == "fal" else REP_T2I), backend=provider)
    result = backends.run(request, keys={**FAL, **REP})
    assert result.images
    polls = [r for r in hosted.emulator.requests if r["provider"] == provider and r["phase"] == "status"]
    assert polls[0]["status"] is None, "the first poll was dropped without an answer"
    assert not [r for r in hosted.emulator.requests if r["phase"] == "cancel"]


@pytest.mark.parametrize("provider", ["fal", "replicate"])
def test_polling_that_keeps_failing_gives_up_and_cancels_the_job(hosted, provider):
    settings = replace(hosted.settings, timeout_s=2.0)
    backend = FalBackend(settings) if provider == "fal" else ReplicateBackend(settings)
    backends.set_backend(provider, backend)
    hosted.emulator.inject("500", count=100, provider=provider, on="status")
    request = Request(**(FAL_T2I if provider == "fal" else REP_T2I), backend=provider)
    with pytest.raises(TransportError, match=r"server error \(HTTP 500\).*it was cancelled at .* so it stops billing"):
        backends.run(request, keys={**FAL, **REP})
    assert len([r for r in hosted.emulator.requests if r["phase"] == "cancel"]) == 1


def test_a_providers_html_error_page_becomes_one_readable_line():
    from playground.backends.hosted import http_error

    page = ("<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1>"
            "</center>\n<hr><center>nginx</center>\n</body>\n</html>\n")
    err = http_error("fal", 502, page, None).error
    assert str(err) == "fal had a server error (HTTP 502): 502 Bad Gateway"
    assert "\n" not in str(http_error("replicate", 400, page, None))


def test_a_key_with_control_characters_is_refused_as_malformed(hosted):
    for key in ("abc\r\nX-Injected: 1", "abc\x00def", "ab cd"):
        with pytest.raises(BackendUnavailable, match="The fal key is malformed") as caught:
            fal_run(keys={"fal": key})
        assert key.strip() not in str(caught.value)
    assert not hosted.emulator.requests
