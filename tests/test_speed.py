"""Speed settings: parsed and refused in the user's words, applied to tiny pipelines on CPU, written
into every record, and asked for again by a re-run from that record."""

from __future__ import annotations

import pytest
import torch

from playground import backends
from playground.backends import speedups
from playground.params import ValidationError
from playground.records import build_record, encode_image, for_image, read_record
from playground.request import Request
from playground.rerun import rerun_and_verify
from playground.speed import ATTENTION_BACKENDS, SpeedSettings
from playground.validation import validate

SDXL = {"model": "sdxl-base", "prompt": "a red fox", "params": {"image_size": "64x64", "num_inference_steps": 2}}
KLEIN = {"model": "flux-2-klein-4b", "prompt": "a lighthouse",
         "params": {"image_size": "64x64", "num_inference_steps": 2, "max_sequence_length": 128}}


def test_attention_choices_are_diffusers_own() -> None:
    from diffusers.models.attention_dispatch import AttentionBackendName

    assert set(ATTENTION_BACKENDS) == {b.value for b in AttentionBackendName}


def test_environment_sets_the_operator_defaults() -> None:
    speed = SpeedSettings.from_env({"PLAYGROUND_ATTENTION": "_native_flash", "PLAYGROUND_COMPILE": "regional",
                                    "PLAYGROUND_FUSE_QKV": "1", "PLAYGROUND_VAE_TILING": "yes",
                                    "PLAYGROUND_DTYPE": "bfloat16"})
    assert speed.changed() == {"attention": "_native_flash", "compile": "regional", "fuse_qkv": True,
                               "vae_tiling": True, "dtype": "bfloat16"}
    assert SpeedSettings.from_env({}) == SpeedSettings()
    assert SpeedSettings().changed() == {}


def test_bad_values_name_the_variable_the_value_and_what_is_allowed() -> None:
    with pytest.raises(ValidationError) as caught:
        SpeedSettings.from_env({"PLAYGROUND_COMPILE": "turbo", "PLAYGROUND_CHANNELS_LAST": "maybe"})
    problems = {p.field: p for p in caught.value.problems}
    assert problems["PLAYGROUND_COMPILE"].value == "turbo"
    assert "off, regional, full" in problems["PLAYGROUND_COMPILE"].allowed
    assert "true or false" in problems["PLAYGROUND_CHANNELS_LAST"].allowed


def test_a_request_with_unknown_speed_settings_is_refused_before_running() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(Request(**SDXL, backend="local", speed={"attention": "fastest", "warp": True}))
    fields = {p.field: p for p in caught.value.problems}
    assert fields["speed.attention"].value == "fastest" and "default" in fields["speed.attention"].allowed
    assert "speed.warp" in fields


def _last_run(backend):
    """The pipeline that ran last and its loaded-weights entry (the cache is in least-recently-used order)."""
    loaded = next(reversed(backend._cache.values()))
    return next(iter(loaded.by_class.values())), loaded


def _applied(backend, name: str) -> bool:
    """Whether `name` is switched on in the pipeline that ran last (read from its modules, not from the
    backend's bookkeeping, except for the SDPA kernel chosen around the call)."""
    pipe, loaded = _last_run(backend)
    net = speedups.denoiser(pipe)
    if name == "attention":
        processors = list(net.attn_processors.values())
        dispatched = any(getattr(p, "_attention_backend", None) == "_native_math" for p in processors)
        return dispatched or loaded.speed_state.get("sdpa_kernel") == "MATH"
    if name == "fuse_qkv":
        if speedups.is_unet(net):  # the UNet's fused state is its processors (unfusing leaves a stale flag)
            return any("Fused" in type(p).__name__ for p in net.attn_processors.values())
        return any(getattr(m, "fused_projections", False) for m in net.modules())
    if name == "channels_last":
        return net.conv_in.weight.is_contiguous(memory_format=torch.channels_last) and \
            not net.conv_in.weight.is_contiguous()
    if name == "vae_tiling":
        return bool(pipe.vae.use_tiling)
    if name == "vae_slicing":
        return bool(pipe.vae.use_slicing)
    if name == "dtype":
        return net.dtype == torch.bfloat16
    if name == "compile":
        return any(getattr(m, "_compiled_call_impl", None) is not None for m in net.modules())
    raise AssertionError(name)


SETTINGS = [
    pytest.param(SDXL, "attention", "_native_math", id="sdxl-attention-sdpa-kernel"),
    pytest.param(KLEIN, "attention", "_native_math", id="klein-attention-dispatcher"),
    pytest.param(SDXL, "fuse_qkv", True, id="sdxl-fuse-qkv"),
    pytest.param(KLEIN, "fuse_qkv", True, id="klein-fuse-qkv"),
    pytest.param(SDXL, "channels_last", True, id="sdxl-channels-last"),
    pytest.param(SDXL, "vae_tiling", True, id="sdxl-vae-tiling"),
    pytest.param(SDXL, "vae_slicing", True, id="sdxl-vae-slicing"),
    pytest.param(SDXL, "dtype", "bfloat16", id="sdxl-bfloat16"),
    pytest.param(SDXL, "compile", "regional", id="sdxl-compile-regional"),
]


@pytest.mark.parametrize(("case", "name", "value"), SETTINGS)
def test_a_speed_setting_runs_is_recorded_and_a_rerun_uses_it_again(local_backend, case, name, value) -> None:
    backends.set_backend("local", local_backend)
    request = Request(**case, seed=7, backend="local", speed={name: value})
    result = backends.run(request)
    assert _applied(local_backend, name)
    record = build_record(result, request)
    assert record["speed"][name] == value
    assert record["request"]["speed"] == {name: value}
    image = encode_image(result.images[0], for_image(record, 0))
    assert read_record(image)["speed"][name] == value

    backends.run(Request(**case, seed=7, backend="local"))  # the operator's default switches it off again
    assert not _applied(local_backend, name)

    outcome = rerun_and_verify(image)
    assert _applied(local_backend, name), "the re-run did not ask for the recorded setting"
    assert outcome["record"]["speed"][name] == value
    assert outcome["identical"], outcome["message"]

    # Break the subject: a record without its speed settings re-runs with the defaults.
    backends.run(Request(**case, seed=7, backend="local"))
    bare = {k: v for k, v in for_image(record, 0).items() if k != "speed"}
    rerun_and_verify(bare)
    assert not _applied(local_backend, name)


def test_a_setting_that_does_not_apply_is_recorded_as_off_with_a_warning(local_backend) -> None:
    backends.set_backend("local", local_backend)
    result = backends.run(Request(**KLEIN, seed=3, backend="local", speed={"channels_last": True}))
    assert result.speed["channels_last"] is False
    assert any("channels_last" in w and "not a UNet" in w for w in result.warnings)


def test_every_local_record_carries_the_settings_it_ran_with(local_backend) -> None:
    backends.set_backend("local", local_backend)
    request = Request(**SDXL, seed=5, backend="local")
    record = build_record(backends.run(request), request)
    assert record["speed"] == {**SpeedSettings().as_dict(), "dtype": "float32"}
    assert "speed" not in record["request"]


def test_png_is_written_at_a_fast_compression_level_with_the_record_unchanged(monkeypatch) -> None:
    import io

    from PIL import Image

    from tests.conftest import make_image

    record = {"schema": "playground.record/1", "prompt": "x", "outputs": []}
    picture = make_image(256, 256)
    fast = encode_image(picture, record)
    assert fast == encode_image(picture, record, compress_level=1)
    slow = encode_image(picture, record, compress_level=9)
    assert fast != slow
    assert read_record(fast) == read_record(slow) == record
    assert Image.open(io.BytesIO(fast)).tobytes() == picture.tobytes()
    monkeypatch.setenv("PLAYGROUND_PNG_COMPRESS_LEVEL", "9")
    assert encode_image(picture, record) == slow
    monkeypatch.setenv("PLAYGROUND_PNG_COMPRESS_LEVEL", "fast")
    with pytest.raises(ValidationError, match="PLAYGROUND_PNG_COMPRESS_LEVEL"):
        encode_image(picture, record)


def test_an_attention_backend_that_is_not_installed_is_refused_by_name(local_backend) -> None:
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    backends.set_backend("local", local_backend)
    with pytest.raises(ValidationError) as caught:
        backends.run(Request(**KLEIN, seed=3, backend="local", speed={"attention": "flash"}))
    problem = caught.value.problems[0]
    assert (problem.field, problem.value) == ("speed.attention", "flash")
    assert "flash-attn" in problem.allowed
    result = backends.run(Request(**KLEIN, seed=3, backend="local"))  # and the pipeline is not left half-switched
    assert result.speed["attention"] == "default"
    processors = speedups.denoiser(_last_run(local_backend)[0]).attn_processors.values()
    assert not any(getattr(p, "_attention_backend", None) for p in processors)
