"""Benchmark: server memory for the largest request a visitor may send, and after a burst of them.

Runs requests the way every door does (`playground.ui.service.run_blocking`: validate, dispatch,
record, save the outputs, keep the inputs) on fal against the provider emulator, which runs in a
child process so only the playground's own memory is measured. The request carries the most
reference images the catalog allows (10 for seedream-4.5 on fal), each at the largest accepted size
(PLAYGROUND_MAX_IMAGE_SIDE, default 4096 px per side). Prints, from this process's resident memory
(sampled every 5 ms): the idle baseline, the peak of one such request above it, the peak of a
burst, and how far above idle the server settles after the burst (target: within 10% of idle).

    python bench/memory_peak.py [--images 10] [--burst 8] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MB = 1024 * 1024


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler:
    """The highest resident memory seen while the `with` block runs."""

    def __enter__(self) -> PeakSampler:
        self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def serve_emulator(urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    from tests.emulator import ProviderEmulator

    emulator = ProviderEmulator(work_seconds=0.2, queue_seconds=0.0).start()
    urls.put((emulator.fal_gateway_url, emulator.replicate_url))
    stop.wait()
    emulator.stop()


def settle() -> int:
    """Resident memory once garbage is collected and freed arenas are handed back to the system."""
    import ctypes

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    time.sleep(0.5)
    return rss()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--burst", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    from playground import backends
    from playground.backends.fal import FalBackend
    from playground.backends.hosted import HostedSettings
    from playground.images import Limits
    from playground.request import Request
    from playground.ui import service
    from playground.ui.progress import ProgressRelay

    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    child = context.Process(target=serve_emulator, args=(urls, stop), daemon=True)
    child.start()
    fal_url, _ = urls.get(timeout=60)
    try:
        backends.set_backend("fal", FalBackend(HostedSettings(fal_url=fal_url)))
        side = Limits.from_env().max_side
        folder = Path(tempfile.mkdtemp(prefix="playground-bench-memory-"))
        ramp = np.linspace(0, 255, side, dtype=np.uint8)
        paths = []
        for i in range(args.images):
            pixels = np.stack([np.tile(ramp, (side, 1)), np.tile(ramp[:, None], (1, side)),
                               np.full((side, side), (i * 23) % 256, np.uint8)], axis=2)
            path = folder / f"ref-{i}.png"
            Image.fromarray(pixels).save(path)
            paths.append(str(path))
        del pixels
        keys = {"fal": "test-bench"}

        def run(images: list[str], seed: int) -> None:
            request = Request(model="seedream-4.5", mode="image-to-image", prompt="combine them", images=images,
                              seed=seed, backend="fal")
            service.run_blocking(request, keys, ProgressRelay(None), threading.Event())

        small = folder / "small.png"
        Image.new("RGB", (64, 64), (200, 40, 40)).save(small)
        run([str(small)], 0)  # warm-up: clients, imports, the emulator
        idle = settle()
        with PeakSampler() as one:
            run(paths, 1)
        after_one = settle()
        with PeakSampler() as burst, ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(lambda s: run(paths, s), range(2, 2 + args.burst)))
        after_burst = settle()
        decoded = args.images * side * side * 3
        print(f"largest request: {args.images} reference images of {side}x{side} px "
              f"({decoded / MB:.0f} MB of decoded pixels)")
        print(f"idle:                      {idle / MB:8.1f} MB")
        print(f"peak of one request:       {(one.peak - idle) / MB:8.1f} MB above idle "
              f"({(one.peak - idle) / decoded:.2f}x the decoded pixels)")
        print(f"after it:                  {(after_one - idle) / MB:8.1f} MB above idle")
        print(f"peak of a burst of {args.burst} ({args.concurrency} at once): "
              f"{(burst.peak - idle) / MB:8.1f} MB above idle")
        print(f"after the burst:           {(after_burst - idle) / MB:8.1f} MB above idle "
              f"({after_burst / idle:.2f}x idle; target at most 1.10x)")
    finally:
        stop.set()
        child.join(timeout=10)


if __name__ == "__main__":
    main()
