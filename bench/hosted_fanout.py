"""Benchmark: 16 hosted requests at once against the local provider emulator, 1 s of work each.

Runs them the way the app does (one worker thread per request, as Gradio's concurrent hosted
events do), with the production polling interval, half on fal and half on Replicate. Prints the
wall time of the 16 against one request alone (target: at most 1.5x) and the client-side
overhead per request (wall time of one request minus the emulator's simulated work).

    python bench/hosted_fanout.py [--requests 16] [--work 1.0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--work", type=float, default=1.0, help="simulated seconds of work per job")
    args = parser.parse_args()

    from playground import backends
    from playground.backends.fal import FalBackend
    from playground.backends.hosted import HostedSettings
    from playground.backends.replicate import ReplicateBackend
    from playground.request import Request
    from tests.emulator import ProviderEmulator

    emulator = ProviderEmulator(work_seconds=args.work, queue_seconds=0.0).start()
    try:
        settings = HostedSettings(fal_url=emulator.fal_gateway_url, replicate_url=emulator.replicate_url)
        backends.set_backend("fal", FalBackend(settings))
        backends.set_backend("replicate", ReplicateBackend(settings))
        keys = {"fal": "test-bench", "replicate": "test-bench"}

        def one(i: int) -> float:
            provider = "fal" if i % 2 == 0 else "replicate"
            model = "flux-2-dev" if provider == "fal" else "flux-2-pro"
            params = {"image_size": "square"} if provider == "fal" else {}
            start = time.perf_counter()
            backends.run(Request(model=model, prompt=f"bench {i}", seed=i, backend=provider, params=params),
                         keys=keys)
            return time.perf_counter() - start

        one(0)
        one(1)  # warm both clients and the emulator
        singles = [one(i) for i in range(4)]
        single = statistics.median(singles)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.requests) as pool:
            each = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - start
    finally:
        emulator.stop()
    print(f"{args.requests} hosted requests, {args.work:g} s simulated work each, poll every "
          f"{settings.poll_interval_s:g} s")
    print(f"one request alone (median of 4): {single:6.2f} s")
    print(f"{args.requests} at once, wall time:   {wall:6.2f} s   ratio {wall / single:.2f}x one request "
          f"(target <= 1.5x)")
    print(f"one after another would take:  {sum(each):6.2f} s   ({sum(each) / wall:.1f}x the concurrent wall time)")
    print(f"client-side overhead per request: {single - args.work:6.2f} s alone, "
          f"{statistics.median(each) - args.work:6.2f} s median under load (includes up to one poll interval)")


if __name__ == "__main__":
    main()
