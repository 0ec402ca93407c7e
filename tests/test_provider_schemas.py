"""The catalog against the providers' published input schemas (playground/catalog/schemas/).

Conformance is proven able to fail by widening one catalog value at a time; every route's edge
values (min, max, every choice) are accepted by the snapshot-driven emulator; one step past an
edge is refused by our own validation before anything is sent; `schemas refresh` reads the
emulator's schema URLs and reports drift with exact lines.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date
from typing import Any

import httpx
import pytest

from playground import backends, conformance
from playground.__main__ import main
from playground.backends.fal import FalBackend
from playground.backends.hosted import payload_for
from playground.catalog import MODELS, HostedRoute, ImageField, ModelSpec, snapshots
from playground.params import SEED_MAX, Param, ValidationError
from playground.records import build_record
from playground.request import Request
from playground.ui.catalog_view import panel_header
from playground.validation import validate
from tests.conftest import make_image, make_mask
from tests.emulator import ProviderEmulator, load_snapshot

T2I, I2I, INPAINT = "text-to-image", "image-to-image", "inpaint"
ROUTES = [pytest.param(m.id, b, mode, id=f"{m.id}-{b}-{mode}") for m, b, mode, _ in conformance.hosted_routes()]
NO_MISMATCH: list[conformance.Mismatch] = []


# -- snapshots ---------------------------------------------------------------------------------


def test_every_hosted_endpoint_has_a_dated_sourced_snapshot() -> None:
    for provider, endpoint in conformance.endpoints():
        doc = snapshots.load(provider, endpoint)
        assert doc is not None, f"{provider} {endpoint}: no snapshot"
        meta = doc[snapshots.META_KEY]
        assert date.fromisoformat(meta["taken"]) and meta["sources"], endpoint
        assert isinstance(meta["reconstructed"], bool), endpoint
        spec = snapshots.read(provider, endpoint)
        assert spec is not None and "prompt" in spec.fields, endpoint
    # LoRA routes come later (issue 15); their schemas are shipped already.
    assert snapshots.read("fal", "fal-ai/flux-2/lora/edit").fields["loras"].types == {"array"}
    assert "loras" in snapshots.read("fal", "fal-ai/fast-sdxl").fields


def test_catalog_conforms_to_the_published_schemas() -> None:
    assert conformance.check() == NO_MISMATCH


# -- conformance can fail: widen one catalog value at a time ------------------------------------


def _with_param(model: ModelSpec, name: str, **changes: Any) -> ModelSpec:
    params = tuple(replace(p, **changes) if p.name == name else p for p in model.params)
    return replace(model, params=params)


def _with_override(model: ModelSpec, name: str, key: str, **changes: Any) -> ModelSpec:
    param = model.param(name)
    assert param is not None
    overrides = {**param.overrides, key: {**param.overrides.get(key, {}), **changes}}
    return _with_param(model, name, overrides=overrides)


def _with_route(model: ModelSpec, backend: str, **changes: Any) -> ModelSpec:
    route = model.routes[backend]
    return replace(model, routes={**model.routes, backend: replace(route, **changes)})


def _param(model_id: str, name: str) -> Param:
    param = MODELS[model_id].param(name)
    assert param is not None
    return param


WIDENED = [
    pytest.param(lambda: _with_override(MODELS["sdxl-base"], "num_inference_steps", "fal", max=51),
                 "sdxl-base", "fal", T2I, "params.num_inference_steps", "maximum 51", "1 to 50", id="range-max"),
    pytest.param(lambda: _with_override(MODELS["flux-2-dev"], "num_inference_steps", "fal", min=3),
                 "flux-2-dev", "fal", T2I, "params.num_inference_steps", "minimum 3", "4 to 50", id="range-min"),
    pytest.param(lambda: _with_param(MODELS["flux-2-pro"], "aspect_ratio",
                                     choices=(*_param("flux-2-pro", "aspect_ratio").choices, "21:9")),
                 "flux-2-pro", "replicate", T2I, "params.aspect_ratio", "'21:9'", "one of", id="enum"),
    pytest.param(lambda: _with_override(MODELS["flux-2-dev"], "guidance_scale", "fal", default=3.0),
                 "flux-2-dev", "fal", T2I, "params.guidance_scale default", "3.0", "2.5", id="default"),
    pytest.param(lambda: _with_param(MODELS["flux-2-flex"], "enable_prompt_expansion", backends=None),
                 "flux-2-flex", "fal", T2I, "params.enable_prompt_expansion", "sends enable_prompt_expansion",
                 "has no field enable_prompt_expansion", id="removed-field"),
    pytest.param(lambda: _with_route(MODELS["seedream-4"], "replicate", seed_field="seed"),
                 "seedream-4", "replicate", T2I, "seed", "sends seed", "has no seed field", id="seed"),
    pytest.param(lambda: _with_route(MODELS["flux-kontext-pro"], "fal",
                                     image_fields={I2I: ImageField("image_url", "list", 1)}),
                 "flux-kontext-pro", "fal", I2I, "images", "image_url as a list of URLs", "string",
                 id="image-shape"),
    pytest.param(lambda: _with_override(MODELS["sdxl-base"], "reference_strength", "fal", max=1.0),
                 "sdxl-base", "fal", I2I, "params.reference_strength", "1 (sends strength=0)",
                 "strength 0.05 to 1", id="derived-strength"),
    pytest.param(lambda: _with_override(MODELS["sdxl-base"], "image_size", "fal:image-to-image", default="square_hd"),
                 "sdxl-base", "fal", I2I, "params.image_size default", "'square_hd'", "'square'", id="size-default"),
]


@pytest.mark.parametrize(("mutate", "model_id", "backend", "mode", "field", "ours", "theirs"), WIDENED)
def test_widening_one_catalog_value_fails_naming_the_field(mutate, model_id, backend, mode, field, ours,
                                                           theirs) -> None:
    model = mutate()
    route = model.routes[backend]
    spec = snapshots.read(route.provider, route.endpoint(mode))
    assert conformance.check_route(MODELS[model_id], backend, mode, spec) == NO_MISMATCH  # the real one conforms
    problems = conformance.check_route(model, backend, mode, spec)
    assert [p.field for p in problems] == [field], problems
    line = str(problems[0])
    assert line.startswith(f"{model_id} {backend} {mode} {field}: ours ")
    assert ours in problems[0].ours and theirs in problems[0].theirs, line


@pytest.mark.parametrize(("model_id", "backend", "key", "change", "endpoint", "ours", "theirs"), [
    ("sdxl-base", "fal", "fal", {"max": 1.5}, None, "maximum 1.5", "0 to 1"),
    ("flux-2-dev", "fal", "fal", {"max": 5.0}, "fal-ai/flux-2/lora", "maximum 5", "0 to 4"),
    ("sdxl-base", "replicate", "replicate", {"max_items": 2}, None, "up to 2 adapters", "one adapter"),
])
def test_widening_an_adapter_limit_fails_on_the_endpoint_that_takes_adapters(model_id, backend, key, change,
                                                                              endpoint, ours, theirs) -> None:
    model = _with_override(MODELS[model_id], "loras", key, **change)
    route = model.routes[backend]
    spec = snapshots.read(route.provider, endpoint or route.endpoint(T2I))
    assert conformance.check_route(MODELS[model_id], backend, T2I, spec, endpoint=endpoint) == NO_MISMATCH
    problems = conformance.check_route(model, backend, T2I, spec, endpoint=endpoint)
    assert len(problems) == 1 and problems[0].field.startswith("params.loras"), problems
    assert ours in problems[0].ours and theirs in problems[0].theirs, problems[0]
    if endpoint:  # the plain endpoint never carries adapters, so it does not judge them
        plain = snapshots.read(route.provider, route.endpoint(T2I))
        assert conformance.check_route(model, backend, T2I, plain) == NO_MISMATCH


def test_a_different_default_passes_only_when_the_route_says_why() -> None:
    model = _with_override(MODELS["flux-2-dev"], "guidance_scale", "fal", default=3.0)
    route = model.routes["fal"]
    spec = snapshots.read("fal", "fal-ai/flux-2")
    assert [p.field for p in conformance.check_route(model, "fal", T2I, spec)] == ["params.guidance_scale default"]
    explained = _with_route(model, "fal", default_reasons={"guidance_scale": "sharper text at 3.0"})
    assert route.default_reasons == {} and conformance.check_route(explained, "fal", T2I, spec) == NO_MISMATCH


def test_schemas_check_command_exits_1_with_one_line_per_problem(monkeypatch, capsys) -> None:
    assert main(["schemas", "check"]) == 0
    assert "All 49 hosted routes conform" in capsys.readouterr().out
    monkeypatch.setitem(MODELS, "sdxl-base", _with_override(MODELS["sdxl-base"], "num_inference_steps", "fal",
                                                            max=51))
    assert main(["schemas", "check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["sdxl-base fal text-to-image params.num_inference_steps: ours maximum 51; provider 1 to 50"]


# -- edge values: accepted by the emulator; one step past: refused by us, before sending ---------


@pytest.fixture(scope="module")
def judge():
    """An emulator that answers 422 at submit, and an HTTP client to post payloads to it."""
    emu = ProviderEmulator(work_seconds=0.0, queue_seconds=0.0, fal_validate_on_submit=True).start()
    with httpx.Client(timeout=30) as client:
        yield emu, client
    emu.stop()


def _submit(judge: tuple[ProviderEmulator, httpx.Client], route: HostedRoute, mode: str,
            payload: dict[str, Any]) -> httpx.Response:
    emu, client = judge
    if route.provider == "fal":
        return client.post(f"{emu.fal_queue_url}/{route.endpoint(mode)}", json=payload,
                           headers={"Authorization": "Key test-edge"})
    headers = {"Authorization": "Bearer test-edge"}
    if route.version:
        return client.post(f"{emu.replicate_url}/v1/predictions", json={"version": route.version, "input": payload},
                           headers=headers)
    return client.post(f"{emu.replicate_url}/v1/models/{route.endpoint(mode)}/predictions", json={"input": payload},
                       headers=headers)


def _edge_sets(model: ModelSpec, backend: str, mode: str) -> list[dict[str, Any]]:
    """Parameter sets at the catalog's edges: every range at its minimum, at its maximum, then each
    choice in turn (the k-th set gives every choice parameter its k-th value)."""
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    choices: dict[str, tuple[Any, ...]] = {}
    for p in model.params_for(mode, backend):
        if p.kind in ("int", "float") and p.min is not None and p.max is not None:
            low[p.name], high[p.name] = p.min, p.max
        elif p.kind == "bool":
            low[p.name], high[p.name] = False, True
        elif p.kind == "choice":
            choices[p.name] = tuple(p.choices or ())
        elif p.kind == "size":
            if p.min is not None and p.max is not None:
                low[p.name] = {"width": int(p.min), "height": int(p.min)}
                high[p.name] = {"width": int(p.max), "height": int(p.max)}
            choices[p.name] = tuple(p.choices or ())
    sets = [low, high]
    for k in range(max((len(c) for c in choices.values()), default=0)):
        sets.append({name: values[k] for name, values in choices.items() if k < len(values)})
    return sets


def _request(model: ModelSpec, backend: str, mode: str, params: dict[str, Any], seed: int = 7) -> Request:
    images = []
    if mode != T2I:
        images = [make_image(64, 64, pattern=i) for i in range(min(2, model.max_images(mode, backend)))]
    return Request(model=model.id, mode=mode, prompt="a lighthouse", images=images,
                   mask=make_mask(64, 64) if mode == INPAINT else None, params=params, seed=seed, backend=backend)


@pytest.mark.parametrize(("model_id", "backend", "mode"), ROUTES)
def test_catalog_edge_values_are_accepted_by_the_emulator(judge, monkeypatch, model_id, backend, mode) -> None:
    monkeypatch.setenv("PLAYGROUND_ENABLE_SEEDEDIT_FAL", "1")
    model = MODELS[model_id]
    route = model.routes[backend]
    assert isinstance(route, HostedRoute)
    sets = _edge_sets(model, backend, mode)
    for i, params in enumerate(sets):
        prepared = validate(_request(model, backend, mode, params, seed=0 if i == 0 else SEED_MAX), backend)
        payload, _ = payload_for(prepared, route, threshold=10**9, upload=lambda data, digest: "")
        resp = _submit(judge, route, mode, payload)
        assert resp.status_code in (200, 201), f"{params}: {resp.text}"


def _past(param: Param) -> list[tuple[Any, str]]:
    """Values one step past the catalog's edges, each with a number the refusal must name."""
    step = param.step or 1
    if param.kind in ("int", "float") and param.min is not None and param.max is not None:
        below = param.min - step if param.kind == "int" else round(param.min - step, 6)
        above = param.max + step if param.kind == "int" else round(param.max + step, 6)
        return [(below, _num(param.min)), (above, _num(param.max))]
    if param.kind == "choice":
        return [("not-a-choice", repr(c)) for c in (param.choices or ())[:1]]
    return []


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@pytest.mark.parametrize(("model_id", "backend", "mode"), ROUTES)
def test_one_step_past_the_edge_is_refused_before_anything_is_sent(hosted, monkeypatch, model_id, backend,
                                                                   mode) -> None:
    monkeypatch.setenv("PLAYGROUND_ENABLE_SEEDEDIT_FAL", "1")
    model = MODELS[model_id]
    route = model.routes[backend]
    spec = snapshots.read(route.provider, route.endpoint(mode))
    tried = 0
    for param in model.params_for(mode, backend):
        provider_field = spec.fields.get(route.native_name(param.name))
        for value, named in _past(param):
            tried += 1
            with pytest.raises(ValidationError) as err:
                backends.run(_request(model, backend, mode, {param.name: value}), keys={backend: "test-edge"})
            (problem,) = err.value.problems
            assert problem.field == f"params.{param.name}" and problem.value == value
            assert named in problem.allowed, (param.name, problem.allowed)
            if param.kind == "choice" and provider_field is not None and provider_field.enum is not None:
                # every value we offer is one the provider lists, so the message lists only provider values
                offered = [route.native_value(param.name, c) for c in param.choices or ()]
                assert set(offered) <= set(provider_field.enum)
            if param.kind in ("int", "float") and provider_field is not None:
                edge = param.min if value < param.min else param.max
                if edge in (provider_field.minimum, provider_field.maximum):
                    assert _num(edge) in provider_field.bounds_text()
    assert tried, f"no edge of {model_id} on {backend} in {mode} was tried"
    assert not [r for r in hosted.emulator.requests if r["phase"] == "submit"]


def test_payload_outside_the_schema_is_refused_before_sending(hosted) -> None:
    """Belt and braces: a payload the shipped schema refuses never leaves, whatever the catalog says."""
    model = _with_override(MODELS["sdxl-base"], "num_inference_steps", "fal", max=51)
    prepared = validate(Request(model="sdxl-base", prompt="x", seed=1, backend="fal"), "fal")
    prepared = replace(prepared, model=model, params={**prepared.params, "num_inference_steps": 51})
    with pytest.raises(ValidationError) as err:
        FalBackend(hosted.settings).run(prepared, keys={"fal": "test-edge"})
    (problem,) = err.value.problems
    assert problem.field == "params.num_inference_steps" and problem.value == 51
    assert problem.allowed == "an integer 1 to 50 (published schema of fal-ai/fast-sdxl)"
    assert not [r for r in hosted.emulator.requests if r["phase"] == "submit"]


# -- routes that take no seed -----------------------------------------------------------------------


def test_a_route_without_a_seed_sends_none_and_says_so(hosted) -> None:
    request = Request(model="seedream-4", prompt="a lighthouse", seed=42, backend="replicate")
    result = backends.run(request, keys={"replicate": "test-seed"})
    (sent,) = [r["json"]["input"] for r in hosted.emulator.requests if r["phase"] == "submit"]
    assert "seed" not in sent and "seed" not in result.native
    assert result.warnings == ["Replicate takes no seed for seedream-4: seed 42 was not sent, so this output is "
                               "not reproducible from its seed."]
    assert build_record(result)["warnings"] == result.warnings  # the record says it plainly
    assert "**Seed: not used.**" in panel_header(MODELS["seedream-4"], "replicate", "replicate")
    assert "Seed: not used" not in panel_header(MODELS["seedream-4"], "fal", "fal")


# -- the emulator: snapshots only, unknown endpoints refused ---------------------------------------


def test_emulator_refuses_endpoints_it_has_no_schema_for(emulator) -> None:
    fal_headers, rep_headers = {"Authorization": "Key test-x"}, {"Authorization": "Bearer test-x"}
    assert httpx.post(f"{emulator.fal_queue_url}/fal-ai/no-such-model", json={"prompt": "x"},
                      headers=fal_headers).status_code == 404
    assert httpx.get(f"{emulator.fal_gateway_url}/api/openapi/queue/openapi.json",
                     params={"endpoint_id": "fal-ai/no-such-model"}).status_code == 404
    assert httpx.post(f"{emulator.replicate_url}/v1/models/acme/no-such-model/predictions",
                      json={"input": {"prompt": "x"}}, headers=rep_headers).status_code == 404
    assert httpx.get(f"{emulator.replicate_url}/v1/models/acme/no-such-model", headers=rep_headers).status_code == 404
    served = httpx.get(f"{emulator.fal_gateway_url}/api/openapi/queue/openapi.json",
                       params={"endpoint_id": "fal-ai/fast-sdxl"}).json()
    shipped = snapshots.load("fal", "fal-ai/fast-sdxl")
    assert served == {k: v for k, v in shipped.items() if k != snapshots.META_KEY}


# -- schemas refresh against the emulator ---------------------------------------------------------


@pytest.fixture
def refresh_env(emulator, monkeypatch):
    emulator.reset()
    monkeypatch.setenv("PLAYGROUND_FAL_URL", emulator.fal_gateway_url)
    monkeypatch.setenv("PLAYGROUND_REPLICATE_URL", emulator.replicate_url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", "test-refresh")
    yield emulator
    emulator.reset()


def test_refresh_without_drift_exits_0(refresh_env, capsys) -> None:
    assert main(["schemas", "refresh"]) == 0
    count = len(set(conformance.endpoints()) | set(snapshots.shipped()))
    assert capsys.readouterr().out.splitlines() == [f"{count} endpoint(s) read: 0 changed; 0 catalog route problem(s)."]


def _drift(emu: ProviderEmulator) -> None:
    """Serve three changed documents: a narrowed range, a removed enum value, a removed field."""
    sdxl = load_snapshot("fal", "fal-ai/fast-sdxl")
    sdxl["components"]["schemas"]["FastSdxlInput"]["properties"]["num_inference_steps"]["maximum"] = 40
    emu.serve_schema("fal-ai/fast-sdxl", sdxl)
    pro = load_snapshot("replicate", "black-forest-labs/flux-2-pro")
    pro["latest_version"]["openapi_schema"]["components"]["schemas"]["aspect_ratio"]["enum"].remove("4:5")
    emu.serve_schema("black-forest-labs/flux-2-pro", pro)
    dev = load_snapshot("fal", "fal-ai/flux-2")
    del dev["components"]["schemas"]["Flux2Input"]["properties"]["acceleration"]
    emu.serve_schema("fal-ai/flux-2", dev)


def test_refresh_reports_drift_and_broken_routes_with_exact_lines(refresh_env, capsys) -> None:
    _drift(refresh_env)
    assert main(["schemas", "refresh"]) == 1
    count = len(set(conformance.endpoints()) | set(snapshots.shipped()))
    assert capsys.readouterr().out.splitlines() == [
        "changed fal fal-ai/fast-sdxl: num_inference_steps maximum 50 -> 40",
        "changed fal fal-ai/flux-2: field acceleration removed",
        'changed replicate black-forest-labs/flux-2-pro: aspect_ratio enum lost "4:5"',
        "breaks flux-2-dev fal text-to-image params.acceleration: ours sends acceleration; "
        "provider fal-ai/flux-2 has no field acceleration",
        "breaks flux-2-pro replicate text-to-image params.aspect_ratio: ours '4:5'; provider one of "
        '"match_input_image", "custom", "1:1", "16:9", "3:2", "2:3", "5:4", "9:16", "3:4", "4:3"',
        "breaks flux-2-pro replicate image-to-image params.aspect_ratio: ours '4:5'; provider one of "
        '"match_input_image", "custom", "1:1", "16:9", "3:2", "2:3", "5:4", "9:16", "3:4", "4:3"',
        "breaks sdxl-base fal text-to-image params.num_inference_steps: ours maximum 50; provider 1 to 40",
        f"{count} endpoint(s) read: 3 changed; 4 catalog route problem(s).",
    ]
    # The emulator now judges by the changed documents too: what drifted is refused there.
    payload = {"prompt": "x", "num_inference_steps": 45}
    resp = httpx.post(f"{refresh_env.fal_run_url}/fal-ai/fast-sdxl", json=payload,
                      headers={"Authorization": "Key test-refresh"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "num_inference_steps"]


def test_refresh_narrowed_to_one_model_writes_the_new_snapshot(refresh_env, tmp_path, monkeypatch, capsys) -> None:
    shutil.copytree(snapshots.SCHEMA_DIR, tmp_path / "schemas")
    monkeypatch.setattr(snapshots, "SCHEMA_DIR", tmp_path / "schemas")
    snapshots.clear_cache()
    try:
        _drift(refresh_env)
        assert main(["schemas", "refresh", "--provider", "fal", "--model", "sdxl-base", "--write"]) == 1
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "changed fal fal-ai/fast-sdxl: num_inference_steps maximum 50 -> 40"
        assert lines[-1].startswith("wrote ") and lines[-1].endswith("fal/fal-ai/fast-sdxl.json")
        written = json.loads((tmp_path / "schemas" / "fal" / "fal-ai" / "fast-sdxl.json").read_text())
        meta = written[snapshots.META_KEY]
        assert meta["sources"] == [f"{refresh_env.fal_gateway_url}/api/openapi/queue/openapi.json"
                                   "?endpoint_id=fal-ai/fast-sdxl"]
        assert meta["reconstructed"] is False and date.fromisoformat(meta["taken"])
        assert snapshots.read("fal", "fal-ai/fast-sdxl").fields["num_inference_steps"].maximum == 40
        # With the new snapshot shipped, the check names the route the change breaks.
        assert [str(p) for p in conformance.check([MODELS["sdxl-base"]])] == [
            "sdxl-base fal text-to-image params.num_inference_steps: ours maximum 50; provider 1 to 40"]
    finally:
        snapshots.clear_cache()


def test_refresh_needs_a_replicate_token_and_a_reachable_host(refresh_env, monkeypatch, capsys) -> None:
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    assert main(["schemas", "refresh", "--provider", "replicate"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["Error: REPLICATE_API_TOKEN is not set: refreshing Replicate schemas reads its models API with "
                   "your token (or use --provider fal)."]
    monkeypatch.setenv("PLAYGROUND_FAL_URL", "http://127.0.0.1:9")
    assert main(["schemas", "refresh", "--provider", "fal"]) == 1
    assert capsys.readouterr().err.splitlines() == ["Error: fal at 127.0.0.1 cannot be reached (ConnectError)."]
    assert main(["schemas", "refresh", "--model", "no-such-model"]) == 2
    assert capsys.readouterr().err.startswith("Error: --model 'no-such-model': not a catalog model; one of ")
