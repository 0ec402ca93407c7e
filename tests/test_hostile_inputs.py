"""Odd corners from the audit: damaged images and decompression bombs read plainly (library and
command line), and `run --out FILE` on an existing file is refused before anything runs."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

from playground import records
from tests.conftest import make_image

ROOT = Path(__file__).resolve().parent.parent


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


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


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
