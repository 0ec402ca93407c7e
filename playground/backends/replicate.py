"""Replicate backend: predictions through the official `replicate.Client(api_token=..., base_url=...)`.

Official models go to `models/{owner}/{name}/predictions`; models the catalog pins to a version go
to `predictions` with that version, and the version that actually ran is recorded. Status and
logs are reported as progress; the prediction is cancelled on timeout or when the user cancels.
"""

from __future__ import annotations

import io
import re
import threading
import time
from typing import Any

from playground.backends.hosted import (
    REDACTOR,
    HostedSettings,
    UploadCache,
    abandon,
    download_image,
    estimate_cost,
    http_error,
    key_health,
    log_submission,
    map_validation_detail,
    payload_for,
    poll_with_retries,
    resolve_key,
    seed_warnings,
    was_abandoned,
    with_retries,
)
from playground.catalog import HostedRoute, ModelSpec
from playground.errors import BackendUnavailable, Cancelled, PlaygroundError, ProviderError, TransportError
from playground.request import Prepared, Result

TERMINAL = ("succeeded", "failed", "canceled", "aborted")
_STEP = re.compile(r"(\d+)%\|.*?\|\s*(\d+)/(\d+)")


class ReplicateBackend:
    """Runs Prepared requests on Replicate. Thread-safe: one Client per request and key."""

    name = "replicate"

    def __init__(self, settings: HostedSettings | None = None):
        self.settings = settings or HostedSettings.from_env()
        self.uploads = UploadCache()

    def health(self, model: ModelSpec, keys: dict[str, str]) -> tuple[bool, str]:
        if "replicate" not in model.routes:
            return False, f"{model.id} is not served by Replicate"
        return key_health("replicate", keys, self.settings)

    def client(self, key: str) -> Any:
        import httpx
        import replicate

        timeout = httpx.Timeout(min(self.settings.timeout_s, 60.0), connect=min(self.settings.timeout_s, 10.0))
        # ReplicateError drops response headers; keep the last error's so 429 Retry-After is honoured.
        last: dict[str, Any] = {}

        def remember(response: httpx.Response) -> None:
            if response.status_code >= 400:
                last["headers"] = response.headers

        client = replicate.Client(api_token=key, base_url=self.settings.replicate_url, timeout=timeout,
                                  event_hooks={"response": [remember]})
        client.last_error_headers = last
        return client

    def run(self, prepared: Prepared, progress: Any | None = None, cancel: threading.Event | None = None,
            keys: dict[str, str] | None = None) -> Result:
        route = _route(prepared.model)
        key = resolve_key("replicate", keys, self.settings)
        REDACTOR.add(key)
        client = self.client(key)
        endpoint = route.endpoint(prepared.mode, prepared.params)
        started = time.monotonic()
        deadline = started + self.settings.timeout_s
        emit = progress or (lambda event: None)

        def upload(data: bytes, digest: str) -> str:
            def send() -> str:
                file = client.files.create(io.BytesIO(data), filename=f"{digest[:16]}.png", content_type="image/png")
                return file.urls["get"]

            return self.uploads.get_or_upload("replicate", key, digest, lambda: _call(send, route, client))

        payload, shown = payload_for(prepared, route, self.settings.upload_threshold, upload)
        target = f"{endpoint}:{route.version}" if route.version else endpoint
        log_submission("replicate", prepared.model.id, target, shown)

        def create() -> Any:
            if route.version:
                return client.predictions.create(version=route.version, input=payload)
            return client.models.predictions.create(model=endpoint, input=payload)

        prediction = with_retries(lambda: _call(create, route, client), deadline, self.settings.max_retries)
        emit({"stage": "submitted", "request_id": prediction.id})
        submitted = time.monotonic()
        try:
            prediction = self._wait(prediction, route, deadline, cancel, emit, client)
        except PlaygroundError as err:
            if isinstance(err, Cancelled) or was_abandoned(err):
                raise
            raise abandon(err, lambda: _cancel_quietly(prediction), "replicate") from None
        except BaseException:
            _cancel_quietly(prediction)
            raise
        finished_remote = time.monotonic()
        if prediction.status != "succeeded":
            raise _failure(prediction)
        urls = output_urls(prediction.output)
        images = [download_image(url, "replicate", self.settings)[0] for url in urls]
        return Result(
            images=images,
            seeds=[prepared.seed] * len(images),
            backend="replicate",
            model=prepared.model.id,
            mode=prepared.mode,
            endpoint=target,
            params=dict(prepared.params),
            native=shown,
            prompt=prepared.prompt,
            negative_prompt=prepared.negative_prompt if route.negative_prompt_field else "",
            model_version=prediction.version,
            timings={"submit_s": round(submitted - started, 4), "remote_s": round(finished_remote - submitted, 4),
                     "total_s": round(time.monotonic() - started, 4),
                     **({"predict_s": prediction.metrics["predict_time"]}
                        if isinstance(prediction.metrics, dict) and "predict_time" in prediction.metrics else {})},
            cost=estimate_cost(prepared, route),
            input_hashes=[i.sha256 for i in prepared.images],
            mask_hash=prepared.mask.sha256 if prepared.mask else None,
            request_id=prediction.id,
            warnings=seed_warnings(prepared, route),
        )

    def _wait(self, prediction: Any, route: HostedRoute, deadline: float, cancel: threading.Event | None,
              emit: Any, client: Any) -> Any:
        seen = 0
        last_status = None
        while True:
            if prediction.status != last_status:
                emit({"stage": prediction.status})
                last_status = prediction.status
            logs = prediction.logs or ""
            for line in logs[seen:].splitlines():
                if line.strip():
                    emit({"stage": "log", "message": line})
                    step = _STEP.search(line)
                    if step:
                        emit({"stage": "step", "step": int(step.group(2)), "total": int(step.group(3))})
            seen = len(logs)
            if prediction.status in TERMINAL:
                return prediction
            if cancel is not None and cancel.is_set():
                _cancel_quietly(prediction)
                raise Cancelled(f"Cancelled; Replicate prediction {prediction.id} was asked to stop.")
            if time.monotonic() >= deadline:
                raise abandon(TransportError(f"Replicate prediction {prediction.id} did not finish within "
                                             f"{self.settings.timeout_s:g} s"), lambda: _cancel_quietly(prediction),
                              "replicate")
            time.sleep(min(self.settings.poll_interval_s, max(0.0, deadline - time.monotonic())))
            poll_with_retries(lambda: _call(prediction.reload, route, client), deadline)


def output_urls(output: Any) -> list[str]:
    """URLs of a prediction's output: one or a list, each a FileOutput or a plain string."""
    items = output if isinstance(output, (list, tuple)) else [output]
    urls = []
    for item in items:
        url = getattr(item, "url", item)
        if not isinstance(url, str) or not url:
            raise TransportError("Replicate returned an output that is not an image URL (malformed response).")
        urls.append(url)
    if not urls:
        raise TransportError("Replicate returned no output images.")
    return urls


def _failure(prediction: Any) -> Exception:
    error = str(prediction.error or "no reason given")
    if prediction.status == "canceled":
        return Cancelled(f"Replicate prediction {prediction.id} was cancelled.")
    if prediction.status == "aborted":
        return TransportError(f"Replicate prediction {prediction.id} was aborted before it started: {error}")
    if "nsfw" in error.lower():
        return ProviderError(f"Replicate's safety checker flagged the output as NSFW ({error}). "
                             f"Prediction {prediction.id}.")
    return ProviderError(f"Replicate prediction {prediction.id} failed: {error}")


def _route(model: ModelSpec) -> HostedRoute:
    route = model.routes.get("replicate")
    if not isinstance(route, HostedRoute):
        raise BackendUnavailable(f"{model.id} is not served by Replicate.")
    return route


def _call(fn: Any, route: HostedRoute, client: Any) -> Any:
    """Run one replicate client call, turning its exceptions into ours (Retry for retryable ones)."""
    import httpx
    from replicate.exceptions import ReplicateError

    try:
        return fn()
    except ReplicateError as err:
        status = err.status or 0
        detail = err.detail or err.title or ""
        if status == 422:
            detail = map_validation_detail(_fields(detail), route)
        headers = client.last_error_headers.get("headers")
        raise http_error("replicate", status, detail, route, headers) from None
    except httpx.TimeoutException:
        raise TransportError("Replicate did not answer in time (network timeout).") from None
    except httpx.TransportError as err:
        raise TransportError(f"Replicate could not be reached ({type(err).__name__}).") from None
    except (ValueError, TypeError, KeyError) as err:  # JSON or pydantic parsing of a malformed response
        raise TransportError(f"Replicate sent a malformed response ({type(err).__name__}).") from None


def _fields(detail: str) -> str:
    """'- input.guidance: must be <= 10' lines → 'guidance: must be <= 10; ...'."""
    parts = []
    for line in detail.splitlines():
        line = line.strip().lstrip("- ").strip()
        if line.startswith("input."):
            line = line[len("input."):]
        if line:
            parts.append(line)
    return "; ".join(parts) or detail


def _cancel_quietly(prediction: Any) -> None:
    try:
        prediction.cancel()
    except Exception:  # noqa: BLE001 - best effort: it may already be finished
        pass

