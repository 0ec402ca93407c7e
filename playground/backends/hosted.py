"""What the hosted backends share: settings, keys, payloads, uploads, downloads, retries, and
`HostedBackend`, the run itself (key → upload inputs → payload → schema check → submit → wait →
outputs → download → Result), which fal.py and replicate.py complete with their provider's calls.

Payloads are built only from the catalog route: canonical names become native names, values are
mapped, the size travels the way the route says, and images go as data URIs (or, above a size
threshold, as URLs uploaded once per content hash). Parameters the catalog marks as controls are
never sent by name. Keys come per request; a server key is used only when the operator sets
PLAYGROUND_SERVER_KEYS=1, and an empty key never falls back to one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import io
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, ClassVar, TypeVar

from PIL import Image

from playground.adapters import LORA_PARAM, native_loras
from playground.backends.base import Keys, Progress
from playground.catalog import HostedRoute, ModelSpec, snapshots
from playground.environment import env_float, env_int
from playground.errors import BackendUnavailable, Cancelled, PlaygroundError, ProviderError, TransportError
from playground.images import encode, sha256_bytes, to_data_uri
from playground.params import Problem, ValidationError, parse_size
from playground.request import Prepared, Result

log = logging.getLogger("playground.hosted")

# Each provider's name as users read it, and the variable holding the server's key; filled by
# every HostedBackend subclass from its class attributes.
PROVIDER_NAMES: dict[str, str] = {}
KEY_ENV: dict[str, str] = {}
T = TypeVar("T")
# A key is one printable token: whitespace or control characters inside it (a pasted line break, a
# header injection attempt) make it malformed, and it is never sent.
_MALFORMED_KEY = re.compile(r"[\x00-\x20\x7f-\x9f]")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class HostedSettings:
    """Settings read once at start-up from the environment.

    PLAYGROUND_FAL_URL replaces fal's queue host (submissions go to {url}/{endpoint id}) and its
    upload hosts; PLAYGROUND_REPLICATE_URL replaces https://api.replicate.com;
    PLAYGROUND_HOSTED_TIMEOUT (seconds, default 180); PLAYGROUND_POLL_INTERVAL (seconds, at
    least 0.5); PLAYGROUND_UPLOAD_THRESHOLD (bytes above which inputs are uploaded instead of
    inlined, default 1 MB); PLAYGROUND_MAX_DOWNLOAD_BYTES (default 50 MB);
    PLAYGROUND_SERVER_KEYS=1 lets requests without a key use FAL_KEY / REPLICATE_API_TOKEN.
    """

    fal_url: str | None = None
    replicate_url: str | None = None
    timeout_s: float = 180.0
    poll_interval_s: float = 0.5
    upload_threshold: int = 1_000_000
    max_download_bytes: int = 50 * 1024 * 1024
    server_keys: bool = False
    max_retries: int = 2

    @classmethod
    def from_env(cls) -> HostedSettings:
        env = os.environ
        return cls(
            fal_url=(env.get("PLAYGROUND_FAL_URL") or "").rstrip("/") or None,
            replicate_url=(env.get("PLAYGROUND_REPLICATE_URL") or "").rstrip("/") or None,
            timeout_s=env_float("PLAYGROUND_HOSTED_TIMEOUT", 180.0, minimum=1),
            poll_interval_s=max(0.5, env_float("PLAYGROUND_POLL_INTERVAL", 0.5, minimum=0)),
            upload_threshold=env_int("PLAYGROUND_UPLOAD_THRESHOLD", 1_000_000, minimum=0),
            max_download_bytes=env_int("PLAYGROUND_MAX_DOWNLOAD_BYTES", 50 * 1024 * 1024, minimum=1),
            server_keys=env.get("PLAYGROUND_SERVER_KEYS", "0").lower() in ("1", "true", "yes"),
        )


def resolve_key(provider: str, keys: dict[str, str] | None, settings: HostedSettings) -> str:
    """The key to use for `provider`.

    A key given for the provider is used as it is; a key given empty is refused, never replaced
    by the server's. Only when no key is given at all, and the operator set
    PLAYGROUND_SERVER_KEYS=1, does the server's own key (FAL_KEY / REPLICATE_API_TOKEN) apply.
    """
    name = PROVIDER_NAMES[provider]
    keys = keys or {}
    if provider in keys:
        given = (keys[provider] or "").strip()
        if given and not malformed_key(given):
            return given
        if given:
            raise BackendUnavailable(f"The {name} key is malformed: it contains spaces or control characters. "
                                     f"Paste your {name} key again, exactly as the provider shows it.")
        raise BackendUnavailable(f"No {name} API key: the {name} key field is empty. Enter your own {name} key.")
    if settings.server_keys:
        server = os.environ.get(KEY_ENV[provider], "").strip()
        if server:
            return server
        raise BackendUnavailable(f"No {name} API key: enter your {name} key (the server has none configured).")
    raise BackendUnavailable(f"No {name} API key: enter your own {name} key to run on {name}.")


def malformed_key(key: str) -> bool:
    """Whether a key has whitespace or control characters inside (surrounding spaces are trimmed)."""
    return bool(_MALFORMED_KEY.search(key.strip()))


def key_health(provider: str, keys: dict[str, str] | None, settings: HostedSettings) -> tuple[bool, str]:
    try:
        resolve_key(provider, keys, settings)
    except BackendUnavailable as err:
        return False, str(err)
    return True, f"{PROVIDER_NAMES[provider]} key present"


def fingerprint(key: str) -> str:
    """A short, one-way id for a key (to keep per-account caches apart without keeping the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Redactor(logging.Filter):
    """Replaces known secrets in log records with '***' (belt and braces: payloads carry no keys)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def clean(self, text: str) -> str:
        with self._lock:
            for secret in self._secrets:
                text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.clean(record.getMessage())
        record.args = ()
        return True


REDACTOR = Redactor()
log.addFilter(REDACTOR)


class UploadCache:
    """URL of each uploaded input, per provider, account and content hash; bounded LRU."""

    def __init__(self, size: int = 256):
        self._urls: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get_or_upload(self, provider: str, key: str, digest: str, upload: Callable[[], str]) -> str:
        slot = (provider, fingerprint(key), digest)
        with self._lock:
            if slot in self._urls:
                self._urls.move_to_end(slot)
                return self._urls[slot]
        url = upload()
        with self._lock:
            self._urls[slot] = url
            while len(self._urls) > self._size:
                self._urls.popitem(last=False)
        return url


def input_refs(images: list[Image.Image], digests: list[str], threshold: int,
               upload: Callable[[bytes, str], str]) -> tuple[list[str], list[str]]:
    """Each image as a data URI, or as an uploaded URL when its PNG is larger than `threshold`.

    Returns what to send and what to show in logs and records (hash and size, never the data).
    """
    refs, shown = [], []
    for image, digest in zip(images, digests, strict=True):
        data = encode(image, "PNG")
        if len(data) > threshold:
            refs.append(upload(data, digest))
            shown.append(f"<uploaded image sha256={digest[:16]} {len(data)} bytes>")
        else:
            refs.append(to_data_uri(image))
            shown.append(f"<image sha256={digest[:16]} {len(data)} bytes>")
    return refs, shown


def build_payload(prepared: Prepared, route: HostedRoute, images: list[str],
                  mask: str | None) -> dict[str, Any]:
    """The native input for `route`, from canonical params, prompt, seed and image references."""
    payload: dict[str, Any] = {"prompt": prepared.prompt}
    controls = prepared.model.controls(prepared.mode, route.provider)
    for name, value in prepared.params.items():
        if value is None:
            continue
        if name == LORA_PARAM:
            payload.update(native_loras(value, route.lora_shape))
        elif name not in controls:
            payload[route.native_name(name)] = route.native_value(name, value)
    size = prepared.params.get("image_size")
    if size is not None:
        if route.size_style == "image_size":
            payload["image_size"] = size
        else:
            parsed = parse_size(size)
            pixels = parsed.pixels() if parsed else None
            if pixels:
                payload["width"], payload["height"] = pixels
    if route.seed_field:  # a route whose provider takes no seed sends none (see seed_warnings)
        payload[route.seed_field] = prepared.seed
    if prepared.negative_prompt and route.negative_prompt_field:
        payload[route.negative_prompt_field] = prepared.negative_prompt
    field = route.image_fields.get(prepared.mode)
    if field is not None and images:
        payload[field.name] = images[0] if field.shape == "single" else list(images)
    if mask is not None and route.mask_field:
        payload[route.mask_field] = mask
    return payload


def seed_warnings(prepared: Prepared, route: HostedRoute) -> list[str]:
    """What the record must say when the route does not honour seeds."""
    if route.honours_seed:
        return []
    name = PROVIDER_NAMES[route.provider]
    return [f"{name} takes no seed for {prepared.model.id}: seed {prepared.seed} was not sent, so this output "
            f"is not reproducible from its seed."]


def shown_payload(payload: dict[str, Any], route: HostedRoute, mode: str, image_shown: list[str],
                  mask_shown: str | None) -> dict[str, Any]:
    """The payload as logged and recorded: images replaced by their hash and size."""
    shown = dict(payload)
    field = route.image_fields.get(mode)
    if field is not None and field.name in shown:
        shown[field.name] = image_shown[0] if field.shape == "single" else list(image_shown)
    if route.mask_field and route.mask_field in shown and mask_shown:
        shown[route.mask_field] = mask_shown
    return shown


def payload_for(prepared: Prepared, route: HostedRoute, threshold: int,
                upload: Callable[[bytes, str], str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The native payload for a prepared request (images inlined or uploaded), and its loggable copy."""
    refs, shown_refs = input_refs([i.image for i in prepared.images], [i.sha256 for i in prepared.images],
                                  threshold, upload)
    mask_ref = mask_shown = None
    if prepared.mask is not None:
        (mask_ref,), (mask_shown,) = input_refs([prepared.mask.image], [prepared.mask.sha256], threshold, upload)
    payload = build_payload(prepared, route, refs, mask_ref)
    check_against_schema(payload, route, route.endpoint(prepared.mode, prepared.params))
    return payload, shown_payload(payload, route, prepared.mode, shown_refs, mask_shown)


def check_against_schema(payload: dict[str, Any], route: HostedRoute, endpoint: str) -> None:
    """Refuse, before anything is sent, a payload that `endpoint`'s published schema (the shipped
    snapshot) would refuse; each problem names our field, the value and what the provider allows.
    A provider without a snapshot folder (snapshots.PROVIDERS) has none to check against yet."""
    spec = snapshots.read(route.provider, endpoint) if route.provider in snapshots.PROVIDERS else None
    if spec is None:
        return
    problems = [Problem(canonical_field(route, name), value, f"{allowed} (published schema of {endpoint})")
                for name, value, allowed in snapshots.payload_problems(spec, payload)]
    if problems:
        raise ValidationError(problems)


def canonical_field(route: HostedRoute, native: str) -> str:
    """Our parameter name for a provider's field name (for mapping 422 errors back)."""
    if native in ("loras", "replicate_weights", "lora_weights", "lora_scale"):
        return f"params.{LORA_PARAM}"
    for canonical, name in {**route.rename, **route.inverted}.items():
        if name == native:
            return f"params.{canonical}"
    if native in ("prompt", "negative_prompt", "seed"):
        return native
    for field in route.image_fields.values():
        if field.name == native:
            return "images"
    if native == route.mask_field:
        return "mask"
    if native in ("width", "height", "image_size"):
        return "params.image_size"
    return f"params.{native}"


@functools.cache
def _download_client() -> Any:
    """The one HTTP client every output download shares: it reuses connections to the providers'
    file hosts, and a fresh client costs ~25 ms of CPU loading the trust store. It keeps no cookies,
    so nothing one visitor's download receives goes out with another's."""
    import httpx

    return httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True,
                        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])))


def download_image(url: str, provider: str, settings: HostedSettings) -> tuple[Image.Image, str]:
    """Fetch and decode one output image with a size limit and a content-type check.

    Returns the image and the sha256 of the bytes received. Output URLs never get the API key.
    """
    import base64

    import httpx

    name = PROVIDER_NAMES[provider]
    if url.startswith("data:"):
        try:
            header, payload = url.split(",", 1)
            data = base64.b64decode(payload)
        except ValueError:
            raise TransportError(f"{name} returned an unreadable data URI as an image.") from None
        content_type = header[5:].split(";")[0]
    else:
        try:
            with _download_client().stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise TransportError(f"{name} output {url} could not be downloaded (HTTP {resp.status_code}).")
                content_type = resp.headers.get("content-type", "").split(";")[0].strip()
                declared = int(resp.headers.get("content-length") or 0)
                if declared > settings.max_download_bytes:
                    raise TransportError(f"{name} output is {declared} bytes, over the "
                                         f"{settings.max_download_bytes}-byte limit; not downloaded.")
                chunks, total = [], 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > settings.max_download_bytes:
                        raise TransportError(f"{name} output is over the {settings.max_download_bytes}-byte limit.")
                    chunks.append(chunk)
                data = b"".join(chunks)
        except httpx.HTTPError as err:
            raise TransportError(f"{name} output could not be downloaded: {type(err).__name__}.") from None
    if not content_type.startswith("image/"):
        raise TransportError(f"{name} returned '{content_type or 'no content type'}' instead of an image.")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:  # noqa: BLE001 - any decoder failure means the same thing to the user
        raise TransportError(f"{name} returned a file that is not a readable image.") from None
    return image, sha256_bytes(data)


class Retry(Exception):
    """Raised inside `with_retries` to try again after `delay` seconds."""

    def __init__(self, error: Exception, delay: float):
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def with_retries(attempt: Callable[[], T], deadline: float, max_retries: int) -> T:
    """Call `attempt`; on `Retry`, wait its delay and try again, at most `max_retries` more times
    and never past `deadline` (then the last error is raised)."""
    tries = 0
    while True:
        try:
            return attempt()
        except Retry as retry:
            tries += 1
            if tries > max_retries or time.monotonic() + retry.delay >= deadline:
                raise retry.error from None
            time.sleep(retry.delay)


def poll_with_retries(attempt: Callable[[], T], deadline: float, first_delay: float = 0.5) -> T:
    """Call an idempotent status or result request; a dropped connection, a timeout, a 429 or a 5xx
    is retried (backing off up to 5 s) for as long as the job's `deadline` allows, then raised."""
    delay = first_delay
    while True:
        try:
            return attempt()
        except (Retry, TransportError) as err:
            error = err.error if isinstance(err, Retry) else err
            wait = max(delay, err.delay) if isinstance(err, Retry) else delay
            if time.monotonic() + wait >= deadline:
                raise error from None
            log.info("polling failed (%s); retrying in %.1f s", error, wait)
            time.sleep(wait)
            delay = min(delay * 2, 5.0)


def abandon(err: PlaygroundError, cancel_job: Callable[[], None], provider: str) -> PlaygroundError:
    """Cancel a remote job the playground is giving up on, so it stops running and billing, and
    return `err` saying so (marked, so an outer handler does not cancel it twice)."""
    cancel_job()
    out = type(err)(f"{str(err).rstrip('.')}; it was cancelled at {PROVIDER_NAMES[provider]} so it stops billing.")
    out.abandoned = True  # type: ignore[attr-defined]
    return out


def was_abandoned(err: BaseException) -> bool:
    """Whether `abandon` already cancelled the job behind `err`."""
    return bool(getattr(err, "abandoned", False))


def retry_after(headers: Any, default: float) -> float:
    """Seconds from a Retry-After header (numbers only), else `default`."""
    try:
        return max(0.0, float(headers.get("retry-after")))
    except (TypeError, ValueError, AttributeError):
        return default


def one_line(detail: str, limit: int = 200) -> str:
    """A provider's error body as one readable line: an HTML error page becomes its title (or its
    text), whitespace is folded, and the result is cut to `limit` characters."""
    text = str(detail)
    if "<" in text and ">" in text:
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.IGNORECASE | re.DOTALL)
        chosen = title or heading
        text = _TAG.sub(" ", chosen.group(1) if chosen else re.sub(r"(?is)<(script|style).*?</\1>", " ", text))
        text = html.unescape(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def http_error(provider: str, status: int, detail: str, route: HostedRoute | None,
               headers: Any = None) -> Exception:
    """Our error for an HTTP failure from a provider: Retry for 429/5xx, else a clear final error."""
    name = PROVIDER_NAMES[provider]
    detail = one_line(detail, 300)
    if status in (401, 403):
        return ProviderError(f"{name} rejected the API key (HTTP {status}). Check that your {name} key is "
                             f"correct and active.")
    if status == 429:
        delay = retry_after(headers, 2.0)
        return Retry(TransportError(f"{name} is rate limiting this key (HTTP 429); retry in {delay:g} s."), delay)
    if status >= 500:
        return Retry(TransportError(f"{name} had a server error (HTTP {status}): {detail[:200]}"), 1.0)
    if status == 404:
        return BackendUnavailable(f"{name} does not know this endpoint or job (HTTP 404): {detail[:200]}")
    return ProviderError(f"{name} refused the request (HTTP {status}): {detail[:300]}")


def estimate_cost(prepared: Prepared, route: HostedRoute) -> float | None:
    """Dollars this request should cost on `route`, from the catalog price; None if unknown."""
    price = route.price_for(prepared.mode, prepared.params)
    if price is None:
        return None
    width, height = prepared.output_pixels()
    return price.estimate(prepared.num_images, width, height, prepared.input_megapixels())


def map_validation_detail(text: str, route: HostedRoute) -> str:
    """Rewrite 'native_field: msg' parts of a provider message with our parameter names."""
    parts = []
    for part in text.split("; "):
        field, sep, msg = part.partition(": ")
        parts.append(f"{canonical_field(route, field)} (sent as {field}): {msg}" if sep else part)
    return "; ".join(parts)


def log_submission(provider: str, model: str, endpoint: str, shown: dict[str, Any]) -> None:
    log.info("submit provider=%s model=%s endpoint=%s payload=%s", provider, model, endpoint, shown)


@dataclass
class Outputs:
    """What a finished job produced: image URLs (or data URIs), per-image NSFW flags, the seed the
    provider reports, the model version that ran, and any extra timings the provider measured."""

    urls: list[str]
    nsfw: list[bool] = dataclasses.field(default_factory=list)
    seed: Any = None
    version: str | None = None
    timings: dict[str, float] = dataclasses.field(default_factory=dict)


class HostedBackend:
    """The run every hosted provider shares; a provider subclass fills in its calls.

    A subclass sets `name` (the catalog route key), `label` (as users read it), `key_env` (the
    server key's variable) and `job_noun` (what the provider calls a job), and implements `connect`,
    `upload`, `submit`, `job_id`, `poll`, `events`, `finished`, `outputs`, `cancel` and
    `provider_error`. Everything else (keys and their redaction, uploads cached per account, the
    payload and its schema check, bounded retries, polling at the configured pace, cancelling a job
    the playground gives up on, downloads, the Result) is here, once. Thread-safe: one provider
    client per request and key.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    key_env: ClassVar[str]
    job_noun: ClassVar[str] = "job"
    uses_gpu = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        PROVIDER_NAMES[cls.name] = cls.label
        KEY_ENV[cls.name] = cls.key_env

    def __init__(self, settings: HostedSettings | None = None):
        self.settings = settings or HostedSettings.from_env()
        self.uploads = UploadCache()

    # -- what dispatch asks ---------------------------------------------------------------------
    def health(self, model: ModelSpec, *, keys: Keys | None = None, auto: bool = False) -> tuple[bool, str]:
        """Whether the provider serves `model`, the model is switched on, and a usable key is given."""
        if self.name not in model.routes:
            return False, f"{model.id} is not served by {self.label}"
        off = self.switched_off(model)
        if off:
            return False, off
        return key_health(self.name, keys, self.settings)

    def estimate(self, prepared: Prepared) -> float | None:
        return estimate_cost(prepared, self.route(prepared.model))

    def run(self, prepared: Prepared, *, progress: Progress | None = None, cancel: threading.Event | None = None,
            keys: Keys | None = None) -> Result:
        """Run `prepared` at the provider: submit, wait (reporting progress), download, and cancel the
        remote job when the user cancels or the playground gives up on it."""
        route = self.route(prepared.model)
        key = resolve_key(self.name, keys, self.settings)
        REDACTOR.add(key)
        session = self.connect(key)
        endpoint = route.endpoint(prepared.mode, prepared.params)
        target = self.target(route, endpoint)
        started = time.monotonic()
        deadline = started + self.settings.timeout_s
        emit = progress or (lambda event: None)

        def upload(data: bytes, digest: str) -> str:
            def send() -> str:
                return self.call(session, route, lambda: self.upload(session, data, digest))

            return self.uploads.get_or_upload(self.name, key, digest, send)

        payload, shown = payload_for(prepared, route, self.settings.upload_threshold, upload)
        log_submission(self.name, prepared.model.id, target, shown)
        job = with_retries(lambda: self.call(session, route, lambda: self.submit(session, route, endpoint, payload)),
                           deadline, self.settings.max_retries)
        emit({"stage": "submitted", "request_id": self.job_id(job)})
        submitted = time.monotonic()
        try:
            status = self._wait(session, route, job, deadline, cancel, emit)
        except PlaygroundError as err:
            if isinstance(err, Cancelled) or was_abandoned(err):
                raise
            raise abandon(err, lambda: self._cancel_quietly(session, job), self.name) from None
        except BaseException:
            self._cancel_quietly(session, job)
            raise
        out = self.outputs(session, route, job, status, deadline)
        finished_remote = time.monotonic()
        images = [download_image(url, self.name, self.settings)[0] for url in out.urls]
        warnings = [f"{self.label} flagged image {i + 1} as NSFW (it may be black)."
                    for i, flag in enumerate(out.nsfw) if flag]
        seed = out.seed if isinstance(out.seed, int) else prepared.seed
        return Result(
            images=images,
            seeds=[seed] * len(images),
            backend=self.name,
            model=prepared.model.id,
            mode=prepared.mode,
            endpoint=target,
            params=dict(prepared.params),
            native=shown,
            prompt=prepared.prompt,
            negative_prompt=prepared.negative_prompt if route.negative_prompt_field else "",
            model_version=out.version,
            timings={"submit_s": round(submitted - started, 4), "remote_s": round(finished_remote - submitted, 4),
                     "total_s": round(time.monotonic() - started, 4), **out.timings},
            cost=estimate_cost(prepared, route),
            input_hashes=[i.sha256 for i in prepared.images],
            mask_hash=prepared.mask.sha256 if prepared.mask else None,
            request_id=self.job_id(job),
            nsfw=out.nsfw,
            warnings=warnings + seed_warnings(prepared, route),
        )

    def _wait(self, session: Any, route: HostedRoute, job: Any, deadline: float, cancel: threading.Event | None,
              emit: Progress) -> Any:
        """Poll until the job is finished, emitting its progress; cancel at the user's word, abandon
        at the deadline. The status returned by `submit` (if any) is read before the first poll."""
        status, seen = self.submitted_status(job), {}
        while True:
            if status is not None:
                for event in self.events(status, seen):
                    emit(event)
                if self.finished(status):
                    return status
                time.sleep(min(self.settings.poll_interval_s, max(0.0, deadline - time.monotonic())))
            if cancel is not None and cancel.is_set():
                self._cancel_quietly(session, job)
                raise Cancelled(f"Cancelled; {self.label} {self.job_noun} {self.job_id(job)} was asked to stop.")
            if time.monotonic() >= deadline:
                raise abandon(TransportError(f"{self.label} {self.job_noun} {self.job_id(job)} did not finish within "
                                             f"{self.settings.timeout_s:g} s"),
                              lambda: self._cancel_quietly(session, job), self.name)
            status = poll_with_retries(lambda: self.call(session, route, lambda: self.poll(session, job)), deadline)

    def call(self, session: Any, route: HostedRoute, fn: Callable[[], T]) -> T:
        """Run one provider call, turning its failures into ours: `Retry` for what may pass (429,
        5xx), `TransportError` for the network and malformed answers, clear final errors otherwise."""
        import httpx

        try:
            return fn()
        except httpx.TimeoutException:
            raise TransportError(f"{self.label} did not answer in time (network timeout).") from None
        except httpx.TransportError as err:
            raise TransportError(f"{self.label} could not be reached ({type(err).__name__}).") from None
        except Exception as err:
            ours = self.provider_error(err, session, route)
            if ours is None:
                raise
            raise ours from None

    def _cancel_quietly(self, session: Any, job: Any) -> None:
        try:
            self.cancel(session, job)
        except Exception:  # noqa: BLE001 - best effort: the job may already be done
            pass

    def route(self, model: ModelSpec) -> HostedRoute:
        route = model.routes.get(self.name)
        if not isinstance(route, HostedRoute):
            raise BackendUnavailable(f"{model.id} is not served by {self.label}.")
        return route

    # -- what a provider fills in ---------------------------------------------------------------
    def switched_off(self, model: ModelSpec) -> str | None:
        """Why `model` is switched off at this provider now, if it is."""
        return None

    def target(self, route: HostedRoute, endpoint: str) -> str:
        """The endpoint as logged and recorded (e.g. with a pinned version)."""
        return endpoint

    def connect(self, key: str) -> Any:
        """A provider client (session) for one request, authenticated with `key`."""
        raise NotImplementedError

    def upload(self, session: Any, data: bytes, digest: str) -> str:
        """Upload one PNG input; its URL."""
        raise NotImplementedError

    def submit(self, session: Any, route: HostedRoute, endpoint: str, payload: dict[str, Any]) -> Any:
        """Submit the job; a handle to it."""
        raise NotImplementedError

    def job_id(self, job: Any) -> str:
        raise NotImplementedError

    def submitted_status(self, job: Any) -> Any:
        """The job's status as `submit` returned it, or None when it must be polled first."""
        return None

    def poll(self, session: Any, job: Any) -> Any:
        """The job's current status."""
        raise NotImplementedError

    def events(self, status: Any, seen: dict[str, Any]) -> list[dict[str, Any]]:
        """Progress events for a status not reported yet (`seen` is this job's memory between polls)."""
        raise NotImplementedError

    def finished(self, status: Any) -> bool:
        raise NotImplementedError

    def outputs(self, session: Any, route: HostedRoute, job: Any, status: Any, deadline: float) -> Outputs:
        """What the finished job produced; a failed job raises its provider's error."""
        raise NotImplementedError

    def cancel(self, session: Any, job: Any) -> None:
        """Ask the provider to stop the job."""
        raise NotImplementedError

    def provider_error(self, err: Exception, session: Any, route: HostedRoute) -> Exception | None:
        """Our error for an exception the provider's client raised (None: not one of its own)."""
        raise NotImplementedError
