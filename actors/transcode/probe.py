"""Cheap checks before any pixel is decoded: magic bytes, then the header libvips reads lazily.

A 30000x30000 PNG bomb is a few hundred KB; only its header is read here, so it is refused
without allocating its pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyvips

from . import budget
from .errors import TranscodeError
from .options import TranscodeOptions

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}

# libvips loader names that may ever read untrusted bytes here (both *_buffer and *_source forms).
ALLOWED_LOADERS = ("jpegload", "pngload", "webpload", "heifload", "gifload")

# Each progressive JPEG scan is a full pass over every coefficient block, and a repeated full-
# precision scan draws no libjpeg warning, so ~100 bytes buy a whole-image pass: 3000 of them are a
# CPU bomb in 300 KB. Encoders write 10 (libjpeg's script) to a few dozen (mozjpeg, jpegtran).
MAX_JPEG_SCANS = 100
# The marker ending a scan's entropy data: FF00 is a stuffed byte, RSTn sits inside the data, and
# a fill FF precedes the real marker.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


@dataclass(frozen=True)
class Header:
    """What the header says about the source, before decoding."""

    format: str
    width: int  # stored (not yet oriented) size
    height: int
    pages: int
    image: pyvips.Image  # lazy: nothing decoded yet
    jpeg_quality: int | None = None  # a JPEG source's IJG quality, estimated from its luma table


def sniff(source: bytes) -> str:
    """Name the container from its magic bytes; anything else is refused before libvips sees it."""
    head = source[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heif"
    if head[4:8] == b"ftyp":
        # Major brand may be generic while a compatible brand says HEIF; read the ftyp box.
        size = int.from_bytes(head[:4], "big")
        box = source[8 : min(size, 64)]
        if any(box[i : i + 4] in _HEIF_BRANDS for i in range(0, len(box) - 3, 4)):
            return "heif"
    raise TranscodeError("unsupported_format", "not a JPEG, PNG, GIF, WebP, HEIF or AVIF file")


def read_header(source: bytes, options: TranscodeOptions) -> Header:
    """Open lazily and enforce the size rules from the header alone."""
    fmt = sniff(source)
    if fmt == "heif" and not isobmff_complete(source):
        # libheif decodes a grid image with missing tiles as grey without complaint.
        raise TranscodeError("image_corrupt", "truncated heif file: a box runs past the end")
    try:
        image = pyvips.Image.new_from_buffer(source, "", fail_on="error")
        loader = image.get("vips-loader")
        pages = image.get("n-pages") if image.get_typeof("n-pages") else 1
    except pyvips.Error as exc:
        raise TranscodeError("image_corrupt", f"unreadable {fmt} header") from exc
    if not loader.startswith(ALLOWED_LOADERS):
        raise TranscodeError("unsupported_format", f"{fmt} file opened by unexpected loader {loader}")
    width, height = image.width, image.height
    if pages > options.max_frames:
        raise TranscodeError("image_too_large", f"{pages} frames exceeds the limit of {options.max_frames}")
    # Per frame: only the first frame of an animation is ever decoded; frames have their own limit.
    if width * height > options.max_pixels:
        raise TranscodeError(
            "image_too_large",
            f"{width}x{height} pixels exceeds the limit of {options.max_pixels}",
        )
    if fmt == "jpeg":
        check_jpeg_scans(source, width, height)
    if max(width, height) < options.min_side:
        raise TranscodeError(
            "image_too_small", f"longer side {max(width, height)} px is below {options.min_side} px"
        )
    quality = None
    if fmt == "jpeg":
        table = jpeg_luma_table(source)
        quality = budget.source_quality(table) if table else None
    return Header(fmt, width, height, max(pages, 1), image, quality)


def check_jpeg_scans(source: bytes, width: int, height: int) -> None:
    """Refuse a JPEG whose scans would cost far more than its bytes, before decoding it."""
    scans, entropy_bytes, huffman = jpeg_scans(source)
    if scans > MAX_JPEG_SCANS:
        raise TranscodeError("image_corrupt", f"jpeg has {scans} scans; no encoder writes more than {MAX_JPEG_SCANS}")
    # Huffman coding spends at least one bit on every 8x8 block's DC. libjpeg fills missing data
    # with grey after a mere warning, so a few KB claiming 100 MP would decode (and publish) as grey.
    if huffman and entropy_bytes < (width // 8) * (height // 8) // 8:
        raise TranscodeError(
            "image_corrupt", f"jpeg claims {width}x{height} but holds only {entropy_bytes} bytes of image data"
        )


def jpeg_scans(source: bytes) -> tuple[int, int, bool]:
    """(scans, bytes of entropy-coded data, Huffman-coded) of the primary image, walking its markers
    to the first EOI.

    Segment lengths skip APPn payloads (an EXIF thumbnail has its own scan) and the walk stops at EOI
    (phones append gain maps and depth maps as further JPEGs). Anything malformed ends the walk;
    the decoder judges such a file.
    """
    scans, entropy, huffman, pos, end = 0, 0, True, 2, len(source)
    while pos + 4 <= end and source[pos] == 0xFF:
        marker = source[pos + 1]
        if marker == 0xD9:
            break
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # fill byte, lone markers
            pos += 1 if marker == 0xFF else 2
            continue
        if marker in (0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):  # SOF of an arithmetic-coded image
            huffman = False
        pos += 2 + int.from_bytes(source[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            scans += 1
            found = _JPEG_SCAN_END.search(source, pos)
            stop = found.start() if found else end
            entropy += max(0, stop - pos)
            if found is None:
                break
            pos = stop
    return scans, entropy, huffman


def jpeg_luma_table(source: bytes) -> list[int] | None:
    """The first DQT table 0 (luma, zigzag order) before the first scan, or None if there is none."""
    pos, end = 2, len(source)
    while pos + 4 <= end and source[pos] == 0xFF:
        marker = source[pos + 1]
        if marker in (0xDA, 0xD9):
            return None
        length = int.from_bytes(source[pos + 2 : pos + 4], "big")
        if marker == 0xDB:
            segment, i = source[pos + 4 : pos + 2 + length], 0
            while i < len(segment):
                wide, table = segment[i] >> 4, segment[i] & 0x0F
                size = 128 if wide else 64
                values = segment[i + 1 : i + 1 + size]
                if len(values) < size:
                    return None
                if table == 0:
                    if not wide:
                        return list(values)
                    return [int.from_bytes(values[j : j + 2], "big") for j in range(0, 128, 2)]
                i += 1 + size
        pos += 2 + length
    return None


def isobmff_complete(source: bytes) -> bool:
    """True when every top-level ISO-BMFF box (ftyp, meta, mdat...) lies within the file."""
    offset, end = 0, len(source)
    while offset < end:
        if offset + 8 > end:
            return False
        size = int.from_bytes(source[offset : offset + 4], "big")
        if size == 1:  # 64-bit "largesize" follows the type
            if offset + 16 > end:
                return False
            size = int.from_bytes(source[offset + 8 : offset + 16], "big")
        elif size == 0:  # box extends to the end of the file
            return True
        if size < 8 or offset + size > end:
            return False
        offset += size
    return True
