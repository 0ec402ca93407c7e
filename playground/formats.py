"""The file format a run's images are written in: PNG, JPEG or WebP, with a quality where it applies.

Every backend's images are encoded by the playground itself (`records.encode_image`), so each format
carries the run's record whatever ran it. Without an explicit choice, a provider's own
`output_format` / `output_quality` parameter (when the request set one) decides, else PNG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from playground.images import encode
from playground.params import Problem, ValidationError
from playground.records import encode_image, for_image

FORMATS = ("png", "jpeg", "webp")
ALIASES = {"jpg": "jpeg"}
DEFAULT_QUALITY = {"jpeg": 95, "webp": None}  # WebP without a quality is lossless (pixels match the record)
QUALITY_MIN, QUALITY_MAX = 1, 100


@dataclass(frozen=True)
class FileFormat:
    """`format` is png, jpeg or webp; `quality` (1-100) applies to jpeg and webp (None: the default)."""

    format: str = "png"
    quality: int | None = None

    @property
    def suffix(self) -> str:
        return "jpg" if self.format == "jpeg" else self.format

    def save_args(self) -> dict[str, Any]:
        """Keyword arguments for `records.encode_image` / `save_image`."""
        quality = self.quality if self.quality is not None else DEFAULT_QUALITY.get(self.format)
        if self.format == "png" or quality is None:
            return {}
        return {"quality": quality, **({"lossless": False} if self.format == "webp" else {})}


def with_record(image: Image.Image, record: dict[str, Any] | None, file_format: FileFormat | None = None,
                index: int = 0) -> bytes:
    """`image` encoded in `file_format` (default PNG) with `record` embedded for output `index` when it
    is a record of a run (it has outputs); without such a record (an uploaded image's note), the image
    alone in that format."""
    file_format = file_format or FileFormat()
    if record is not None and record.get("outputs"):
        return encode_image(image, for_image(record, index), file_format.format, **file_format.save_args())
    if file_format.format == "png":
        return encode(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=file_format.format.upper(), **file_format.save_args())
    return buffer.getvalue()


def choose(fmt: Any = None, quality: Any = None, params: dict[str, Any] | None = None) -> FileFormat:
    """The file format for a run: `fmt`/`quality` as given (None or "": not chosen), else the
    request's provider-side `output_format`/`output_quality`, else PNG. Raises ValidationError naming
    the field, the value and what is allowed."""
    params = params or {}
    problems: list[Problem] = []
    name = fmt if fmt not in (None, "") else params.get("output_format")
    chosen = "png"
    if name not in (None, ""):
        key = ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
        if key in FORMATS:
            chosen = key
        else:
            problems.append(Problem("output_format", name, "png, jpeg or webp"))
    level = None
    if quality not in (None, ""):
        number = quality if isinstance(quality, (int, float)) and not isinstance(quality, bool) else _number(quality)
        if number is None or number != int(number) or not QUALITY_MIN <= number <= QUALITY_MAX:
            problems.append(Problem("output_quality", quality, f"an integer from {QUALITY_MIN} to {QUALITY_MAX}"))
        else:
            level = int(number)
    elif fmt in (None, "") and isinstance(params.get("output_quality"), int):
        level = min(max(params["output_quality"], QUALITY_MIN), QUALITY_MAX)  # the provider's own 0-100 scale
    if problems:
        raise ValidationError(problems)
    return FileFormat(chosen, level if chosen != "png" else None)


def _number(value: Any) -> float | None:
    try:
        return float(str(value).strip())
    except ValueError:
        return None
