"""Mutations of image files for the decoder fuzzer: pure functions of (bytes, seeded RNG).

Generic mutations (bit flips, bytes set to boundary values, truncation, range duplication and
splicing) find what any parser gets wrong; the structural ones know the containers (JPEG markers,
PNG chunks, RIFF chunks, GIF blocks, ISO-BMFF boxes) so they can drop, repeat, swap or splice whole
segments and set the header fields that size allocations (width, height, depth, box sizes) to their
extremes, which random flips almost never reach. PNG chunks get their CRC recomputed half the time,
or libpng would refuse them before the interesting code runs.
"""

from __future__ import annotations

import random
import struct
import zlib
from typing import Callable

Mutator = Callable[[bytes, random.Random, "dict[str, list[bytes]]"], bytes]

BOUNDARY_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
EXTREME_16 = (0, 1, 0x7FFF, 0x8000, 0xFFFF)
EXTREME_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 65535, 65536)


def sniff_kind(data: bytes) -> str:
    """The seed family a file belongs to, by its magic bytes (``other`` when it has none)."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[4:8] == b"ftyp":
        return "avif" if b"avif" in data[8:32] else "heif"
    return "other"


# -- generic ---------------------------------------------------------------------------------------

def bit_flips(data: bytes, rng: random.Random, _: dict) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8, 32))):
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def boundary_bytes(data: bytes, rng: random.Random, _: dict) -> bytes:
    out = bytearray(data)
    # Headers hold the fields that matter: bias towards the first kilobytes.
    limit = len(out) if rng.random() < 0.3 else min(len(out), 4096)
    for _ in range(rng.choice((1, 2, 4))):
        out[rng.randrange(limit)] = rng.choice(BOUNDARY_BYTES)
    return bytes(out)


def truncate(data: bytes, rng: random.Random, _: dict) -> bytes:
    cut = rng.choice((rng.randrange(1, len(data)), len(data) - rng.randrange(1, 64), rng.randrange(1, 512)))
    return data[: max(1, min(cut, len(data) - 1))]


def duplicate_range(data: bytes, rng: random.Random, _: dict) -> bytes:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.choice((4, 16, 256, 4096)))
    times = rng.choice((1, 2, 16))
    return data[:end] + data[start:end] * times + data[end:]


def delete_range(data: bytes, rng: random.Random, _: dict) -> bytes:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.choice((1, 4, 64, 1024)))
    return data[:start] + data[end:]


def splice_same_kind(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    """The head of this file on the tail of another of its kind (same headers, other data)."""
    others = [s for s in seeds.get(sniff_kind(data), []) if s != data] or [data]
    other = rng.choice(others)
    cut_a, cut_b = rng.randrange(len(data)), rng.randrange(len(other))
    return data[:cut_a] + other[cut_b:]


# -- JPEG markers ------------------------------------------------------------------------------------

def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each marker segment from SOI up to and including SOS's header."""
    found, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = min(len(data), pos + 2 + length)
        found.append((marker, pos, end))
        if marker in (0xDA, 0xD9):
            break
        pos = end
    return found


def jpeg_marker_splice(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    segments = [s for s in jpeg_segments(data) if s[0] != 0xDA]
    if not segments:
        return bit_flips(data, rng, seeds)
    marker, start, end = rng.choice(segments)
    action = rng.choice(("drop", "repeat", "foreign", "swap"))
    if action == "drop":
        return data[:start] + data[end:]
    if action == "repeat":
        return data[:end] + data[start:end] * rng.choice((1, 2, 50)) + data[end:]
    if action == "foreign":
        other = rng.choice(seeds.get("jpeg") or [data])
        foreign = [s for s in jpeg_segments(other) if s[0] != 0xDA] or [(0, 0, 0)]
        _, fs, fe = rng.choice(foreign)
        return data[:start] + other[fs:fe] + data[end:]
    _, start2, end2 = rng.choice(segments)
    if start2 == start:
        return data
    (a, b), (c, d) = sorted(((start, end), (start2, end2)))
    if c < b:
        return data
    return data[:a] + data[c:d] + data[b:c] + data[a:b] + data[d:]


def jpeg_header_extremes(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    """SOF's precision, height, width, component count and sampling; DHT/DQT table ids."""
    out = bytearray(data)
    sofs = [s for s in jpeg_segments(data) if 0xC0 <= s[0] <= 0xCF and s[0] not in (0xC4, 0xC8, 0xCC)]
    if not sofs:
        return boundary_bytes(data, rng, seeds)
    _, start, end = sofs[0]
    body = start + 4
    field = rng.choice(("precision", "height", "width", "components", "sampling", "marker"))
    if field == "precision" and body < end:
        out[body] = rng.choice((0, 1, 8, 12, 16, 255))
    elif field in ("height", "width") and body + 5 <= end:
        at = body + (1 if field == "height" else 3)
        out[at : at + 2] = rng.choice(EXTREME_16).to_bytes(2, "big")
    elif field == "components" and body + 6 <= end:
        out[body + 5] = rng.choice((0, 1, 2, 3, 4, 255))
    elif field == "sampling" and body + 8 <= end:
        out[body + 7] = rng.choice((0x00, 0x11, 0x44, 0x41, 0x14, 0xFF))
    else:  # turn baseline into progressive, lossless, arithmetic...
        out[start + 1] = rng.choice((0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB))
    return bytes(out)


# -- PNG chunks ------------------------------------------------------------------------------------

def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk after the signature."""
    found, pos = [], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(data):
            break
        found.append((data[pos + 4 : pos + 8], pos, end))
        pos = end
    return found


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_chunk_splice(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    chunks = png_chunks(data)
    if len(chunks) < 2:
        return bit_flips(data, rng, seeds)
    kind, start, end = rng.choice(chunks[1:]) if rng.random() < 0.8 else chunks[0]
    action = rng.choice(("drop", "repeat", "foreign", "move_first", "fake"))
    if action == "drop":
        return data[:start] + data[end:]
    if action == "repeat":
        return data[:end] + data[start:end] * rng.choice((1, 2, 100)) + data[end:]
    if action == "foreign":
        other = rng.choice(seeds.get("png") or [data])
        _, fs, fe = rng.choice(png_chunks(other) or [(b"", 8, 8)])
        return data[:start] + other[fs:fe] + data[end:]
    if action == "move_first":
        return data[:8] + data[start:end] + data[8:start] + data[end:]
    fake = rng.choice((b"acTL", b"fcTL", b"iCCP", b"eXIf", b"zTXt", b"sPLT", b"PLTE", b"tRNS", b"IDAT"))
    junk = rng.randbytes(rng.choice((0, 1, 8, 26, 300)))
    return data[:end] + _png_chunk(fake, junk) + data[end:]


def png_header_extremes(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    chunks = png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR":
        return boundary_bytes(data, rng, seeds)
    _, start, end = chunks[0]
    body = bytearray(data[start + 8 : end - 4])
    if len(body) < 13:
        return boundary_bytes(data, rng, seeds)
    field = rng.choice(("width", "height", "both", "depth", "colour", "interlace", "filter"))
    if field in ("width", "both"):
        body[0:4] = rng.choice(EXTREME_32).to_bytes(4, "big")
    if field in ("height", "both"):
        body[4:8] = rng.choice(EXTREME_32).to_bytes(4, "big")
    if field == "depth":
        body[8] = rng.choice((0, 1, 2, 4, 8, 16, 255))
    elif field == "colour":
        body[9] = rng.choice((0, 1, 2, 3, 4, 6, 7, 255))
    elif field == "interlace":
        body[12] = rng.choice((0, 1, 2, 255))
    elif field == "filter":
        body[10 + rng.randrange(2)] = rng.choice((1, 255))
    chunk = _png_chunk(b"IHDR", bytes(body))
    if rng.random() < 0.5:  # a stale CRC: libpng must refuse it, not read on
        chunk = chunk[:-4] + data[end - 4 : end]
    return data[:start] + chunk + data[end:]


# -- RIFF (WebP) chunks ----------------------------------------------------------------------------

def riff_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    found, pos = [], 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = min(len(data), pos + 8 + size + (size & 1))
        found.append((data[pos : pos + 4], pos, end))
        if end <= pos:
            break
        pos = end
    return found


def webp_chunk_splice(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    chunks = riff_chunks(data)
    if not chunks:
        return bit_flips(data, rng, seeds)
    kind, start, end = rng.choice(chunks)
    action = rng.choice(("drop", "repeat", "foreign", "riff_size", "chunk_size"))
    if action == "drop":
        return data[:start] + data[end:]
    if action == "repeat":
        return data[:end] + data[start:end] * rng.choice((1, 2, 30)) + data[end:]
    if action == "foreign":
        other = rng.choice(seeds.get("webp") or [data])
        _, fs, fe = rng.choice(riff_chunks(other) or [(b"", 12, 12)])
        return data[:start] + other[fs:fe] + data[end:]
    out = bytearray(data)
    at = 4 if action == "riff_size" else start + 4
    out[at : at + 4] = rng.choice(EXTREME_32).to_bytes(4, "little")
    return bytes(out)


def webp_header_extremes(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    """VP8X canvas size (24-bit, minus one), VP8 frame size (14-bit), VP8L packed size."""
    out = bytearray(data)
    for kind, start, end in riff_chunks(data):
        body = start + 8
        if kind == b"VP8X" and body + 10 <= end:
            at = body + rng.choice((4, 7))
            out[at : at + 3] = rng.choice((0, 1, 0x3FFF, 0xFFFFFF)).to_bytes(3, "little")
            out[body] = rng.choice((out[body], 0xFF, 0x00, 0x02, 0x10))  # feature flags
            return bytes(out)
        if kind == b"VP8 " and body + 10 <= end:
            at = body + rng.choice((6, 8))
            out[at : at + 2] = rng.choice((0, 1, 0x3FFF, 0xFFFF)).to_bytes(2, "little")
            return bytes(out)
        if kind == b"VP8L" and body + 5 <= end:
            out[body + 1 : body + 5] = rng.choice((0, 0xFFFFFFFF, 0x0FFFFFFF, rng.getrandbits(32))).to_bytes(4, "little")
            return bytes(out)
    return boundary_bytes(data, rng, seeds)


# -- GIF blocks ------------------------------------------------------------------------------------

def gif_header_extremes(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    """Logical screen size, the global colour table flag/size, and the first image descriptor."""
    out = bytearray(data)
    field = rng.choice(("screen", "flags", "descriptor", "lzw"))
    if field == "screen":
        at = rng.choice((6, 8))
        out[at : at + 2] = rng.choice(EXTREME_16).to_bytes(2, "little")
        return bytes(out)
    if field == "flags":
        out[10] = rng.choice((0x00, 0x07, 0x80, 0xF7, 0xFF))
        return bytes(out)
    table = 3 * (2 ** ((out[10] & 7) + 1)) if out[10] & 0x80 else 0
    pos = data.find(b"\x2c", 13 + table)
    if pos < 0 or pos + 11 > len(data):
        return boundary_bytes(data, rng, seeds)
    if field == "descriptor":
        at = pos + rng.choice((1, 3, 5, 7))
        out[at : at + 2] = rng.choice(EXTREME_16).to_bytes(2, "little")
    else:
        lzw_at = pos + 10 + (3 * (2 ** ((out[pos + 9] & 7) + 1)) if out[pos + 9] & 0x80 else 0)
        if lzw_at < len(out):
            out[lzw_at] = rng.choice((0, 1, 2, 8, 11, 12, 255))
    return bytes(out)


# -- ISO-BMFF (HEIF, AVIF) boxes -------------------------------------------------------------------

_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"dinf": 0, b"iinf": 6, b"moov": 0, b"trak": 0}


def bmff_boxes(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of every box, descending into the containers HEIF keeps its header in."""
    end = len(data) if end is None else end
    found, pos = [], start
    while pos + 8 <= end and depth < 6:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if size < 8 or pos + size > end:
            break
        found.append((kind, pos, pos + size))
        skip = _CONTAINERS.get(kind)
        if skip is not None:
            inner = pos + 8 + skip
            if kind == b"iinf":  # full box + entry count (16 bit in version 0)
                inner = pos + 8 + 4 + (2 if data[pos + 8] == 0 else 4)
            found.extend(bmff_boxes(data, inner, pos + size, depth + 1))
        pos += size
    return found


def bmff_box_splice(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    boxes = bmff_boxes(data)
    if not boxes:
        return bit_flips(data, rng, seeds)
    kind, start, end = rng.choice(boxes)
    action = rng.choice(("drop", "repeat", "foreign", "size"))
    if action == "drop":
        return data[:start] + data[end:]
    if action == "repeat" and end - start < 65536:
        return data[:end] + data[start:end] * rng.choice((1, 2)) + data[end:]
    if action == "foreign":
        other = rng.choice(seeds.get(sniff_kind(data)) or [data])
        candidates = [b for b in bmff_boxes(other) if b[2] - b[1] < 65536] or [(b"", 0, 0)]
        _, fs, fe = rng.choice(candidates)
        return data[:start] + other[fs:fe] + data[end:]
    out = bytearray(data)
    out[start : start + 4] = rng.choice((0, 1, 7, 8, 0xFFFFFFFF, end - start + 1, end - start - 1)).to_bytes(4, "big")
    return bytes(out)


def bmff_header_extremes(data: bytes, rng: random.Random, seeds: dict) -> bytes:
    """ispe (image size), pixi (bits per channel), iloc extents, irot/imir, grid sizes."""
    out = bytearray(data)
    boxes = [b for b in bmff_boxes(data) if b[0] in (b"ispe", b"pixi", b"iloc", b"irot", b"imir", b"clap", b"auxC", b"hvcC", b"av1C")]
    if not boxes:
        return boundary_bytes(data, rng, seeds)
    kind, start, end = rng.choice(boxes)
    body = start + 8
    if kind == b"ispe" and body + 12 <= end:
        at = body + rng.choice((4, 8))
        out[at : at + 4] = rng.choice(EXTREME_32).to_bytes(4, "big")
    elif kind == b"pixi" and body + 5 <= end:
        out[body + 4] = rng.choice((0, 1, 3, 255))
        if body + 6 <= end:
            out[body + 5] = rng.choice((0, 1, 8, 16, 255))
    else:  # any other field: a 16- or 32-bit word inside the box set to an extreme
        span = max(1, end - body - 4)
        at = body + rng.randrange(span)
        width = 4 if rng.random() < 0.5 else 2
        value = rng.choice(EXTREME_32 if width == 4 else EXTREME_16)
        out[at : at + width] = value.to_bytes(width, "big")[: max(0, min(width, len(out) - at))]
    return bytes(out)


GENERIC: dict[str, Mutator] = {
    "bit_flips": bit_flips, "boundary_bytes": boundary_bytes, "truncate": truncate,
    "duplicate_range": duplicate_range, "delete_range": delete_range, "splice": splice_same_kind,
}
STRUCTURAL: dict[str, dict[str, Mutator]] = {
    "jpeg": {"marker_splice": jpeg_marker_splice, "header_extremes": jpeg_header_extremes},
    "png": {"chunk_splice": png_chunk_splice, "header_extremes": png_header_extremes},
    "webp": {"chunk_splice": webp_chunk_splice, "header_extremes": webp_header_extremes},
    "gif": {"header_extremes": gif_header_extremes},
    "heif": {"box_splice": bmff_box_splice, "header_extremes": bmff_header_extremes},
    "avif": {"box_splice": bmff_box_splice, "header_extremes": bmff_header_extremes},
}


def mutate(seed: bytes, rng: random.Random, seeds: dict[str, list[bytes]]) -> tuple[bytes, str]:
    """One to three stacked mutations of ``seed``; the result and a name for what was done
    (the first mutation names the family in the report)."""
    kind = sniff_kind(seed)
    table = {**GENERIC, **STRUCTURAL.get(kind, {})}
    structural = list(STRUCTURAL.get(kind, {}))
    data, names = seed, []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        # Half the first picks are structural: they reach what flips cannot.
        name = rng.choice(structural) if structural and not names and rng.random() < 0.5 else rng.choice(list(table))
        mutated = table[name](data, rng, seeds)
        data = mutated if mutated else data
        names.append(name)
    return data, "+".join(names)
