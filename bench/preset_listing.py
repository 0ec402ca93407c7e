"""Benchmark: listing the presets, as every page load does (three times: Generate, Compare, Drift).

Lists the shipped presets (and a user folder holding copies of them, inputs included) with the
input-hash memo cleared before each listing (every input decoded again, as before the memo) and
with it kept (inputs decoded once per version of the file); prints the medians and their ratio.

    python bench/preset_listing.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from playground import preset_store, presets  # noqa: E402


def median_ms(runs: int, clear: bool) -> tuple[float, int]:
    """Median milliseconds of one listing, and how many presets it found."""
    times, found = [], 0
    for _ in range(runs):
        if clear:
            presets._hash_file_version.cache_clear()
        start = time.perf_counter()
        found = len(preset_store.list_presets()["presets"])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["PLAYGROUND_HOME"] = home
        user = preset_store.user_dir()
        shutil.copytree(preset_store.shipped_dir(), user, dirs_exist_ok=True)
        median_ms(1, clear=True)  # imports and first reads out of the way
        cold, found = median_ms(args.runs, clear=True)
        warm, _ = median_ms(args.runs, clear=False)
    print(f"list {found} presets (shipped + the same in a user folder), median of {args.runs}:")
    print(f"  every input decoded again:   {cold:7.1f} ms")
    print(f"  input hashes remembered:     {warm:7.1f} ms")
    print(f"  ratio remembered / decoded:  {warm / cold:7.2f}")


if __name__ == "__main__":
    main()
