"""The straightforward libvips transcode, kept as the bench's yardstick for `transcode`.

What most code does: one `thumbnail_buffer` per variant (a fresh decode each, with shrink-on-load),
and a byte budget met by walking quality down in steps of 5. Same checks, colour handling, codec
settings and outputs as the production path, so only the strategy differs.
"""

from __future__ import annotations

import pyvips

from . import budget
from .encode import encoder, fit_rendition
from .errors import TranscodeError
from .options import TranscodeOptions, TranscodeResult
from .placeholder import dominant_color, placeholder, tiny_rgb
from .probe import read_header
from .vips_transcode import decode_source, source_metadata, upright_size

QUALITY_STEP = 5


def transcode_naive(source: bytes, options: TranscodeOptions = TranscodeOptions()) -> TranscodeResult:
    header = read_header(source, options)
    width, height = upright_size(header)
    renditions = []
    try:
        for spec in sorted(options.variants, key=lambda v: v.max_side, reverse=True):
            # In memory, so a budget retry can encode it again (sequential decode reads once).
            image = decode_source(source, header, spec.max_side).copy_memory()
            for fmt in options.formats:
                renditions.append(
                    fit_rendition(
                        image, (image.width, image.height), spec.name, fmt, spec.quality,
                        spec.max_bytes, options.quality_floor, _walk_down, _shrink,
                    )
                )
        tiny = tiny_rgb(image)
    except pyvips.Error as exc:
        raise TranscodeError("image_corrupt", f"cannot decode {header.format} data") from exc
    return TranscodeResult(
        width, height, tuple(renditions), source_metadata(header.image, width, height, options.store_gps),
        placeholder(tiny), dominant_color(tiny),
    )


def _walk_down(image: pyvips.Image, fmt: str, quality: int, max_bytes: int, floor: int) -> budget.Fit:
    encode = encoder(image, fmt)
    tries = 0
    q = quality
    while True:
        data = encode(q)
        tries += 1
        if len(data) <= max_bytes:
            return budget.Fit(q, data, len(data), tries)
        if q <= floor:
            return budget.Fit(floor, None, len(data), tries)
        q = max(floor, q - QUALITY_STEP)


def _shrink(image: pyvips.Image, scale: float) -> tuple[pyvips.Image, tuple[int, int]]:
    image = image.resize(scale)
    return image, (image.width, image.height)
