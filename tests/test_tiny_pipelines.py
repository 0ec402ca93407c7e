"""Fast checks that the tiny offline pipelines save, reload with the real from_pretrained and run."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import hashlib  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from diffusers import (  # noqa: E402
    DiffusionPipeline,
    Flux2KleinInpaintPipeline,
    Flux2KleinPipeline,
    Flux2Pipeline,
    FluxKontextInpaintPipeline,
    FluxKontextPipeline,
    FluxPipeline,
    StableDiffusionXLImg2ImgPipeline,
    StableDiffusionXLInpaintPipeline,
    StableDiffusionXLPipeline,
)
from PIL import Image  # noqa: E402

try:  # works whether or not tests/ is a package
    from tests import tiny_pipelines  # noqa: E402
except ModuleNotFoundError:
    import tiny_pipelines  # noqa: E402

SIZE = 64
PROMPT = "a dog is dancing"
LOADERS: dict[str, type[DiffusionPipeline]] = {
    "sdxl": StableDiffusionXLPipeline,
    "kontext": FluxKontextPipeline,
    "flux-schnell": FluxPipeline,
    "flux2": Flux2Pipeline,
    "flux2-klein": Flux2KleinPipeline,
}


def make_image(seed: int) -> Image.Image:
    """Random RGB image of SIZE x SIZE."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))


def make_mask() -> Image.Image:
    """Mask with a white square in the middle."""
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    mask[16:48, 16:48] = 255
    return Image.fromarray(mask)


def call_kwargs(key: str) -> dict[str, Any]:
    """Arguments for a 2-step SIZE x SIZE call of the pipeline stored under ``key``."""
    kwargs: dict[str, Any] = {"prompt": PROMPT, "height": SIZE, "width": SIZE, "num_inference_steps": 2}
    if key == "kontext":
        kwargs.update(image=make_image(1), max_area=SIZE * SIZE, _auto_resize=False, max_sequence_length=128)
    elif key == "flux-schnell":
        kwargs.update(guidance_scale=0.0, max_sequence_length=128)
    elif key in ("flux2", "flux2-klein"):
        kwargs.update(max_sequence_length=128)
    return kwargs


def run(pipe: DiffusionPipeline, seed: int = 0, **kwargs: Any) -> Any:
    """Call ``pipe`` with a fresh CPU generator and return the images."""
    return pipe(generator=torch.Generator("cpu").manual_seed(seed), **kwargs).images


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tiny_pipelines.build_all(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def loaded(built: dict[str, Path]) -> dict[str, DiffusionPipeline]:
    pipes = {key: LOADERS[key].from_pretrained(path) for key, path in built.items()}
    for pipe in pipes.values():
        pipe.set_progress_bar_config(disable=True)
    return pipes


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_build_all_keys_and_size(built: dict[str, Path]) -> None:
    assert set(built) == set(LOADERS)
    for path in built.values():
        assert (path / "model_index.json").is_file()
        assert sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) < 10 * 2**20


def test_build_is_deterministic(tmp_path: Path, built: dict[str, Path]) -> None:
    again = tiny_pipelines.build_flux_schnell(tmp_path / "again")
    assert _digest(again) == _digest(built["flux-schnell"])


@pytest.mark.parametrize("key", list(LOADERS))
def test_reload_and_run(key: str, loaded: dict[str, DiffusionPipeline]) -> None:
    pipe = loaded[key]
    tokenizers = [v for k, v in pipe.components.items() if k.startswith("tokenizer") and v is not None]
    assert tokenizers
    assert all(len(tok) > 100 for tok in tokenizers)
    image = run(pipe, **call_kwargs(key))[0]
    assert image.size == (SIZE, SIZE)


@pytest.mark.parametrize(
    ("make_tokenizer", "key", "component"),
    [
        (tiny_pipelines._clip_tokenizer, "sdxl", "tokenizer_2"),
        (tiny_pipelines._t5_tokenizer, "kontext", "tokenizer_2"),
        (tiny_pipelines._mistral_tokenizer, "flux2", "tokenizer"),
        (tiny_pipelines._qwen_tokenizer, "flux2-klein", "tokenizer"),
    ],
)
def test_tokenizer_reloads_identically(
    make_tokenizer: Callable[[], Any], key: str, component: str, loaded: dict[str, DiffusionPipeline]
) -> None:
    original, reloaded = make_tokenizer(), loaded[key].components[component]
    text = "A photo of a Dog, dancing in the sky at night!"
    assert len(reloaded) == len(original)
    assert reloaded(text)["input_ids"] == original(text)["input_ids"]


def test_seeds_are_deterministic(loaded: dict[str, DiffusionPipeline]) -> None:
    kwargs = {**call_kwargs("flux2-klein"), "output_type": "np"}
    first, second, other = (run(loaded["flux2-klein"], seed, **kwargs) for seed in (0, 0, 1))
    assert np.array_equal(first, second)
    assert not np.allclose(first, other)


def test_edit_and_inpaint_variants(loaded: dict[str, DiffusionPipeline]) -> None:
    image, mask = make_image(1), make_mask()
    sdxl = loaded["sdxl"]
    img2img = StableDiffusionXLImg2ImgPipeline.from_pipe(sdxl)
    assert run(img2img, prompt=PROMPT, image=image, strength=0.5, num_inference_steps=4)[0].size == (SIZE, SIZE)
    inpaint = StableDiffusionXLInpaintPipeline.from_pipe(sdxl)
    out = run(inpaint, prompt=PROMPT, image=image, mask_image=mask, height=SIZE, width=SIZE, num_inference_steps=2)
    assert out[0].size == (SIZE, SIZE)

    kontext_inpaint = FluxKontextInpaintPipeline.from_pipe(loaded["kontext"])
    out = run(kontext_inpaint, **call_kwargs("kontext"), mask_image=mask, strength=1.0)
    assert out[0].size == (SIZE, SIZE)

    refs = [make_image(2), make_image(3)]
    assert run(loaded["flux2"], **call_kwargs("flux2"), image=refs)[0].size == (SIZE, SIZE)
    assert run(loaded["flux2-klein"], **call_kwargs("flux2-klein"), image=refs)[0].size == (SIZE, SIZE)
    klein_inpaint = Flux2KleinInpaintPipeline.from_pipe(loaded["flux2-klein"])
    out = run(klein_inpaint, **call_kwargs("flux2-klein"), image=image, mask_image=mask, strength=0.8)
    assert out[0].size == (SIZE, SIZE)
