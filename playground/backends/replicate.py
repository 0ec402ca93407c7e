"""Replicate backend: predictions through the official `replicate.Client(api_token=..., base_url=...)`.

Official models go to `models/{owner}/{name}/predictions`; models the catalog pins to a version go
to `predictions` with that version, and the version that actually ran is recorded. Status and
logs are reported as progress; the prediction is cancelled on timeout or when the user cancels.
"""

from __future__ import annotations

import io
import re
from typing import Any

from playground.backends.hosted import HostedBackend, Outputs, http_error, map_validation_detail
from playground.catalog import HostedRoute
from playground.errors import Cancelled, ProviderError, TransportError

TERMINAL = ("succeeded", "failed", "canceled", "aborted")
_STEP = re.compile(r"(\d+)%\|.*?\|\s*(\d+)/(\d+)")


class ReplicateBackend(HostedBackend):
    """Runs Prepared requests as Replicate predictions (see hosted.HostedBackend for the run itself)."""

    name = "replicate"
    label = "Replicate"
    key_env = "REPLICATE_API_TOKEN"
    job_noun = "prediction"

    def connect(self, key: str) -> Any:
        return self.client(key)

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

    def target(self, route: HostedRoute, endpoint: str) -> str:
        return f"{endpoint}:{route.version}" if route.version else endpoint

    def upload(self, session: Any, data: bytes, digest: str) -> str:
        file = session.files.create(io.BytesIO(data), filename=f"{digest[:16]}.png", content_type="image/png")
        return file.urls["get"]

    def submit(self, session: Any, route: HostedRoute, endpoint: str, payload: dict[str, Any]) -> Any:
        """Official models by name; models the catalog pins to a version, by that version."""
        if route.version:
            return session.predictions.create(version=route.version, input=payload)
        return session.models.predictions.create(model=endpoint, input=payload)

    def job_id(self, job: Any) -> str:
        return job.id

    def submitted_status(self, job: Any) -> Any:
        return job

    def poll(self, session: Any, job: Any) -> Any:
        job.reload()
        return job

    def events(self, status: Any, seen: dict[str, Any]) -> list[dict[str, Any]]:
        """The status when it changes, new log lines, and denoising steps read from tqdm lines."""
        events: list[dict[str, Any]] = []
        if status.status != seen.get("status"):
            events.append({"stage": status.status})
            seen["status"] = status.status
        logs = status.logs or ""
        for line in logs[seen.get("logs", 0):].splitlines():
            if line.strip():
                events.append({"stage": "log", "message": line})
                step = _STEP.search(line)
                if step:
                    events.append({"stage": "step", "step": int(step.group(2)), "total": int(step.group(3))})
        seen["logs"] = len(logs)
        return events

    def finished(self, status: Any) -> bool:
        return status.status in TERMINAL

    def outputs(self, session: Any, route: HostedRoute, job: Any, status: Any, deadline: float) -> Outputs:
        if status.status != "succeeded":
            raise _failure(status)
        metrics = status.metrics
        timings = ({"predict_s": metrics["predict_time"]}
                   if isinstance(metrics, dict) and "predict_time" in metrics else {})
        return Outputs(urls=output_urls(status.output), version=status.version, timings=timings)

    def cancel(self, session: Any, job: Any) -> None:
        job.cancel()

    def provider_error(self, err: Exception, session: Any, route: HostedRoute) -> Exception | None:
        from replicate.exceptions import ReplicateError

        if isinstance(err, ReplicateError):
            status = err.status or 0
            detail = err.detail or err.title or ""
            if status == 422:
                detail = map_validation_detail(_fields(detail), route)
            return http_error("replicate", status, detail, route, session.last_error_headers.get("headers"))
        if isinstance(err, (ValueError, TypeError, KeyError)):  # JSON or pydantic parsing of a malformed response
            return TransportError(f"Replicate sent a malformed response ({type(err).__name__}).")
        return None


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
