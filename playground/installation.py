"""What this installation is, as every record states it: the app's name, version and git commit
(with whether tracked files had uncommitted changes), and the versions of the packages that shape
the pixels (read with importlib.metadata, never importing the heavy packages themselves)."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from playground import __version__

APP_NAME = "playground"
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES: tuple[str, ...] = ("torch", "diffusers", "transformers", "accelerate", "safetensors", "huggingface-hub",
                             "gradio", "fal-client", "replicate", "pillow", "numpy")


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the pixels (None: not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


@functools.lru_cache(maxsize=1)
def app_info() -> dict[str, Any]:
    """App name, version, git commit (PLAYGROUND_GIT_COMMIT, else the checkout's HEAD) and whether
    tracked files had uncommitted changes (None when unknown)."""
    pinned = os.environ.get("PLAYGROUND_GIT_COMMIT", "").strip()
    commit = pinned or _git_head(REPO_ROOT / ".git")
    dirty = None if pinned or not commit else _git_dirty(REPO_ROOT)
    return {"name": APP_NAME, "version": __version__, "git_commit": commit, "git_dirty": dirty}


def _git_head(git: Path) -> str | None:
    """The commit HEAD points at, read from the files (no git binary needed)."""
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        loose = git / ref
        if loose.is_file():
            return loose.read_text().strip() or None
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
    except OSError:
        pass
    return None


def _git_dirty(root: Path) -> bool | None:
    try:
        done = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(done.stdout.strip()) if done.returncode == 0 else None


__all__ = ["APP_NAME", "PACKAGES", "app_info", "package_versions"]
