"""The command line: listing models and running one request, with clear errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import make_image

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_models_lists_every_model_with_modes_and_backends():
    done = cli("models")
    assert done.returncode == 0, done.stderr
    assert "[sdxl]" in done.stdout and "[flux2]" in done.stdout
    line = next(ln for ln in done.stdout.splitlines() if ln.strip().startswith("sdxl-base "))
    assert "local: text-to-image/image-to-image/inpaint" in line and "replicate:" in line


def test_models_json_prints_every_schema():
    done = cli("models", "--json")
    data = json.loads(done.stdout)
    assert {"flux-2-dev", "flux-kontext-pro", "seedream-4.5", "sdxl-turbo", "flux-schnell"} <= set(data)
    steps = data["sdxl-base"]["schema"]["properties"]["params"]["properties"]["num_inference_steps"]
    assert (steps["minimum"], steps["maximum"], steps["default"]) == (1, 500, 25)


def test_run_writes_images_and_prints_the_result_as_json(model_paths_file, tmp_path):
    image = tmp_path / "in.png"
    make_image().save(image)
    done = cli("run", "--model", "sdxl-base", "--prompt", "a fox", "--image", str(image), "--backend", "local",
               "--set", "num_inference_steps=4", "--set", "edit_style=modify", "--seed", "5",
               "--out", str(tmp_path / "out"), "--json", env={"PLAYGROUND_MODEL_PATHS": str(model_paths_file)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "image-to-image" and result["backend"] == "local" and result["seeds"] == [5]
    assert result["native"]["strength"] == 0.5 and result["native"]["num_inference_steps"] == 4
    assert set(result["timings"]) == {"load_s", "inference_s", "total_s"}
    (written,) = result["files"]
    assert Path(written).name == "sdxl-base-5-0.png" and Image.open(written).size == (64, 64)


def test_run_prints_seed_and_parameters_as_sent(model_paths_file, tmp_path):
    done = cli("run", "--model", "sdxl-turbo", "--prompt", "a fox", "--backend", "local",
               "--set", "image_size=64x64", "--out", str(tmp_path),
               env={"PLAYGROUND_MODEL_PATHS": str(model_paths_file)})
    assert done.returncode == 0, done.stderr
    assert "(seed " in done.stdout and '"num_inference_steps": 1' in done.stdout
    assert "step 1/1" in done.stderr


def test_bad_input_exits_nonzero_with_the_message_on_stderr(tmp_path):
    done = cli("run", "--model", "sdxl-base", "--prompt", "x", "--set", "num_inference_steps=0",
               "--set", "guidance_scale=abc", "--out", str(tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    assert "params.num_inference_steps: got 0; allowed: an integer from 1 to 500" in done.stderr
    assert "params.guidance_scale: got 'abc'" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_model_and_missing_weights_are_clear(tmp_path):
    done = cli("run", "--model", "nope", "--prompt", "x", "--out", str(tmp_path))
    assert done.returncode == 2 and "model: got 'nope'; allowed: one of flux-2-dev" in done.stderr
    done = cli("run", "--model", "sdxl-base", "--prompt", "x", "--backend", "local", "--out", str(tmp_path))
    assert done.returncode == 1 and "hf download stabilityai/stable-diffusion-xl-base-1.0" in done.stderr
