"""The command line: listing models and running one request, with clear errors for bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from playground.records import read_record
from tests.conftest import cli_in_process, make_image

ROOT = Path(__file__).resolve().parent.parent


cli = cli_in_process


def test_models_lists_every_model_with_modes_and_backends():
    # The real entry point, in a process of its own.
    done = subprocess.run([sys.executable, "-m", "playground", "models"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
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
    record = read_record(written)
    assert record["seed"] == 5 and record["native"] == result["native"] and record["image"]["index"] == 0
    assert json.loads(Path(written).with_suffix(".json").read_text()) == record
    assert [p.name for p in (tmp_path / "out" / "inputs").iterdir()] == [f"{record['inputs'][0]['sha256']}.png"]


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


def test_inspect_and_rerun_an_image_from_the_command_line(model_paths_file, tmp_path):
    env = {"PLAYGROUND_MODEL_PATHS": str(model_paths_file), "PLAYGROUND_HOME": str(tmp_path / "home")}
    done = cli("run", "--model", "sdxl-turbo", "--prompt", "a fox", "--backend", "local", "--seed", "8",
               "--set", "image_size=64x64", "--set", "num_inference_steps=2", "--out", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    image = tmp_path / "sdxl-turbo-8-0.png"
    shown = cli("inspect", str(image), env=env)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^model +sdxl-turbo$", shown.stdout, re.M)
    assert re.search(r"^params\.num_inference_steps +2$", shown.stdout, re.M)
    same = cli("rerun", str(image), env=env)
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith("Reproduced exactly: the new pixels are byte-identical")
    changed = cli("rerun", str(image), "--set", "num_inference_steps=3", "--json", env=env)
    assert changed.returncode == 3, changed.stderr
    verdict = json.loads(changed.stdout)
    assert verdict["verdict"] == "different" and verdict["difference"]["max"] > 0
    assert {"field": "params.num_inference_steps", "recorded": 2, "now": 3} in verdict["differences"]


def test_run_from_a_preset_file_with_flags_overriding_it(model_paths_file, tmp_path):
    make_image(color=(10, 120, 200)).save(tmp_path / "in.png")
    from playground.images import load_image

    preset = {"schema": "playground.preset/1", "name": "Blue fox", "model": "sdxl-base", "mode": "image-to-image",
              "backend": "local", "prompt": "a blue fox", "params": {"num_inference_steps": 4, "edit_style": "modify"},
              "seed": 1, "inputs": [{"role": "image", "sha256": load_image(tmp_path / "in.png", "x").sha256,
                                     "path": "in.png"}]}
    (tmp_path / "blue-fox.json").write_text(json.dumps(preset))
    env = {"PLAYGROUND_MODEL_PATHS": str(model_paths_file), "PLAYGROUND_HOME": str(tmp_path / "home")}
    done = cli("run", "--preset", str(tmp_path / "blue-fox.json"), "--seed", "9", "--set", "reference_strength=0.7",
               "--out", str(tmp_path / "out"), "--save-preset", "Blue fox again", "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["seeds"] == [9] and result["prompt"] == "a blue fox" and result["mode"] == "image-to-image"
    assert result["native"]["strength"] == 0.3 and result["native"]["num_inference_steps"] == 4
    assert result["preset"]["id"] == "user:blue-fox-again"
    record = read_record(result["files"][0])
    assert record["request"]["params"] == {"num_inference_steps": 4, "edit_style": "modify", "reference_strength": 0.7}
    shipped = cli("run", "--preset", "sdxl-turbo-fast", "--set", "image_size=64x64", "--backend", "local",
                  "--out", str(tmp_path / "shipped"), "--json", env=env)
    assert shipped.returncode == 0, shipped.stderr
    result = json.loads(shipped.stdout)
    assert (result["model"], result["seeds"], result["prompt"]) == ("sdxl-turbo", [42],
                                                                     "A cinematic shot of a raccoon in a library")
    listing = cli("presets", "list", "--json", env=env)
    ids = {p["id"] for p in json.loads(listing.stdout)["presets"]}
    assert {"shipped:sdxl-inpaint", "user:blue-fox-again"} <= ids


def test_bad_presets_missing_models_and_records_are_clear(tmp_path):
    (tmp_path / "bad.json").write_text('{"schema": "playground.preset/1", "name": "x", "model": "sdxl-base", '
                                       '"params": {"num_inference_steps": 900}, "seed": -5, "colour": 1}')
    done = cli("run", "--preset", str(tmp_path / "bad.json"), "--out", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "params.num_inference_steps: got 900; allowed: an integer from 1 to 500" in done.stderr
    assert "seed: got -5" in done.stderr and "colour: got 1; allowed: no such preset field" in done.stderr
    done = cli("run", "--prompt", "x", "--out", str(tmp_path))
    assert done.returncode == 2 and "--model: got None; allowed: a model id (see `models`), or --preset FILE" in \
        done.stderr
    make_image().save(tmp_path / "plain.png")
    done = cli("inspect", str(tmp_path / "plain.png"))
    assert done.returncode == 1 and "has no playground record" in done.stderr
    done = cli("rerun", str(tmp_path / "plain.png"))
    assert done.returncode == 1 and "no playground record" in done.stderr and "Traceback" not in done.stderr
