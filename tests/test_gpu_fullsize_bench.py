"""bench/gpu_fullsize.py keeps working without a GPU: `--scale tiny` runs the same code on CPU and prints
every line the GPU run prints; the full-size configs build the published architectures (counted on the
meta device, no memory)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from fullsize_models import MODELS, parameter_counts  # noqa: E402

# Published parameter counts of the real checkpoints' components (model cards, safetensors indexes).
PUBLISHED = {
    "sdxl-base": {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480,
                  "text_encoder_2": 694_659_840},
    "flux-kontext-dev": {"transformer": 11_901_408_320, "vae": 83_819_683, "text_encoder": 123_060_480,
                         "text_encoder_2": 4_762_310_656},
    "flux-schnell": {"transformer": 11_891_178_560, "vae": 83_819_683, "text_encoder": 123_060_480,
                     "text_encoder_2": 4_762_310_656},
    "flux-2-klein-4b": {"vae": 84_046_115, "text_encoder": 4_022_468_096},
    "flux-2-dev": {"vae": 84_046_115, "text_encoder": 24_011_361_280},
}
# FLUX.2 transformers: BFL gives only rounded sizes ("4B" klein, "32B" dev).
ROUNDED = {"flux-2-klein-4b": 3.9e9, "flux-2-dev": 32.2e9}


@pytest.mark.parametrize("model_id", list(MODELS))
def test_full_size_configs_build_the_published_architectures(model_id: str) -> None:
    counts = parameter_counts(MODELS[model_id], "full")
    for component, expected in PUBLISHED[model_id].items():
        assert counts[component] == expected, component
    if model_id in ROUNDED:
        assert counts["transformer"] == pytest.approx(ROUNDED[model_id], rel=0.01)


def test_tiny_scale_builds_the_same_components_far_smaller() -> None:
    for spec in MODELS.values():
        full, tiny = parameter_counts(spec, "full"), parameter_counts(spec, "tiny")
        assert set(tiny) == set(full)
        assert sum(tiny.values()) < 10_000_000


LINES_PER_MODEL = [
    r"^== {m}: \w+Pipeline, [\d.]+ B params \(.*\), [\d.]+ GiB float32; 64x64, (text|image)-to-image$",
    r"^build [\d.]+ s, save [\d.]+ s \([\d.]+ GiB safetensors on disk\)$",
    r"^time to first image \(fresh backend: load, run, record, PNG file\): [\d.]+ s \(load [\d.]+ s\)$",
    r"^bare diffusers call: +median [\d.]+ s \(1 run\)$",
    r"^playground local path: +median [\d.]+ s \(1 run\); ratio playground / bare [\d.]+$",
    r"^playground work per image: +record [\d.]+ ms \(of which pixel hash [\d.]+ ms\), PNG [\d.]+ ms "
    r"\(compress level 1; level 6: [\d.]+ ms\); total [\d.]+ ms, ratio to bare call [\d.]+$",
    r"^peak memory \(1 image\): [\d.]+ GiB",
    r"^batch of 4: ([\d.]+ images/s|not measured \(budget spent\))",
    r"^speed settings against the default",
]
SETTING_LINE = r"^  {label} +(median [\d.]+ s \((1 image|batch of 4)\), ratio [\d.]+.*|n/a here \(.*\)|" \
               r"not measured \(budget spent\))$"
TINY_SETTINGS = ["attention=_native_math", "fuse_qkv=true", "channels_last=true", "vae_tiling=true",
                 "vae_slicing=true", "dtype=bfloat16"]
COMPILE_LINE = r"^  compile=(regional|full) +not measured (at --scale tiny \(.*\)|\(budget spent\))$"


def test_tiny_scale_prints_every_line_of_the_gpu_run() -> None:
    """Each line shows a figure, or says the budget ran out before it (the shared CPU decides how far 8 s go)."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_fullsize.py"), "--scale", "tiny",
                           "--budget-s", "8"], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert re.match(r"^== gpu_fullsize: scale tiny, device cpu \(.*\), torch .*, diffusers .*, budget 8 s$",
                    lines[0])
    ran = [m for m in MODELS if f"== {m}: not run (budget spent)" not in lines]
    assert ran and ran[0] == next(iter(MODELS)), "the first model always runs"
    for model_id in MODELS:
        section = _section(lines, model_id)
        if model_id not in ran:
            assert section == [f"== {model_id}: not run (budget spent)"]
            continue
        for pattern in LINES_PER_MODEL:
            assert any(re.match(pattern.format(m=re.escape(model_id)), line) for line in section), \
                (pattern, section)
        for label in TINY_SETTINGS:
            assert any(re.match(SETTING_LINE.format(label=re.escape(label)), line) for line in section), \
                (label, section)
        assert sum(bool(re.match(COMPILE_LINE, line)) for line in section) == 2, section
        assert not any("unavailable" in line or line.startswith("failed") for line in section), section
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| model | bare diffusers s | playground s | ratio |")
    assert {row.split(" | ")[0][2:] for row in table[1:1 + len(MODELS)]} == set(MODELS)  # "|---|" is not "| "
    assert any(line.startswith("| setting (ratio to default) |") for line in table)
    assert lines[-1] == "== done"


def _section(lines: list[str], model_id: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(f"== {model_id}:"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("== "))
    return lines[start:end]
