"""Tests for tests/emulator.py: the REAL fal_client and replicate clients against the local emulator."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import asyncio
import base64
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import fal_client
import httpx
import pytest
import replicate
from PIL import Image
from replicate.exceptions import ModelError, ReplicateError

from tests.emulator import (
    ENDPOINT_SCHEMAS,
    SDXL_VERSION,
    ProviderEmulator,
    fake_version_id,
    render_image,
)

WORK = 0.08
QUEUE = 0.03

FAL_ENDPOINTS = [
    "fal-ai/flux-2",
    "fal-ai/flux-2/edit",
    "fal-ai/flux-2/lora",
    "fal-ai/flux-2/lora/edit",
    "fal-ai/flux-2-pro",
    "fal-ai/flux-2-pro/edit",
    "fal-ai/flux-2-flex",
    "fal-ai/flux-2-flex/edit",
    "fal-ai/flux-2-max",
    "fal-ai/flux-2-max/edit",
    "fal-ai/flux-2/klein/4b",
    "fal-ai/flux-2/klein/4b/edit",
    "fal-ai/flux-2/klein/9b",
    "fal-ai/flux-2/klein/9b/edit",
    "fal-ai/flux-2/klein/4b/lora",
    "fal-ai/flux-2/klein/4b/edit/lora",
    "fal-ai/flux-2/klein/9b/lora",
    "fal-ai/flux-2/klein/9b/edit/lora",
    "fal-ai/flux-kontext/dev",
    "fal-ai/flux-kontext-lora",
    "fal-ai/flux-pro/kontext",
    "fal-ai/flux-pro/kontext/text-to-image",
    "fal-ai/flux-pro/kontext/max",
    "fal-ai/flux-pro/kontext/max/text-to-image",
    "fal-ai/bytedance/seedream/v3/text-to-image",
    "fal-ai/bytedance/seedream/v4/text-to-image",
    "fal-ai/bytedance/seedream/v4/edit",
    "fal-ai/bytedance/seedream/v4.5/text-to-image",
    "fal-ai/bytedance/seedream/v4.5/edit",
    "fal-ai/bytedance/seededit/v3/edit-image",
    "fal-ai/fast-sdxl",
    "fal-ai/fast-sdxl/image-to-image",
    "fal-ai/fast-sdxl/inpainting",
]
REPLICATE_MODELS = [
    "black-forest-labs/flux-2-dev",
    "black-forest-labs/flux-2-pro",
    "black-forest-labs/flux-2-flex",
    "black-forest-labs/flux-2-max",
    "black-forest-labs/flux-kontext-dev",
    "black-forest-labs/flux-kontext-pro",
    "black-forest-labs/flux-kontext-max",
    "black-forest-labs/flux-schnell",
    "black-forest-labs/flux-schnell-lora",
    "bytedance/seedream-3",
    "bytedance/seedream-4",
    "bytedance/seedream-4.5",
    "bytedance/seededit-3.0",
    "stability-ai/sdxl",
]


def _png(size: tuple[int, int] = (96, 64), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _data_uri(size: tuple[int, int] = (96, 64)) -> str:
    return "data:image/png;base64," + base64.b64encode(_png(size)).decode()


def _fetch(url: str) -> Image.Image:
    resp = httpx.get(url)
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(resp.content))
    img.load()
    return img


@pytest.fixture(scope="module")
def _server() -> Iterator[ProviderEmulator]:
    emu = ProviderEmulator(work_seconds=WORK, queue_seconds=QUEUE).start()
    yield emu
    emu.stop()


@pytest.fixture()
def emu(_server: ProviderEmulator) -> Iterator[ProviderEmulator]:
    _server.reset()
    with _server.patch_fal_client():
        yield _server


@pytest.fixture()
def rc(emu: ProviderEmulator) -> replicate.Client:
    client = replicate.Client(api_token="test-a", base_url=emu.replicate_url)
    client.poll_interval = 0.05
    return client


def _phase(emu: ProviderEmulator, phase: str) -> list[dict[str, Any]]:
    return [r for r in emu.requests if r["phase"] == phase]


# -- schema table ------------------------------------------------------------------------


def test_schema_table_covers_every_endpoint() -> None:
    assert sorted(ENDPOINT_SCHEMAS) == sorted(FAL_ENDPOINTS + REPLICATE_MODELS)
    for name, schema in ENDPOINT_SCHEMAS.items():
        assert schema["provider"] == ("fal" if name.startswith("fal-ai/") else "replicate")
        assert schema["fields"], name
        if schema["image_field"]:
            kind = schema["fields"][schema["image_field"]]["type"]
            assert (kind == "image_list") == (schema["image_shape"] == "list"), name
    assert ENDPOINT_SCHEMAS["fal-ai/bytedance/seededit/v3/edit-image"]["output"] == "image"
    # fal's published schema states no maxItems for image_urls (only its description says 4).
    assert "max_items" not in ENDPOINT_SCHEMAS["fal-ai/flux-2/edit"]["fields"]["image_urls"]
    assert ENDPOINT_SCHEMAS["fal-ai/fast-sdxl"]["fields"]["num_inference_steps"]["max"] == 50
    assert ENDPOINT_SCHEMAS["stability-ai/sdxl"]["version"] == SDXL_VERSION
    assert ENDPOINT_SCHEMAS["black-forest-labs/flux-2-pro"]["output"] == "uri"
    assert ENDPOINT_SCHEMAS["black-forest-labs/flux-schnell"]["output"] == "uris"


# -- fal ---------------------------------------------------------------------------------


def test_fal_subscribe_logs_and_images(emu: ProviderEmulator) -> None:
    emu.inject("slow", seconds=0.15)  # a longer IN_PROGRESS window to observe
    updates: list[fal_client.Status] = []
    client = fal_client.SyncClient(key="test-a")
    result = client.subscribe(
        "fal-ai/flux-2",
        arguments={"prompt": "a red fox", "image_size": "square", "num_images": 2, "output_format": "jpeg"},
        with_logs=True,
        on_queue_update=updates.append,
        interval=0.05,
    )
    kinds = [type(u).__name__ for u in updates]
    assert kinds[0] == "Queued" and "InProgress" in kinds and kinds[-1] == "Completed"
    messages = [e["message"] for u in updates if isinstance(u, fal_client.InProgress) for e in u.logs or []]
    assert any("%|" in m and "/28 [" in m for m in messages)
    assert set(updates[-1].logs[0]) == {"message", "level", "source", "timestamp"}
    assert updates[-1].metrics["inference_time"] == pytest.approx(WORK + 0.15)

    assert set(result) == {"images", "timings", "seed", "has_nsfw_concepts", "prompt"}
    assert result["has_nsfw_concepts"] == [False, False] and result["prompt"] == "a red fox"
    assert isinstance(result["seed"], int)
    assert [(i["width"], i["height"], i["content_type"]) for i in result["images"]] == [(512, 512, "image/jpeg")] * 2
    img = _fetch(result["images"][1]["url"])
    assert (img.format, img.size) == ("JPEG", (512, 512))

    submit = _phase(emu, "submit")[0]
    assert submit["auth"] == "Key test-a" and submit["endpoint"] == "fal-ai/flux-2"
    assert submit["json"]["prompt"] == "a red fox"
    assert {r["query"].get("logs") for r in _phase(emu, "status")} == {"true", "false"}


def test_fal_sync_run_is_deterministic_and_edit_follows_input(emu: ProviderEmulator) -> None:
    client = fal_client.SyncClient(key="test-a")
    out = client.run("fal-ai/flux-2", {"prompt": "p", "seed": 7, "image_size": {"width": 640, "height": 512}})
    assert out["seed"] == 7
    assert httpx.get(out["images"][0]["url"]).content == render_image("fal-ai/flux-2", "p", 7, 0, 640, 512, "png")

    edit = client.run("fal-ai/flux-2/edit", {"prompt": "make it blue", "image_urls": [_data_uri((96, 64))]})
    assert (edit["images"][0]["width"], edit["images"][0]["height"]) == (96, 64)
    seededit = client.run("fal-ai/bytedance/seededit/v3/edit-image", {"prompt": "x", "image_url": _data_uri((80, 40))})
    assert set(seededit) == {"image", "seed"} and seededit["image"]["width"] == 80
    big = client.run("fal-ai/bytedance/seedream/v4/text-to-image", {"prompt": "x"})
    assert (big["images"][0]["width"], big["images"][0]["height"]) == (1024, 1024)  # 2048² capped


def test_fal_async_two_keys_concurrently(emu: ProviderEmulator) -> None:
    async def one(key: str, prompt: str) -> dict[str, Any]:
        client = fal_client.AsyncClient(key=key)
        return await client.subscribe(
            "fal-ai/bytedance/seedream/v4/text-to-image",
            arguments={"prompt": prompt, "image_size": "square"},
            interval=0.05,
        )

    async def both() -> list[dict[str, Any]]:
        return list(await asyncio.gather(one("test-a", "first"), one("test-b", "second")))

    emu.inject("slow", count=2, seconds=0.4)
    a, b = asyncio.run(both())
    # Side by side, not one after the other: both jobs were submitted before either result was fetched.
    phases = [r["phase"] for r in emu.requests if r["provider"] == "fal"]
    assert phases.count("submit") == 2
    assert max(i for i, p in enumerate(phases) if p == "submit") < phases.index("result")
    assert set(a) == {"images", "seed"} and a["images"][0]["url"] != b["images"][0]["url"]
    assert {r["auth"] for r in emu.requests if r["provider"] == "fal"} == {"Key test-a", "Key test-b"}


def test_fal_auth_errors(emu: ProviderEmulator) -> None:
    with pytest.raises(fal_client.FalClientHTTPError) as bad:
        fal_client.SyncClient(key="live-123").submit("fal-ai/flux-2", {"prompt": "x"})
    assert bad.value.status_code == 401

    handle = fal_client.SyncClient(key="test-a").submit("fal-ai/flux-2", {"prompt": "x"})
    with pytest.raises(fal_client.FalClientHTTPError) as other:
        fal_client.SyncClient(key="test-b").status("fal-ai/flux-2", handle.request_id)
    assert other.value.status_code == 403
    # get_handle rebuilds the URL without the sub-path, like the real service
    assert isinstance(
        fal_client.SyncClient(key="test-a").status("fal-ai/flux-2/edit", handle.request_id), fal_client.Status
    )


def test_fal_validation_422(emu: ProviderEmulator) -> None:
    client = fal_client.SyncClient(key="test-a")
    with pytest.raises(fal_client.FalClientHTTPError) as err:
        client.subscribe(
            "fal-ai/flux-2",
            arguments={"prompt": "x", "num_images": 9, "bogus": 1, "output_format": "gif"},
            interval=0.05,
        )
    assert err.value.status_code == 422
    detail = err.value.response.json()["detail"]
    assert {(tuple(d["loc"]), d["type"]) for d in detail} == {
        (("body", "num_images"), "less_than_equal"),
        (("body", "bogus"), "extra_forbidden"),
        (("body", "output_format"), "literal_error"),
    }
    assert _phase(emu, "submit")[0]["status"] == 200  # accepted; the runner rejects it

    with pytest.raises(fal_client.FalClientHTTPError) as run_err:
        client.run("fal-ai/flux-2/edit", {"image_urls": ["file:///etc/passwd"] * 5, "seed": "1"})
    locs = {tuple(d["loc"]): d["type"] for d in run_err.value.response.json()["detail"]}
    assert locs[("body", "prompt")] == "missing"
    assert locs[("body", "seed")] == "int_type"
    assert ("body", "image_urls") not in locs  # fal's schema states no maxItems for image_urls
    assert locs[("body", "image_urls", 0)] == "image_load_error"


def test_fal_upload_cdn_fallback_and_reuse(emu: ProviderEmulator) -> None:
    client = fal_client.SyncClient(key="test-a")
    pic = Image.new("RGB", (120, 72), (10, 200, 90))
    url = client.upload_image(pic, format="png")
    assert url.startswith(emu.fal_cdn_url + "/files/")
    assert Image.open(io.BytesIO(httpx.get(url).content)).size == (120, 72)
    assert [r["phase"] for r in emu.requests] == ["storage_token", "cdn_upload", "file"]

    emu.inject("500", on="cdn_upload")
    url2 = client.upload(_png((50, 30)), "image/png", file_name="in.png")
    assert url2.startswith(emu.base_url + "/fal/storage/files/") and url2.endswith("/in.png")
    assert httpx.get(url2).content == _png((50, 30))
    assert {"storage_initiate", "storage_put"} <= {r["phase"] for r in emu.requests}

    out = client.run("fal-ai/flux-2/klein/4b/edit", {"prompt": "x", "image_urls": [url]})
    assert (out["images"][0]["width"], out["images"][0]["height"]) == (120, 72)


def test_fal_cancel(emu: ProviderEmulator) -> None:
    client = fal_client.SyncClient(key="test-a")
    handle = client.submit("fal-ai/flux-2", {"prompt": "x"})
    handle.cancel()
    status = handle.status()
    assert isinstance(status, fal_client.Completed) and status.error
    with pytest.raises(fal_client.FalClientHTTPError) as res:
        handle.get(interval=0.05)
    assert res.value.status_code == 400

    done = client.submit("fal-ai/flux-2", {"prompt": "x"})
    done.get(interval=0.05)
    with pytest.raises(fal_client.FalClientHTTPError) as late:
        done.cancel()
    assert late.value.status_code == 400 and "ALREADY_COMPLETED" in late.value.response.text


def test_fal_injected_faults(emu: ProviderEmulator) -> None:
    client = fal_client.SyncClient(key="test-a")
    args = {"prompt": "x", "image_size": "square"}

    updates: list[fal_client.Status] = []
    emu.inject("fail", endpoint="fal-ai/flux-2", msg="boom")
    with pytest.raises(fal_client.FalClientHTTPError) as failed:
        client.subscribe("fal-ai/flux-2", arguments=args, on_queue_update=updates.append, interval=0.05)
    assert failed.value.status_code == 500 and str(failed.value) == "boom"
    assert isinstance(updates[-1], fal_client.Completed) and updates[-1].error == "boom"

    # 429 on submit and 502 (nginx page) on a status poll: fal_client retries both by itself
    emu.inject("429", provider="fal", on="submit")
    emu.inject("502", provider="fal", on="status")
    assert client.subscribe("fal-ai/flux-2", arguments=args, interval=0.05)["images"]
    assert [r["status"] for r in _phase(emu, "submit")][-2:] == [429, 200]
    assert 502 in [r["status"] for r in _phase(emu, "status")]

    emu.inject("nsfw", endpoint="fal-ai/flux-2")
    flagged = client.subscribe("fal-ai/flux-2", arguments=args, interval=0.05)
    assert flagged["has_nsfw_concepts"] == [True]
    assert _fetch(flagged["images"][0]["url"]).getextrema() == ((0, 0), (0, 0), (0, 0))
    emu.inject("nsfw", endpoint="fal-ai/flux-2-pro")
    with pytest.raises(fal_client.FalClientHTTPError) as policy:
        client.run("fal-ai/flux-2-pro", {"prompt": "x"})
    assert policy.value.response.json()["detail"][0]["type"] == "content_policy_violation"

    emu.inject("422", field="image_size", msg="nope")
    with pytest.raises(fal_client.FalClientHTTPError) as inj:
        client.run("fal-ai/flux-2", args)
    assert inj.value.response.json()["detail"] == [
        {"loc": ["body", "image_size"], "msg": "nope", "type": "value_error"}
    ]

    emu.inject("malformed", provider="fal")
    with pytest.raises(json.JSONDecodeError):
        client.subscribe("fal-ai/flux-2", arguments=args, interval=0.05)

    emu.inject("500", endpoint="fal-ai/flux-2-max")  # another endpoint: stays armed
    assert client.run("fal-ai/flux-2", args)["images"]
    assert emu.pending_faults() == [{"fault": "500", "remaining": 1, "endpoint": "fal-ai/flux-2-max"}]


# -- Replicate ---------------------------------------------------------------------------


def test_replicate_official_run(emu: ProviderEmulator, rc: replicate.Client) -> None:
    out = rc.run(
        "black-forest-labs/flux-2-pro", input={"prompt": "a lighthouse", "aspect_ratio": "16:9", "output_format": "png"}
    )
    assert isinstance(out, str)  # http:// outputs are not wrapped in FileOutput
    img = _fetch(out)
    assert img.format == "PNG" and img.size[0] == 1024 and img.size[0] / img.size[1] == pytest.approx(16 / 9, 0.02)
    create = _phase(emu, "submit")[0]
    assert create["path"] == "/replicate/v1/models/black-forest-labs/flux-2-pro/predictions"
    assert create["headers"].get("Prefer") == "wait" and create["auth"] == "Bearer test-a"

    emu.inject("slow", seconds=0.15)
    pred = rc.models.predictions.create(model="black-forest-labs/flux-2-pro", input={"prompt": "x"})
    assert pred.status == "starting" and pred.version == fake_version_id("black-forest-labs/flux-2-pro")
    seen = {pred.status}
    while pred.status not in ("succeeded", "failed", "canceled"):
        time.sleep(0.03)
        pred.reload()
        seen.add(pred.status)
    assert {"starting", "processing", "succeeded"} <= seen
    assert pred.output.endswith(".webp") and "Using seed:" in pred.logs
    assert pred.progress is not None and pred.progress.percentage == 1.0
    assert pred.metrics["predict_time"] == pytest.approx(WORK + 0.15) and pred.completed_at


def test_replicate_versioned_sdxl(emu: ProviderEmulator, rc: replicate.Client) -> None:
    out = rc.run(
        f"stability-ai/sdxl:{SDXL_VERSION}",
        input={"prompt": "x", "num_outputs": 2, "width": 768, "height": 512},
        wait=2,
    )
    assert isinstance(out, list) and len(out) == 2
    assert {_fetch(u).size for u in out} == {(768, 512)}
    create = _phase(emu, "submit")[0]
    assert create["path"] == "/replicate/v1/predictions" and create["json"]["version"] == SDXL_VERSION
    assert create["headers"].get("Prefer") == "wait=2"
    assert [r["path"] for r in _phase(emu, "model")] == [
        f"/replicate/v1/models/stability-ai/sdxl/versions/{SDXL_VERSION}"
    ]
    model = rc.models.get("black-forest-labs/flux-schnell")
    assert model.latest_version.id == fake_version_id("black-forest-labs/flux-schnell")


def test_replicate_cancel_and_other_key(emu: ProviderEmulator, rc: replicate.Client) -> None:
    emu.inject("slow", seconds=1.0)
    pred = rc.predictions.create(version=SDXL_VERSION, input={"prompt": "x"})
    other = replicate.Client(api_token="test-b", base_url=emu.replicate_url)
    with pytest.raises(ReplicateError) as missing:
        other.predictions.get(pred.id)
    assert missing.value.status == 404
    pred.cancel()
    assert pred.status == "canceled"
    pred.reload()
    assert pred.status == "canceled" and pred.output is None


def test_replicate_validation_and_auth(emu: ProviderEmulator, rc: replicate.Client) -> None:
    with pytest.raises(ReplicateError) as err:
        rc.run(
            "black-forest-labs/flux-2-pro",
            input={"prompt": "x", "aspect_ratio": "7:3", "safety_tolerance": 9, "extra": True},
        )
    assert err.value.status == 422 and err.value.title == "Input validation failed"
    for field in ("input.aspect_ratio", "input.safety_tolerance", "input.extra"):
        assert f"- {field}: " in err.value.detail

    raw = httpx.post(
        f"{emu.replicate_url}/v1/models/black-forest-labs/flux-kontext-pro/predictions",
        json={"input": {"input_image": _data_uri(), "safety_tolerance": 5, "seed": None}},
        headers={"Authorization": "Bearer test-a"},
    ).json()
    assert raw["status"] == 422
    assert {(f["field"], f["type"]) for f in raw["invalid_fields"]} == {
        ("input.prompt", "required"),
        ("input.seed", "invalid_type"),
        ("input.safety_tolerance", "number_lte"),
    }

    with pytest.raises(ReplicateError) as bad_key:
        replicate.Client(api_token="r8_live", base_url=emu.replicate_url).run(
            "black-forest-labs/flux-2-pro", input={"prompt": "x"}
        )
    assert bad_key.value.status == 401


def test_replicate_file_inputs(emu: ProviderEmulator, rc: replicate.Client) -> None:
    out = rc.run("bytedance/seededit-3.0", input={"prompt": "x", "image": io.BytesIO(_png((64, 48)))})
    assert _fetch(out).size == (64, 48)
    upload = _phase(emu, "file_upload")[0]
    assert upload["method"] == "POST" and upload["path"] == "/replicate/v1/files"
    used = _phase(emu, "submit")[0]["json"]["input"]["image"]
    assert used.startswith(emu.replicate_url + "/v1/files/")

    out2 = rc.run(
        "black-forest-labs/flux-kontext-dev",
        input={"prompt": "x", "input_image": io.BytesIO(_png((40, 80)))},
        file_encoding_strategy="base64",
    )
    assert _fetch(out2).size == (40, 80)
    assert len(_phase(emu, "file_upload")) == 1


def test_replicate_injected_faults(emu: ProviderEmulator, rc: replicate.Client) -> None:
    emu.inject("nsfw", endpoint="black-forest-labs/flux-schnell")
    with pytest.raises(ModelError) as nsfw:
        rc.run("black-forest-labs/flux-schnell", input={"prompt": "x"})
    assert "NSFW content detected" in str(nsfw.value)
    assert "NSFW content detected" in nsfw.value.prediction.logs

    emu.inject("fail", provider="replicate", msg="CUDA out of memory")
    with pytest.raises(ModelError, match="CUDA out of memory"):
        rc.run("black-forest-labs/flux-schnell", input={"prompt": "x"})

    emu.inject("429", provider="replicate", on="submit")
    with pytest.raises(ReplicateError) as limited:  # POST is not retried by the client
        rc.run("black-forest-labs/flux-schnell", input={"prompt": "x"})
    assert limited.value.status == 429

    emu.inject("429", provider="replicate", on="status", retry_after=0)  # GET is retried
    pred = rc.models.predictions.create(model="black-forest-labs/flux-schnell", input={"prompt": "x"})
    pred.wait()
    assert pred.status == "succeeded" and 429 in [r["status"] for r in _phase(emu, "status")]

    emu.inject("drop", provider="replicate", on="submit")
    with pytest.raises(httpx.RemoteProtocolError):
        rc.run("black-forest-labs/flux-schnell", input={"prompt": "x"})

    emu.inject("malformed", provider="replicate")
    with pytest.raises(json.JSONDecodeError):
        rc.run("black-forest-labs/flux-schnell", input={"prompt": "x"})

    emu.inject("bad_image", provider="replicate")
    [bad] = rc.run("black-forest-labs/flux-schnell", input={"prompt": "x"})
    resp = httpx.get(bad)
    assert resp.headers["content-type"] == "image/webp"
    with pytest.raises(Exception):  # noqa: B017 - any Pillow decode error
        Image.open(io.BytesIO(resp.content))

    emu.inject("huge_image", provider="replicate")
    huge = rc.run("black-forest-labs/flux-2-dev", input={"prompt": "x"})
    assert int(httpx.head(huge).headers["content-length"]) > 50 * 1024 * 1024
    with httpx.stream("GET", huge) as streamed:
        assert streamed.status_code == 200 and int(streamed.headers["content-length"]) > 50 * 1024 * 1024


# -- every endpoint, minimal payload -----------------------------------------------------


@pytest.fixture(scope="module")
def fast() -> Iterator[ProviderEmulator]:
    emu = ProviderEmulator(work_seconds=0.0, queue_seconds=0.0).start()
    with emu.patch_fal_client():
        yield emu
    emu.stop()


@pytest.fixture(scope="module")
def fast_clients(fast: ProviderEmulator) -> tuple[fal_client.SyncClient, replicate.Client]:
    """One client per provider for the whole module (building an httpx client costs ~25 ms)."""
    return fal_client.SyncClient(key="test-a"), replicate.Client(api_token="test-a", base_url=fast.replicate_url)


def _minimal(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"prompt": "p"}
    for field, spec in ENDPOINT_SCHEMAS[name]["fields"].items():
        if spec.get("required") and spec["type"] == "image":
            payload[field] = _data_uri()
        elif spec.get("required") and spec["type"] == "image_list":
            payload[field] = [_data_uri()]
    return payload


@pytest.mark.parametrize("endpoint", FAL_ENDPOINTS)
def test_every_fal_endpoint_accepts_minimal_payload(
    fast_clients: tuple[fal_client.SyncClient, replicate.Client], endpoint: str
) -> None:
    schema = ENDPOINT_SCHEMAS[endpoint]
    out = fast_clients[0].run(endpoint, _minimal(endpoint))
    assert set(out) == set(schema["output_keys"])
    images = [out["image"]] if schema["output"] == "image" else out["images"]
    assert images and all(max(i["width"], i["height"]) <= 1024 for i in images)


@pytest.mark.parametrize("model", REPLICATE_MODELS)
def test_every_replicate_model_accepts_minimal_payload(
    fast_clients: tuple[fal_client.SyncClient, replicate.Client], model: str
) -> None:
    schema = ENDPOINT_SCHEMAS[model]
    client = fast_clients[1]
    ref = model if schema["official"] else f"{model}:{schema['version']}"
    out = client.run(ref, input=_minimal(model))
    if schema["output"] == "uri":
        assert isinstance(out, str)
    else:
        assert isinstance(out, list) and out


# -- lifecycle ---------------------------------------------------------------------------


def test_stop_closes_listener_and_connections() -> None:
    emu = ProviderEmulator(work_seconds=0.0, queue_seconds=0.0).start()
    port = emu.port
    with httpx.Client() as keep_alive:
        assert keep_alive.get(emu.base_url + "/_log").status_code == 200  # connection stays open
        emu.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith(f"provider-emulator-{port}")]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass
