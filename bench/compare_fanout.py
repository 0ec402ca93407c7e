"""Benchmark: a 4x4 compare grid of hosted cells against the local provider emulator, 1 s of work each.

The grid is 4 models (two on fal, two on Replicate) x 4 seeds, run by `playground.compare.run_grid`
with the default per-provider bound (8), the production polling interval, and no queue time. Prints the
grid's wall time against one cell alone (target: at most 2x), against the grid with one cell at a time
per provider, and against running its 16 cells one after another.

    python bench/compare_fanout.py [--work 1.0] [--concurrency 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODELS = ["flux-2-dev@fal", "flux-kontext-pro@fal", "flux-2-pro@replicate", "seedream-3@replicate"]
SEEDS = [1, 2, 3, 4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=float, default=1.0, help="simulated seconds of work per job")
    parser.add_argument("--concurrency", type=int, default=8, help="hosted cells at once per provider")
    parser.add_argument("--repeat", type=int, default=3, help="grid runs; the median wall time is reported")
    args = parser.parse_args()

    from playground import backends
    from playground.backends.fal import FalBackend
    from playground.backends.hosted import HostedSettings
    from playground.backends.replicate import ReplicateBackend
    from playground.compare import Axis, GridSpec, plan_grid, run_grid
    from tests.emulator import ProviderEmulator

    emulator = ProviderEmulator(work_seconds=args.work, queue_seconds=0.0).start()
    try:
        settings = HostedSettings(fal_url=emulator.fal_gateway_url, replicate_url=emulator.replicate_url)
        backends.set_backend("fal", FalBackend(settings))
        backends.set_backend("replicate", ReplicateBackend(settings))
        keys = {"fal": "test-bench", "replicate": "test-bench"}
        spec = GridSpec(prompt="a lighthouse at dusk", axes=[Axis("model", MODELS), Axis("seed", SEEDS)])

        def one_cell(index: int) -> float:
            """One cell of the grid run alone (a 1x1 grid), in seconds."""
            model = MODELS[index % len(MODELS)]
            start = time.perf_counter()
            grid = run_grid(GridSpec(prompt=spec.prompt, seed=SEEDS[0], axes=[Axis("model", [model])]), keys)
            assert grid.counts()["done"] == 1, grid.cells[0].error
            return time.perf_counter() - start

        for i in range(len(MODELS)):
            one_cell(i)  # warm both clients, every endpoint and the emulator
        single = statistics.median(one_cell(i) for i in range(8))

        walls, cell_seconds = [], []
        for _ in range(args.repeat):
            planned = plan_grid(spec, keys)
            start = time.perf_counter()
            grid = run_grid(planned, keys, concurrency=args.concurrency)
            walls.append(time.perf_counter() - start)
            assert grid.counts()["done"] == 16, [c.error for c in grid.cells if c.status != "done"]
            cell_seconds += [c.seconds for c in grid.cells]
        wall = statistics.median(walls)

        start = time.perf_counter()
        run_grid(plan_grid(spec, keys), keys, concurrency=1)
        one_per_provider = time.perf_counter() - start
        start = time.perf_counter()
        for cell in plan_grid(spec, keys).cells:
            backends.run_prepared(cell.prepared, keys=keys)
        one_after_another = time.perf_counter() - start
    finally:
        emulator.stop()
    print(f"4x4 grid of hosted cells ({', '.join(MODELS)} x seeds {SEEDS}), {args.work:g} s simulated work "
          f"each, poll every {settings.poll_interval_s:g} s, at most {args.concurrency} cells at once per provider")
    print(f"one cell alone (median of 8):        {single:6.2f} s")
    print(f"4x4 grid, wall time (median of {args.repeat}):  {wall:6.2f} s   ratio {wall / single:.2f}x one cell "
          f"(target <= 2x); runs: {', '.join(f'{w:.2f}' for w in walls)} s")
    print(f"a cell inside the grid (median):     {statistics.median(cell_seconds):6.2f} s   "
          f"(estimated ${planned.estimated_cost:.2f} per grid on the real providers)")
    print(f"4x4 grid, one cell per provider:     {one_per_provider:6.2f} s   ({one_per_provider / wall:.1f}x the "
          f"concurrent grid)")
    print(f"the 16 cells one after another:      {one_after_another:6.2f} s   ({one_after_another / wall:.1f}x the "
          f"concurrent grid)")


if __name__ == "__main__":
    main()
