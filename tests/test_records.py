"""Reproducibility records: built from every Result, embedded in PNG, JPEG and WebP and sidecars,
read back identical, checked for tampering, turned back into a Request, and re-run to a verdict."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from skimage.metrics import peak_signal_noise_ratio

from playground import __version__, backends, preset_store, presets, records, rerun, runs, storage
from playground.images import content_hash, load_image
from playground.params import ValidationError
from playground.records import RecordError
from playground.request import Request, Result
from tests.conftest import make_image, make_mask

SECRET = "test-SECRET-123"
SMALL = {"image_size": "64x64", "num_inference_steps": 2}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_secret_in_any_file(tmp_path: Path):
    """After each test, no file it wrote holds the test key, in any encoding a record might use."""
    yield
    needles = [SECRET.encode(enc) for enc in ("utf-8", "utf-16-be", "utf-16-le")]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), f"{path} holds the key"


@pytest.fixture
def local(local, tmp_path, monkeypatch):
    """The tiny local backend installed for dispatch, and a PLAYGROUND_HOME of the test's own."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    return local


def fake_result(**changes) -> Result:
    base = dict(images=[make_image(), make_image(pattern=3)], seeds=[5, 6], backend="local", model="sdxl-base",
                mode="text-to-image", endpoint="stabilityai/stable-diffusion-xl-base-1.0 (StableDiffusionXLPipeline)",
                params={"num_inference_steps": 2, "guidance_scale": 5.0, "image_size": {"width": 64, "height": 64},
                        "scheduler": "Euler a"},
                native={"prompt": "a fox, at dusk", "num_inference_steps": 2, "width": 64, "height": 64},
                prompt="a fox, at dusk", negative_prompt="blurry", model_version="0123456789abcdef",
                timings={"total_s": 0.1}, cost=0.0,
                device={"device": "cpu", "dtype": "float32", "generator_device": "cpu", "source": "/m",
                        "pipeline": "StableDiffusionXLPipeline"},
                input_hashes=[], tried=[{"backend": "local", "outcome": "ran", "reason": "weights in /m"}])
    base.update(changes)
    return Result(**base)


def digest_of(record: dict) -> str:
    """The digest as the README defines it, computed here: sha256 of the canonical JSON without `digest`."""
    body = json.dumps({k: v for k, v in record.items() if k != "digest"}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def head_commit() -> str | None:
    """HEAD of this checkout from git itself; None where .git is not a folder (a git worktree's .git is a
    file, which the record does not follow)."""
    if not (ROOT / ".git").is_dir():
        return None
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or None


def sdxl_request(**changes) -> Request:
    base = dict(model="sdxl-base", prompt="a red fox", params=dict(SMALL), seed=11, backend="local")
    base.update(changes)
    return Request(**base)


# -- building ---------------------------------------------------------------------------------------

def test_a_record_holds_every_fact_of_a_local_run(local, model_paths):
    request = sdxl_request(mode="inpaint", images=[make_image()], mask=make_mask(), params={"num_inference_steps": 2})
    result = backends.run(request)
    record = records.build_record(result, request)
    assert record["schema"] == "playground.record/1" and record["digest"] == digest_of(record)
    assert digest_of({**record, "seed": 12}) != record["digest"], "the digest covers the record's fields"
    assert record["app"]["version"] == __version__
    assert record["app"]["git_commit"] == (os.environ.get("PLAYGROUND_GIT_COMMIT", "").strip() or head_commit())
    assert {"torch", "diffusers", "transformers", "gradio", "fal-client", "replicate"} <= set(record["packages"])
    assert record["packages"]["diffusers"] and record["packages"]["fal-client"]
    assert (record["backend"], record["model"], record["mode"]) == ("local", "sdxl-base", "inpaint")
    assert "StableDiffusionXLInpaintPipeline" in record["endpoint"] and "model_revision" in record
    assert {"device": "cpu", "dtype": "float32", "generator_device": "cpu"}.items() <= record["device"].items()
    assert record["params"]["num_inference_steps"] == 2 and record["native"]["num_inference_steps"] == 2
    assert record["prompt"] == "a red fox" and record["negative_prompt"] == result.negative_prompt
    assert record["seed"] == 11 and record["seeds"] == [11] and record["outputs"][0]["seed"] == 11
    assert record["inputs"] == [{"role": "image", "sha256": load_image(make_image(), "x").sha256},
                                {"role": "mask", "sha256": result.mask_hash}]
    assert record["outputs"][0]["sha256"] == content_hash(result.images[0])
    assert "pixel" in record["hashes"] and "embedding this record changes the file" in record["hashes"]
    assert set(record["timings"]) == {"load_s", "inference_s", "total_s"} and record["cost_usd"] == 0.0
    assert record["fallbacks"] == [{"backend": "local", "outcome": "ran",
                                    "reason": f"weights in {model_paths['sdxl-base']}"}]
    assert record["request"] == {"backend": "local", "prompt": "a red fox", "negative_prompt": None,
                                 "params": {"num_inference_steps": 2}, "seed": 11}


def test_building_a_record_imports_no_heavy_package():
    code = ("import sys, json; from tests.test_records import fake_result; from playground import records; "
            "r = records.build_record(fake_result()); "
            "print(json.dumps([m for m in ('torch', 'diffusers', 'transformers', 'gradio', 'fal_client', 'replicate') "
            "if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_keys_are_scrubbed_even_if_a_backend_leaked_one(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_env_token_value")
    result = fake_result(warnings=[f"odd reply for key {SECRET}"],
                         tried=[{"backend": "fal", "outcome": "failed", "reason": "token r8_env_token_value bad"}])
    text = json.dumps(records.build_record(result, secrets=[SECRET]))
    assert SECRET not in text and "r8_env_token_value" not in text and text.count("***") == 2


def test_each_image_gets_its_own_seed_and_hash():
    record = records.build_record(fake_result())
    second = records.for_image(record, 1)
    assert second["image"] == {"index": 1, "seed": 6, "sha256": content_hash(make_image(pattern=3))}
    assert second["digest"] == digest_of(second) != record["digest"]
    with pytest.raises(IndexError):
        records.for_image(record, 2)


# -- embedding and reading back ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_records_round_trip_through_every_format_and_the_sidecar(tmp_path, fmt):
    record = records.for_image(records.build_record(fake_result(prompt="un café — 狐 🦊")), 0)
    path = records.save_image(make_image(), record, tmp_path / f"out.{fmt}")
    assert Image.open(path).format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    assert records.read_record(path) == record
    assert records.read_record(path.read_bytes()) == record
    assert records.read_record(Image.open(path)) == record
    assert records.read_record({"path": str(path)}) == record  # what a gradio upload hands over
    assert records.inspect({"path": str(path)})["record"] == record
    assert json.loads(records.sidecar_path(path).read_text()) == record
    assert records.read_record(records.sidecar_path(path)) == record
    assert records.embedded_parameters(path).startswith("un café — 狐 🦊\nNegative prompt: blurry\nSteps: 2")
    report = records.inspect(path)
    assert report["status"] == "ok" and report["problems"] == []
    if fmt == "jpeg":
        assert report["notes"] and "lossy" in report["notes"][0]
    else:
        assert report["notes"] == [] and report["message"].endswith("matches the image's pixels.")


def test_a1111_parameters_text_is_what_other_tools_expect():
    record = records.for_image(records.build_record(fake_result()), 1)
    text = records.a1111_parameters(record)
    assert text == ("a fox, at dusk\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, Schedule type: Automatic, "
                    "CFG scale: 5.0, Seed: 6, Size: 64x64, Model: sdxl-base, Backend: local, "
                    "Model repo: stabilityai/stable-diffusion-xl-base-1.0, Model revision: 0123456789abcdef, "
                    f"Version: playground {__version__}")
    png = Image.open(io.BytesIO(records.encode_image(make_image(), record, "png")))
    assert png.info["parameters"] == text


def test_a_large_record_still_fits_in_jpeg_exif():
    record = records.for_image(records.build_record(fake_result(prompt="word " * 4000,
                                                                native={"prompt": "word " * 4000})), 0)
    data = records.encode_image(make_image(), record, "jpeg")
    assert records.read_record(data) == record


# -- records that are missing, damaged or tampered --------------------------------------------------

def test_an_image_without_a_record_is_reported(tmp_path):
    make_image().save(tmp_path / "plain.png")
    assert records.read_record(tmp_path / "plain.png") is None
    report = records.inspect(tmp_path / "plain.png")
    assert report["status"] == "no record" and report["record"] is None
    assert report["message"].startswith("This image has no playground record")
    with pytest.raises(RecordError, match="no playground record"):
        rerun.rerun_and_verify(tmp_path / "plain.png")
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, Seed: 1")
    make_image().save(tmp_path / "a1111.png", pnginfo=info)
    report = records.inspect(tmp_path / "a1111.png")
    assert report["status"] == "no record" and report["parameters"].startswith("a cat")


def test_a_tampered_record_is_caught_by_its_digest(tmp_path):
    record = records.for_image(records.build_record(fake_result()), 0)
    forged = {**record, "params": {**record["params"], "num_inference_steps": 50}}
    path = records.save_image(make_image(), forged, tmp_path / "forged.png", sidecar=False)
    report = records.inspect(path)
    assert report["status"] == "tampered" and "record was edited" in report["message"]
    assert report["record"]["params"]["num_inference_steps"] == 50  # still shown, flagged


def test_edited_pixels_are_caught(tmp_path):
    record = records.for_image(records.build_record(fake_result()), 0)
    edited = make_image()
    edited.putpixel((3, 3), (0, 255, 0))
    path = records.save_image(edited, record, tmp_path / "edited.png", sidecar=False)
    report = records.inspect(path)
    assert report["status"] == "tampered" and "image was edited after it was made" in report["message"]
    assert records.verify_record(record, make_image())["pixels_match"] is True


def test_a_damaged_or_foreign_record_says_what_is_wrong(tmp_path):
    for text, expected in [('{"schema": "playground.record/1", "mod', "not valid JSON"),
                           ('{"schema": "someone.else/3"}', "not a playground record"),
                           ('{"schema": "playground.record/7"}', "from a newer playground")]:
        info = PngImagePlugin.PngInfo()
        info.add_text("playground.record", text)
        path = tmp_path / "bad.png"
        make_image().save(path, pnginfo=info)
        with pytest.raises(RecordError, match=expected):
            records.read_record(path)
        report = records.inspect(path)
        assert report["status"] == "unreadable" and expected in report["message"]
    with pytest.raises(RecordError, match="not an image"):
        records.read_record(b"definitely not an image")


# -- restoring and re-running -----------------------------------------------------------------------

def test_a_record_loads_back_into_the_request_that_made_it(local, tmp_path):
    request = sdxl_request(mode="image-to-image", images=[make_image()],
                           params={"num_inference_steps": 4, "edit_style": "copy"}, negative_prompt="grey")
    result = backends.run(request)
    record = records.build_record(result, request)
    storage.store_inputs(request, tmp_path / "inputs")
    back = records.record_to_request(record, search_dirs=[tmp_path / "inputs"])
    for name in ("model", "mode", "prompt", "negative_prompt", "params", "seed", "backend"):
        assert getattr(back, name) == getattr(request, name), name
    assert [load_image(i, "x").sha256 for i in back.images] == result.input_hashes
    # Without the request part (older or foreign writers), the resolved parameters are replayed.
    bare = records.record_to_request({**record, "request": None}, images=[make_image()])
    assert bare.params["edit_style"] == "copy" and "strength" not in bare.params
    assert backends.run(bare).images[0].tobytes() == result.images[0].tobytes()


def test_a_local_run_reruns_byte_identical_from_its_embedded_record(local, tmp_path):
    from playground.__main__ import write_images

    request = sdxl_request(mode="image-to-image", images=[make_image(color=(30, 160, 90))],
                           params={"num_inference_steps": 4, "num_images": 2})
    files = write_images(runs.run(request), tmp_path / "out")
    assert len(files) == 2 and all(records.sidecar_path(f).is_file() for f in files)
    verdict = rerun.rerun_and_verify(files[1])
    assert verdict["verdict"] == "identical" and verdict["identical"] is True
    assert verdict["image_index"] == 1 and verdict["expected_sha256"] == verdict["actual_sha256"]
    assert verdict["differences"] == [] and verdict["problems"] == []
    assert verdict["message"].startswith("Reproduced exactly")
    assert verdict["difference"] == {"identical": True, "same_size": True, "max": 0, "mean": 0.0, "psnr_db": None,
                                     "changed_fraction": 0.0}
    json.dumps({k: v for k, v in verdict.items() if k not in ("image", "images")})  # JSON-ready


def test_a_changed_parameter_is_reported_as_a_difference(local, tmp_path):
    request = sdxl_request()
    result = backends.run(request)
    record = records.for_image(records.build_record(result, request), 0)
    path = records.save_image(result.images[0], record, tmp_path / "fox.png")
    verdict = rerun.rerun_and_verify(path, overrides={"num_inference_steps": 3})
    assert verdict["verdict"] == "different" and not verdict["identical"]
    diff = verdict["difference"]
    assert diff["same_size"] and diff["max"] > 0 and 0 < diff["mean"] and 0 < diff["changed_fraction"] <= 1
    original = np.asarray(result.images[0])
    assert diff["psnr_db"] == round(peak_signal_noise_ratio(original, np.asarray(verdict["image"]), data_range=255), 4)
    assert {"field": "params.num_inference_steps", "recorded": 2, "now": 3} in verdict["differences"]
    assert "params.num_inference_steps: 2 → 3" in verdict["message"]


def test_recorded_facts_that_changed_are_listed():
    old = records.build_record(fake_result())
    now = json.loads(json.dumps(old))
    now["packages"]["diffusers"] = "9.9.9"
    now["model_revision"] = "fedcba"
    now["device"]["device"] = "cuda"
    fields = {d["field"]: (d["recorded"], d["now"]) for d in rerun.fact_differences(old, now)}
    assert fields == {"packages.diffusers": (old["packages"]["diffusers"], "9.9.9"),
                      "model_revision": ("0123456789abcdef", "fedcba"), "device.device": ("cpu", "cuda")}


def test_a_rerun_from_a_jpeg_checks_the_recorded_hash(local, tmp_path):
    request = sdxl_request(seed=3)
    result = backends.run(request)
    record = records.for_image(records.build_record(result, request), 0)
    path = records.save_image(result.images[0], record, tmp_path / "fox.jpg")
    verdict = rerun.rerun_and_verify(path)
    assert verdict["identical"] and verdict["notes"] and "lossy" in verdict["notes"][0]
    changed = rerun.rerun_and_verify(path, overrides={"guidance_scale": 9.0})
    assert not changed["identical"] and any("lossy" in n for n in changed["notes"])


def test_a_rerun_names_the_inputs_it_cannot_find(local, tmp_path):
    request = sdxl_request(mode="image-to-image", images=[make_image(color=(1, 2, 3))],
                           params={"num_inference_steps": 4})
    result = backends.run(request)
    record = records.for_image(records.build_record(result, request), 0)
    path = records.save_image(result.images[0], record, tmp_path / "lonely.png")
    with pytest.raises(ValidationError) as err:
        rerun.rerun_and_verify(path)
    (problem,) = err.value.problems
    assert problem.field == "inputs[0]" and result.input_hashes[0] in str(problem.value)
    assert "give it (--image / --mask)" in problem.allowed
    assert rerun.rerun_and_verify(path, images=[make_image(color=(1, 2, 3))])["identical"]


def test_a_shipped_preset_reruns_from_its_output(local, tmp_path):
    preset = preset_store.load_preset("sdxl-turbo-fast")
    request = presets.preset_to_request(preset)
    request.params.update(image_size="64x64")
    request.backend = "local"
    result = backends.run(request)
    path = records.save_image(result.images[0], records.for_image(records.build_record(result, request), 0),
                              tmp_path / "turbo.webp")
    assert rerun.rerun_and_verify(path)["identical"]


# -- no key anywhere --------------------------------------------------------------------------------

def test_no_key_reaches_a_record_sidecar_preset_or_image_on_hosted_runs(hosted, tmp_path, monkeypatch):
    from playground.__main__ import write_images

    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    keys = {"fal": SECRET, "replicate": SECRET}
    written: list[Path] = []
    for model, backend, mode, images in [("flux-2-dev", "fal", "text-to-image", []),
                                         ("flux-2-pro", "replicate", "image-to-image", [make_image()])]:
        request = Request(model=model, mode=mode, prompt="a lighthouse", images=images, seed=4, backend=backend,
                          params={"image_size": "square"} if backend == "fal" else {})
        done = runs.run(request, keys=keys)
        result = done.result
        written += write_images(done, tmp_path / "out" / backend)
        record = records.for_image(records.build_record(result, request, secrets=keys.values()), 0)
        for fmt in ("jpeg", "webp"):
            written.append(records.save_image(result.images[0], record, tmp_path / "out" / f"{backend}.{fmt}"))
        preset_store.save_request(request, f"{backend} run")
    assert len(written) == 6
    for path in written:
        assert records.read_record(path)["backend"] in ("fal", "replicate")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 14  # images, sidecars, inputs, presets: the autouse fixture scans them all
