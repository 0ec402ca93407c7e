"""Every environment variable in the README's table, set in a test that shows what it changes.

Most tests call what reads the variable (the backend's settings, a cap, a folder) and then use it
for real: a run against the provider emulator, a load of a tiny pipeline, a refused input. Host,
port and concurrency are only visible on a served app, so one app is launched for those.
`test_the_readme_table_is_covered` keeps this file in step with the README.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest

from playground import backends, compare, drift, history, zerogpu
from playground.backends.fal import FalBackend
from playground.backends.hosted import HostedSettings
from playground.backends.local import LocalBackend, LocalSettings
from playground.backends.replicate import ReplicateBackend
from playground.catalog import get_model
from playground.errors import BackendUnavailable, TransportError
from playground.images import Limits, encode
from playground.params import ValidationError
from playground.request import Request
from playground.ui import outputs, service
from playground.validation import validate
from tests.conftest import make_image

ROOT = Path(__file__).resolve().parent.parent
FAL_T2I = dict(model="flux-2-dev", prompt="a lighthouse", seed=5, params={"image_size": "square"}, backend="fal")
REP_T2I = dict(model="flux-2-pro", prompt="a lighthouse", seed=5, backend="replicate")


def readme_variables() -> set[str]:
    """The variable names in the README's "Environment variables" table."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return {name for row in table.splitlines() if row.startswith("| `")
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_the_readme_table_is_covered():
    """Each documented variable is set by a test in this file (the variables are named in full)."""
    documented = readme_variables()
    assert len(documented) >= 27, sorted(documented)
    source = Path(__file__).read_text()
    set_here = set(re.findall(r"setenv\(\s*\"([A-Z][A-Z0-9_]+)\"", source))
    assert documented - set_here == set()


def on_emulator(monkeypatch, emulator) -> None:
    """Point both hosted backends at the emulator through the environment, as an operator would."""
    emulator.reset()
    monkeypatch.setenv("PLAYGROUND_FAL_URL", emulator.fal_gateway_url)
    monkeypatch.setenv("PLAYGROUND_REPLICATE_URL", emulator.replicate_url)


def submits(emulator, provider: str) -> list[dict]:
    return [r for r in emulator.requests if r["provider"] == provider and r["phase"] == "submit"]


# --- hosted -----------------------------------------------------------------------------------------
def test_provider_urls_send_runs_to_the_named_hosts(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    backends.set_backend("fal", FalBackend())
    backends.set_backend("replicate", ReplicateBackend())
    fal = backends.run(Request(**FAL_T2I), keys={"fal": "test-env-fal"})
    rep = backends.run(Request(**REP_T2I), keys={"replicate": "test-env-rep"})
    assert fal.images and rep.images
    assert [r["auth"] for r in submits(emulator, "fal")] == ["Key test-env-fal"]
    assert [r["auth"] for r in submits(emulator, "replicate")] == ["Bearer test-env-rep"]
    # Without the variables the defaults are the providers' own hosts, never the emulator.
    monkeypatch.delenv("PLAYGROUND_FAL_URL")
    monkeypatch.delenv("PLAYGROUND_REPLICATE_URL")
    assert HostedSettings.from_env().fal_url is None and HostedSettings.from_env().replicate_url is None


def test_server_keys_lend_fal_key_and_replicate_token_only_when_switched_on(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    monkeypatch.setenv("FAL_KEY", "test-operator-fal")
    monkeypatch.setenv("REPLICATE_API_TOKEN", "test-operator-rep")
    monkeypatch.setenv("PLAYGROUND_SERVER_KEYS", "0")
    backends.set_backend("fal", FalBackend())
    with pytest.raises(BackendUnavailable, match="enter your own fal key"):
        backends.run(Request(**FAL_T2I), keys={})
    assert emulator.requests == []
    monkeypatch.setenv("PLAYGROUND_SERVER_KEYS", "1")
    backends.set_backend("fal", FalBackend())
    backends.set_backend("replicate", ReplicateBackend())
    backends.run(Request(**FAL_T2I), keys={})
    backends.run(Request(**REP_T2I), keys={})
    assert [r["auth"] for r in submits(emulator, "fal")] == ["Key test-operator-fal"]
    assert [r["auth"] for r in submits(emulator, "replicate")] == ["Bearer test-operator-rep"]


def test_hosted_timeout_cancels_a_job_that_runs_longer(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    monkeypatch.setenv("PLAYGROUND_HOSTED_TIMEOUT", "1")
    backends.set_backend("fal", FalBackend())
    emulator.inject("slow", seconds=20, provider="fal")
    with pytest.raises(TransportError, match="did not finish within 1 s; it was cancelled"):
        backends.run(Request(**FAL_T2I), keys={"fal": "test-env-fal"})
    assert [r["method"] for r in emulator.requests if r["phase"] == "cancel"] == ["PUT"]


def test_poll_interval_spaces_status_polls_and_is_at_least_half_a_second(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    monkeypatch.setenv("PLAYGROUND_POLL_INTERVAL", "0.01")  # raised to the 0.5 s floor
    backends.set_backend("fal", FalBackend())
    emulator.inject("slow", seconds=1.2, provider="fal")
    backends.run(Request(**FAL_T2I), keys={"fal": "test-env-fal"})
    # Our polls ask for logs; fal_client's own status check before fetching the result does not.
    polls = [r["time"] for r in emulator.requests if r["phase"] == "status" and r["query"].get("logs") == "true"]
    assert len(polls) >= 2
    # A lower bound on a sleep is behaviour, not speed: the client never polls sooner than this.
    assert min(b - a for a, b in zip(polls, polls[1:], strict=False)) >= 0.45


def test_upload_threshold_sends_larger_inputs_by_url(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    request = dict(model="flux-2-dev", mode="image-to-image", prompt="x", seed=1, images=[make_image()],
                   params={"image_size": "square"}, backend="fal")

    def sent_image(threshold: str) -> str:
        monkeypatch.setenv("PLAYGROUND_UPLOAD_THRESHOLD", threshold)
        backends.set_backend("fal", FalBackend())
        emulator.reset()
        backends.run(Request(**request), keys={"fal": "test-env-fal"})
        (submit,) = submits(emulator, "fal")
        return submit["json"]["image_urls"][0]

    assert sent_image("100000000").startswith("data:image/png;base64,")
    assert sent_image("10").startswith("http://")
    assert [r for r in emulator.requests if r["phase"] in ("cdn_upload", "storage_initiate", "storage_put")]


def test_seededit_on_fal_is_offered_only_when_enabled(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    model = get_model("seededit-3")
    backend = FalBackend()
    monkeypatch.delenv("PLAYGROUND_ENABLE_SEEDEDIT_FAL", raising=False)
    ok, why = backend.health(model, keys={"fal": "test-env-fal"})
    assert not ok and "set PLAYGROUND_ENABLE_SEEDEDIT_FAL=1" in why
    monkeypatch.setenv("PLAYGROUND_ENABLE_SEEDEDIT_FAL", "1")
    assert backend.health(model, keys={"fal": "test-env-fal"}) == (True, "fal key present")


# --- dispatch ---------------------------------------------------------------------------------------
def test_auto_order_decides_which_backend_runs_first(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    backends.set_backend("fal", FalBackend())
    backends.set_backend("replicate", ReplicateBackend())
    keys = {"fal": "test-env-fal", "replicate": "test-env-rep"}
    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", "replicate,fal")
    assert backends.run(Request(model="flux-2-pro", prompt="x", seed=1), keys=keys).backend == "replicate"
    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", "fal,replicate")
    assert backends.run(Request(model="flux-2-pro", prompt="x", seed=1), keys=keys).backend == "fal"
    assert [r["provider"] for r in emulator.requests if r["phase"] == "submit"] == ["replicate", "fal"]


def test_device_decides_whether_auto_will_run_locally(model_paths_file, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODEL_PATHS", str(model_paths_file))
    monkeypatch.setenv("PLAYGROUND_AUTO_ORDER", "local")
    prepared = validate(Request(model="sdxl-turbo", prompt="x"))
    monkeypatch.setenv("PLAYGROUND_DEVICE", "cpu")
    backends.set_backend("local", LocalBackend())
    assert backends.plan(prepared)["passed"] == [
        {"backend": "local", "reason": "no GPU on this machine (set backend to local to run on CPU anyway)"}]
    monkeypatch.setenv("PLAYGROUND_DEVICE", "cuda")  # nothing runs: the plan only asks the device
    backends.set_backend("local", LocalBackend())
    assert backends.plan(prepared)["backend"] == "local"


# --- local: one backend from the environment, its pipelines loaded once ------------------------------
@pytest.fixture(scope="module")
def env_local(model_paths_file):
    """A local backend made from the environment alone, with sdxl-turbo, sdxl-base, sdxl-turbo loaded."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PLAYGROUND_MODEL_PATHS", str(model_paths_file))
        monkeypatch.setenv("PLAYGROUND_DEVICE", "cpu")
        monkeypatch.setenv("PLAYGROUND_DTYPE", "bfloat16")
        monkeypatch.setenv("PLAYGROUND_VAE_TILING", "1")
        monkeypatch.setenv("PLAYGROUND_MAX_PIPELINES", "2")
        monkeypatch.setenv("PLAYGROUND_CPU_OFFLOAD", "model")  # on a CPU device there is nothing to offload to
        local = LocalBackend()
        pipes = [local.pipeline(get_model(m), "text-to-image")[0] for m in ("sdxl-turbo", "sdxl-base", "sdxl-turbo")]
    return local, pipes


def test_model_paths_load_weights_from_the_named_folders(env_local, model_paths):
    local, _ = env_local
    assert local.source(get_model("sdxl-turbo")) == model_paths["sdxl-turbo"]
    assert {loaded.source for loaded in local._cache.values()} == {model_paths["sdxl-turbo"]}
    assert LocalBackend(LocalSettings()).source(get_model("sdxl-turbo")) == "stabilityai/sdxl-turbo"


def test_dtype_and_device_place_the_weights(env_local):
    import torch

    _, (pipe, _, _) = env_local
    assert {p.dtype for p in pipe.unet.parameters()} == {torch.bfloat16}
    assert {p.device.type for p in pipe.unet.parameters()} == {"cpu"}


def test_vae_tiling_switches_tiled_decoding_on(env_local, model_paths_file, monkeypatch):
    local, (pipe, _, _) = env_local
    assert pipe.vae.use_tiling is False  # speed settings are applied when a run starts, not at load
    backends.set_backend("local", local)
    result = backends.run(Request(model="sdxl-turbo", prompt="x", seed=1, backend="local",
                                  params={"image_size": "64x64", "num_inference_steps": 1}))
    assert pipe.vae.use_tiling is True and result.speed["vae_tiling"] is True
    assert local.stats["loads"] == 2, "sdxl-turbo ran on the weights already loaded"
    monkeypatch.setenv("PLAYGROUND_VAE_TILING", "0")
    assert LocalSettings.from_env().speed.vae_tiling is False  # the default leaves the decoder whole


def test_max_pipelines_keeps_that_many_sets_of_weights_loaded(env_local):
    local, (first, _, third) = env_local
    assert local.stats["loads"] == 2 and len(local._cache) == 2
    assert third is first, "sdxl-turbo stayed loaded while sdxl-base was loaded beside it"


def test_cpu_offload_is_not_applied_on_a_cpu_device(env_local):
    _, (pipe, _, _) = env_local
    assert not hasattr(pipe.unet, "_hf_hook")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="CPU offload needs a GPU")
@pytest.mark.parametrize("mode", ["model", "sequential"])
def test_cpu_offload_keeps_weights_off_the_gpu_until_used(model_paths_file, monkeypatch, mode):
    monkeypatch.setenv("PLAYGROUND_MODEL_PATHS", str(model_paths_file))
    monkeypatch.setenv("PLAYGROUND_DEVICE", "cuda")
    monkeypatch.setenv("PLAYGROUND_CPU_OFFLOAD", mode)
    pipe, _ = LocalBackend().pipeline(get_model("sdxl-turbo"), "text-to-image")
    assert hasattr(pipe.unet, "_hf_hook")
    assert all(p.device.type != "cuda" for p in pipe.unet.parameters())


def test_hub_offline_fails_at_once_with_what_to_download(monkeypatch):
    local = LocalBackend(LocalSettings(device="cpu"))  # no folders: weights would come from the hub
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackendUnavailable, match="not on this machine and HF_HUB_OFFLINE is set") as err:
        local.pipeline(get_model("sdxl-turbo"), "text-to-image")
    assert "stabilityai/sdxl-turbo" in str(err.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # now the loader itself is asked (and finds nothing)
    with pytest.raises(BackendUnavailable) as err:
        local.pipeline(get_model("sdxl-turbo"), "text-to-image")
    assert "HF_HUB_OFFLINE is set" not in str(err.value) and "Could not load sdxl-turbo" in str(err.value)


# --- inputs, caps and folders -----------------------------------------------------------------------
def test_max_image_side_and_bytes_refuse_larger_inputs(monkeypatch):
    png = encode(make_image(64, 64), "PNG")
    request = dict(model="flux-2-dev", mode="image-to-image", prompt="x", images=[png], backend="fal")
    validate(Request(**request))
    monkeypatch.setenv("PLAYGROUND_MAX_IMAGE_SIDE", "32")
    with pytest.raises(ValidationError) as err:
        validate(Request(**request))
    (problem,) = err.value.problems
    assert problem.field == "images[0]" and "32x32" in problem.allowed
    monkeypatch.setenv("PLAYGROUND_MAX_IMAGE_SIDE", "4096")
    monkeypatch.setenv("PLAYGROUND_MAX_IMAGE_BYTES", str(len(png) - 1))
    with pytest.raises(ValidationError) as err:
        validate(Request(**request))
    (problem,) = err.value.problems
    assert (problem.field, problem.value) == ("images[0]", f"{len(png)} bytes")
    monkeypatch.setenv("PLAYGROUND_MAX_IMAGE_BYTES", str(len(png)))
    validate(Request(**request))


def test_compare_max_cells_caps_the_grid(monkeypatch):
    from playground.compare import Axis, GridSpec, plan_grid

    spec = GridSpec(model="flux-2-dev", backend="fal", prompt="x", axes=[Axis("seed", [1, 2, 3, 4])])
    assert len(plan_grid(spec, {"fal": "test-env-fal"}).cells) == 4
    monkeypatch.setenv("PLAYGROUND_COMPARE_MAX_CELLS", "3")
    with pytest.raises(ValidationError, match=r"4 cells.*at most 3 cells"):
        plan_grid(spec, {"fal": "test-env-fal"})


def test_drift_max_steps_caps_each_chain(monkeypatch):
    from playground.drift import ChainSpec, DriftSpec, check_drift

    spec = DriftSpec(prompt="x", genesis_model="flux-2-dev", chains=[ChainSpec("flux-kontext-pro", steps=6)])
    check_drift(spec)
    monkeypatch.setenv("PLAYGROUND_DRIFT_MAX_STEPS", "5")
    with pytest.raises(ValidationError) as err:
        check_drift(spec)
    assert [p.field for p in err.value.problems] == ["chains[0].steps"] and "5" in err.value.describe()


def test_home_holds_the_users_presets(monkeypatch, tmp_path):
    from playground.storage import playground_home, user_dir

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    assert playground_home() == tmp_path / "home" and user_dir() == tmp_path / "home" / "presets"
    monkeypatch.delenv("PLAYGROUND_HOME")
    assert playground_home() == Path.home() / ".playground"


def test_output_ttl_decides_which_served_files_are_pruned(monkeypatch, tmp_path):
    from playground.ui.outputs import fresh_folder, upload_root

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    old = upload_root() / "results" / "ten-minutes-old"
    old.mkdir(parents=True)
    os.utime(old, (time.time() - 600, time.time() - 600))
    monkeypatch.setenv("PLAYGROUND_OUTPUT_TTL", "3600")
    fresh_folder("results")
    assert old.is_dir()
    monkeypatch.setenv("PLAYGROUND_OUTPUT_TTL", "60")
    fresh_folder("results")
    assert not old.exists()


# --- the served app -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_served_app_listens_where_told_keeps_its_secret_and_runs_one_at_a_time(emulator, monkeypatch):
    import gradio as gr
    from gradio_client import Client

    from playground.ui import build_app, launch

    on_emulator(monkeypatch, emulator)
    port = free_port()
    monkeypatch.setenv("GRADIO_SERVER_NAME", "127.0.0.1")
    monkeypatch.setenv("GRADIO_SERVER_PORT", str(port))
    monkeypatch.setenv("PLAYGROUND_CONCURRENCY", "1")
    monkeypatch.setenv("PLAYGROUND_BROWSER_SECRET", "test-secret-that-survives-restarts")
    backends.set_backend("fal", FalBackend())
    demo = build_app()
    launch(demo, prevent_thread_lock=True, quiet=True)
    try:
        assert demo.local_url.rstrip("/") == f"http://127.0.0.1:{port}"
        (saved_keys,) = [b for b in demo.blocks.values()
                         if isinstance(b, gr.BrowserState) and b.storage_key == "playground-keys"]
        assert saved_keys.secret == "test-secret-that-survives-restarts"
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        emulator.inject("slow", count=2, seconds=0.5, provider="fal")
        jobs = [client.submit(model="flux-2-dev", prompt=f"run {i}", params={"image_size": "square"}, seed=i,
                              backend="fal", fal_key="test-env-fal", api_name="/generate") for i in range(2)]
        for job in jobs:
            job.result(timeout=120)
        # One run at a time: the second job was submitted only after the first one's result was fetched.
        phases = [r["phase"] for r in emulator.requests if r["provider"] == "fal"]
        assert phases.count("submit") == 2
        assert phases.index("result") < max(i for i, p in enumerate(phases) if p == "submit")
    finally:
        demo.close()



# --- local speed settings: the operator's defaults, from the environment, reach the pipeline --------
SPEED_RUN = dict(model="sdxl-base", prompt="a red fox", seed=7, backend="local",
                 params={"image_size": "64x64", "num_inference_steps": 2})


def env_backend(monkeypatch, model_paths_file) -> LocalBackend:
    """A local backend on CPU built from the environment alone, installed for dispatch."""
    monkeypatch.setenv("PLAYGROUND_MODEL_PATHS", str(model_paths_file))
    monkeypatch.setenv("PLAYGROUND_DEVICE", "cpu")
    local = LocalBackend()
    backends.set_backend("local", local)
    return local


@pytest.mark.parametrize(("set_variable", "name", "recorded"), [
    pytest.param(lambda env: env.setenv("PLAYGROUND_ATTENTION", "_native_math"), "attention", "_native_math",
                 id="attention"),
    pytest.param(lambda env: env.setenv("PLAYGROUND_CHANNELS_LAST", "1"), "channels_last", True, id="channels-last"),
    pytest.param(lambda env: env.setenv("PLAYGROUND_FUSE_QKV", "1"), "fuse_qkv", True, id="fuse-qkv"),
    pytest.param(lambda env: env.setenv("PLAYGROUND_VAE_SLICING", "1"), "vae_slicing", True, id="vae-slicing"),
])
def test_speed_variables_switch_the_setting_on_in_the_pipeline_and_the_record(
        model_paths_file, monkeypatch, set_variable, name, recorded):
    from playground.records import build_record
    from tests.test_speed import _applied

    set_variable(monkeypatch)
    local = env_backend(monkeypatch, model_paths_file)
    request = Request(**SPEED_RUN)
    record = build_record(backends.run(request), request)
    assert _applied(local, name)
    assert record["speed"][name] == recorded
    assert "speed" not in record["request"], "the operator's default, not something the request asked for"


def test_without_the_speed_variables_none_of_them_is_switched_on(model_paths_file, monkeypatch):
    from playground.records import build_record
    from playground.speed import ENV
    from tests.test_speed import _applied

    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    local = env_backend(monkeypatch, model_paths_file)
    request = Request(**SPEED_RUN)
    record = build_record(backends.run(request), request)
    for name in ("attention", "channels_last", "fuse_qkv", "vae_slicing", "compile"):
        assert not _applied(local, name), name
    assert (record["speed"]["attention"], record["speed"]["channels_last"]) == ("default", False)
    assert (record["speed"]["fuse_qkv"], record["speed"]["vae_slicing"], record["speed"]["compile"]) == (
        False, False, "off")


def test_compile_wraps_the_denoiser_of_a_backend_built_from_the_environment(model_paths_file, monkeypatch):
    # No denoising run here: torch.compile on CPU builds C++ kernels for minutes on shared cores; the
    # compiled run itself is covered by tests/test_speed.py. Wrapping happens when the setting is
    # applied, compiling at the first call, so this shows the variable reaching the pipeline cheaply.
    from playground.backends import speedups
    from tests.test_speed import _applied

    monkeypatch.setenv("PLAYGROUND_COMPILE", "regional")
    local = env_backend(monkeypatch, model_paths_file)
    assert local.settings.speed.compile == "regional"
    pipe, loaded = local.pipeline(get_model("sdxl-base"), "text-to-image")
    assert not _applied(local, "compile")
    effective, _ = speedups.apply(pipe, loaded.speed_state, local.settings.speed)
    assert effective.compile == "regional" and _applied(local, "compile")
    monkeypatch.setenv("PLAYGROUND_COMPILE", "off")
    assert LocalBackend().settings.speed.compile == "off"


def test_png_compress_level_changes_the_file_size_not_the_pixels_or_the_record(monkeypatch, tmp_path):
    import io

    from PIL import Image

    from playground.records import encode_image, read_record

    record = {"schema": "playground.record/1", "prompt": "x", "outputs": []}
    picture = make_image(256, 256)
    written = {}
    for level in ("0", "9"):
        monkeypatch.setenv("PLAYGROUND_PNG_COMPRESS_LEVEL", level)
        path = tmp_path / f"level-{level}.png"
        path.write_bytes(encode_image(picture, record))
        written[level] = path
    assert written["0"].stat().st_size > written["9"].stat().st_size
    for path in written.values():
        assert Image.open(io.BytesIO(path.read_bytes())).tobytes() == picture.tobytes()
        assert read_record(path.read_bytes()) == record


# --- hosted downloads, adapters, compare and drift caps --------------------------------------------------
def test_max_download_bytes_refuses_a_larger_output(emulator, monkeypatch):
    on_emulator(monkeypatch, emulator)
    monkeypatch.setenv("PLAYGROUND_MAX_DOWNLOAD_BYTES", "100")
    backends.set_backend("fal", FalBackend())
    with pytest.raises(TransportError, match="over the 100-byte limit"):
        backends.run(Request(**FAL_T2I), keys={"fal": "test-env-fal"})
    monkeypatch.setenv("PLAYGROUND_MAX_DOWNLOAD_BYTES", str(50 * 1024 * 1024))
    backends.set_backend("fal", FalBackend())
    assert backends.run(Request(**FAL_T2I), keys={"fal": "test-env-fal"}).images


def test_max_lora_bytes_refuses_a_larger_adapter(monkeypatch, tmp_path):
    import torch
    from safetensors.torch import save_file

    from playground.backends import lora

    monkeypatch.delenv("PLAYGROUND_MULTI_USER", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    adapter = tmp_path / "style.safetensors"
    save_file({"lora.down.weight": torch.zeros(4, 4)}, str(adapter))
    size = adapter.stat().st_size
    loras = [{"path": str(adapter), "scale": 1.0}]
    monkeypatch.setenv("PLAYGROUND_MAX_LORA_BYTES", str(size - 1))
    with pytest.raises(ValidationError) as err:
        lora.fetch(loras)
    (problem,) = err.value.problems
    assert problem.field == "params.loras[0].path"
    assert f"at most {size - 1} bytes (this one has {size})" in problem.allowed
    monkeypatch.setenv("PLAYGROUND_MAX_LORA_BYTES", str(size))
    ((fetched, scale),) = lora.fetch(loras)
    assert fetched.bytes == size and scale == 1.0


def test_compare_concurrency_bounds_the_cells_running_at_once_per_provider(hosted, monkeypatch):
    from playground.compare import run_grid

    def most_at_once(bound: str, seconds: float) -> int:
        monkeypatch.setenv("PLAYGROUND_COMPARE_CONCURRENCY", bound)
        hosted.emulator.reset()
        # Each job takes `seconds` on the emulator, long enough for the other workers to submit theirs.
        hosted.emulator.inject("slow", count=4, seconds=seconds, provider="fal")
        running: set[int] = set()
        most = 0

        def on_cell(cell):
            nonlocal most
            (running.add if cell.status == "running" else running.discard)(cell.index)
            most = max(most, len(running))

        grid = run_grid({"model": "flux-2-dev", "backend": "fal", "prompt": "a fox",
                         "params": {"image_size": "square"}, "axes": [{"kind": "seed", "values": [1, 2, 3, 4]}]},
                        keys={"fal": "test-env-fal"}, on_cell=on_cell)
        assert grid.counts()["done"] == 4
        return most

    assert most_at_once("1", 0.2) == 1
    # One at a time, as the emulator saw it: every job's result was fetched before the next was submitted.
    phases = [r["phase"] for r in hosted.emulator.requests if r["phase"] in ("submit", "result")]
    assert phases == ["submit", "result"] * 4
    assert most_at_once("4", 1.5) == 4
    phases = [r["phase"] for r in hosted.emulator.requests if r["phase"] in ("submit", "result")]
    assert phases[:4] == ["submit"] * 4


def test_drift_max_chains_refuses_more_chains(monkeypatch):
    from playground.drift import ChainSpec, DriftSpec, check_drift

    spec = DriftSpec(prompt="x", genesis_model="flux-2-dev",
                     chains=[ChainSpec("flux-kontext-pro", steps=2) for _ in range(3)])
    check_drift(spec)
    monkeypatch.setenv("PLAYGROUND_DRIFT_MAX_CHAINS", "2")
    with pytest.raises(ValidationError) as err:
        check_drift(spec)
    (problem,) = err.value.problems
    assert (problem.field, problem.value) == ("chains", "3 chains") and "at most 2 chains" in problem.allowed


# --- records ----------------------------------------------------------------------------------------
def test_git_commit_is_written_into_the_record(emulator, monkeypatch):
    from playground.installation import app_info
    from playground.records import build_record

    on_emulator(monkeypatch, emulator)
    backends.set_backend("fal", FalBackend())
    request = Request(**FAL_T2I)
    result = backends.run(request, keys={"fal": "test-env-fal"})
    pinned = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("PLAYGROUND_GIT_COMMIT", pinned)
    app_info.cache_clear()
    try:
        record = build_record(result, request)
        assert record["app"]["git_commit"] == pinned and record["app"]["git_dirty"] is None
        monkeypatch.delenv("PLAYGROUND_GIT_COMMIT")
        app_info.cache_clear()
        assert build_record(result, request)["app"]["git_commit"] != pinned
    finally:
        app_info.cache_clear()


# --- shared servers ---------------------------------------------------------------------------------
@pytest.fixture
def visitors(tmp_path, monkeypatch):
    """A fresh server home with no shared-server variables; `visit(identity)` switches the visitor."""
    from playground import storage

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    for name in ("PLAYGROUND_MULTI_USER", "SPACE_ID", "PLAYGROUND_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(storage, "_secret", None)
    monkeypatch.setattr(storage, "_identity_source", None)
    return lambda identity: monkeypatch.setattr(storage, "_identity_source", lambda: identity)


def presets_seen_by_bob(visit) -> list[str]:
    """Alice saves a preset; the names of the presets Bob then finds."""
    from playground.preset_store import list_presets, save_preset

    visit("session:alice")
    save_preset({"name": "Alices fox", "model": "sdxl-turbo", "prompt": "a fox"})
    visit("session:bob")
    return [p["name"] for p in list_presets(include_shipped=False)["presets"]]


def test_multi_user_gives_each_visitor_presets_of_their_own(visitors, monkeypatch):
    assert presets_seen_by_bob(visitors) == ["Alices fox"]  # one user: one folder for all
    monkeypatch.setenv("PLAYGROUND_MULTI_USER", "1")
    assert presets_seen_by_bob(visitors) == []


def test_space_id_makes_a_shared_server_unless_multi_user_is_0(visitors, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/playground")
    assert presets_seen_by_bob(visitors) == []
    monkeypatch.setenv("PLAYGROUND_MULTI_USER", "0")
    assert presets_seen_by_bob(visitors) == ["Alices fox"]


def test_secret_decides_the_name_of_each_visitors_folder(visitors, monkeypatch):
    from playground import storage

    monkeypatch.setenv("PLAYGROUND_MULTI_USER", "1")
    visitors("user:alice")

    def home_with(secret: str) -> Path:
        monkeypatch.setenv("PLAYGROUND_SECRET", secret)
        monkeypatch.setattr(storage, "_secret", None)  # the secret is read once per process
        return storage.playground_home()

    one = home_with("first-secret")
    assert home_with("first-secret") == one
    assert home_with("second-secret") != one
    assert one.parent == home_with("second-secret").parent


def test_session_ttl_decides_which_visitor_homes_are_pruned(visitors, monkeypatch, tmp_path):
    from playground import storage

    session = tmp_path / "visitors" / "s-ten-minutes-old"
    (session / "presets").mkdir(parents=True)
    old = time.time() - 600
    for path in (session / "presets", session):
        os.utime(path, (old, old))
    monkeypatch.setenv("PLAYGROUND_SESSION_TTL", "3600")
    assert storage.prune_session_homes() == 0 and session.is_dir()
    monkeypatch.setenv("PLAYGROUND_SESSION_TTL", "60")
    assert storage.prune_session_homes() == 1 and not session.exists()


def test_oauth_client_id_with_space_id_shows_the_login_button(visitors, monkeypatch):
    """Only the pair adds a gr.LoginButton. A page that holds one makes Gradio attach its OAuth routes
    when the Blocks close; off a Space those are mocked with the machine's own Hugging Face login,
    which this machine has not got, so the build stops there, in Gradio's OAuth setup."""
    import gradio as gr

    from playground.ui import build_app

    monkeypatch.delenv("SYSTEM", raising=False)  # not Hugging Face's own runtime
    monkeypatch.delenv("HF_TOKEN", raising=False)

    def login_buttons() -> int:
        demo = build_app()
        assert not demo.expects_oauth
        return sum(isinstance(b, gr.LoginButton) for b in demo.blocks.values())

    monkeypatch.setenv("OAUTH_CLIENT_ID", "test-client-id")
    assert login_buttons() == 0  # not on a Space: nothing to sign in with
    monkeypatch.delenv("OAUTH_CLIENT_ID")
    monkeypatch.setenv("SPACE_ID", "someone/playground")
    assert login_buttons() == 0  # a Space without hf_oauth
    monkeypatch.setenv("OAUTH_CLIENT_ID", "test-client-id")
    with pytest.raises(ValueError, match="must be logged in to HF"):
        build_app()


# --- ZeroGPU -----------------------------------------------------------------------------------------
def test_zerogpu_max_s_caps_the_requested_duration(monkeypatch):
    from playground import zerogpu

    long_run = validate(Request(model="flux-2-dev", prompt="x",
                                params={"num_inference_steps": 50, "image_size": "1024x1024"}), "local")
    monkeypatch.delenv("PLAYGROUND_ZEROGPU_MAX_S", raising=False)
    assert zerogpu.gpu_seconds(long_run) == 120
    monkeypatch.setenv("PLAYGROUND_ZEROGPU_MAX_S", "60")
    assert zerogpu.gpu_seconds(long_run) == 60
    monkeypatch.setenv("PLAYGROUND_ZEROGPU_MAX_S", "1")  # never below the 10 s floor
    assert zerogpu.gpu_seconds(long_run) == 10


def test_spaces_zero_gpu_sends_local_runs_through_spaces_gpu(local_backend, monkeypatch, tmp_path):
    import importlib
    import sys

    from playground import zerogpu
    from tests.test_zerogpu import FAKE_SPACES

    def reload() -> None:
        importlib.reload(zerogpu)
        importlib.reload(backends)

    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    saved = dict(backends._backends)
    request = Request(model="sdxl-base", prompt="a fox", seed=1, backend="local",
                      params={"num_inference_steps": 2, "image_size": "64x64"})
    try:
        with monkeypatch.context() as env:
            env.syspath_prepend(str(tmp_path))
            sys.modules.pop("spaces", None)
            env.delenv("SPACES_ZERO_GPU", raising=False)
            reload()
            spaces = sys.modules["spaces"]
            backends.set_backend("local", local_backend)
            backends.run(request)
            assert not zerogpu.ACTIVE and spaces.calls == []  # the package alone changes nothing
            env.setenv("SPACES_ZERO_GPU", "true")
            reload()
            backends.set_backend("local", local_backend)
            assert backends.run(request).images[0].size == (64, 64)
            assert zerogpu.ACTIVE and [c["fn"] for c in spaces.calls] == ["_run_in_gpu_worker"]
    finally:
        sys.modules.pop("spaces", None)
        reload()
        backends._backends.update(saved)
    assert not zerogpu.ACTIVE and backends._gpu_run is backends._run_in_gpu_worker


def test_history_max_bounds_each_browsers_history(monkeypatch):
    from playground import history

    def seeds_after(runs: int) -> list[int]:
        entries: list = []
        for seed in range(runs):
            entries = history.add(entries, history.generate_entry([f"/r/{seed}.png"], {"model": "sdxl-base",
                                                                                        "seed": seed}))
        return [e["seed"] for e in entries]

    assert len(seeds_after(45)) == 40  # the default
    monkeypatch.setenv("PLAYGROUND_HISTORY_MAX", "3")
    assert seeds_after(5) == [4, 3, 2]  # newest first, the oldest dropped


NUMERIC_SETTINGS = [
    ("PLAYGROUND_CONCURRENCY", service.max_runs),
    ("PLAYGROUND_OUTPUT_TTL", outputs.output_ttl),
    ("PLAYGROUND_COMPARE_MAX_CELLS", compare.max_cells_default),
    ("PLAYGROUND_DRIFT_MAX_STEPS", drift.max_steps_default),
    ("PLAYGROUND_MAX_IMAGE_SIDE", Limits.from_env),
    ("PLAYGROUND_HOSTED_TIMEOUT", HostedSettings.from_env),
    ("PLAYGROUND_MAX_DOWNLOAD_BYTES", HostedSettings.from_env),
    ("PLAYGROUND_MAX_PIPELINES", LocalSettings.from_env),
    ("PLAYGROUND_HISTORY_MAX", history.max_entries),
    ("PLAYGROUND_ZEROGPU_MAX_S", zerogpu.max_seconds),
]


@pytest.mark.parametrize(("name", "read"), NUMERIC_SETTINGS, ids=[n for n, _ in NUMERIC_SETTINGS])
def test_a_number_setting_given_text_is_refused_naming_the_variable(name, read, monkeypatch):
    monkeypatch.setenv(name, "lots")
    with pytest.raises(ValidationError) as err:
        read()
    (problem,) = err.value.problems
    assert (problem.field, problem.value) == (name, "lots") and problem.allowed.startswith(("an integer", "a number"))
    monkeypatch.setenv(name, "-5")  # below its floor
    with pytest.raises(ValidationError, match=name):
        read()
    monkeypatch.setenv(name, "")  # empty is unset: the default
    read()
