"""fal backend: the fal queue through the official `fal_client.SyncClient(key=...)`.

Never the module-level helpers, which read the server's key. Submits to the queue, reports queue
position and log lines as progress (polling no faster than every 0.5 s), fetches the result, and
cancels the remote job on timeout or when the user cancels.
"""

from __future__ import annotations

import os
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

Progress = Any


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


class FalBackend:
    """Runs Prepared requests on fal. Thread-safe: one SyncClient per request and key."""

    name = "fal"

    def __init__(self, settings: HostedSettings | None = None):
        self.settings = settings or HostedSettings.from_env()
        self.uploads = UploadCache()
        configure_fal_hosts(self.settings.fal_url)

    def health(self, model: ModelSpec, keys: dict[str, str]) -> tuple[bool, str]:
        if "fal" not in model.routes:
            return False, f"{model.id} is not served by fal"
        if model.feature_flag and os.environ.get(model.feature_flag, "0").lower() not in ("1", "true", "yes"):
            return False, f"{model.id} on fal is switched off (the endpoint may be retired); set {model.feature_flag}=1"
        return key_health("fal", keys, self.settings)

    def run(self, prepared: Prepared, progress: Progress | None = None, cancel: threading.Event | None = None,
            keys: dict[str, str] | None = None) -> Result:
        import fal_client

        route = _route(prepared.model)
        key = resolve_key("fal", keys, self.settings)
        REDACTOR.add(key)
        client = fal_client.SyncClient(key=key, default_timeout=min(self.settings.timeout_s, 120.0))
        endpoint = route.endpoint(prepared.mode, prepared.params)
        started = time.monotonic()
        deadline = started + self.settings.timeout_s
        emit = progress or (lambda event: None)

        def upload(data: bytes, digest: str) -> str:
            return self.uploads.get_or_upload("fal", key, digest,
                                              lambda: _call(lambda: client.upload(data, "image/png"), route))

        payload, shown = payload_for(prepared, route, self.settings.upload_threshold, upload)
        log_submission("fal", prepared.model.id, endpoint, shown)

        handle = with_retries(lambda: _call(lambda: client.submit(endpoint, arguments=payload), route),
                              deadline, self.settings.max_retries)
        emit({"stage": "submitted", "request_id": handle.request_id})
        submitted = time.monotonic()
        try:
            status = self._wait(handle, route, deadline, cancel, emit)
        except PlaygroundError as err:
            if isinstance(err, Cancelled) or was_abandoned(err):
                raise
            raise abandon(err, lambda: _cancel_quietly(handle), "fal") from None
        except BaseException:
            _cancel_quietly(handle)
            raise
        if getattr(status, "error", None):
            raise ProviderError(f"fal job {handle.request_id} failed: {status.error}")
        output = poll_with_retries(lambda: _call(handle.get, route), deadline)
        finished_remote = time.monotonic()
        images, nsfw, seed = self._outputs(output, route)
        warnings = [f"fal flagged image {i + 1} as NSFW (it may be black)." for i, flag in enumerate(nsfw) if flag]
        warnings += seed_warnings(prepared, route)
        seed = seed if isinstance(seed, int) else prepared.seed
        return Result(
            images=images,
            seeds=[seed] * len(images),
            backend="fal",
            model=prepared.model.id,
            mode=prepared.mode,
            endpoint=endpoint,
            params=dict(prepared.params),
            native=shown,
            prompt=prepared.prompt,
            negative_prompt=prepared.negative_prompt if route.negative_prompt_field else "",
            model_version=None,
            timings={"submit_s": round(submitted - started, 4), "remote_s": round(finished_remote - submitted, 4),
                     "total_s": round(time.monotonic() - started, 4)},
            cost=estimate_cost(prepared, route),
            input_hashes=[i.sha256 for i in prepared.images],
            mask_hash=prepared.mask.sha256 if prepared.mask else None,
            request_id=handle.request_id,
            nsfw=nsfw,
            warnings=warnings,
        )

    def _wait(self, handle: Any, route: HostedRoute, deadline: float, cancel: threading.Event | None,
              emit: Any) -> Any:
        import fal_client

        seen_logs = 0
        while True:
            if cancel is not None and cancel.is_set():
                _cancel_quietly(handle)
                raise Cancelled(f"Cancelled; fal job {handle.request_id} was asked to stop.")
            if time.monotonic() >= deadline:
                raise abandon(TransportError(f"fal job {handle.request_id} did not finish within "
                                             f"{self.settings.timeout_s:g} s"), lambda: _cancel_quietly(handle), "fal")
            status = poll_with_retries(lambda: _call(lambda: handle.status(with_logs=True), route), deadline)
            if isinstance(status, fal_client.Queued):
                emit({"stage": "queue", "position": status.position})
            logs = getattr(status, "logs", None) or []
            for entry in logs[seen_logs:]:
                message = entry.get("message", "") if isinstance(entry, dict) else str(entry)
                emit({"stage": "log", "message": message})
            seen_logs = max(seen_logs, len(logs))
            if isinstance(status, fal_client.Completed):
                return status
            if isinstance(status, fal_client.InProgress) and not logs:
                emit({"stage": "running"})
            time.sleep(min(self.settings.poll_interval_s, max(0.0, deadline - time.monotonic())))

    def _outputs(self, output: Any, route: HostedRoute) -> tuple[list, list[bool], Any]:
        try:
            if route.output == "image":
                urls = [output["image"]["url"]]
            else:
                urls = [item["url"] for item in output["images"]]
            if not urls:
                raise KeyError("images")
        except (KeyError, TypeError, IndexError):
            raise TransportError("fal returned a result without images (malformed response).") from None
        images = [download_image(url, "fal", self.settings)[0] for url in urls]
        flags = output.get("has_nsfw_concepts") or []
        nsfw = [bool(f) for f in flags] if isinstance(flags, list) else []
        return images, nsfw, output.get("seed")


def _route(model: ModelSpec) -> HostedRoute:
    route = model.routes.get("fal")
    if not isinstance(route, HostedRoute):
        raise BackendUnavailable(f"{model.id} is not served by fal.")
    return route


def _call(fn: Any, route: HostedRoute) -> Any:
    """Run one fal_client call, turning its exceptions into ours (Retry for retryable ones)."""
    import fal_client
    import httpx

    try:
        return fn()
    except fal_client.FalClientHTTPError as err:
        detail = _detail(err)
        if err.status_code == 422:
            detail = map_validation_detail(detail, route)
        raise http_error("fal", err.status_code, detail, route, err.response_headers) from None
    except httpx.TimeoutException:
        raise TransportError("fal did not answer in time (network timeout).") from None
    except httpx.TransportError as err:
        raise TransportError(f"fal could not be reached ({type(err).__name__}).") from None
    except ValueError as err:  # JSON decoding or an unknown status from a malformed response
        raise TransportError(f"fal sent a malformed response ({err}).") from None
    except KeyError as err:
        raise TransportError(f"fal sent a malformed response (missing {err}).") from None


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


def _cancel_quietly(handle: Any) -> None:
    try:
        handle.cancel()
    except Exception:  # noqa: BLE001 - best effort: the job may already be done
        pass
