"""A visitor's run history: one small JSON entry per run (Generate, a Compare grid, a Drift chain),
newest first, bounded; and a zip of its images with their records.

Entries hold no pixels and no keys: the files they name carry their own records (embedded), so an
entry only says where the files are and what to show in a list. The page keeps the list in the
visitor's own browser (encrypted), so it is theirs alone and survives a reload; `owned` refuses any
file outside the folder the server writes results to.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from playground.environment import env_int
from playground.records import read_record

DEFAULT_MAX_ENTRIES = 40
KINDS = ("generate", "compare", "drift")


def max_entries() -> int:
    """How many runs a history keeps: PLAYGROUND_HISTORY_MAX, default 40."""
    return env_int("PLAYGROUND_HISTORY_MAX", DEFAULT_MAX_ENTRIES, minimum=1)


def generate_entry(files: list[str], record: dict[str, Any]) -> dict[str, Any]:
    """The entry of a Generate run: its output files and what the record says about them."""
    asked = record.get("request") or {}
    return _entry("generate", files, model=record.get("model"), backend=record.get("backend"),
                  mode=record.get("mode"), seed=record.get("seed"), prompt=asked.get("prompt", record.get("prompt")),
                  changed=dict(asked.get("params") or {}))


def grid_entry(kind: str, files: list[str], manifest: dict[str, Any], archive: str | None = None) -> dict[str, Any]:
    """The entry of a Compare grid (`kind` "compare") or a Drift run ("drift"): its picture(s), the
    zip with every cell or step, and the spec that made it (to fill its tab again)."""
    spec = manifest.get("grid") if kind == "compare" else manifest.get("drift")
    spec = spec if isinstance(spec, dict) else {}
    if kind == "compare":
        model, backend = spec.get("model"), spec.get("backend")
        axes = [a.get("kind") if a.get("kind") != "param" else a.get("name") for a in spec.get("axes") or []]
        changed = {"axes": " × ".join(str(a) for a in axes if a)} if axes else {}
    else:
        model, backend = spec.get("genesis_model"), spec.get("genesis_backend")
        chains = [c.get("model") for c in spec.get("chains") or []]
        changed = {"chains": ", ".join(str(c) for c in chains if c)} if chains else {}
    return _entry(kind, files, model=model, backend=backend or "auto", mode=spec.get("mode"),
                  seed=manifest.get("seed", spec.get("seed", spec.get("genesis_seed"))), prompt=spec.get("prompt"),
                  changed=changed,
                  archive=archive, spec=spec)


def _entry(kind: str, files: list[str], **facts: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:12], "kind": kind, "time": time.time(), "files": [str(f) for f in files],
            **{k: v for k, v in facts.items() if v is not None}}


def add(history: Any, entry: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
    """`entry` first, then the history (newest first), at most `limit` (default `max_entries()`)."""
    kept = [e for e in valid(history) if e.get("id") != entry.get("id")]
    return [entry, *kept][: limit or max_entries()]


def valid(history: Any) -> list[dict[str, Any]]:
    """The well-formed entries of a stored history (anything else, e.g. an older format, is dropped)."""
    if not isinstance(history, list):
        return []
    return [e for e in history if isinstance(e, dict) and e.get("kind") in KINDS and isinstance(e.get("files"), list)
            and all(isinstance(f, str) for f in e["files"])]


def owned(history: Any, root: Path) -> list[dict[str, Any]]:
    """Entries whose files all still exist under `root` (the results folder); their folders are
    touched so the server keeps them while the visitor still has them in their history."""
    root = root.resolve()
    kept = []
    for entry in valid(history):
        paths = [Path(f).resolve() for f in entry["files"]]
        if not paths or not all(p.is_relative_to(root) and p.is_file() for p in paths):
            continue
        archive = entry.get("archive")
        if archive and not (Path(archive).resolve().is_relative_to(root) and Path(archive).is_file()):
            entry = {k: v for k, v in entry.items() if k != "archive"}
        for folder in {p.parent for p in paths}:
            try:
                os.utime(folder)
            except OSError:
                pass
        kept.append(entry)
    return kept


def caption(entry: dict[str, Any], number: int | None = None) -> str:
    """One line for a thumbnail: kind, model, backend, seed, and what differs from the defaults."""
    head = f"#{number} " if number is not None else ""
    kind = "" if entry["kind"] == "generate" else f"{entry['kind']} · "
    text = f"{head}{kind}{entry.get('model') or '?'} · {entry.get('backend') or '?'}"
    if entry.get("seed") is not None:
        text += f" · seed {entry['seed']}"
    changed = entry.get("changed") or {}
    if changed:
        text += " · " + ", ".join(f"{k}={_short(v)}" for k, v in changed.items())
    return text


def _short(value: Any, limit: int = 24) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def records_of(entry: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The record embedded in each of the entry's files (None where a file carries none)."""
    return [read_record(f) for f in entry["files"]]


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[list[str]]:
    """[setting, value in a, value in b] for each fact two entries' first records disagree on."""
    first, second = (records_of(e)[0] or {} for e in (a, b))
    rows = []
    for name in ("model", "backend", "mode", "seed", "prompt", "negative_prompt", "endpoint"):
        if first.get(name) != second.get(name):
            rows.append([name, _text(first.get(name)), _text(second.get(name))])
    params_a, params_b = first.get("params") or {}, second.get("params") or {}
    for name in sorted(set(params_a) | set(params_b)):
        if params_a.get(name) != params_b.get(name):
            rows.append([f"params.{name}", _text(params_a.get(name)), _text(params_b.get(name))])
    return rows


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


def to_zip(entries: Iterable[dict[str, Any]], target: str | os.PathLike[str]) -> Path:
    """One zip of the history: per run a folder (`001-generate-sdxl-base/`, newest first) with its
    images (their records embedded), each record as JSON, the run's own zip for grids and drifts,
    and `history.json` listing every entry with its folder."""
    target = Path(target)
    listing = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, entry in enumerate(valid(list(entries)), start=1):
            folder = f"{number:03d}-{entry['kind']}-{_safe(entry.get('model') or 'run')}"
            names = []
            for path in entry["files"]:
                name = f"{folder}/{Path(path).name}"
                archive.write(path, name)
                names.append(name)
                record = read_record(path)
                if record is not None:
                    archive.writestr(f"{folder}/{Path(path).stem}.json", json.dumps(record, indent=2, default=str))
            if entry.get("archive") and Path(entry["archive"]).is_file():
                archive.write(entry["archive"], f"{folder}/{Path(entry['archive']).name}")
            listing.append({**{k: v for k, v in entry.items() if k not in ("files", "archive")}, "folder": folder,
                            "files": names})
        archive.writestr("history.json", json.dumps({"schema": "playground.history/1", "runs": listing}, indent=2,
                                                    default=str))
    return target


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "-" for c in str(text))[:48]
