"""Compare cells and Drift steps honour the chosen output format (PNG, JPEG, WebP + quality) like
Generate does, with the record embedded in each file and the zip; through the launched app's
/compare and /drift (gradio_client): tiny local pipelines on CPU and the provider emulator."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from PIL import Image

from playground.records import read_record

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

KEYS = {"fal_key": "test-formats-fal", "replicate_key": "test-formats-rep"}


def pil_format(path: str | Path) -> str:
    with Image.open(path) as image:
        return image.format


def test_a_grid_in_jpeg_gives_jpeg_cells_with_their_records_in_the_files_and_the_zip(client):
    _, cells, manifest, archive = client.predict(
        model="sdxl-turbo", backend="local", prompt="a red fox", params={"image_size": "64x64"},
        axes=[{"kind": "seed", "values": [1, 2]}, {"kind": "param", "name": "num_inference_steps", "values": [1]}],
        output_format="jpeg", output_quality=80, api_name="/compare")
    assert [Path(c).suffix for c in cells] == [".jpg", ".jpg"]
    assert {pil_format(c) for c in cells} == {"JPEG"}
    assert sorted(read_record(c)["seed"] for c in cells) == [1, 2]
    files = [f for cell in manifest["cells"] for f in cell["files"]]
    assert files and all(f.endswith(".jpg") for f in files)
    with zipfile.ZipFile(archive) as bundle:
        for name in files:
            data = bundle.read(name)
            assert data[:3] == b"\xff\xd8\xff", name  # JPEG bytes under the .jpg name
            assert read_record(data)["model"] == "sdxl-turbo"


def test_a_drift_in_webp_gives_webp_steps_with_their_records(client, hosted):
    _, filmstrip, _, manifest, archive = client.predict(
        chains=[{"model": "flux-kontext-pro", "backend": "replicate", "steps": 2}], prompt="a lighthouse",
        genesis_model="flux-2-dev", genesis_backend="fal", genesis_params={"image_size": "square"},
        output_format="webp", **KEYS, api_name="/drift")
    assert [Path(p).name for p in filmstrip] == ["genesis.webp", "chain-1-step-01.webp", "chain-1-step-02.webp"]
    assert {pil_format(p) for p in filmstrip} == {"WEBP"}
    step = manifest["chains"][0]["steps"][1]
    assert read_record(filmstrip[2])["image"]["sha256"] == step["record"]["outputs"][0]["sha256"], \
        "lossless WebP: the file's pixels are the recorded output"
    assert manifest["genesis"]["file"] == "genesis.webp" and step["file"].endswith("step-02.webp")
    with zipfile.ZipFile(archive) as bundle:
        assert read_record(bundle.read("genesis.webp"))["model"] == "flux-2-dev"
        assert read_record(bundle.read(step["file"]))["model"] == "flux-kontext-pro"


def test_without_a_format_grids_stay_png_and_a_bad_format_is_refused_with_the_field_named(client, hosted):
    _, cells, _, _ = client.predict(model="flux-2-pro", backend="fal", prompt="a fox", **KEYS,
                                    axes=[{"kind": "seed", "values": [1]}], api_name="/compare")
    assert Path(cells[0]).suffix == ".png" and pil_format(cells[0]) == "PNG"
    with pytest.raises(AppError) as caught:
        client.predict(model="flux-2-pro", backend="fal", prompt="a fox", **KEYS, output_format="gif",
                       axes=[{"kind": "seed", "values": [1]}], api_name="/compare")
    assert "output_format: got 'gif'; allowed: png, jpeg or webp" in str(caught.value)
    with pytest.raises(AppError) as caught:
        client.predict(chains=[{"model": "flux-kontext-pro", "steps": 1}], prompt="a fox", output_quality=0,
                       output_format="jpeg", **KEYS, api_name="/drift")
    assert "output_quality: got 0; allowed: an integer from 1 to 100" in str(caught.value)
