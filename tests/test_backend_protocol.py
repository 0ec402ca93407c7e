"""The shape of the backends layer: one protocol, a registry by name, controls marked in the catalog.

A backend is found by its name in the registry and asked the same questions as every other, so a
new one is a class and a `register` call; parameters the catalog marks as controls never reach a
provider payload or a pipeline call; the local sampler table is read from the catalog route.
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import replace

import pytest
from PIL import Image

from playground import backends, catalog
from playground.backends.base import Backend, Keys, Progress
from playground.backends.fal import FalBackend
from playground.backends.hosted import payload_for
from playground.backends.local import LocalBackend
from playground.backends.replicate import ReplicateBackend
from playground.catalog import HostedRoute, ImageField, ModelSpec, ModeSpec, Price
from playground.catalog.common import num_images
from playground.catalog.sdxl import SCHEDULERS
from playground.errors import BackendUnavailable, Cancelled, PlaygroundError, TransportError
from playground.images import to_data_uri
from playground.params import ValidationError
from playground.request import Prepared, Request, Result
from playground.validation import validate
from tests.conftest import make_image

T2I, I2I = "text-to-image", "image-to-image"

ECHO_MODEL = ModelSpec(
    id="echo-test",
    family="flux1",
    label="Echo",
    description="A test model served only by the echo backend.",
    modes={T2I: ModeSpec(T2I)},
    params=(num_images(1, 4),),
    routes={"echo": HostedRoute(provider="echo", endpoints={T2I: "echo/v1"})},  # type: ignore[arg-type]
)


class EchoBackend:
    """A whole backend in a few lines: it paints one pixel per output from the prompt's length and
    wants an "echo" key. Nothing in dispatch knows its name."""

    name = "echo"
    uses_gpu = False

    def health(self, model: ModelSpec, *, keys: Keys | None = None, auto: bool = False) -> tuple[bool, str]:
        if self.name not in model.routes:
            return False, f"{model.id} is not served by echo"
        return (True, "echo key present") if (keys or {}).get("echo") else (False, "no echo key")

    def estimate(self, prepared: Prepared) -> float | None:
        return 0.01 * prepared.num_images

    def run(self, prepared: Prepared, *, progress: Progress | None = None, cancel: threading.Event | None = None,
            keys: Keys | None = None) -> Result:
        if progress is not None:
            progress({"stage": "running"})
        shade = len(prepared.prompt) % 256
        images = [Image.new("RGB", (1, 1), (shade, 0, 0)) for _ in range(prepared.num_images)]
        return Result(images=images, seeds=[prepared.seed] * len(images), backend=self.name,
                      model=prepared.model.id, mode=prepared.mode,
                      endpoint=prepared.model.routes[self.name].endpoints[prepared.mode],
                      params=dict(prepared.params), native={"prompt": prepared.prompt}, prompt=prepared.prompt,
                      negative_prompt="", cost=self.estimate(prepared))


@pytest.fixture
def echo(monkeypatch):
    """The echo model in the catalog and the echo backend registered (both undone afterwards)."""
    monkeypatch.setattr(backends, "_factories", dict(backends._factories))
    monkeypatch.setitem(catalog.MODELS, ECHO_MODEL.id, ECHO_MODEL)
    backends.register("echo", EchoBackend)
    return backends.get_backend("echo")


def test_a_backend_registered_under_a_new_name_is_dispatched_like_the_built_in_ones(echo, monkeypatch):
    assert isinstance(echo, Backend)
    events: list[dict] = []
    named = backends.run(Request(model="echo-test", prompt="hello", seed=5, backend="echo"),
                         progress=events.append, keys={"echo": "k"})
    assert named.backend == "echo" and named.seeds == [5] and named.images[0].getpixel((0, 0)) == (5, 0, 0)
    assert events == [{"stage": "running"}]
    assert [t["outcome"] for t in named.tried] == ["ran"]

    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", "local,echo,fal")
    chosen = validate(Request(model="echo-test", prompt="hello", params={"num_images": 2}))
    assert backends.candidates(chosen) == ["echo"]
    assert backends.plan(chosen, {"echo": "k"}) == {"backend": "echo", "ready": True, "cost": 0.02,
                                                     "why": "echo key present", "passed": []}
    assert backends.estimate(chosen, "echo") == 0.02
    assert len(backends.run_prepared(chosen, keys={"echo": "k"}).images) == 2

    assert backends.availability(chosen, {}) == {"echo": (False, "no echo key")}
    with pytest.raises(BackendUnavailable, match="echo: no echo key"):
        backends.run_prepared(chosen, keys={})


def test_an_unregistered_name_is_unavailable_not_an_error(monkeypatch):
    monkeypatch.setitem(catalog.MODELS, ECHO_MODEL.id, ECHO_MODEL)
    prepared = validate(Request(model="echo-test", prompt="x", backend="echo"))
    assert backends.health("echo", prepared) == (False, "Backend echo is not available in this build.")
    assert backends.estimate(prepared, "echo") is None
    with pytest.raises(BackendUnavailable, match="echo is not available"):
        backends.run_prepared(prepared)


@pytest.mark.parametrize("backend_class", [LocalBackend, FalBackend, ReplicateBackend, EchoBackend])
def test_every_backend_answers_with_the_protocols_signatures(backend_class):
    for method in ("health", "run", "estimate"):
        ours = inspect.signature(getattr(backend_class, method)).parameters
        protocol = inspect.signature(getattr(Backend, method)).parameters
        assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in protocol.values()], method
    assert isinstance(backend_class.uses_gpu, bool) and backend_class.name


def test_a_hosted_provider_fills_in_only_its_own_calls():
    hooks = ("connect", "upload", "submit", "job_id", "poll", "events", "finished", "outputs", "cancel",
             "provider_error")
    for provider in (FalBackend, ReplicateBackend):
        assert "run" not in vars(provider) and "health" not in vars(provider) and "_wait" not in vars(provider)
        assert all(hook in vars(provider) for hook in hooks), provider


def _with_control(model: ModelSpec, name: str, control: bool) -> ModelSpec:
    """`model` with parameter `name`'s control mark set to `control` for every backend."""
    def mark(param):
        if param.name != name:
            return param
        overrides = {key: {k: v for k, v in changes.items() if k != "control"}
                     for key, changes in param.overrides.items()}
        return replace(param, control=control, overrides=overrides)

    return replace(model, params=tuple(mark(p) for p in model.params))


@pytest.mark.parametrize("provider", ["fal", "replicate"])
@pytest.mark.parametrize("control", ["edit_style", "reference_strength"])
def test_a_control_never_reaches_a_provider_payload(provider, control):
    prepared = validate(Request(model="sdxl-base", mode=I2I, prompt="x", images=[make_image()], seed=1,
                                backend=provider), provider)
    route = prepared.model.routes[provider]
    assert control in prepared.params and prepared.model.controls(I2I, provider) >= {control}
    payload, _ = payload_for(prepared, route, 10**9, lambda data, digest: "")
    assert control not in payload and route.native_name(control) not in payload

    unmarked = replace(prepared, model=_with_control(prepared.model, control, False))
    with pytest.raises(ValidationError) as info:  # the published schema refuses what the mark kept out
        payload_for(unmarked, route, 10**9, lambda data, digest: "")
    assert [p.field for p in info.value.problems] == [f"params.{control}"]


@pytest.mark.parametrize("control", ["edit_style", "scheduler"])
def test_a_control_never_reaches_the_pipeline_call(local_backend, control):
    prepared = validate(Request(model="sdxl-base", mode=I2I, prompt="x", images=[make_image()], seed=1,
                                backend="local", params={"scheduler": "Euler"}), "local")
    pipe, _ = local_backend.pipeline(prepared.model, I2I)
    args, shown = local_backend.call_args(prepared, pipe)
    assert control not in args and control not in shown

    unmarked = replace(prepared, model=_with_control(prepared.model, control, False))
    with pytest.raises(PlaygroundError, match=f"does not take {control}"):
        local_backend.call_args(unmarked, pipe)


def test_the_replicate_sampler_is_sent_while_the_local_one_is_applied():
    model = catalog.get_model("sdxl-base")
    assert "scheduler" in model.controls(T2I, "local") and "scheduler" not in model.controls(T2I, "replicate")
    prepared = validate(Request(model="sdxl-base", prompt="x", seed=1, backend="replicate",
                                params={"scheduler": "Euler a"}), "replicate")
    payload, _ = payload_for(prepared, model.routes["replicate"], 10**9, lambda data, digest: "")
    assert payload["scheduler"] == "K_EULER_ANCESTRAL"


def test_the_local_sampler_table_is_read_from_the_catalog_route(local_backend, monkeypatch):
    model = catalog.get_model("sdxl-base")
    swapped = replace(model.routes["local"], schedulers={**SCHEDULERS, "Euler": ("DDIMScheduler", {})})
    monkeypatch.setitem(catalog.MODELS, model.id, replace(model, routes={**model.routes, "local": swapped}))
    request = Request(model="sdxl-base", prompt="x", seed=1, backend="local",
                      params={"image_size": "64x64", "num_inference_steps": 1, "scheduler": "Euler"})
    assert local_backend.run(validate(request)).native["scheduler"]["class"] == "DDIMScheduler"

    without = replace(model.routes["local"], schedulers={"Default": ("", {})})
    monkeypatch.setitem(catalog.MODELS, model.id, replace(model, routes={**model.routes, "local": without}))
    with pytest.raises(PlaygroundError, match="scheduler 'Euler' is not in the local route's table"):
        local_backend.run(validate(request))



class Inbox:
    """A provider living in this process: a job is done after `polls` status calls (never, for None);
    outputs are PNG data URIs. It keeps what it was sent, uploaded and asked to cancel."""

    def __init__(self, polls: int | None = 2):
        self.polls = polls
        self.jobs: dict[str, dict] = {}
        self.uploads: list[str] = []
        self.cancelled: list[str] = []

    def submit(self, key: str, endpoint: str, payload: dict) -> str:
        job = f"job-{len(self.jobs) + 1}"
        self.jobs[job] = {"key": key, "endpoint": endpoint, "payload": payload, "polls": 0}
        return job

    def status(self, job: str) -> dict:
        self.jobs[job]["polls"] += 1
        done = self.polls is not None and self.jobs[job]["polls"] >= self.polls
        return {"state": "done" if done else "running"}

    def images(self, job: str) -> list[str]:
        count = self.jobs[job]["payload"].get("num_images", 1)
        return [to_data_uri(Image.new("RGB", (4, 4), (0, 90, 0))) for _ in range(count)]


@pytest.fixture
def inbox(monkeypatch):
    """A third hosted provider written as the small file it should take, registered as "inbox"."""
    from playground.backends import hosted

    monkeypatch.setattr(hosted, "PROVIDER_NAMES", dict(hosted.PROVIDER_NAMES))
    monkeypatch.setattr(hosted, "KEY_ENV", dict(hosted.KEY_ENV))
    service = Inbox()

    class InboxBackend(hosted.HostedBackend):
        name, label, key_env = "inbox", "Inbox", "INBOX_KEY"

        def connect(self, key):
            return key

        def upload(self, session, data, digest):
            service.uploads.append(digest)
            return f"https://inbox.test/{digest}"

        def submit(self, session, route, endpoint, payload):
            return service.submit(session, endpoint, payload)

        def job_id(self, job):
            return job

        def poll(self, session, job):
            return service.status(job)

        def events(self, status, seen):
            return [{"stage": status["state"]}]

        def finished(self, status):
            return status["state"] == "done"

        def outputs(self, session, route, job, status, deadline):
            return hosted.Outputs(urls=service.images(job))

        def cancel(self, session, job):
            service.cancelled.append(job)

        def provider_error(self, err, session, route):
            return None

    settings = hosted.HostedSettings(poll_interval_s=0.5, timeout_s=30.0, upload_threshold=0)
    model = ModelSpec(
        id="inbox-test", family="flux1", label="Inbox", description="A test model served by the inbox provider.",
        modes={T2I: ModeSpec(T2I), I2I: ModeSpec(I2I, 1, 1)}, params=(num_images(1, 4),),
        routes={"inbox": HostedRoute(provider="inbox", endpoints={T2I: "inbox/paint", I2I: "inbox/edit"},  # type: ignore[arg-type]
                                     image_fields={I2I: ImageField("image_url")},
                                     price=Price(per_image=0.5))})
    monkeypatch.setattr(backends, "_factories", dict(backends._factories))
    monkeypatch.setitem(catalog.MODELS, model.id, model)
    backends.register("inbox", lambda: InboxBackend(settings))
    return service


def test_a_third_hosted_provider_is_one_small_class_on_the_shared_run(inbox):
    events: list[dict] = []
    result = backends.run(Request(model="inbox-test", prompt="a fern", seed=3, backend="inbox",
                                  params={"num_images": 2}),
                          progress=events.append, keys={"inbox": "inbox-key"})
    assert (result.backend, result.endpoint, result.request_id, result.seeds) == ("inbox", "inbox/paint", "job-1",
                                                                                  [3, 3])
    assert [image.getpixel((0, 0)) for image in result.images] == [(0, 90, 0), (0, 90, 0)]
    assert result.cost == 1.0 and result.native == {"prompt": "a fern", "num_images": 2, "seed": 3}
    assert events == [{"stage": "submitted", "request_id": "job-1"}, {"stage": "running"}, {"stage": "done"}]
    assert inbox.jobs["job-1"]["key"] == "inbox-key"

    edit = Request(model="inbox-test", mode=I2I, prompt="greener", images=[make_image()], seed=3, backend="inbox")
    first, second = (backends.run(edit, keys={"inbox": "inbox-key"}) for _ in range(2))
    assert len(inbox.uploads) == 1  # the same input is uploaded once per account
    assert inbox.jobs["job-3"]["payload"]["image_url"] == f"https://inbox.test/{inbox.uploads[0]}"
    assert first.native["image_url"].startswith("<uploaded image sha256=")

    with pytest.raises(BackendUnavailable, match="No Inbox API key"):
        backends.run(Request(model="inbox-test", prompt="x", backend="inbox"), keys={"inbox": ""})


def test_the_shared_run_cancels_a_third_providers_job_when_asked_or_given_up_on(inbox):
    cancel = threading.Event()
    with pytest.raises(Cancelled, match="Inbox job job-1 was asked to stop"):
        backends.run(Request(model="inbox-test", prompt="x", backend="inbox"), keys={"inbox": "k"},
                     progress=lambda event: cancel.set(), cancel=cancel)
    assert inbox.cancelled == ["job-1"]

    inbox.polls = None  # never finishes
    backends.get_backend("inbox").settings = replace(backends.get_backend("inbox").settings, timeout_s=1.0)
    with pytest.raises(TransportError, match="did not finish within 1 s; it was cancelled at Inbox"):
        backends.run(Request(model="inbox-test", prompt="x", backend="inbox"), keys={"inbox": "k"})
    assert inbox.cancelled == ["job-1", "job-2"]
