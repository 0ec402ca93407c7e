"""Reproducibility records: what ran, with what, and what came out; embedded in every output file.

A record (schema `playground.record/1`) is built from a `Result` (and the `Request`, when known):
app version and git commit and package versions (playground.installation), backend, endpoint and
resolved model revision, device, dtype and generator device, the local speed settings (`speed`:
attention, compile, fused QKV... see playground.speed; a re-run asks for them again), canonical
parameters and the native payload as sent, the final prompt, the seed of each image, the pixel
sha256 of every input, mask and output, timings, estimated cost and fallbacks.
A `digest` over the rest of the record shows whether it was edited afterwards. Never a key.

Records travel inside the images: PNG text chunks (`playground.record` with the JSON, and an
AUTOMATIC1111-style `parameters` text that other tools show), EXIF for JPEG and WebP (MakerNote
with the JSON, UserComment with the `parameters` text), and a JSON sidecar next to saved files.
A record turns back into the Request that made it (`record_to_request`); `playground.rerun` runs
it again and compares.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import piexif
import piexif.helper
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from playground import infotext
from playground.adapters import LORA_PARAM, lora_hashes, recorded
from playground.catalog import get_model
from playground.errors import PlaygroundError
from playground.images import Limits, content_hash
from playground.installation import APP_NAME, app_info, package_versions
from playground.jsonable import jsonable as _jsonable
from playground.params import Problem, ValidationError
from playground.request import Request, Result
from playground.storage import atomic_write, find_inputs

RECORD_SCHEMA = "playground.record/1"
SCHEMA_PREFIX = "playground.record/"
CURRENT_VERSION = 1
# Environment variables that may hold keys: their values are scrubbed from every record.
SECRET_ENV: tuple[str, ...] = ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET", "REPLICATE_API_TOKEN", "HF_TOKEN",
                               "HUGGING_FACE_HUB_TOKEN")
MIN_SECRET_LENGTH = 6
HASH_NOTE = ("Every sha256 here is playground.images.content_hash: sha256 over 'MODE:WxH:' and the raw pixel bytes "
             "of the decoded image (inputs as RGB, masks as black/white L), not over file bytes: embedding this "
             "record changes the file, and lossy formats (JPEG, lossy WebP) change the pixels.")
PNG_RECORD_KEY = "playground.record"
PARAMETERS_KEY = "parameters"
EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286
EXIF_MAKER_NOTE = 0x927C
# JPEG keeps EXIF in one 64 KB segment; larger records are stored compressed.
EXIF_INLINE_LIMIT = 40_000
ZLIB_PREFIX = b"zlib:"
# zlib level for PNG outputs: 1 encodes several times faster than Pillow's 6 for a slightly bigger
# file; the pixels, and so the record's hashes, are the same at every level.
PNG_COMPRESS_LEVEL = 1
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}


class RecordError(PlaygroundError):
    """A record is present but unreadable, or from a newer playground, or a file has none."""


# -- building ---------------------------------------------------------------------------------------

def build_record(result: Result, request: Request | None = None, *, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The reproducibility record of `result` (JSON-ready, with a `digest`).

    With `request`, the record also keeps what the user asked for (`request`: backend preference,
    explicit params, negative prompt as given, seed as given), which is what a re-run replays.
    `secrets` (e.g. the keys used) and the values of key environment variables are scrubbed from
    every string, belt and braces: backends never put keys in a Result.
    """
    seeds = [int(s) for s in result.seeds]
    inputs = [{"role": "image", "sha256": h} for h in result.input_hashes]
    if result.mask_hash:
        inputs.append({"role": "mask", "sha256": result.mask_hash})
    outputs = [{"index": i, "seed": seeds[i] if i < len(seeds) else None, "sha256": digest,
                "width": img.width, "height": img.height, "mode": img.mode}
               for i, (img, digest) in enumerate(zip(result.images, _hash_all(result.images, content_hash),
                                                     strict=True))]
    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "app": app_info(),
        "packages": package_versions(),
        "model": result.model,
        "mode": result.mode,
        "backend": result.backend,
        "endpoint": result.endpoint,
        "model_revision": result.model_version,
        "request_id": result.request_id,
        "device": result.device,
        "speed": result.speed,
        "prompt": result.prompt,
        "negative_prompt": result.negative_prompt,
        "params": result.params,
        "native": result.native,
        "adapters": recorded(result.adapters, (result.params or {}).get(LORA_PARAM)),
        "seed": seeds[0] if seeds else None,
        "seeds": seeds,
        "request": _request_part(request) if request is not None else None,
        "inputs": inputs,
        "outputs": outputs,
        "hashes": HASH_NOTE,
        "timings": result.timings,
        "cost_usd": result.cost,
        "cost_note": "estimated from the catalog's prices before the run; the provider's bill is authoritative",
        "fallbacks": result.tried,
        "warnings": result.warnings,
        "nsfw": result.nsfw,
    }
    return _finish(record, secrets)


def _hash_all(images: list[Any], content_hash: Callable[[Any], str]) -> list[str]:
    """Each image's content hash, once; a batch is hashed in threads (hashlib releases the GIL)."""
    if len(images) < 2:
        return [content_hash(img) for img in images]
    with ThreadPoolExecutor(max_workers=min(len(images), os.cpu_count() or 1)) as pool:
        return list(pool.map(content_hash, images))


def for_image(record: dict[str, Any], index: int) -> dict[str, Any]:
    """The record to embed in output `index`: the whole run plus `image: {index, seed, sha256}`."""
    outputs = record.get("outputs") or []
    if not 0 <= index < len(outputs):
        raise IndexError(f"the record has {len(outputs)} outputs, not {index + 1}")
    out = {k: v for k, v in record.items() if k != "digest"}
    out["image"] = {"index": index, "seed": outputs[index]["seed"], "sha256": outputs[index]["sha256"]}
    return _finish(out, ())


def record_digest(record: dict[str, Any]) -> str:
    """sha256 of the record's canonical JSON (sorted keys, no spaces), leaving out `digest` itself."""
    body = {k: v for k, v in record.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _request_part(request: Request) -> dict[str, Any]:
    part = {"backend": request.backend, "prompt": request.prompt, "negative_prompt": request.negative_prompt,
            "params": dict(request.params or {}), "seed": request.seed}
    if request.speed:
        part["speed"] = dict(request.speed)
    return part


def _finish(record: dict[str, Any], secrets: Iterable[str]) -> dict[str, Any]:
    text = json.dumps(record, default=_jsonable, ensure_ascii=False)
    for secret in _secrets(secrets):
        text = text.replace(json.dumps(secret, ensure_ascii=False)[1:-1], "***")
    clean = json.loads(text)
    clean["digest"] = record_digest(clean)
    return clean


def _secrets(extra: Iterable[str]) -> list[str]:
    found = {s for s in extra if isinstance(s, str)}
    found.update(os.environ.get(name, "") for name in SECRET_ENV)
    return sorted((s.strip() for s in found if len(s.strip()) >= MIN_SECRET_LENGTH), key=len, reverse=True)


# -- embedding --------------------------------------------------------------------------------------

def a1111_parameters(record: dict[str, Any]) -> str:
    """AUTOMATIC1111-style `parameters` text (see playground.infotext): the sampler and schedule
    type that actually ran, in A1111's names; the hub repo and revision (local) or the endpoint."""
    params, native = record.get("params") or {}, record.get("native") or {}
    image = record.get("image") or {}
    outputs = record.get("outputs") or []
    shape = outputs[image.get("index", 0)] if outputs else {}
    sampler, schedule = infotext.sampler_of_diffusers(native.get("scheduler"))
    if sampler is None:
        sampler, schedule = infotext.sampler_of_choice(params.get("scheduler"))
    local = record.get("backend") == "local"
    clip_skip = params.get("clip_skip")
    pairs = [
        ("Steps", native.get("num_inference_steps", params.get("num_inference_steps"))),
        ("Sampler", sampler),
        ("Schedule type", schedule),
        ("CFG scale", params.get("guidance_scale")),
        ("Seed", image.get("seed", record.get("seed"))),
        ("Size", f"{shape['width']}x{shape['height']}" if shape else None),
        ("Model", record.get("model")),
        # A1111's Clip skip 1 is no skipping; diffusers' clip_skip counts the layers skipped.
        ("Clip skip", clip_skip + 1 if isinstance(clip_skip, int) and clip_skip > 0 else None),
        ("Denoising strength", params.get("strength") if record.get("mode") != "text-to-image" else None),
        ("Lora hashes", lora_hashes(record.get("adapters") or [])),
        ("Backend", record.get("backend")),
        ("Model repo" if local else "Endpoint", _repo_of(record) if local else record.get("endpoint")),
        ("Model revision", record.get("model_revision")),
        ("Version", f"{APP_NAME} {(record.get('app') or {}).get('version', '')}".strip()),
    ]
    return infotext.format_infotext(record.get("prompt") or "", record.get("negative_prompt"), pairs)


def _repo_of(record: dict[str, Any]) -> str | None:
    """The hub repo of a local run (its endpoint reads "repo (PipelineClass)")."""
    endpoint = record.get("endpoint") or ""
    return endpoint.split(" (", 1)[0] or None


def encode_image(image: Image.Image, record: dict[str, Any], fmt: str = "png", **save_args: Any) -> bytes:
    """The image encoded as `fmt` (png, jpeg, webp) with the record embedded.

    JPEG is saved at quality 95 unless told otherwise; WebP is lossless unless told otherwise, so
    its pixels still match the record's hash.
    """
    name = _format(fmt)
    text = json.dumps(record, ensure_ascii=False)
    parameters = a1111_parameters(record)
    buffer = io.BytesIO()
    if name == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt(PNG_RECORD_KEY, text, zip=True)
        info.add_itxt(PARAMETERS_KEY, parameters)
        save_args.setdefault("compress_level", png_compress_level())
        image.save(buffer, format="PNG", pnginfo=info, **save_args)
        return buffer.getvalue()
    data = text.encode("utf-8")
    # As AUTOMATIC1111 writes it: UserComment of type UNDEFINED with the UNICODE character-code
    # prefix (piexif's helper), so piexif-based readers get bytes, not a tuple of BYTE values.
    exif = piexif.dump({"Exif": {
        piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump(parameters, encoding="unicode"),
        piexif.ExifIFD.MakerNote: data if len(data) <= EXIF_INLINE_LIMIT else ZLIB_PREFIX + zlib.compress(data, 9),
    }})
    picture = image if image.mode in ("RGB", "L") or name == "WEBP" else image.convert("RGB")
    if name == "JPEG":
        save_args.setdefault("quality", 95)
    else:
        save_args.setdefault("lossless", True)
    picture.save(buffer, format=name, exif=exif, **save_args)
    return buffer.getvalue()


def png_compress_level() -> int:
    """PLAYGROUND_PNG_COMPRESS_LEVEL (0-9), else PNG_COMPRESS_LEVEL."""
    raw = os.environ.get("PLAYGROUND_PNG_COMPRESS_LEVEL", "").strip()
    if not raw:
        return PNG_COMPRESS_LEVEL
    if raw.isdigit() and 0 <= int(raw) <= 9:
        return int(raw)
    raise ValidationError([Problem("PLAYGROUND_PNG_COMPRESS_LEVEL", raw, "a zlib level from 0 to 9")])


def save_image(image: Image.Image, record: dict[str, Any], path: str | os.PathLike[str], fmt: str | None = None,
               *, sidecar: bool = True, **save_args: Any) -> Path:
    """Write `image` with `record` embedded to `path` (format from `fmt`, else the suffix), atomically,
    and the record as a JSON sidecar `<stem>.json` next to it. Returns the image path."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".") or "png"
    atomic_write(path, encode_image(image, record, fmt, **save_args), overwrite=True)
    if sidecar:
        write_sidecar(record, sidecar_path(path))
    return path


def sidecar_path(image_path: str | os.PathLike[str]) -> Path:
    """Where the JSON sidecar of an image lives: the same name with `.json`."""
    return Path(image_path).with_suffix(".json")


def write_sidecar(record: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a record as pretty JSON, atomically."""
    path = Path(path)
    atomic_write(path, (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), overwrite=True)
    return path


def _format(fmt: str) -> str:
    name = FORMATS.get(fmt.lower().lstrip("."))
    if name is None:
        raise ValidationError([Problem("format", fmt, "png, jpeg or webp")])
    return name


# -- reading ----------------------------------------------------------------------------------------

def read_record(source: Any) -> dict[str, Any] | None:
    """The playground record carried by `source`, or None if it carries none.

    `source`: an image path (the embedded record, else its `<stem>.json` sidecar), a `.json`
    sidecar path, image bytes, a PIL image opened from a file, a gradio file dict `{"path"}`, or a
    record dict. Raises RecordError when a record is there but is not valid JSON, is not a
    playground record, or comes from a newer version of the playground.
    """
    source = unwrap_source(source)
    if isinstance(source, dict):
        return _checked(source, "the record")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix.lower() == ".json":
            return _checked(_parse_json(path.read_bytes(), str(path)), str(path))
        try:
            data = path.read_bytes()
        except OSError as err:
            raise RecordError(f"Cannot read {path}: {err.strerror or err}.") from None
        record = _from_image_bytes(data, str(path))
        if record is None and sidecar_path(path).is_file():
            return _checked(_parse_json(sidecar_path(path).read_bytes(), str(sidecar_path(path))),
                            str(sidecar_path(path)))
        return record
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_image_bytes(bytes(source), "the image")
    if hasattr(source, "getexif") and hasattr(source, "info"):
        return _from_pil(source, "the image")
    raise RecordError(f"Cannot read a record from {type(source).__name__}: give an image, a path, bytes or a record.")


def unwrap_source(source: Any) -> Any:
    """A gradio file dict `{"path": ...}` stands for its path."""
    if isinstance(source, dict) and "path" in source and "schema" not in source:
        return source["path"]
    return source


def embedded_parameters(source: Any) -> str | None:
    """The A1111-style `parameters` text of an image (from any tool), or None."""
    image = open_image(unwrap_source(source))
    if image is None:
        return None
    text = image.info.get(PARAMETERS_KEY)
    if isinstance(text, str):
        return text
    raw = image.getexif().get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    if isinstance(raw, bytes) and raw.startswith(b"UNICODE\0"):
        body = raw[8:]
        for codec in ("utf-16-be", "utf-16-le"):
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    if isinstance(raw, bytes) and raw.startswith(b"ASCII\0\0\0"):
        return raw[8:].decode("ascii", "replace")
    return None


def open_image(source: Any) -> Image.Image | None:
    """`source` (a path, bytes or an open PIL image) as a PIL image; None when it is not one."""
    if hasattr(source, "getexif"):
        return source
    try:
        if isinstance(source, (str, os.PathLike)):
            return Image.open(Path(source))
        if isinstance(source, (bytes, bytearray)):
            return Image.open(io.BytesIO(bytes(source)))
    except (OSError, UnidentifiedImageError):
        return None
    return None


def _from_image_bytes(data: bytes, where: str) -> dict[str, Any] | None:
    try:
        image = Image.open(io.BytesIO(data))
    except (OSError, UnidentifiedImageError):
        if data.lstrip()[:1] == b"{":
            return _checked(_parse_json(data, where), where)
        raise RecordError(f"{where} is not an image (PNG, JPEG or WebP) or a record.") from None
    return _from_pil(image, where)


def _from_pil(image: Any, where: str) -> dict[str, Any] | None:
    text = image.info.get(PNG_RECORD_KEY)
    if text is not None:
        return _checked(_parse_json(text.encode("utf-8") if isinstance(text, str) else text, where), where)
    try:
        raw = image.getexif().get_ifd(EXIF_IFD).get(EXIF_MAKER_NOTE)
    except Exception:  # noqa: BLE001 - broken EXIF is the same as no record
        raw = None
    if not isinstance(raw, bytes):
        return None
    if raw.startswith(ZLIB_PREFIX):
        try:
            raw = zlib.decompress(raw[len(ZLIB_PREFIX):])
        except zlib.error:
            raise RecordError(f"The record in {where} is damaged (it does not decompress).") from None
    if not raw.lstrip().startswith(b"{"):
        return None  # a camera's own MakerNote, not ours
    return _checked(_parse_json(raw, where), where)


def _parse_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise RecordError(f"The record in {where} is not valid JSON ({err}); it was damaged or edited.") from None


def _checked(doc: Any, where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise RecordError(f"The record in {where} is not a JSON object.")
    schema = doc.get("schema")
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX) or not schema[len(SCHEMA_PREFIX):].isdigit():
        raise RecordError(f"{where} holds JSON that is not a playground record (schema {schema!r}; "
                          f"expected {RECORD_SCHEMA}).")
    if int(schema[len(SCHEMA_PREFIX):]) > CURRENT_VERSION:
        raise RecordError(f"The record in {where} is {schema}, from a newer playground; this one reads "
                          f"{RECORD_SCHEMA}. Update the playground to read it.")
    return doc


# -- checking and inspecting ------------------------------------------------------------------------

def verify_record(record: dict[str, Any], image: Any = None) -> dict[str, Any]:
    """Whether the record is as it was made (its digest) and, given the image that carried it,
    whether the image's pixels are the recorded output.

    Returns `{"digest_ok", "pixels_match" (None: not checked), "problems": [...], "notes": [...]}`.
    A lossy file (JPEG, lossy WebP) cannot match the recorded pixel hash; that is a note, not a problem.
    """
    problems, notes = [], []
    digest_ok = record.get("digest") == record_digest(record)
    if not digest_ok:
        problems.append("The record's digest does not match its content: the record was edited after the image "
                        "was made (or damaged), so its facts cannot be trusted.")
    pixels_match = None
    picture = open_image(image) if image is not None else None
    if picture is not None:
        expected = expected_hash(record)
        actual = content_hash(_pixels(picture))
        pixels_match = expected is not None and actual == expected
        if not pixels_match:
            if is_lossy(picture, image):
                pixels_match = None
                notes.append(f"{picture.format} is lossy, so the file's pixels differ from the recorded output; a "
                             f"re-run is checked against the recorded sha256 {str(expected)[:16]}… instead.")
            else:
                problems.append(f"The image's pixels (sha256 {actual[:16]}…) are not the recorded output (sha256 "
                                f"{str(expected)[:16]}…): the image was edited after it was made, or the record "
                                f"belongs to another image.")
    return {"digest_ok": digest_ok, "pixels_match": pixels_match, "problems": problems, "notes": notes}


def inspect(source: Any) -> dict[str, Any]:
    """Everything known about how an image (or a record) was made, for the Inspect tab and `/inspect`.

    Returns `{"status", "message", "record", "table": [[field, value], ...], "problems", "notes",
    "parameters"}`. status: "ok", "no record", "tampered" (digest or pixels do not match) or
    "unreadable" (a damaged or foreign record; `message` says which). `parameters` is the
    A1111-style text of images from other tools, when there is one. Never raises for bad input.
    """
    out: dict[str, Any] = {"status": "ok", "message": "", "record": None, "table": [], "problems": [], "notes": [],
                           "parameters": None}
    source = unwrap_source(source)
    try:
        _check_image_size(source)
        return _inspect(source, out)
    except RecordError as err:
        return {**out, "status": "unreadable", "message": str(err), "problems": [str(err)]}
    except Exception as err:  # noqa: BLE001 - a damaged file must read as one, never as a traceback
        message = _damaged(err)
        return {**out, "status": "unreadable", "message": message, "problems": [message]}


def _check_image_size(source: Any) -> None:
    """Refuse (RecordError) an image whose header claims more pixels than the playground reads
    (PLAYGROUND_MAX_IMAGE_SIDE), before any pixel is decoded: a decompression bomb stays a header."""
    if not isinstance(source, (str, os.PathLike, bytes, bytearray)):
        return
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() == ".json":
        return
    side = Limits.from_env().max_side
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = open_image(source)
            size = image.size if image is not None else None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RecordError(f"The image claims far more pixels than it could hold (a decompression bomb); the "
                          f"playground reads images up to {side}x{side} pixels.") from None
    if size is not None and max(size) > side:
        raise RecordError(f"The image is {size[0]}x{size[1]} pixels; the playground reads images up to "
                          f"{side}x{side} pixels.")


def _damaged(err: BaseException) -> str:
    """A decoder failure in words."""
    if isinstance(err, (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError)):
        return "The image is too large to read (a decompression bomb?)."
    return f"The image is damaged or truncated ({type(err).__name__}); it cannot be read."


def _inspect(source: Any, out: dict[str, Any]) -> dict[str, Any]:
    record = read_record(source)
    if record is None:
        out["parameters"] = embedded_parameters(source)
        found = " It has A1111-style parameters from another tool." if out["parameters"] else ""
        return {**out, "status": "no record",
                "message": f"This image has no playground record (no PNG text chunk, EXIF or sidecar).{found}"}
    image = None if isinstance(source, dict) and "schema" in source else source
    if isinstance(image, (str, os.PathLike)) and Path(image).suffix.lower() == ".json":
        image = None
    check = verify_record(record, image)
    status = "ok" if not check["problems"] else "tampered"
    message = "The record is intact" + (" and matches the image's pixels." if check["pixels_match"] else ".")
    if check["problems"]:
        message = " ".join(check["problems"])
    return {**out, "status": status, "message": message, "record": record, "table": record_table(record),
            "problems": check["problems"], "notes": check["notes"]}


def record_table(record: dict[str, Any]) -> list[list[str]]:
    """The record as [field, value] rows, in reading order, every value as text."""
    rows: list[list[str]] = []

    def add(field: str, value: Any) -> None:
        if value is None or value == "" or value == [] or value == {}:
            return
        rows.append([field, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)])

    image = record.get("image") or {}
    for key in ("model", "mode", "backend", "endpoint", "model_revision", "request_id", "prompt", "negative_prompt"):
        add(key, record.get(key))
    add("seed", image.get("seed", record.get("seed")))
    add("seeds", record.get("seeds"))
    for name, value in (record.get("params") or {}).items():
        add(f"params.{name}", value)
    for name, value in (record.get("native") or {}).items():
        add(f"native.{name}", value)
    for i, adapter in enumerate(record.get("adapters") or []):
        add(f"adapters[{i}]", f"{adapter.get('name')} scale {adapter.get('scale')} sha256 "
                              f"{adapter.get('sha256') or 'not hashed (fetched by the provider)'}")
    for name, value in (record.get("device") or {}).items():
        add(f"device.{name}", value)
    for name, value in (record.get("speed") or {}).items():
        add(f"speed.{name}", value if isinstance(value, str) else json.dumps(value))
    for i, entry in enumerate(record.get("inputs") or []):
        add(f"inputs[{i}].{entry.get('role')}", entry.get("sha256"))
    add("image.index", image.get("index"))
    add("image.sha256", image.get("sha256"))
    for entry in record.get("outputs") or []:
        add(f"outputs[{entry.get('index')}]", f"{entry.get('width')}x{entry.get('height')} seed {entry.get('seed')} "
                                              f"sha256 {entry.get('sha256')}")
    for name, value in (record.get("timings") or {}).items():
        add(f"timings.{name}", value)
    add("cost_usd", record.get("cost_usd"))
    for i, step in enumerate(record.get("fallbacks") or []):
        add(f"fallbacks[{i}]", f"{step.get('backend')}: {step.get('outcome')} ({step.get('reason')})")
    add("warnings", record.get("warnings"))
    for name, value in (record.get("app") or {}).items():
        add(f"app.{name}", value)
    for name, value in (record.get("packages") or {}).items():
        add(f"packages.{name}", value)
    for key in ("created", "schema", "digest"):
        add(key, record.get(key))
    return rows


# -- restoring --------------------------------------------------------------------------------------

def record_to_request(record: dict[str, Any], *, images: list[Any] | None = None, mask: Any = None,
                      backend: str | None = None, search_dirs: Iterable[Path] | None = None) -> Request:
    """The Request that reproduces a record: same model, mode, prompt, parameters, seed, and the
    backend that ran it (or `backend`). Inputs: `images` / `mask` when given, else files found by
    their sha256 in `search_dirs` (default: `storage.default_search_dirs()`); any not found are left out,
    so validation names them (see `find_inputs` for which)."""
    model = get_model(record["model"])
    asked = record.get("request")
    target = backend or record.get("backend") or "auto"
    if asked:
        params = dict(asked.get("params") or {})
        negative, prompt = asked.get("negative_prompt"), asked.get("prompt", record.get("prompt", ""))
    else:
        params = _replayable_params(model, record.get("mode", ""), target, record.get("params") or {})
        negative, prompt = record.get("negative_prompt"), record.get("prompt", "")
    if images is None:
        found = find_inputs(record, search_dirs)
        images = [p for p in found["images"] if p is not None]
        mask = found["mask"] if mask is None else mask
    # The speed settings the run used (local runs only) are asked for again: they can change the bits.
    speed = record.get("speed") if target in ("local", "auto") else None
    return Request(model=model.id, mode=record.get("mode", "text-to-image"), prompt=prompt or "",
                   negative_prompt=negative, images=list(images), mask=mask, params=params,
                   seed=record.get("seed"), backend=target, speed=dict(speed) if speed else None)


def _replayable_params(model: Any, mode: str, backend: str, params: dict[str, Any]) -> dict[str, Any]:
    """Resolved params that can be given back as explicit ones: set, and a parameter of this mode
    (derived values such as img2img `strength` are recomputed from what they came from)."""
    concrete = None if backend == "auto" else backend
    accepted = {p.name for p in model.params_for(mode, concrete)}
    return {k: v for k, v in params.items() if v is not None and k in accepted}


def expected_hash(record: dict[str, Any]) -> str | None:
    """The recorded sha256 of the image that carried `record` (else of its first output)."""
    image = record.get("image") or {}
    if image.get("sha256"):
        return image["sha256"]
    outputs = record.get("outputs") or []
    return outputs[0].get("sha256") if outputs else None


def _pixels(image: Any) -> Any:
    """The image's pixels as the backend returned them (RGB for every model here)."""
    image.load()
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def is_lossy(picture: Any, source: Any) -> bool:
    """Whether `picture` (opened from `source`) lost pixels to its format: JPEG, or WebP not lossless."""
    fmt = getattr(picture, "format", None)
    if fmt == "JPEG":
        return True
    if fmt != "WEBP":
        return False
    data = None
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source[:128])
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            data = handle.read(128)
    # Lossless WebP stores its pixels in a VP8L chunk right after the header (and VP8X).
    return data is None or b"VP8L" not in data


__all__ = [
    "RECORD_SCHEMA", "RecordError", "a1111_parameters", "build_record",
    "embedded_parameters", "encode_image", "expected_hash", "for_image", "inspect", "is_lossy", "open_image",
    "read_record", "record_digest", "record_table", "record_to_request", "save_image",
    "sidecar_path", "unwrap_source", "verify_record", "write_sidecar",
]
