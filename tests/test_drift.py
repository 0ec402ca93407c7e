"""Drift chains through the Python API: tiny local pipelines and the provider emulator.

Metrics are checked against an independent computation on the images saved in the zip: numpy for
the MSE, scikit-image and imagehash called directly here.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageSequence
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from playground.drift import (
    DEFAULT_INSTRUCTION,
    DRIFT_SCHEMA,
    ChainSpec,
    DriftSpec,
    check_drift,
    drift_from_dict,
    drift_to_dict,
    plan_drift,
    run_drift,
)
from playground.images import content_hash
from playground.metrics import compare_images
from playground.params import ValidationError
from tests.conftest import make_image

KEYS = {"fal": "test-drift-fal", "replicate": "test-drift-rep"}
LOCAL_GENESIS = dict(prompt="a lighthouse", genesis_model="flux-schnell", genesis_backend="local", genesis_seed=1,
                     genesis_params={"image_size": "64x64", "num_inference_steps": 2, "max_sequence_length": 128})


def expected_metrics(reference: Image.Image, image: Image.Image) -> dict:
    """The metrics computed independently: the later image resized to the reference's size with Lanczos."""
    ref = reference.convert("RGB")
    other = image.convert("RGB")
    if other.size != ref.size:
        other = other.resize(ref.size, Image.Resampling.LANCZOS)
    a, b = np.asarray(ref).astype(np.float64), np.asarray(other).astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    return {
        "mse": mse,
        "psnr": None if mse == 0 else peak_signal_noise_ratio(a.astype(np.uint8), b.astype(np.uint8), data_range=255),
        "ssim": structural_similarity(a.astype(np.uint8), b.astype(np.uint8), channel_axis=2, data_range=255),
        "phash": imagehash.phash(ref) - imagehash.phash(other),
    }


def assert_metrics(actual: dict, expected: dict) -> None:
    assert actual["mse"] == pytest.approx(expected["mse"], rel=1e-9, abs=1e-9)
    assert (actual["psnr"] is None) == (expected["psnr"] is None)
    if expected["psnr"] is not None:
        assert actual["psnr"] == pytest.approx(expected["psnr"], rel=1e-9)
    assert actual["ssim"] == pytest.approx(expected["ssim"], rel=1e-9, abs=1e-12)
    assert actual["phash"] == expected["phash"]


def unzip(path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files["manifest.json"]), files


def open_png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def check_saved_metrics(manifest: dict, files: dict[str, bytes]) -> int:
    """Recompute every step's metrics from the PNGs in the zip; returns how many steps were checked."""
    first = open_png(files["genesis.png"])
    checked = 0
    for chain in manifest["chains"]:
        previous = first
        for step in chain["steps"]:
            image = open_png(files[step["file"]])
            assert_metrics(step["vs_first"], expected_metrics(first, image))
            assert_metrics(step["vs_previous"], expected_metrics(previous, image))
            previous = image
            checked += 1
    return checked


def test_local_drift_three_steps_metrics_plot_and_gif(local, tmp_path):
    seen: list[tuple] = []
    spec = DriftSpec(**LOCAL_GENESIS, chains=[ChainSpec("sdxl-base", "local", steps=3, seed=4)])
    drift = run_drift(spec, on_step=lambda s: seen.append((s.chain, s.index, s.status)))
    chain = drift.chains[0]
    assert drift.error is None and chain.status == "done" and len(chain.steps) == 4
    assert seen == [(None, 0, "done"), (0, 1, "done"), (0, 2, "done"), (0, 3, "done")]
    # Each step edits the previous output, in Copy mode, with the exact-copy instruction.
    for previous, step in zip(chain.steps, chain.steps[1:], strict=False):
        assert step.record["inputs"][0]["sha256"] == content_hash(previous.image.convert("RGB"))
        assert step.record["params"]["edit_style"] == "copy" and step.record["prompt"] == DEFAULT_INSTRUCTION
    manifest, files = unzip(drift.to_zip(tmp_path / "drift.zip"))
    assert check_saved_metrics(manifest, files) == 3
    assert manifest["schema"] == "playground.drift-manifest/1" and manifest["chains"][0]["steps_done"] == 3
    assert manifest["genesis"]["record"]["model"] == "flux-schnell"
    gif = Image.open(io.BytesIO(files["drift.gif"]))
    assert gif.format == "GIF" and sum(1 for _ in ImageSequence.Iterator(gif)) == 4
    plot = Image.open(io.BytesIO(files["metrics.png"]))
    assert plot.size == drift.plot().size and len(plot.convert("RGB").getcolors(1 << 16)) > 10
    rows = drift.table()
    assert [r["step"] for r in rows] == [0, 1, 2, 3] and rows[0]["mse_vs_first"] == 0.0
    assert len(files["metrics.csv"].decode().splitlines()) == 5
    assert [caption for _, caption in drift.filmstrip()][0] == "step 0 (genesis)" and len(drift.filmstrip()) == 4


def test_hosted_drift_runs_two_chains_from_one_genesis_and_plots_them_together(hosted, tmp_path):
    spec = DriftSpec(prompt="a lighthouse", genesis_model="flux-2-dev", genesis_backend="fal", genesis_seed=2,
                     genesis_params={"image_size": "square"},
                     chains=[ChainSpec("flux-kontext-pro", "replicate", steps=3, seed=5),
                             ChainSpec("seedream-4", "fal", steps=3, seed=6)])
    planned = plan_drift(spec, KEYS)
    assert [c["backend"] for c in planned["chains"]] == ["replicate", "fal"] and planned["steps"] == 6
    assert planned["estimated_cost"] > 0
    drift = run_drift(spec, KEYS)
    assert [c.status for c in drift.chains] == ["done", "done"]
    genesis_submits = [r for r in hosted.emulator.requests if r["phase"] == "submit" and "flux-2" in r["path"]
                       and "edit" not in r["path"]]
    assert len(genesis_submits) == 1
    assert all(c.steps[0] is drift.genesis for c in drift.chains)
    # seedream-4 answers at 1024 px from a 512 px genesis: the later image is resized before comparing.
    seedream = drift.chains[1]
    assert seedream.steps[1].image.size != drift.genesis.image.size and seedream.steps[1].vs_first.resized
    manifest, files = unzip(drift.to_zip(tmp_path / "drift.zip"))
    assert check_saved_metrics(manifest, files) == 6
    gif = Image.open(io.BytesIO(files["drift.gif"]))
    frames = list(ImageSequence.Iterator(gif))
    assert len(frames) == 4 and gif.size[0] == 2 * 384
    plot = np.asarray(drift.plot())
    for color in ((31, 119, 180), (214, 39, 40)):  # both chains' lines are drawn
        assert np.any(np.all(plot == color, axis=2))


def test_failure_at_step_two_keeps_step_one_and_the_error(hosted, tmp_path):
    def on_step(step):
        if step.chain == 0 and step.index == 1:
            hosted.emulator.inject("fail", provider="replicate", msg="the GPU melted")

    spec = DriftSpec(prompt="a lighthouse", genesis_model="flux-2-dev", genesis_backend="fal",
                     genesis_params={"image_size": "square"},
                     chains=[ChainSpec("flux-kontext-pro", "replicate", steps=3)])
    drift = run_drift(spec, KEYS, on_step=on_step)
    chain = drift.chains[0]
    assert chain.status == "failed" and [s.index for s in chain.steps] == [0, 1]
    assert "Step 2" in chain.error and "the GPU melted" in chain.error
    manifest, files = unzip(drift.to_zip(tmp_path / "drift.zip"))
    assert manifest["chains"][0]["error"] == chain.error and manifest["chains"][0]["steps_done"] == 1
    assert check_saved_metrics(manifest, files) == 1
    assert sum(1 for _ in ImageSequence.Iterator(Image.open(io.BytesIO(files["drift.gif"])))) == 2


def test_cancel_keeps_the_steps_done_so_far(local):
    cancel = threading.Event()

    def on_step(step):
        if step.index == 1:
            cancel.set()

    drift = run_drift(DriftSpec(**LOCAL_GENESIS, chains=[ChainSpec("sdxl-turbo", "local", steps=3)]),
                      on_step=on_step, cancel=cancel)
    chain = drift.chains[0]
    assert drift.cancelled and chain.status == "cancelled" and len(chain.steps) == 2
    assert chain.steps[1].image is not None and "Step 2" in chain.error


def test_uploaded_start_image_replaces_the_genesis(local):
    start = make_image(64, 64)
    drift = run_drift(DriftSpec(start_image=start, genesis_model=None,
                                chains=[ChainSpec("sdxl-turbo", "local", steps=1)]))
    assert drift.genesis.record["source"] == "upload"
    assert drift.genesis.record["input_hashes"] == [content_hash(start)]
    assert drift.chains[0].steps[1].record["inputs"][0]["sha256"] == content_hash(start)


def test_spec_problems_are_refused_together_before_anything_runs(hosted, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DRIFT_MAX_STEPS", "5")
    with pytest.raises(ValidationError) as err:
        run_drift(DriftSpec(prompt="x", genesis_model="flux-kontext-dev",
                            chains=[ChainSpec("seedream-3", steps=2), ChainSpec("seededit-3", steps=6),
                                    ChainSpec("flux-kontext-pro", steps=2, params={"no_such": 1})]), KEYS)
    fields = [p.field for p in err.value.problems]
    assert fields == ["genesis_model", "chains[0].model", "chains[1].steps", "chains[2].params.no_such"]
    assert hosted.emulator.requests == []


def test_metrics_follow_the_stated_resize_rule():
    small, large = make_image(64, 64), make_image(128, 96, color=(30, 120, 200))
    same = compare_images(small, small.copy())
    assert (same.mse, same.psnr, same.ssim, same.phash, same.resized) == (0.0, None, 1.0, 0, False)
    apart = compare_images(small, large)
    assert apart.resized
    assert_metrics(apart.as_dict(), expected_metrics(small, large))


def test_drift_spec_round_trips_through_its_dict_form():
    spec = DriftSpec(prompt="a fox", genesis_model="seedream-3", genesis_params={"guidance_scale": 3.0},
                     chains=[ChainSpec("seededit-3", "replicate", steps=4, seed=1, label="seededit")], max_steps=8)
    data = json.loads(json.dumps(drift_to_dict(spec)))
    assert data["schema"] == DRIFT_SCHEMA and drift_from_dict(data) == spec
    assert check_drift(data) == spec
    with pytest.raises(ValidationError, match="schema"):
        drift_from_dict({**data, "schema": "playground.grid/1"})
