"""ZeroGPU: on a Hugging Face Space with ZeroGPU hardware, local runs ask for the GPU through
`spaces.GPU`, for as long as this run needs (model, steps, size, number of images), not for a
fixed worst case.

`on_gpu(fn)` decorates the dispatcher's local run, once, at import time (ZeroGPU wants its
functions decorated before the app starts), with `spaces.GPU(duration=gpu_seconds)`; spaces calls
`gpu_seconds` with the same arguments as the run. `ACTIVE` says whether runs go through it: the
`spaces` package is importable and `SPACES_ZERO_GPU` is set (as on every ZeroGPU Space). Without
the package nothing changes at all. ZeroGPU runs the function in a forked worker and pickles its
arguments and result, so only the Prepared request crosses (no progress callback, no cancel
event); the worker keeps the pipelines it loaded between calls. Settings: PLAYGROUND_ZEROGPU_MAX_S
(the longest request, default 120 s; ZeroGPU refuses longer ones for most accounts).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from typing import Any

from playground.environment import env_int
from playground.request import Prepared, Result

# Seconds per denoising step per output megapixel on a ZeroGPU H200 slice, by model (bf16/fp16),
# rounded up from public benchmarks of the same pipelines on H100-class GPUs.
SECONDS_PER_STEP_MP: dict[str, float] = {
    "sdxl-base": 0.08, "sdxl-turbo": 0.08, "flux-schnell": 0.3, "flux-kontext-dev": 0.35,
    "flux-2-dev": 1.2, "flux-2-klein-4b": 0.15, "flux-2-klein-9b": 0.3,
}
# Seconds to load the weights onto the GPU when the worker has not loaded them yet.
LOAD_SECONDS: dict[str, float] = {
    "sdxl-base": 20, "sdxl-turbo": 20, "flux-schnell": 40, "flux-kontext-dev": 40, "flux-2-dev": 90,
    "flux-2-klein-4b": 20, "flux-2-klein-9b": 30,
}
DEFAULT_STEP_MP, DEFAULT_LOAD = 0.5, 40.0
OVERHEAD_S = 5.0  # prompt encoding, VAE decode, moving results back
MARGIN = 1.5
MIN_S = 10
DEFAULT_MAX_S = 120

_warm: set[str] = set()  # models the GPU worker has run (so it holds their weights)
_warm_lock = threading.Lock()


def gpu_seconds(prepared: Prepared) -> int:
    """GPU seconds to request for running `prepared` locally: loading (unless this model already
    ran on the GPU) plus steps x images x megapixels at the model's speed, with a safety margin,
    between 10 s and PLAYGROUND_ZEROGPU_MAX_S."""
    model = prepared.model.id
    width, height = prepared.output_pixels()
    megapixels = width * height / 1_000_000
    # Reference images become extra tokens for the edit models (FLUX.2, Kontext).
    if prepared.images and prepared.mode != "inpaint" and model.startswith("flux"):
        megapixels += prepared.input_megapixels()
    steps = int(prepared.params.get("num_inference_steps") or 28)
    work = steps * prepared.num_images * megapixels * SECONDS_PER_STEP_MP.get(model, DEFAULT_STEP_MP)
    with _warm_lock:
        load = 0.0 if model in _warm else LOAD_SECONDS.get(model, DEFAULT_LOAD)
    seconds = math.ceil((OVERHEAD_S + load + work) * MARGIN)
    return max(MIN_S, min(seconds, max_seconds()))


def ran(model_id: str) -> None:
    """Note that the GPU worker has run (and so holds the weights of) `model_id`."""
    with _warm_lock:
        _warm.add(model_id)


def max_seconds() -> int:
    """The longest GPU request: PLAYGROUND_ZEROGPU_MAX_S, default 120."""
    return max(MIN_S, env_int("PLAYGROUND_ZEROGPU_MAX_S", DEFAULT_MAX_S, minimum=1))


def on_gpu(fn: Callable[[Prepared], Result]) -> Callable[[Prepared], Result]:
    """`fn` decorated with `spaces.GPU(duration=gpu_seconds)`, or `fn` itself without `spaces`."""
    spaces = _spaces()
    return fn if spaces is None else spaces.GPU(duration=gpu_seconds)(fn)


def _spaces() -> Any:
    try:
        import spaces
    except ImportError:
        return None
    return spaces


ACTIVE = _spaces() is not None and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")

__all__ = ["ACTIVE", "gpu_seconds", "max_seconds", "on_gpu", "ran"]
