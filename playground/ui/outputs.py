"""Where runs' outputs go: image files (PNG, JPEG or WebP) with the reproducibility record embedded, in a folder Gradio
serves, pruned after a while; with them, copies of each run's inputs named by their pixel hash (so
Inspect can find them again) and scratch files the page hands out (exports, re-run outputs)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from playground.environment import env_float
from playground.formats import FileFormat
from playground.records import for_image, save_image
from playground.request import Prepared, Request, Result
from playground.storage import kept_folder, store_input

OUTPUT_DIR_NAME = "playground-runs"
INPUTS_DIR_NAME = "playground-inputs"
SCRATCH_DIR_NAME = "playground-scratch"
DEFAULT_OUTPUT_TTL_S = 3600.0

log = logging.getLogger("playground.ui")


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


def save_outputs(result: Result, record: dict[str, Any], file_format: FileFormat | None = None) -> list[str]:
    """Write each image in `file_format` (PNG by default) with its record embedded into a fresh
    folder under Gradio's upload folder, so Gradio may serve it; old run folders are pruned."""
    file_format = file_format or FileFormat()
    folder = fresh_folder(OUTPUT_DIR_NAME)
    files = []
    for i in range(len(result.images)):
        seed = result.seeds[i] if i < len(result.seeds) else "x"
        files.append(str(folder / f"{result.model}-{seed}-{i + 1}.{file_format.suffix}"))
    jobs = [(image, record, i, Path(path), file_format)
            for i, (image, path) in enumerate(zip(result.images, files, strict=True))]
    if len(jobs) > 1:  # zlib and the image codecs release the GIL: a batch encodes in parallel
        with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
            list(pool.map(lambda job: _save(*job), jobs))
    else:
        for job in jobs:
            _save(*job)
    return files


def _save(image: Any, record: dict[str, Any], index: int, path: Path, file_format: FileFormat) -> None:
    try:
        save_image(image, for_image(record, index), path, file_format.format, sidecar=False,
                   **file_format.save_args())
    except (KeyError, IndexError, TypeError):  # a summary instead of a record: keep the pixels anyway
        image.save(path, **file_format.save_args())


def output_ttl() -> float:
    """How long served files are kept: PLAYGROUND_OUTPUT_TTL seconds, default an hour."""
    return env_float("PLAYGROUND_OUTPUT_TTL", DEFAULT_OUTPUT_TTL_S, minimum=0)


def fresh_folder(kind: str) -> Path:
    """A new folder under Gradio's upload folder (`kind`/<random>), after pruning old ones."""
    root = upload_root() / kind
    prune_outputs(root, output_ttl())
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def inputs_dir() -> Path:
    """Where the current visitor's runs' inputs are kept, named by pixel sha256, so Inspect can find a
    record's inputs again. A folder per visitor with a name only the server can compute: Gradio
    serves its upload folder, and a stranger holding an output image knows its inputs' hashes."""
    return kept_folder(upload_root() / INPUTS_DIR_NAME)


def keep_inputs(prepared: Prepared) -> None:
    """Keep lossless copies of a run's inputs in `inputs_dir()` (best effort: a run never fails for it),
    from the pictures validation already decoded: nothing is decoded a second time."""
    pictures = [*prepared.images, *([prepared.mask] if prepared.mask is not None else [])]
    if not pictures:
        return
    try:
        prune_outputs(upload_root() / INPUTS_DIR_NAME, output_ttl())
        prune_outputs(inputs_dir(), output_ttl())
        for picture in pictures:
            store_input(picture.image, picture.sha256, inputs_dir())
    except Exception:  # noqa: BLE001 - only Inspect's "find the inputs" depends on it
        log.warning("could not keep the run's inputs", exc_info=True)


def serve_copy(path: str | os.PathLike[str]) -> str:
    """A copy of `path` under Gradio's upload folder (which Gradio serves; user and shipped preset
    folders are not), named by its bytes' sha256 so the same file is copied once. Bytes unchanged."""
    source = Path(path)
    data = source.read_bytes()
    folder = inputs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"file-{hashlib.sha256(data).hexdigest()[:32]}{source.suffix.lower() or '.png'}"
    if not target.is_file():
        tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
    else:
        os.utime(target)  # still in use: keep it from being pruned
    return str(target)


def prune_outputs(root: Path, max_age_s: float) -> None:
    """Delete run folders and files older than `max_age_s` (best effort)."""
    if not root.is_dir():
        return
    cutoff = time.time() - max_age_s
    for entry in root.iterdir():
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        except OSError:
            continue
