"""Re-run what an image's record records, and say whether the new pixels match.

`rerun_and_verify` reads the record (playground.records), finds the inputs it was made from by
their pixel hash (playground.storage), runs the same request through `runs.run` (the path every
door takes) and compares: the pixel hash, the pixel distances when the original pixels are at hand,
and every recorded fact (request, parameters, payload, backend, model revision, device, versions).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from playground import runs
from playground.metrics import compare_images
from playground.params import Problem, ValidationError
from playground.records import (
    RecordError,
    expected_hash,
    for_image,
    is_lossy,
    open_image,
    read_record,
    record_to_request,
    unwrap_source,
    verify_record,
)
from playground.storage import default_search_dirs, find_inputs


def rerun_and_verify(source: Any, keys: dict[str, str] | None = None, *, images: list[Any] | None = None,
                     mask: Any = None, backend: str | None = None, overrides: dict[str, Any] | None = None,
                     search_dirs: Iterable[Path] | None = None,
                     progress: Callable[[dict[str, Any]], None] | None = None,
                     cancel: threading.Event | None = None) -> dict[str, Any]:
    """Re-run what an image (or record) records and say whether the new output matches.

    `source`: what `read_record` takes. `overrides` changes parameters on purpose (they then show
    among the differences). Inputs come from `images`/`mask` or are found by hash (see
    `record_to_request`); a missing one is a ValidationError naming its sha256.

    Returns a dict, JSON-ready except `image` (the new PIL image) and `images` (all of them):
    `verdict` ("identical" or "different"), `identical` (the recorded pixels, byte for byte),
    `message`, `image_index`, `expected_sha256`, `actual_sha256`, `difference` (see
    `metrics.ImageDistance.summary`; None when only a record was given and the pixels differ), `differences`
    ([{field, recorded, now}] for the request, parameters, payload, backend, endpoint, model
    revision, device and package versions), `problems` (a tampered record), `notes` and `record`
    (the new output's record).
    """
    source = unwrap_source(source)
    record = read_record(source)
    if record is None:
        raise RecordError("This image has no playground record, so there is nothing to re-run.")
    carrier = None if isinstance(source, dict) and "schema" in source else source
    if isinstance(carrier, (str, os.PathLike)) and Path(carrier).suffix.lower() == ".json":
        carrier = None
    check = verify_record(record, carrier)
    near = carrier if isinstance(carrier, (str, os.PathLike)) else None
    dirs = list(search_dirs) if search_dirs is not None else default_search_dirs(near)
    if images is None and record.get("inputs"):
        found = find_inputs(record, dirs)
        if found["missing"]:
            raise ValidationError([Problem(f"inputs[{i}]", f"{m['role']} with sha256 {m['sha256']}",
                                           "the input this image was made from: give it (--image / --mask), or "
                                           "keep it in one of " + ", ".join(str(d) for d in dirs))
                                   for i, m in enumerate(found["missing"])])
    request = record_to_request(record, images=images, mask=mask, backend=backend, search_dirs=dirs)
    if overrides:
        request.params = {**request.params, **overrides}
    done = runs.run(request, keys=keys, progress=progress, cancel=cancel)
    result, new = done.result, done.record
    index = int((record.get("image") or {}).get("index", 0))
    if index >= len(result.images):
        raise RecordError(f"The re-run made {len(result.images)} images; the recorded image was number {index + 1}.")
    new_image = result.images[index]
    expected = expected_hash(record)
    actual = new["outputs"][index]["sha256"]  # build_record hashed it already
    identical = actual == expected
    original = open_image(carrier) if carrier is not None else None
    notes = list(check["notes"])
    if identical:
        difference = {"identical": True, "same_size": True, "max": 0, "mean": 0.0, "psnr_db": None,
                      "changed_fraction": 0.0}
    elif original is not None:
        difference = compare_images(original, new_image).summary()
        if is_lossy(original, carrier):
            notes.append(f"Compared with the {original.format} file's pixels, which lossy compression changed.")
    else:
        difference = None
        notes.append("Only a record was given, so the pixels can be compared by hash only.")
    differences = fact_differences(record, new)
    new_for_image = for_image(new, index)
    return {
        "verdict": "identical" if identical else "different",
        "identical": identical,
        "message": _verdict_message(identical, difference, differences),
        "image_index": index,
        "expected_sha256": expected,
        "actual_sha256": actual,
        "difference": difference,
        "differences": differences,
        "problems": check["problems"],
        "notes": notes,
        "record": new_for_image,
        "image": new_image,
        "images": list(result.images),
    }


FACT_FIELDS: tuple[str, ...] = ("model", "mode", "backend", "endpoint", "model_revision", "prompt", "negative_prompt",
                                "seed")


def fact_differences(recorded: dict[str, Any], now: dict[str, Any]) -> list[dict[str, Any]]:
    """Facts that differ between two records: request, params, payload, backend, model revision,
    device, app and package versions (timings, ids, dates and hashes are expected to differ)."""
    out: list[dict[str, Any]] = []

    def compare(field: str, a: Any, b: Any) -> None:
        if a != b:
            out.append({"field": field, "recorded": a, "now": b})

    for key in FACT_FIELDS:
        compare(key, recorded.get(key), now.get(key))
    for section in ("params", "native", "device", "speed", "app", "packages"):
        a, b = recorded.get(section) or {}, now.get(section) or {}
        for key in sorted(set(a) | set(b)):
            compare(f"{section}.{key}", a.get(key), b.get(key))
    compare("inputs", [e.get("sha256") for e in recorded.get("inputs") or []],
            [e.get("sha256") for e in now.get("inputs") or []])
    return out


def _verdict_message(identical: bool, difference: dict[str, Any] | None, differences: list[dict[str, Any]]) -> str:
    if identical:
        text = "Reproduced exactly: the new pixels are byte-identical to the recorded output."
    elif difference and not difference.get("same_size", True):
        text = (f"Not reproduced: the new image is {difference['actual_size'][0]}x{difference['actual_size'][1]}, "
                f"the recorded one {difference['expected_size'][0]}x{difference['expected_size'][1]}.")
    elif difference:
        text = (f"Not reproduced: pixels differ (max {difference['max']}, mean {difference['mean']:.3f}, "
                f"PSNR {difference['psnr_db']} dB, {difference['changed_fraction']:.1%} of pixels changed).")
    else:
        text = "Not reproduced: the new pixels do not have the recorded sha256."
    if differences:
        shown = "; ".join(f"{d['field']}: {_short(d['recorded'])} → {_short(d['now'])}" for d in differences[:8])
        more = f" (+{len(differences) - 8} more)" if len(differences) > 8 else ""
        text += f" Facts that differ: {shown}{more}."
    return text


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["FACT_FIELDS", "fact_differences", "rerun_and_verify"]
