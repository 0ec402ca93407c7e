"""How the suite spreads over pytest-xdist workers (a pytest plugin, loaded by conftest.py).

tests/pytest.ini asks for `-n auto --dist loadfile`. Here: how many workers `auto` means, and a
scheduler that keeps each test file on one worker (its module fixtures - apps, emulators, loaded
pipelines - start once) but hands out the slowest files first, so that they do not end the run
alone, and spreads the command-line tests (independent subprocesses) one test at a time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Much of the suite waits (emulator queues and polling, the browser, HTTP, subprocesses), so twice as
# many workers as cores pay off (4 on the 2 cores the suite is sized for).
WORKERS = min(8, 2 * (os.cpu_count() or 1))
# The slowest files, slowest first (measured on 2 cores); the rest follow in collection order.
SLOWEST_FIRST = (
    "test_browser_history.py", "test_cli.py", "test_browser_presets.py", "test_browser.py",
    "test_gpu_fullsize_bench.py", "test_browser_compare.py", "test_browser_isolation.py", "test_browser_loras.py",
    "test_app_compare.py", "test_app_presets.py", "test_app_security.py", "test_app_sizes_formats.py",
    "test_app_api.py", "test_environment.py", "test_drift.py", "test_local_backend.py", "test_loras.py",
)
# Files whose tests share nothing costly at module level: handed out one test at a time.
ONE_BY_ONE = ("test_cli.py",)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for `-n auto`: none for a single test file (starting workers costs more than it saves
    there), else WORKERS (PYTEST_XDIST_AUTO_NUM_WORKERS overrides; `-n N` on the command line wins)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    paths = {Path(arg.split("::")[0]) for arg in config.args} or {Path(".")}
    if all(path.is_file() for path in paths):
        return 0 if len(paths) == 1 else min(WORKERS, len(paths))
    return WORKERS


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """For `--dist loadfile` (tests/pytest.ini): files whole, slowest first, ONE_BY_ONE files per test."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SlowestFilesFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if Path(path).name in ONE_BY_ONE else path

        def _assign_work_unit(self, node) -> None:
            self.workqueue.move_to_end(min(self.workqueue, key=_rank), last=False)
            super()._assign_work_unit(node)

    return SlowestFilesFirst(config, log)


def _rank(scope: str) -> int:
    name = Path(scope.split("::", 1)[0]).name
    return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)
