"""Where runs' outputs go: PNG files with the reproducibility record embedded, in a folder Gradio
serves, pruned after a while."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from playground.request import Request, Result

OUTPUT_DIR_NAME = "playground-runs"
DEFAULT_OUTPUT_TTL_S = 3600.0


def upload_root() -> Path:
    """Gradio's upload folder: files the server received from visitors, and the outputs it serves."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def record_of(result: Result, request: Request | None = None, keys: dict[str, str] | None = None) -> dict[str, Any]:
    """The run's reproducibility record (playground.records), or `Result.summary()` without it."""
    try:
        from playground.records import build_record
    except ImportError:
        return result.summary()
    return build_record(result, request, secrets=list((keys or {}).values()))


def save_outputs(result: Result, record: dict[str, Any]) -> list[str]:
    """Write each image as PNG (record embedded when playground.records is there) into a fresh
    folder under Gradio's upload folder, so Gradio may serve it; old run folders are pruned."""
    root = upload_root() / OUTPUT_DIR_NAME
    prune_outputs(root, float(os.environ.get("PLAYGROUND_OUTPUT_TTL", DEFAULT_OUTPUT_TTL_S)))
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, image in enumerate(result.images):
        seed = result.seeds[i] if i < len(result.seeds) else "x"
        path = folder / f"{result.model}-{seed}-{i + 1}.png"
        _save_png(image, record, i, path)
        files.append(str(path))
    return files


def _save_png(image: Any, record: dict[str, Any], index: int, path: Path) -> None:
    try:
        from playground.records import for_image, save_image
    except ImportError:
        image.save(path, format="PNG")
        return
    try:
        save_image(image, for_image(record, index), path, "png", sidecar=False)
    except (KeyError, IndexError, TypeError):  # a summary instead of a record: keep the pixels anyway
        image.save(path, format="PNG")


def prune_outputs(root: Path, max_age_s: float) -> None:
    """Delete run folders older than `max_age_s` (best effort)."""
    if not root.is_dir():
        return
    cutoff = time.time() - max_age_s
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
