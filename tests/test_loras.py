"""LoRA adapters as parameters: the canonical `loras` list, local loading into the cached tiny pipelines,
records and `Lora hashes`, hosted payloads checked by the emulator, and Compare axes over adapters."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from playground import backends
from playground.adapters import axis_field, lora_hashes, parse_path, path_problems, with_axis_value
from playground.catalog import MODELS
from playground.compare import Axis, GridSpec, plan_grid, run_grid
from playground.params import ValidationError
from playground.records import a1111_parameters, build_record
from playground.request import Request
from playground.validation import validate
from tests.tiny_loras import build_flux2_lora, build_sdxl_lora

SMALL = {"image_size": "64x64", "num_inference_steps": 2}
FLUX = {**SMALL, "max_sequence_length": 128}
FAL = {"fal": "test-lora-fal"}
REP = {"replicate": "test-lora-rep"}


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def adapters(tiny_root, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loras")
    return {
        "sdxl_a": build_sdxl_lora(tiny_root["sdxl"], folder / "a", seed=1, name="style-a"),
        "sdxl_b": build_sdxl_lora(tiny_root["sdxl"], folder / "b", seed=2, name="style-b"),
        "flux2": build_flux2_lora(tiny_root["flux2"], folder / "f", seed=3, name="flux-style"),
    }


def local_run(backend, model: str, loras, params=SMALL, seed: int = 3):
    params = {**params, **({"loras": loras} if loras is not None else {})}
    return backend.run(validate(Request(model=model, prompt="a red fox", params=params, seed=seed, backend="local")))


# --- the parameter ---------------------------------------------------------------------------------
def test_loras_are_declared_per_route_with_the_providers_limits():
    sdxl = MODELS["sdxl-base"].param("loras")
    assert sdxl.for_backend("local").max_items == 5
    assert (sdxl.for_backend("fal").min, sdxl.for_backend("fal").max) == (0.0, 1.0)
    assert sdxl.for_backend("replicate").max_items == 1
    flux2 = MODELS["flux-2-dev"].param("loras").for_backend("fal")
    assert (flux2.max_items, flux2.min, flux2.max) == (3, 0.0, 4.0)
    assert MODELS["flux-2-pro"].param("loras") is None
    with pytest.raises(ValidationError, match=r"params.loras.*a parameter of flux-2-pro"):
        validate(Request(model="flux-2-pro", prompt="x", params={"loras": [{"path": "a/b"}]}))
    with pytest.raises(ValidationError, match="not accepted by replicate; accepted by fal, local"):
        validate(Request(model="flux-2-dev", prompt="x", backend="replicate", params={"loras": [{"path": "a/b"}]}))


def test_loras_coerce_scales_default_and_refuse_out_of_range_or_too_many():
    ok = validate(Request(model="flux-2-dev", prompt="x", backend="fal",
                          params={"loras": json.dumps([{"path": "owner/repo"}, {"path": "https://x.io/a.safetensors",
                                                                                  "scale": "0.5"}])}))
    assert ok.params["loras"] == [{"path": "owner/repo", "scale": 1.0}, {"path": "https://x.io/a.safetensors",
                                                                         "scale": 0.5}]
    with pytest.raises(ValidationError) as err:
        validate(Request(model="flux-2-dev", prompt="x", backend="fal",
                         params={"loras": [{"path": "o/r", "scale": 4.5}] + [{"path": f"o/r{i}"} for i in range(3)]}))
    text = str(err.value)
    assert "at most 3" in text and "params.loras[0].scale: got 4.5; allowed: a number from 0 to 4" in text
    with pytest.raises(ValidationError, match=r"params.loras\[0\]: got .*an object \{path, scale\}"):
        validate(Request(model="sdxl-base", prompt="x", params={"loras": [{"path": "o/r", "weight": 1}]}))


def test_paths_are_hub_ids_https_urls_or_local_files_only_where_allowed(monkeypatch):
    assert parse_path("owner/repo").repo_id == "owner/repo"
    ref = parse_path("owner/repo/sub/pixel.safetensors")
    assert (ref.repo_id, ref.weight_name, ref.name) == ("owner/repo", "sub/pixel.safetensors", "pixel")
    assert parse_path("http://x.io/a.safetensors") is None and parse_path("plain") is None
    assert parse_path("/tmp/x.safetensors").source == "file"
    local_file = [{"path": "/tmp/x.safetensors", "scale": 1.0}]
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("PLAYGROUND_MULTI_USER", raising=False)
    assert path_problems(local_file, "local") == []
    assert "cannot read files on this machine" in str(path_problems(local_file, "fal")[0])
    monkeypatch.setenv("PLAYGROUND_MULTI_USER", "1")
    assert "this server is shared" in str(path_problems(local_file, "local")[0])
    with pytest.raises(ValidationError, match="this server is shared"):
        validate(Request(model="sdxl-base", prompt="x", backend="local", params={"loras": local_file}))
    monkeypatch.delenv("PLAYGROUND_MULTI_USER")
    monkeypatch.setenv("SPACE_ID", "someone/playground")
    assert path_problems(local_file, "local")
    assert "Replicate trained weights" in str(path_problems([{"path": "o/r", "scale": 1}], "replicate")[0])


# --- local ----------------------------------------------------------------------------------------
def test_sdxl_adapter_at_scale_one_changes_the_image_and_scale_zero_does_not(local_backend, adapters):
    path = str(adapters["sdxl_a"])
    without = local_run(local_backend, "sdxl-base", None)
    full = local_run(local_backend, "sdxl-base", [{"path": path, "scale": 1.0}])
    zero = local_run(local_backend, "sdxl-base", [{"path": path, "scale": 0.0}])
    after = local_run(local_backend, "sdxl-base", [])
    assert png(full.images[0]) != png(without.images[0])
    assert png(zero.images[0]) == png(without.images[0])
    assert png(after.images[0]) == png(without.images[0]), "a run without adapters after one with them is clean"
    assert local_backend.stats["loads"] == 1

    record = build_record(full)
    (adapter,) = record["adapters"]
    assert adapter["sha256"] == sha256(adapters["sdxl_a"]) and adapter["scale"] == 1.0
    assert adapter["name"] == "style-a" and adapter["path"] == path
    assert record["native"]["set_adapters"]["adapter_weights"] == [1.0]
    text = a1111_parameters(record)
    assert f'Lora hashes: "style-a: {adapter["tensor_sha256"][:12]}"' in text
    assert adapter["tensor_sha256"] != adapter["sha256"]
    assert build_record(without)["adapters"] == [] and "Lora hashes" not in a1111_parameters(build_record(without))


def test_flux2_adapter_at_scale_one_changes_the_image_and_scale_zero_does_not(local_backend, adapters):
    path = str(adapters["flux2"])
    without = local_run(local_backend, "flux-2-dev", None, FLUX)
    full = local_run(local_backend, "flux-2-dev", [{"path": path, "scale": 1.0}], FLUX)
    zero = local_run(local_backend, "flux-2-dev", [{"path": path, "scale": 0.0}], FLUX)
    assert png(full.images[0]) != png(without.images[0])
    assert png(zero.images[0]) == png(without.images[0])
    assert build_record(full)["adapters"][0]["sha256"] == sha256(adapters["flux2"])


def test_switching_adapters_between_runs_keeps_the_base_weights_loaded(local_backend, adapters):
    a = {"path": str(adapters["sdxl_a"]), "scale": 1.0}
    b = {"path": str(adapters["sdxl_b"]), "scale": 1.0}
    first_a = local_run(local_backend, "sdxl-base", [a])
    only_b = local_run(local_backend, "sdxl-base", [b])
    both = local_run(local_backend, "sdxl-base", [a, {**b, "scale": 0.5}])
    again_a = local_run(local_backend, "sdxl-base", [a])
    outputs = {png(r.images[0]) for r in (first_a, only_b, both)}
    assert len(outputs) == 3, "each adapter set gives its own image"
    assert png(again_a.images[0]) == png(first_a.images[0]), "switching back gives the same image"
    assert local_backend.stats["loads"] == 1, "the base pipeline was never reloaded"
    (loaded,) = local_backend._cache.values()
    assert loaded.adapters.loads == 2, "each adapter file was loaded once and then reused"
    assert [x["name"] for x in build_record(both)["adapters"]] == ["style-a", "style-b"]


def test_a_missing_or_incompatible_adapter_is_a_clear_error_naming_it(local_backend, adapters, tmp_path):
    missing = str(tmp_path / "nope.safetensors")
    with pytest.raises(ValidationError, match=r"params.loras\[0\].path: got '.*; allowed: an existing \.safetensors"):
        local_run(local_backend, "sdxl-base", [{"path": missing, "scale": 1}])
    flux_on_sdxl = str(adapters["flux2"])
    with pytest.raises(ValidationError, match=r"params.loras\[0\].path: .*flux-style.*LoRA made for "
                                              r"StableDiffusionXLPipeline"):
        local_run(local_backend, "sdxl-base", [{"path": flux_on_sdxl, "scale": 1}])
    pickled = tmp_path / "old.bin"
    pickled.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ValidationError, match="a .safetensors file"):
        local_run(local_backend, "sdxl-base", [{"path": str(pickled), "scale": 1}])
    # The failed loads left nothing behind: the next plain run matches a fresh one.
    clean = local_run(local_backend, "sdxl-base", None)
    from playground.backends.local import LocalBackend

    fresh = LocalBackend(local_backend.settings)
    assert png(clean.images[0]) == png(local_run(fresh, "sdxl-base", None).images[0])


def test_hub_adapters_load_from_the_hub_cache_offline(local_backend, adapters, monkeypatch, tmp_path):
    from huggingface_hub import constants

    hub = Path(constants.HF_HUB_CACHE)
    snapshot = hub / "models--someone--tiny-style" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "style.safetensors").write_bytes(adapters["sdxl_a"].read_bytes())
    (hub / "models--someone--tiny-style" / "refs").mkdir(exist_ok=True)
    (hub / "models--someone--tiny-style" / "refs" / "main").write_text("0" * 40)
    result = local_run(local_backend, "sdxl-base", [{"path": "someone/tiny-style/style.safetensors", "scale": 1}])
    assert result.adapters[0]["sha256"] == sha256(adapters["sdxl_a"]) and result.adapters[0]["source"] == "hub"
    assert "/" not in json.dumps(result.adapters[0]["name"])
    with pytest.raises(ValidationError, match="already in the Hugging Face cache"):
        local_run(local_backend, "sdxl-base", [{"path": "someone/not-cached", "scale": 1}])


# --- hosted ---------------------------------------------------------------------------------------
def submits(emulator, provider: str) -> list[dict]:
    return [r for r in emulator.requests if r["provider"] == provider and r["phase"] == "submit"]


def test_fal_fast_sdxl_sends_loras_in_fals_own_shape(hosted):
    loras = [{"path": "someone/style", "scale": 0.8}, {"path": "https://x.io/b.safetensors", "scale": 0.3}]
    result = backends.run(Request(model="sdxl-base", prompt="a fox", backend="fal", seed=2,
                                  params={"image_size": "square", "loras": loras}), keys=FAL)
    (submit,) = submits(hosted.emulator, "fal")
    assert submit["endpoint"] == "fal-ai/fast-sdxl" and submit["status"] == 200
    assert submit["json"]["loras"] == loras
    record = build_record(result)
    assert [a["name"] for a in record["adapters"]] == ["style", "b"]
    assert all(a["sha256"] is None for a in record["adapters"])


def test_flux2_dev_on_fal_switches_to_the_lora_endpoints_when_adapters_are_set(hosted):
    from tests.conftest import make_image

    lora = [{"path": "someone/flux2-style", "scale": 2.5}]
    backends.run(Request(model="flux-2-dev", prompt="a fox", backend="fal", params={"image_size": "square"}),
                 keys=FAL)
    result = backends.run(Request(model="flux-2-dev", prompt="a fox", backend="fal",
                                  params={"image_size": "square", "loras": lora}), keys=FAL)
    backends.run(Request(model="flux-2-dev", mode="image-to-image", prompt="a fox", backend="fal",
                         images=[make_image()], params={"loras": lora}), keys=FAL)
    plain, t2i, edit = submits(hosted.emulator, "fal")
    assert plain["endpoint"] == "fal-ai/flux-2" and "loras" not in plain["json"]
    assert t2i["endpoint"] == "fal-ai/flux-2/lora" and t2i["json"]["loras"] == lora
    assert edit["endpoint"] == "fal-ai/flux-2/lora/edit" and edit["json"]["loras"] == lora
    assert result.endpoint == "fal-ai/flux-2/lora"


def test_the_emulator_refuses_adapters_outside_the_providers_shape(hosted):
    import fal_client

    client = fal_client.SyncClient(key="test-lora-raw")
    with hosted.emulator.patch_fal_client():
        # The published schema states the scale range and the required path; "maximum 3" adapters is only in
        # its description, so our catalog enforces that (see the validation test) and the emulator does not.
        for bad in ([{"path": "a/b", "scale": 5}], [{"scale": 1}], [{"path": "a/b", "scale": 1, "weight": 2}]):
            handle = client.submit("fal-ai/flux-2/lora", arguments={"prompt": "x", "loras": bad})
            with pytest.raises(Exception, match="loras"):
                handle.get()


# Every fal route that serves adapters from other endpoints: (model, mode, plain endpoint, LoRA endpoint).
FAL_LORA_ROUTES = [
    ("flux-2-klein-4b", "text-to-image", "fal-ai/flux-2/klein/4b", "fal-ai/flux-2/klein/4b/lora"),
    ("flux-2-klein-4b", "image-to-image", "fal-ai/flux-2/klein/4b/edit", "fal-ai/flux-2/klein/4b/edit/lora"),
    ("flux-2-klein-9b", "text-to-image", "fal-ai/flux-2/klein/9b", "fal-ai/flux-2/klein/9b/lora"),
    ("flux-2-klein-9b", "image-to-image", "fal-ai/flux-2/klein/9b/edit", "fal-ai/flux-2/klein/9b/edit/lora"),
    ("flux-kontext-dev", "image-to-image", "fal-ai/flux-kontext/dev", "fal-ai/flux-kontext-lora"),
]


def test_klein_and_kontext_dev_declare_the_limits_of_their_fal_lora_endpoints():
    for model in ("flux-2-klein-4b", "flux-2-klein-9b"):
        klein = MODELS[model].param("loras").for_backend("fal")
        assert (klein.max_items, klein.min, klein.max) == (3, 0.0, 4.0)
        assert MODELS[model].routes["fal"].endpoint("image-to-image", {"loras": [{"path": "a/b"}]}) == \
            f"fal-ai/flux-2/klein/{model[-2:]}/edit/lora"
    kontext = MODELS["flux-kontext-dev"].param("loras").for_backend("fal")
    assert (kontext.max_items, kontext.min, kontext.max) == (5, 0.0, 4.0)  # fal: "any number"
    # Replicate's kontext-dev and flux-schnell schemas take no adapters.
    with pytest.raises(ValidationError, match="not accepted by replicate; accepted by fal, local"):
        validate(Request(model="flux-kontext-dev", mode="image-to-image", prompt="x", backend="replicate",
                         images=[png_image()], params={"loras": [{"path": "a/b"}]}))


def test_a_run_with_adapters_is_priced_by_its_lora_endpoint_never_by_the_plain_one():
    image = png_image()

    def estimate(model: str, mode: str, loras: list | None) -> float | None:
        size = {"image_size": "1024x1024"} if mode == "text-to-image" else {}  # edits follow the 64x64 input
        params = {**size, **({"loras": loras} if loras else {})}
        prepared = validate(Request(model=model, mode=mode, prompt="x", backend="fal",
                                    images=[image] if mode == "image-to-image" else [], params=params))
        return backends.estimate(prepared, "fal")

    adapter = [{"path": "owner/adapter", "scale": 1.0}]
    # fal publishes $0.035/MP for flux-kontext-lora and no price for the plain Kontext [dev] endpoint.
    assert estimate("flux-kontext-dev", "image-to-image", None) is None
    assert estimate("flux-kontext-dev", "image-to-image", adapter) == pytest.approx(0.035)
    # FLUX.2 [dev]'s plain price is known, its LoRA endpoint's is not: unknown, not the plain price.
    assert estimate("flux-2-dev", "text-to-image", None) == pytest.approx(0.012)
    assert estimate("flux-2-dev", "text-to-image", adapter) is None


def png_image():
    from tests.conftest import make_image

    return make_image()


@pytest.mark.parametrize(("model", "mode", "plain", "lora_endpoint"), FAL_LORA_ROUTES)
def test_fal_routes_switch_to_their_lora_endpoint_and_send_adapters_in_fals_shape(hosted, model, mode, plain,
                                                                                  lora_endpoint):
    lora = [{"path": "someone/style", "scale": 0.0}, {"path": "https://x.io/b.safetensors", "scale": 4.0}]
    images = [png_image()] if mode == "image-to-image" else []
    backends.run(Request(model=model, mode=mode, prompt="a fox", backend="fal", images=images, seed=1), keys=FAL)
    result = backends.run(Request(model=model, mode=mode, prompt="a fox", backend="fal", images=images, seed=1,
                                  params={"loras": lora}), keys=FAL)
    without, with_adapters = submits(hosted.emulator, "fal")
    assert without["endpoint"] == plain and without["status"] == 200 and "loras" not in without["json"]
    assert with_adapters["endpoint"] == lora_endpoint and with_adapters["status"] == 200
    assert with_adapters["json"]["loras"] == lora
    assert result.endpoint == lora_endpoint
    # The rest of the payload is what the plain endpoint got: only the adapters differ.
    assert {k: v for k, v in with_adapters["json"].items() if k != "loras"} == without["json"]


@pytest.mark.parametrize("lora_endpoint", sorted({row[3] for row in FAL_LORA_ROUTES}))
def test_the_emulator_judges_each_new_lora_endpoint_by_its_own_snapshot(hosted, lora_endpoint):
    import fal_client

    model, mode = next((m, mode) for m, mode, _, e in FAL_LORA_ROUTES if e == lora_endpoint)
    images = [png_image()] if mode == "image-to-image" else []
    backends.run(Request(model=model, mode=mode, prompt="a fox", backend="fal", images=images,
                         params={"loras": [{"path": "someone/style", "scale": 1.0}]}), keys=FAL)
    (sent,) = submits(hosted.emulator, "fal")
    client = fal_client.SyncClient(key="test-lora-raw")
    with hosted.emulator.patch_fal_client():
        assert client.submit(lora_endpoint, arguments=sent["json"]).get()["images"]  # the real payload passes
        # the same payload with the adapters in another shape, or past the provider's scale range
        for bad in ([{"url": "someone/style", "scale": 1.0}], [{"path": "someone/style", "weight": 1.0}],
                    [{"path": "someone/style", "scale": 4.5}], {"path": "someone/style"}):
            with pytest.raises(Exception, match="loras"):
                client.submit(lora_endpoint, arguments={**sent["json"], "loras": bad}).get()


def test_replicate_sdxl_sends_trained_weights_and_lora_scale(hosted):
    url = "https://replicate.delivery/xyz/trained_model.tar"
    backends.run(Request(model="sdxl-base", prompt="a photo of TOK", backend="replicate",
                         params={"image_size": "64x64", "loras": [{"path": url, "scale": 0.7}]}), keys=REP)
    (submit,) = submits(hosted.emulator, "replicate")
    assert submit["json"]["input"]["replicate_weights"] == url and submit["json"]["input"]["lora_scale"] == 0.7
    assert "loras" not in submit["json"]["input"]


def test_flux_schnell_on_replicate_sends_one_adapter_to_flux_schnell_lora_in_cog_fluxs_shape(hosted):
    schnell = MODELS["flux-schnell"].param("loras").for_backend("replicate")
    assert (schnell.max_items, schnell.min, schnell.max) == (1, -1.0, 3.0)
    base = {"aspect_ratio": "1:1", "num_inference_steps": 1}
    run = lambda loras=None: backends.run(Request(  # noqa: E731
        model="flux-schnell", prompt="a fox", backend="replicate", seed=4,
        params={**base, **({"loras": loras} if loras else {})}), keys=REP)
    run()
    result = run([{"path": "someone/schnell-style", "scale": 3.0}])
    run([{"path": "someone/pack/styles/ink.safetensors", "scale": -1.0}])
    run([{"path": "https://x.io/c.safetensors", "scale": 0.5}])
    plain, hub, hub_file, url = submits(hosted.emulator, "replicate")
    assert plain["endpoint"] == "black-forest-labs/flux-schnell" and "lora_weights" not in plain["json"]["input"]
    assert all(s["endpoint"] == "black-forest-labs/flux-schnell-lora" and s["status"] == 201
               for s in (hub, hub_file, url)), [(s["endpoint"], s["status"]) for s in (hub, hub_file, url)]
    # A bare owner/name would mean a Replicate model to cog-flux: Hub adapters travel as Hub addresses.
    assert hub["json"]["input"]["lora_weights"] == "huggingface.co/someone/schnell-style"
    assert hub["json"]["input"]["lora_scale"] == 3.0
    assert hub_file["json"]["input"]["lora_weights"] == \
        "https://huggingface.co/someone/pack/resolve/main/styles/ink.safetensors"
    assert url["json"]["input"]["lora_weights"] == "https://x.io/c.safetensors"
    assert {k: v for k, v in hub["json"]["input"].items() if k not in ("lora_weights", "lora_scale")} == \
        plain["json"]["input"]
    assert result.endpoint == "black-forest-labs/flux-schnell-lora"
    for loras, words in (([{"path": "a/b", "scale": 1}, {"path": "c/d", "scale": 1}], "at most 1"),
                         ([{"path": "a/b", "scale": 3.5}], "-1 to 3"),
                         ([{"path": "a/b/x.bin", "scale": 1}], "a .safetensors file")):
        with pytest.raises(ValidationError, match=words):
            validate(Request(model="flux-schnell", prompt="x", backend="replicate", params={"loras": loras}))
    # Replicate's SDXL keeps its own rule: one https URL of Replicate trained weights.
    with pytest.raises(ValidationError, match="Replicate trained weights"):
        validate(Request(model="sdxl-base", prompt="x", backend="replicate", params={"loras": [{"path": "a/b"}]}))


def test_the_emulator_judges_flux_schnell_lora_by_its_own_snapshot(hosted):
    import replicate
    from replicate.exceptions import ReplicateError

    client = replicate.Client(api_token="test-lora-raw", base_url=hosted.emulator.replicate_url)
    client.poll_interval = 0.05
    good = {"prompt": "x", "lora_weights": "huggingface.co/someone/style", "lora_scale": -1}
    assert client.run("black-forest-labs/flux-schnell-lora", input=good)
    for bad in ({"lora_weight": "huggingface.co/someone/style"}, {"lora_scale": 3.5},
                {"lora_weights": ["huggingface.co/a/b", "huggingface.co/c/d"]}):
        with pytest.raises(ReplicateError, match="lora"):
            client.run("black-forest-labs/flux-schnell-lora", input={"prompt": "x", **bad})
    with pytest.raises(ReplicateError, match="lora_weights"):  # the plain model takes no adapters
        client.run("black-forest-labs/flux-schnell", input=good)


# --- Compare ---------------------------------------------------------------------------------------
def test_axis_helpers_address_one_adapter_of_the_list():
    assert axis_field("loras[1].scale") == (1, "scale") and axis_field("loras") is None
    base = [{"path": "o/a", "scale": 1.0}]
    assert with_axis_value(base, "loras[0].scale", 0.25) == [{"path": "o/a", "scale": 0.25}]
    assert with_axis_value(base, "loras[1].path", "o/b") == [base[0], {"path": "o/b", "scale": 1.0}]
    assert lora_hashes([{"name": "a", "sha256": "f" * 64}]) == "a: ffffffffffff"


def test_compare_grid_over_lora_scale_and_seed_runs_and_labels_its_cells(local, adapters):
    path = str(adapters["sdxl_a"])
    spec = GridSpec(model="sdxl-base", backend="local", prompt="a red fox",
                    params={**SMALL, "loras": [{"path": path, "scale": 1.0}]},
                    axes=[Axis("param", "0:1:0.5", "loras[0].scale"), Axis("seed", [5, 6])])
    grid = run_grid(plan_grid(spec))
    assert [c.status for c in grid.cells] == ["done"] * 6
    assert [a.title for a in grid.axes] == ["LoRA 1 scale", "Seed"]
    assert [c.labels["LoRA 1 scale"] for c in grid.cells[:3]] == ["0", "0.5", "1"]
    assert [c.record["adapters"][0]["scale"] for c in grid.cells[:3]] == [0.0, 0.5, 1.0]
    assert len({c.record["outputs"][0]["sha256"] for c in grid.cells}) == 6
    assert local.stats["loads"] == 1


def test_compare_can_put_the_adapter_itself_on_an_axis(local, adapters):
    spec = GridSpec(model="sdxl-base", backend="local", prompt="a red fox", seed=4, params=SMALL,
                    axes=[Axis("param", [str(adapters["sdxl_a"]), str(adapters["sdxl_b"])], "loras[0].path")])
    grid = run_grid(plan_grid(spec))
    assert [c.status for c in grid.cells] == ["done", "done"]
    assert [c.labels["LoRA 1"] for c in grid.cells] == ["style-a", "style-b"]
    assert grid.cells[0].record["adapters"][0]["sha256"] != grid.cells[1].record["adapters"][0]["sha256"]


def test_a_lora_axis_on_a_model_without_adapters_is_refused_by_name():
    spec = GridSpec(model="flux-2-pro", backend="fal", prompt="x",
                    axes=[Axis("param", [0.5, 1.0], "loras[0].scale")])
    with pytest.raises(ValidationError, match=r"axes\[0\].name: got 'loras\[0\].scale'"):
        plan_grid(spec)


# --- presets, re-runs and the page's slot ----------------------------------------------------------
def test_presets_and_records_carry_adapters_for_a_repeat_run(local_backend, adapters):
    from playground.presets import parse_preset, preset_json, preset_to_request, request_to_preset
    from playground.records import record_to_request

    loras = [{"path": str(adapters["sdxl_a"]), "scale": 0.75}]
    request = Request(model="sdxl-base", prompt="a red fox", params={**SMALL, "loras": loras}, seed=9,
                      backend="local")
    preset = parse_preset(json.loads(preset_json(request_to_preset(request, "fox with style-a"))))
    again = preset_to_request(preset)
    assert again.params["loras"] == loras
    first = local_backend.run(validate(again))
    replay = record_to_request(build_record(first, again), images=[])
    assert replay.params["loras"] == loras
    assert png(local_backend.run(validate(replay)).images[0]) == png(first.images[0])


def test_the_page_slot_holds_the_list_as_json_and_sends_only_a_real_list():
    from playground.ui import panels

    model = MODELS["sdxl-base"]
    param = next(p for p in panels.panel_params(model, "text-to-image", "local") if p.name == "loras")
    assert panels.widget_for(param) == "loras"
    text = panels.display_value(param, [{"path": "o/r", "scale": 0.5}])
    assert json.loads(text) == [{"path": "o/r", "scale": 0.5}] and panels.display_value(param, None) == ""
    slots = [None] * len(panels.SLOTS)
    slots[panels.slot_of(param)] = text
    assert panels.explicit_params(model, "text-to-image", "local", slots)["loras"] == text
    for empty in ("", "[]", " [ ] "):
        slots[panels.slot_of(param)] = empty
        assert "loras" not in panels.explicit_params(model, "text-to-image", "local", slots)


def test_a_shared_server_fetches_no_adapter_from_its_own_network(local_backend, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MULTI_USER", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # nothing is fetched: the address is refused first
    with pytest.raises(ValidationError, match="does not fetch from private addresses"):
        local_run(local_backend, "sdxl-base", [{"path": "https://127.0.0.1/lora.safetensors", "scale": 1}])


def test_the_model_card_says_where_adapters_run_or_that_none_do():
    from playground.ui.catalog_view import model_card

    assert "**LoRA adapters:** Local (up to 5, scale -4 to 4), fal (up to 3, scale 0 to 4)" in \
        model_card(MODELS["flux-2-dev"])
    assert "**LoRA adapters:** not supported by any of its backends" in model_card(MODELS["seedream-4"])


def test_the_compare_tab_offers_the_first_adapters_scale_and_path_as_axes():
    from playground.ui.compare_tab import param_choices, values_info

    choices = dict((name, label) for label, name in param_choices(["sdxl-base", "flux-2-pro"], "text-to-image"))
    assert choices["loras[0].scale"] == "LoRA 1 scale — n/a for flux-2-pro"
    assert choices["loras[0].path"] == "LoRA 1 — n/a for flux-2-pro"
    assert "loras" not in choices
    assert "a number from -4 to 4" in values_info("param", "loras[0].scale", ["sdxl-base"], "text-to-image")


# --- the editor's redraw races ------------------------------------------------------------------------
def _queue_call(base: str, session: str, fn_index: int, data: list) -> dict:
    """One event through Gradio's queue, as the page sends it: the finished message, or the HTTP refusal."""
    import httpx

    joined = httpx.post(f"{base}/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                     "event_data": None, "trigger_id": None}, timeout=30)
    if joined.status_code != 200:
        return {"refused": joined.status_code}
    with httpx.stream("GET", f"{base}/queue/data", params={"session_hash": session}, timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                return json.loads(line[5:])
    raise AssertionError("no process_completed message")


EDITOR_CONTEXT = {"model": "sdxl-base", "mode": "text-to-image", "backend": "local"}


@contextlib.contextmanager
def _served_editor(beside: Callable[[Any], None] | None = None) -> Iterator[SimpleNamespace]:
    """The adapters editor (SDXL on local) served alone, with `beside(slot)` declared next to it: the queue's
    base URL, the config's dependencies, and the editor's `ctx` and `slot` components."""
    import gradio as gr
    import httpx

    from playground.ui import lora_editor

    with gr.Blocks() as demo:
        ctx = gr.JSON(EDITOR_CONTEXT, visible=False)
        slot = gr.Textbox("")
        lora_editor.build(demo, ctx, slot)
        if beside is not None:
            beside(slot)
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    try:
        dependencies = httpx.get(url.rstrip("/") + "/config").json()["dependencies"]
        yield SimpleNamespace(base=url.rstrip("/") + "/gradio_api", dependencies=dependencies, ctx=ctx, slot=slot)
    finally:
        demo.close()


def _renders(dependencies: list[dict]) -> list[dict]:
    """The `gr.render`s among `dependencies` (each one also runs on load), in declaration order."""
    return [d for d in dependencies if any(event == "load" for _, event in d["targets"])]


def test_an_edit_sent_with_the_previous_renders_event_ids_still_runs():
    """A change of the slot from elsewhere (add, remove, a preset) redraws the rows; an edit made just before
    reaches the server with the event ids of the render before. The editor keys its rows, so those ids stay valid;
    an unkeyed rendered event (the control) is gone after the redraw and the server refuses it (KeyError in
    get_fn)."""
    import gradio as gr

    def unkeyed_control(slot) -> None:
        control = gr.Textbox("")

        @gr.render(inputs=[slot])
        def unkeyed(text: str) -> None:
            gr.Button("control").click(lambda t: t, [slot], control)

    with _served_editor(unkeyed_control) as served:
        session = "lora-race"
        editor_render, control_render = (d["id"] for d in _renders(served.dependencies))

        def render(fn_index: int, data: list) -> list[dict]:
            return _queue_call(served.base, session, fn_index, data)["output"]["render_config"]["dependencies"]

        first = '[{"path": "a/b", "scale": 1.0}]'
        rows = render(editor_render, [EDITOR_CONTEXT, first])
        (blur,) = [d["id"] for d in rows if d["targets"][0][1] == "blur"]
        (stale_control,) = [d["id"] for d in render(control_render, [first])]
        # Another edit lands first: both re-render with a new slot value.
        second = '[{"path": "a/c", "scale": 0.5}]'
        assert [d["id"] for d in render(editor_render, [EDITOR_CONTEXT, second])] == [d["id"] for d in rows]
        render(control_render, [second])

        late = _queue_call(served.base, session, blur, [second, " x/y ", 0.5])
        assert late["success"] and json.loads(late["output"]["data"][0]) == [{"path": "x/y", "scale": 0.5}]
        assert _queue_call(served.base, session, stale_control, [second]) == {"refused": 500}


def test_a_rows_own_edit_redraws_nothing_and_a_change_from_elsewhere_redraws_the_rows():
    """The slot's change redraws the rows (the render listens to the `redraws` state) only when the change did not
    come from a row's own edit: a redraw then is needless, and an edit reaching the server mid-redraw can be lost."""
    with _served_editor() as served:
        session = "lora-redraws"
        (render,) = _renders(served.dependencies)
        (slot_change,) = [d["id"] for d in served.dependencies if d["targets"] == [[served.slot._id, "change"]]]
        (redraws,) = [target for target, event in render["targets"] if event == "change" and target != served.ctx._id]

        def changed(text: str) -> list[int]:
            """The states with listeners that the slot's change to `text` changed."""
            return _queue_call(served.base, session, slot_change, [text, None, None])["output"]["changed_state_ids"]

        first = '[{"path": "a/b", "scale": 1.0}]'
        assert changed(first) == [redraws], "a preset, an example or Add changing the slot redraws the rows"
        rows = _queue_call(served.base, session, render["id"], [EDITOR_CONTEXT, first])["output"]["render_config"]
        (release,) = [d["id"] for d in rows["dependencies"] if d["targets"][0][1] == "release"]
        edited = _queue_call(served.base, session, release, [first, "a/b", 0.5])["output"]["data"][0]
        assert json.loads(edited) == [{"path": "a/b", "scale": 0.5}]
        assert changed(edited) == [], "the row's own edit redraws nothing"
        assert changed(first) == [redraws], "setting the slot back from elsewhere redraws again"
