"""Magic-byte sniffing: real corpus files and hand-built headers for each accepted family."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from conftest import corpus_file
from server.posts.sniff import SNIFF_BYTES, sniff_image_type


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00" * 32


def _pillow(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(out, fmt)
    return out.getvalue()[:SNIFF_BYTES]


@pytest.mark.parametrize(
    ("fmt", "expected"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")]
)
def test_files_written_by_pillow(fmt: str, expected: str) -> None:
    assert sniff_image_type(_pillow(fmt)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("phone-3264x2448.jpg", "image/jpeg"), ("phone-4608x1976.heif", "image/heic")],
)
def test_corpus_photos(name: str, expected: str) -> None:
    prefix = corpus_file(name).read_bytes()[:SNIFF_BYTES]
    assert sniff_image_type(prefix) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"heix"), "image/heic"),
        (_ftyp(b"hevc"), "image/heic"),
        (_ftyp(b"heim"), "image/heic"),
        (_ftyp(b"heis"), "image/heic"),
        (_ftyp(b"mif1", b"heic"), "image/heif"),
        (_ftyp(b"msf1", b"hevc"), "image/heif"),
        (_ftyp(b"avif", b"mif1", b"miaf"), "image/avif"),
        (_ftyp(b"avis"), "image/avif"),
        (_ftyp(b"mif1", b"avif"), "image/avif"),  # AVIF brands listed as compatible only
    ],
)
def test_iso_bmff_brands(header: bytes, expected: str) -> None:
    assert sniff_image_type(header[:SNIFF_BYTES]) == expected


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\xff\xd8",  # truncated JPEG marker
        b"%PDF-1.7\n" + b"x" * 40,
        b"<html><body>hi</body></html>",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # RIFF, but audio
        _ftyp(b"isom", b"mp42", b"avc1"),  # an MP4 video
        _ftyp(b"qt  "),  # QuickTime
        b"\x00\x00\x00\x08ftypheic",  # box too short to hold a brand list
        b"GIF90a" + b"\x00" * 10,
    ],
)
def test_non_images_are_refused(junk: bytes) -> None:
    assert sniff_image_type(junk) is None
