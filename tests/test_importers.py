"""Import from other tools: images written the way AUTOMATIC1111 (PNG and JPEG), ComfyUI and
InvokeAI write them become presets with the expected values, anything unmapped is listed, and a
run from each preset works on the tiny pipelines."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import piexif
import piexif.helper
import pytest
from PIL import PngImagePlugin

from playground import backends, importers, preset_store, presets, records
from playground.request import Request
from playground.ui import api
from tests.conftest import cli_in_process, make_image

A1111_T2I = ("a lighthouse at dusk, (golden hour:1.2)\nNegative prompt: blurry, lowres\n"
             "Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 64x96, "
             "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, VAE: sdxl_vae.safetensors, Clip skip: 2, "
             'Lora hashes: "fox: 1a2b3c", Version: v1.10.1')
A1111_I2I = ("a fox in the snow\nNegative prompt: watermark\nSteps: 4, Sampler: Euler a, Schedule type: Automatic, "
             "CFG scale: 5, Seed: 42, Size: 64x64, Model hash: aaaaaaaaaa, Model: juggernautXL_v9Rundiffusion, "
             "Denoising strength: 0.45, Version: f2.0.1v1.10.1-previous-519-g44eb4ea8")


def a1111_png(path: Path, text: str) -> Path:
    """modules/images.py save_image_with_geninfo for PNG: a `parameters` text chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    make_image().save(path, pnginfo=info)
    return path


def a1111_jpeg(path: Path, text: str) -> Path:
    """modules/images.py for JPEG: save, then piexif.insert a UserComment dumped as unicode."""
    make_image().save(path, format="JPEG", quality=90)
    exif = piexif.dump({"Exif": {piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(text,
                                                                                            encoding="unicode")}})
    piexif.insert(exif, str(path))
    return path


COMFY_T2I = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 156680208700286, "steps": 3, "cfg": 7.5,
                                               "sampler_name": "dpmpp_2m", "scheduler": "karras", "denoise": 1.0,
                                               "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0],
                                               "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "fox.safetensors", "strength_model": 0.8,
                                                  "strength_clip": 0.8, "model": ["4", 0], "clip": ["4", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 96, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red barn, snow", "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
COMFY_I2I = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 99, "steps": 4, "cfg": 6.0, "sampler_name": "euler",
                                               "scheduler": "normal", "denoise": 0.6, "model": ["4", 0],
                                               "positive": ["6", 0], "negative": ["7", 0],
                                               "latent_image": ["12", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_turbo_1.0_fp16.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "oil painting of a cat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "10": {"class_type": "LoadImage", "inputs": {"image": "cat.png", "upload": "image"}},
    "12": {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}


def comfy_png(path: Path, prompt: dict | None, workflow: dict | None = None) -> Path:
    """ComfyUI's SaveImage: `prompt` (the API graph) and `workflow` (the UI graph) text chunks."""
    info = PngImagePlugin.PngInfo()
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
    if workflow is not None:
        info.add_text("workflow", json.dumps(workflow))
    make_image().save(path, pnginfo=info)
    return path


INVOKE = {"generation_mode": "sdxl_txt2img", "positive_prompt": "a castle on a hill",
          "negative_prompt": "fog", "width": 64, "height": 64, "seed": 777, "rand_device": "cpu", "cfg_scale": 4.5,
          "cfg_rescale_multiplier": 0.1, "steps": 3, "scheduler": "dpmpp_2m_sde_k",
          "model": {"key": "c1b9", "hash": "blake3:abcd", "name": "Juggernaut XL v9", "base": "sdxl", "type": "main"},
          "positive_style_prompt": "cinematic", "app_version": "5.6.0"}


def invoke_png(path: Path, metadata: dict) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("invokeai_metadata", json.dumps(metadata))
    make_image().save(path, pnginfo=info)
    return path


def unmapped(report: dict) -> dict[str, str]:
    return {source: value for source, value, _ in report["unmapped"]}


def run_preset(preset: dict, **request_changes):
    request = presets.preset_to_request(preset)
    request.backend = "local"
    for key, value in request_changes.items():
        setattr(request, key, value)
    return backends.run(request)


# -- AUTOMATIC1111 / Forge -------------------------------------------------------------------------

@pytest.mark.parametrize("writer", [a1111_png, a1111_jpeg])
def test_a1111_text_to_image_becomes_a_preset_and_runs(local, tmp_path, writer):
    report = importers.import_image(writer(tmp_path / f"00001-1234.{writer.__name__[6:]}", A1111_T2I))
    preset = report["preset"]
    assert report["status"] == "ok" and report["tool"] == "AUTOMATIC1111"
    assert (preset["model"], preset["mode"], preset["seed"]) == ("sdxl-base", "text-to-image", 1234)
    assert report["model"] == {"id": "sdxl-base", "guess": False,
                               "why": "sd_xl_base_1.0 is the official sdxl-base checkpoint"}
    assert preset["prompt"] == "a lighthouse at dusk, (golden hour:1.2)"
    assert preset["negative_prompt"] == "blurry, lowres"
    assert preset["params"] == {"num_inference_steps": 3, "guidance_scale": 6.5, "scheduler": "DPM++ 2M Karras",
                                "image_size": {"width": 64, "height": 96}, "clip_skip": 1}
    assert unmapped(report) == {"Model hash": "31e35c80fc", "VAE": "sdxl_vae.safetensors",
                                "Lora hashes": "fox: 1a2b3c", "Version": "v1.10.1"}
    result = run_preset(preset)
    assert result.images[0].size == (64, 96) and result.seeds == [1234]
    assert result.native["scheduler"]["use_karras_sigmas"] is True


def test_a1111_image_to_image_is_a_guess_with_denoising_strength(local, tmp_path):
    report = importers.import_image(a1111_jpeg(tmp_path / "i2i.jpg", A1111_I2I))
    preset = report["preset"]
    assert (preset["model"], preset["mode"]) == ("sdxl-base", "image-to-image")
    assert report["model"]["guess"] is True and "juggernautXL_v9Rundiffusion" in report["model"]["why"]
    assert "guess" in report["message"]
    assert preset["params"] == {"num_inference_steps": 4, "guidance_scale": 5.0, "scheduler": "Euler a",
                                "strength": 0.45}
    assert unmapped(report)["image_size"] == '{"width": 64, "height": 64}'  # follows the input image instead
    result = run_preset(preset, images=[make_image()])
    assert result.native["strength"] == 0.45 and result.params["scheduler"] == "Euler a"


def test_hires_fix_strength_is_not_taken_for_image_to_image():
    found = importers.from_a1111("a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512, "
                                 "Denoising strength: 0.7, Hires upscale: 2, Hires steps: 10")
    assert found.mode == "text-to-image" and "strength" not in found.params
    assert {"Denoising strength", "Hires upscale", "Hires steps"} <= {k for k, _, _ in found.unmapped}


# -- ComfyUI ---------------------------------------------------------------------------------------

def test_comfyui_prompt_graph_becomes_a_preset_and_runs(local, tmp_path):
    report = importers.import_image(comfy_png(tmp_path / "ComfyUI_00001_.png", COMFY_T2I))
    preset = report["preset"]
    assert report["tool"] == "ComfyUI" and report["model"]["id"] == "sdxl-base" and not report["model"]["guess"]
    assert (preset["prompt"], preset["negative_prompt"]) == ("a red barn, snow", "text, watermark")
    assert preset["params"] == {"num_inference_steps": 3, "guidance_scale": 7.5, "scheduler": "DPM++ 2M Karras",
                                "image_size": {"width": 64, "height": 96}}
    # ComfyUI seeds go up to 2**64; the playground's to 2**32 - 1: listed, and a seed is drawn instead.
    assert preset["seed"] is None and unmapped(report)["seed"] == "156680208700286"
    lora = unmapped(report)["LoraLoader (node 10)"]
    assert json.loads(lora)["lora_name"] == "fox.safetensors"
    assert "SaveImage (node 9)" in unmapped(report) and "VAEDecode (node 8)" in unmapped(report)
    result = run_preset(preset)
    assert result.images[0].size == (64, 96)


def test_comfyui_image_to_image_graph(local, tmp_path):
    report = importers.import_image(comfy_png(tmp_path / "i2i.png", COMFY_I2I))
    preset = report["preset"]
    assert (preset["model"], preset["mode"], preset["seed"]) == ("sdxl-turbo", "image-to-image", 99)
    assert preset["params"] == {"num_inference_steps": 4, "guidance_scale": 6.0, "scheduler": "Euler",
                                "strength": 0.6}
    assert preset["prompt"] == "oil painting of a cat" and any("cat.png" in n for n in report["notes"])
    result = run_preset(preset, images=[make_image()])
    assert result.native["strength"] == 0.6


def test_comfyui_workflow_alone_is_read_too(tmp_path):
    workflow = {"nodes": [
        {"id": 3, "type": "KSampler", "inputs": [{"name": "model", "link": 1}, {"name": "positive", "link": 2},
                                                 {"name": "negative", "link": 3}, {"name": "latent_image", "link": 4}],
         "widgets_values": [5, "fixed", 6, 3.5, "euler_ancestral", "normal", 1]},
        {"id": 4, "type": "CheckpointLoaderSimple", "inputs": [], "widgets_values": ["flux1-schnell-fp8.safetensors"]},
        {"id": 6, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "link": 5}], "widgets_values": ["a boat"]},
        {"id": 7, "type": "CLIPTextEncode", "inputs": [{"name": "clip", "link": 6}], "widgets_values": [""]},
        {"id": 5, "type": "EmptyLatentImage", "inputs": [], "widgets_values": [512, 512, 1]}],
        "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 6, 0, 3, 1, "CONDITIONING"], [3, 7, 0, 3, 2, "CONDITIONING"],
                  [4, 5, 0, 3, 3, "LATENT"], [5, 4, 1, 6, 0, "CLIP"], [6, 4, 1, 7, 0, "CLIP"]]}
    report = importers.import_image(comfy_png(tmp_path / "wf.png", None, workflow))
    preset = report["preset"]
    assert (preset["model"], preset["prompt"], preset["seed"]) == ("flux-schnell", "a boat", 5)
    assert report["model"]["guess"] is True
    # FLUX.1 schnell has no sampler choice: listed with the reason, not dropped.
    assert "scheduler" in unmapped(report) and preset["params"]["num_inference_steps"] == 6


# -- InvokeAI --------------------------------------------------------------------------------------

def test_invokeai_metadata_becomes_a_preset_and_runs(local, tmp_path):
    report = importers.import_image(invoke_png(tmp_path / "invoke.png", INVOKE))
    preset = report["preset"]
    assert report["tool"] == "InvokeAI" and report["model"]["id"] == "sdxl-base" and report["model"]["guess"]
    assert (preset["prompt"], preset["negative_prompt"], preset["seed"]) == ("a castle on a hill", "fog", 777)
    assert preset["params"] == {"num_inference_steps": 3, "guidance_scale": 4.5, "guidance_rescale": 0.1,
                                "scheduler": "DPM++ 2M SDE Karras", "image_size": {"width": 64, "height": 64}}
    assert unmapped(report) == {"rand_device": "cpu", "positive_style_prompt": "cinematic", "app_version": "5.6.0"}
    result = run_preset(preset)
    assert result.native["guidance_rescale"] == 0.1
    assert result.native["scheduler"]["algorithm_type"] == "sde-dpmsolver++"


# -- the doors: endpoint, command line, nothing found ----------------------------------------------

def test_import_endpoint_turns_an_upload_into_a_saved_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    data = a1111_png(tmp_path / "a.png", A1111_T2I).read_bytes()
    upload = {"path": "data:image/png;base64," + base64.b64encode(data).decode()}
    report = api.import_image(upload, name="From A1111", save=True)
    assert report["saved"]["id"] == "user:from-a1111" and report["preset"]["name"] == "From A1111"
    assert preset_store.load_preset("user:from-a1111")["params"]["scheduler"] == "DPM++ 2M Karras"
    inspected = api.inspect_image(upload)
    assert inspected["status"] == "no record" and inspected["import"]["preset"]["seed"] == 1234


def test_command_line_prints_the_preset_and_saves_it(tmp_path):
    env = {"PLAYGROUND_HOME": str(tmp_path / "home")}
    path = invoke_png(tmp_path / "invoke.png", INVOKE)
    done = cli_in_process("import", str(path), "--save", "Castle", env=env)
    assert done.returncode == 0, done.stderr
    preset = json.loads(done.stdout)
    assert preset["schema"] == "playground.preset/1" and preset["seed"] == 777 and preset["name"] == "Castle"
    assert "saved as user:castle" in done.stderr and "not mapped: rand_device: cpu" in done.stderr
    shown = cli_in_process("inspect", str(path), env=env)
    assert shown.returncode == 1 and "has no playground record" in shown.stderr  # no record, but:
    assert "Read InvokeAI settings into a sdxl-base text-to-image preset" in shown.stdout
    assert "scheduler: dpmpp_2m_sde_k  ->  scheduler = DPM++ 2M SDE Karras" in shown.stdout
    make_image().save(tmp_path / "plain.png")
    nothing = cli_in_process("import", str(tmp_path / "plain.png"), env=env)
    assert nothing.returncode == 1 and nothing.stdout == "" and "No generation settings found" in nothing.stderr


def test_the_playgrounds_own_image_imports_exactly(local, tmp_path):
    request = Request(model="sdxl-base", prompt="a kite", seed=9, backend="local",
                      params={"num_inference_steps": 2, "image_size": "64x64", "scheduler": "Heun"})
    result = backends.run(request)
    path = records.save_image(result.images[0], records.for_image(records.build_record(result, request), 0),
                              tmp_path / "own.webp")
    report = importers.import_image(path)
    assert report["tool"] == "playground" and report["model"] == {"id": "sdxl-base", "guess": False,
                                                                  "why": "the playground record names it"}
    assert report["preset"]["params"] == request.params and report["preset"]["seed"] == 9
