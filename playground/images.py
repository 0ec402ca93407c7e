"""Load, check, hash and encode input images and masks.

Inputs may be PIL images, numpy arrays, file paths, raw bytes, or data URIs. Everything that is
not a readable, reasonably sized image is refused with a `ValidationError` naming the field.
Content hashes are sha256 over the decoded pixels (mode, size, bytes), so the same picture hashes
the same whatever file format carried it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from playground.environment import env_int
from playground.params import Problem, ValidationError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_SIDE = 4096
FORMATS_ALLOWED = "PNG, JPEG, WebP, GIF, BMP or TIFF"
# Aspect ratios closer than this count as the same when a mask is resized to its image.
MASK_ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class Limits:
    """Largest accepted input: encoded bytes and pixels per side."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_side: int = DEFAULT_MAX_SIDE

    @classmethod
    def from_env(cls) -> Limits:
        """Limits from PLAYGROUND_MAX_IMAGE_BYTES / PLAYGROUND_MAX_IMAGE_SIDE, else the defaults."""
        return cls(
            max_bytes=env_int("PLAYGROUND_MAX_IMAGE_BYTES", DEFAULT_MAX_BYTES, minimum=1),
            max_side=env_int("PLAYGROUND_MAX_IMAGE_SIDE", DEFAULT_MAX_SIDE, minimum=1),
        )


@dataclass(frozen=True)
class InputImage:
    """A checked input image: RGB pixels and the sha256 of its content."""

    image: Image.Image
    sha256: str

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def content_hash(image: Image.Image) -> str:
    """sha256 over mode, size and raw pixels."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def load_image(value: Any, field: str, limits: Limits | None = None, fit: int | None = None) -> InputImage:
    """Decode `value` into an RGB `InputImage`, or raise ValidationError naming `field`.

    `fit`: the longest side the route can use; a larger image is scaled down to it (aspect kept) as
    it is decoded, so no more pixels than the run can use stay in memory. The hash is of what runs.
    """
    image = _decode(value, field, limits or Limits.from_env(), fit)
    if fit and max(image.size) > fit:
        image.thumbnail((fit, fit), Image.Resampling.LANCZOS)
    if image.mode != "RGB":
        image = _to_rgb(image)
    return InputImage(image, content_hash(image))


def load_mask(value: Any, image_size: tuple[int, int], field: str = "mask",
              limits: Limits | None = None) -> InputImage:
    """Decode a mask as black/white "L" pixels (white = repaint), sized to the image.

    Rule: a mask whose size differs but whose aspect ratio matches within 1% is resized to the
    image with nearest-neighbour sampling; any other size is refused. An RGBA mask uses its alpha
    (painted = repaint) when it has transparency, otherwise its brightness.
    """
    mask = _decode(value, field, limits or Limits.from_env())
    if mask.mode in ("RGBA", "LA") and mask.getchannel("A").getextrema()[0] < 255:
        mask = mask.getchannel("A")
    else:
        mask = mask.convert("L")
    if mask.size != image_size:
        mw, mh = mask.size
        iw, ih = image_size
        if abs(mw / mh - iw / ih) > MASK_ASPECT_TOLERANCE * (iw / ih):
            raise ValidationError([Problem(field, f"{mw}x{mh} mask",
                                           f"a mask the size of the image ({iw}x{ih}) or of the same aspect ratio")])
        mask = mask.resize(image_size, Image.Resampling.NEAREST)
    mask = mask.point(lambda v: 255 if v > 127 else 0)
    if mask.getextrema() == (0, 0):
        raise ValidationError([Problem(field, "an empty mask", "a mask with some white (area to repaint)")])
    return InputImage(mask, content_hash(mask))


def dedupe(images: list[InputImage]) -> tuple[list[InputImage], list[int]]:
    """Drop repeated images (same content hash), keeping first occurrences in order.

    Returns the kept images and, for each input position, the index it maps to in the kept list.
    """
    kept: list[InputImage] = []
    index: dict[str, int] = {}
    mapping: list[int] = []
    for img in images:
        if img.sha256 not in index:
            index[img.sha256] = len(kept)
            kept.append(img)
        mapping.append(index[img.sha256])
    return kept, mapping


def encode(image: Image.Image, fmt: str = "PNG", **save_args: Any) -> bytes:
    """Encode a PIL image to bytes in `fmt` (PNG by default, lossless)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def to_data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    """A `data:image/...;base64,` URI of the image, as fal and Replicate accept for inputs."""
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt.upper()]
    return f"data:{mime};base64,{base64.b64encode(encode(image, fmt)).decode()}"


def portable_image(value: Any, field_name: str) -> str:
    """An input as text for a preset: data URIs stay as they are, PIL images become PNG data URIs as they
    are (a mask keeps its alpha), anything else is decoded to RGB first."""
    if isinstance(value, str) and value.startswith("data:"):
        return value
    return to_data_uri(value if isinstance(value, Image.Image) else load_image(value, field_name).image)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decode(value: Any, field: str, limits: Limits, fit: int | None = None) -> Image.Image:
    def refuse(shown: Any, allowed: str) -> ValidationError:
        return ValidationError([Problem(field, shown, allowed)])

    if value is None:
        raise refuse(None, f"an image ({FORMATS_ALLOWED})")
    if isinstance(value, Image.Image):
        _check_side(value.size, field, limits)
        return value.copy()
    if _is_array(value):
        return _from_array(value, field, limits)
    data = _read_bytes(value, field, limits)
    if len(data) > limits.max_bytes:
        raise refuse(f"{len(data)} bytes", f"images up to {limits.max_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_side(image.size, field, limits)
            if fit and max(image.size) > fit:
                image.draft("RGB", (fit, fit))  # JPEG decodes straight at a smaller scale; others ignore it
            image.load()
            image = ImageOps.exif_transpose(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse("a decompression bomb", f"images up to {limits.max_side}x{limits.max_side} pixels") from None
    except UnidentifiedImageError:
        raise refuse(f"{len(data)} bytes that are not an image", f"an image ({FORMATS_ALLOWED})") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise refuse(f"a corrupt or truncated image ({err})", f"a complete image ({FORMATS_ALLOWED})") from None
    return image


def _read_bytes(value: Any, field: str, limits: Limits) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dict) and "path" in value:  # gradio FileData-like dicts
        value = value["path"]
    if isinstance(value, str) and value.startswith("data:"):
        try:
            _, payload = value.split(",", 1)
            return base64.b64decode(payload, validate=True)
        except ValueError:
            raise ValidationError([Problem(field, value, "a base64 data URI of an image")]) from None
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise ValidationError([Problem(field, str(value), "a path to an existing image file")])
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise ValidationError([Problem(field, f"{path.name} ({size} bytes)",
                                           f"images up to {limits.max_bytes // (1024 * 1024)} MB")])
        return path.read_bytes()
    raise ValidationError([Problem(field, type(value).__name__,
                                   "a PIL image, numpy array, file path, bytes or data URI")])


def _check_side(size: tuple[int, int], field: str, limits: Limits) -> None:
    w, h = size
    if w < 1 or h < 1 or w > limits.max_side or h > limits.max_side:
        raise ValidationError([Problem(field, f"{w}x{h} image",
                                       f"images from 1x1 up to {limits.max_side}x{limits.max_side} pixels")])


def _is_array(value: Any) -> bool:
    return hasattr(value, "__array_interface__") and hasattr(value, "shape")


def _from_array(value: Any, field: str, limits: Limits) -> Image.Image:
    import numpy as np

    array = np.asarray(value)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValidationError([Problem(field, f"array of shape {array.shape}", "HxW, HxWx3 or HxWx4 pixels")])
    _check_side((array.shape[1], array.shape[0]), field, limits)
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and 0.0 <= array.min() and array.max() <= 1.0:
            array = np.round(array * 255.0)
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
