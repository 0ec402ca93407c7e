"""fal backend: the fal queue through the official `fal_client.SyncClient(key=...)`.

Never the module-level helpers, which read the server's key. Submits to the queue, reports queue
position and log lines as progress (polling no faster than every 0.5 s), fetches the result, and
cancels the remote job on timeout or when the user cancels.
"""

from __future__ import annotations

import os
from typing import Any

from playground.backends.hosted import (
    HostedBackend,
    HostedSettings,
    Outputs,
    http_error,
    map_validation_detail,
    poll_with_retries,
)
from playground.catalog import HostedRoute, ModelSpec
from playground.errors import ProviderError, TransportError


def configure_fal_hosts(base_url: str | None) -> None:
    """Point fal_client at `base_url` (queue, run and upload hosts), or leave fal's own hosts.

    fal_client reads its hosts into module constants at import and always uses https; these
    constants are read at call time, so replacing them redirects every client (fal-client is
    pinned). Its own retries are switched off: ours are bounded by the request's deadline.
    """
    import fal_client.client as fcc

    fcc.MAX_ATTEMPTS = 1
    if base_url:
        fcc.QUEUE_URL_FORMAT = f"{base_url}/"
        fcc.RUN_URL_FORMAT = f"{base_url}/"
        fcc.REST_URL = base_url
        fcc.CDN_URL = base_url


class FalBackend(HostedBackend):
    """Runs Prepared requests on fal's queue (see hosted.HostedBackend for the run itself)."""

    name = "fal"
    label = "fal"
    key_env = "FAL_KEY"

    def __init__(self, settings: HostedSettings | None = None):
        super().__init__(settings)
        configure_fal_hosts(self.settings.fal_url)

    def switched_off(self, model: ModelSpec) -> str | None:
        if model.feature_flag and os.environ.get(model.feature_flag, "0").lower() not in ("1", "true", "yes"):
            return f"{model.id} on fal is switched off (the endpoint may be retired); set {model.feature_flag}=1"
        return None

    def connect(self, key: str) -> Any:
        import fal_client

        return fal_client.SyncClient(key=key, default_timeout=min(self.settings.timeout_s, 120.0))

    def upload(self, session: Any, data: bytes, digest: str) -> str:
        return session.upload(data, "image/png")

    def submit(self, session: Any, route: HostedRoute, endpoint: str, payload: dict[str, Any]) -> Any:
        return session.submit(endpoint, arguments=payload)

    def job_id(self, job: Any) -> str:
        return job.request_id

    def poll(self, session: Any, job: Any) -> Any:
        return job.status(with_logs=True)

    def events(self, status: Any, seen: dict[str, Any]) -> list[dict[str, Any]]:
        """Queue position, new log lines, and 'running' while it runs without logs."""
        import fal_client

        events: list[dict[str, Any]] = []
        if isinstance(status, fal_client.Queued):
            events.append({"stage": "queue", "position": status.position})
        logs = getattr(status, "logs", None) or []
        for entry in logs[seen.get("logs", 0):]:
            message = entry.get("message", "") if isinstance(entry, dict) else str(entry)
            events.append({"stage": "log", "message": message})
        seen["logs"] = max(seen.get("logs", 0), len(logs))
        if isinstance(status, fal_client.InProgress) and not logs:
            events.append({"stage": "running"})
        return events

    def finished(self, status: Any) -> bool:
        import fal_client

        return isinstance(status, fal_client.Completed)

    def outputs(self, session: Any, route: HostedRoute, job: Any, status: Any, deadline: float) -> Outputs:
        if getattr(status, "error", None):
            raise ProviderError(f"fal job {job.request_id} failed: {status.error}")
        output = poll_with_retries(lambda: self.call(session, route, job.get), deadline)
        try:
            if route.output == "image":
                urls = [output["image"]["url"]]
            else:
                urls = [item["url"] for item in output["images"]]
            if not urls:
                raise KeyError("images")
        except (KeyError, TypeError, IndexError):
            raise TransportError("fal returned a result without images (malformed response).") from None
        flags = output.get("has_nsfw_concepts") or []
        nsfw = [bool(f) for f in flags] if isinstance(flags, list) else []
        return Outputs(urls=urls, nsfw=nsfw, seed=output.get("seed"))

    def cancel(self, session: Any, job: Any) -> None:
        job.cancel()

    def provider_error(self, err: Exception, session: Any, route: HostedRoute) -> Exception | None:
        import fal_client

        if isinstance(err, fal_client.FalClientHTTPError):
            detail = _detail(err)
            if err.status_code == 422:
                detail = map_validation_detail(detail, route)
            return http_error("fal", err.status_code, detail, route, err.response_headers)
        if isinstance(err, KeyError):
            return TransportError(f"fal sent a malformed response (missing {err}).")
        if isinstance(err, ValueError):  # JSON decoding or an unknown status from a malformed response
            return TransportError(f"fal sent a malformed response ({err}).")
        return None


def _detail(err: Any) -> str:
    """fal's error detail, with 422 field locations mapped back to our parameter names."""
    try:
        body = err.response.json()
    except Exception:  # noqa: BLE001
        return str(getattr(err, "message", err))
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        parts = []
        for item in detail:
            loc = [str(x) for x in item.get("loc", []) if x != "body"]
            parts.append(f"{loc[-1] if loc else 'input'}: {item.get('msg', '')}")
        return "; ".join(parts)
    return str(detail or body)
