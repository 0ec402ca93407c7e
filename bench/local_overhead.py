"""Benchmark: the playground's local path versus a bare diffusers call on the same tiny pipeline.

Builds the tiny SDXL pipeline from tests/tiny_pipelines.py, then times the same text-to-image
request (same size, steps and seed) through `playground.backends.run` and through the pipeline
directly, interleaved, and prints the median of each and their ratio (target: at most 1.05). It
also prints the first request on a fresh backend (load excluded) against the second, cached one.

    python bench/local_overhead.py [--runs 20] [--size 128] [--steps 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    import torch
    from diffusers import StableDiffusionXLPipeline

    from playground import backends
    from playground.backends.local import LocalBackend, LocalSettings
    from playground.request import Request
    from tests.tiny_pipelines import build_sdxl

    folder = build_sdxl(Path(tempfile.mkdtemp(prefix="bench-sdxl-")) / "sdxl")
    params = {"image_size": f"{args.size}x{args.size}", "num_inference_steps": args.steps,
              "guidance_scale": 5.0}
    request = Request(model="sdxl-base", prompt="a lighthouse at dusk", negative_prompt="", params=params, seed=1,
                      backend="local")

    local = LocalBackend(LocalSettings(model_paths={"sdxl-base": str(folder)}, device="cpu"))
    backends.set_backend("local", local)
    first = backends.run(request)
    second = backends.run(request)

    bare = StableDiffusionXLPipeline.from_pretrained(folder, dtype=torch.float32).to("cpu")
    bare.set_progress_bar_config(disable=True)

    def bare_call() -> None:
        bare(prompt=request.prompt, height=args.size, width=args.size, num_inference_steps=args.steps,
             guidance_scale=5.0, generator=[torch.Generator("cpu").manual_seed(1)])

    def playground_call() -> None:
        backends.run(request)

    bare_call()  # warm both paths before timing
    playground_call()
    bare_times, playground_times = [], []
    for _ in range(args.runs):
        for fn, times in ((bare_call, bare_times), (playground_call, playground_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    bare_median = statistics.median(bare_times)
    playground_median = statistics.median(playground_times)
    print(f"tiny SDXL {args.size}x{args.size}, {args.steps} steps, {args.runs} runs each, "
          f"torch threads {torch.get_num_threads()}")
    print(f"bare diffusers median:   {bare_median * 1000:8.1f} ms")
    print(f"playground median:       {playground_median * 1000:8.1f} ms")
    print(f"ratio playground / bare: {playground_median / bare_median:8.3f}  (target <= 1.05)")
    print(f"first request (load excluded): {first.timings['inference_s'] * 1000:8.1f} ms; "
          f"load {first.timings['load_s'] * 1000:.1f} ms")
    print(f"second (cached) request:       {second.timings['inference_s'] * 1000:8.1f} ms; "
          f"ratio second/first {second.timings['inference_s'] / first.timings['inference_s']:.3f}")


if __name__ == "__main__":
    main()
