"""Odd corners from the audit: damaged images and decompression bombs read plainly (library and
command line), and `run --out FILE` on an existing file is refused before anything runs."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest

from playground import records
from playground.images import Limits, content_hash, load_image
from playground.params import ValidationError
from playground.request import Request
from playground.validation import validate
from tests.conftest import cli_in_process, make_image


def bomb_png(side: int = 40_000) -> bytes:
    """A tiny PNG whose header claims side x side 1-bit pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = zlib.compress(b"\x00" * ((side // 8 + 1) * 64), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def truncated_png(tmp_path: Path) -> bytes:
    whole = tmp_path / "whole.png"
    make_image().save(whole)
    return whole.read_bytes()[:80]


cli = cli_in_process


def test_inspect_answers_a_bomb_and_a_damaged_image_plainly(tmp_path):
    bomb = records.inspect(bomb_png())
    assert bomb["status"] == "unreadable" and "decompression bomb" in bomb["message"]
    big = records.inspect(bomb_png(5000))  # under Pillow's own limit, over the playground's
    assert big["status"] == "unreadable" and "5000x5000 pixels" in big["message"]
    damaged = records.inspect(truncated_png(tmp_path))
    assert damaged["status"] == "unreadable" and "damaged or truncated" in damaged["message"]


def test_the_inspect_command_answers_them_without_a_traceback(tmp_path):
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    (tmp_path / "damaged.png").write_bytes(truncated_png(tmp_path))
    for name, words in (("bomb.png", "decompression bomb"), ("damaged.png", "damaged or truncated")):
        done = cli("inspect", str(tmp_path / name))
        output = done.stdout + done.stderr
        assert words in output and "Traceback" not in output, output


def test_run_out_on_an_existing_file_is_refused_before_anything_runs(tmp_path):
    target = tmp_path / "result.png"
    target.write_bytes(b"keep me")
    done = cli("run", "--model", "sdxl-turbo", "--prompt", "a fox", "--backend", "local", "--out", str(target))
    assert done.returncode != 0
    assert "--out" in done.stderr and "not an existing file" in done.stderr and "Traceback" not in done.stderr
    assert target.read_bytes() == b"keep me"


def _encoded(width: int, height: int, fmt: str) -> bytes:
    buffer = io.BytesIO()
    make_image(width, height, pattern=3).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_reference_images_are_scaled_to_what_the_route_can_use_as_they_are_read(fmt):
    # FLUX.2 dev on fal makes images up to 2048 px a side: a 3000x1500 reference carries pixels no run uses.
    prepared = validate(Request(model="flux-2-dev", mode="image-to-image", prompt="x", backend="fal",
                                images=[_encoded(3000, 1500, fmt)]))
    (image,) = prepared.images
    assert image.size == (2048, 1024)
    assert image.sha256 == content_hash(image.image)  # the record names what ran
    # The same picture for a route with no such bound (aspect ratios on Replicate) keeps every pixel.
    kept = validate(Request(model="flux-2-dev", mode="image-to-image", prompt="x", backend="replicate",
                            images=[_encoded(3000, 1500, fmt)]))
    assert kept.images[0].size == (3000, 1500)


def test_an_image_over_the_byte_limit_names_the_limit_in_bytes():
    data = _encoded(64, 64, "PNG")
    with pytest.raises(ValidationError) as err:
        load_image(data, "images[0]", Limits(max_bytes=100))
    assert str(err.value.problems[0]) == f"images[0]: got '{len(data)} bytes'; allowed: images up to 100 bytes"
