"""Codec settings (shared by every backend so outputs are comparable) and budgeted encoding.

Settings chosen by measurement on the corpus phone photos (libvips 8.18, libjpeg-turbo-style):
- 4:2:0 chroma at every quality: at q90 it is 16% smaller and 30% cheaper to encode than the
  4:4:4 libvips picks by itself at q>=90; photos show no visible difference.
- progressive only where an image is big enough for it to pay (longer side >= 400 px); it costs ~5x
  a baseline encode but renders early and is 4-5% smaller on large images. Smaller images are
  baseline with optimised Huffman tables, which is smaller still there and cheap.
- a progressive JPEG's budget is settled on predictions and cheap sampled estimates before its one
  progressive encode (jpeg_fit); other formats search with real encodes.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import pyvips

from . import budget, jpeg_fit
from .errors import TranscodeError
from .options import BudgetStats, Rendition

PROGRESSIVE_MIN_SIDE = 400
AVIF_QUALITY_OFFSET = 25  # AVIF q55 looks like JPEG q80; keep the spec's JPEG-scale numbers
# Measured on a 4000x1715 photo: AVIF effort 0/1/2/4 = 0.35/1.1/1.6/13 s CPU for 456/431/429/387 KB;
# WebP effort 0/2/4 = 0.20/0.30/0.62 s for 1259/812/814 KB. The knee of each curve:
AVIF_EFFORT = 0
WEBP_EFFORT = 2
MAX_DOWNSCALES = 8
_NO_METADATA = 0  # ForeignKeep.NONE: no EXIF, XMP, IPTC, ICC or other blocks in any output


def jpeg_options(width: int, height: int, quality: int) -> dict:
    progressive = max(width, height) >= PROGRESSIVE_MIN_SIDE
    return {
        "Q": quality,
        "interlace": progressive,
        "optimize_coding": not progressive,  # progressive already builds optimal tables
        "subsample_mode": "on",
        "keep": _NO_METADATA,
    }


def encoder(image: pyvips.Image, fmt: str) -> budget.Encoder:
    """quality -> encoded bytes for one format, metadata-free."""
    if fmt == "jpeg":
        return lambda q: image.jpegsave_buffer(**jpeg_options(image.width, image.height, q))
    if fmt == "webp":
        return lambda q: image.webpsave_buffer(Q=q, effort=WEBP_EFFORT, smart_subsample=False, keep=_NO_METADATA)
    if fmt == "avif":
        return lambda q: image.heifsave_buffer(
            Q=max(1, q - AVIF_QUALITY_OFFSET), compression="av1", effort=AVIF_EFFORT, keep=_NO_METADATA
        )
    raise ValueError(f"unknown format {fmt}")


def _fit(
    image: pyvips.Image, fmt: str, quality: int, max_bytes: int, floor: int,
    predicted: float | None = None, stats: BudgetStats | None = None,
) -> budget.Fit:
    stats = stats if stats is not None else BudgetStats()
    floor = max(1, min(floor, quality))
    if fmt == "jpeg" and jpeg_options(image.width, image.height, quality)["interlace"]:
        return jpeg_fit.fit_progressive(encoder(image, fmt), image, quality, max_bytes, floor, predicted, stats)
    # Baseline JPEG (small), WebP, AVIF: real encodes are cheap enough to search with.
    spent: dict[int, float] = {}
    encode = encoder(image, fmt)

    def timed(q: int) -> bytes:
        start = time.process_time()
        data = encode(q)
        spent[q] = time.process_time() - start
        return data

    found = budget.search(timed, quality, max_bytes, floor)
    kept = found.quality if found.data is not None else None
    stats.discarded += sum(1 for q in spent if q != kept)
    stats.cpu_s += sum(cpu for q, cpu in spent.items() if q != kept)
    return found


Shrinker = Callable[[Any, float], Any]
Fitter = Callable[[Any, str, int, int, int], budget.Fit]


def encode_within(
    image: pyvips.Image,
    variant: str,
    fmt: str,
    quality: int,
    max_bytes: int,
    floor: int,
    predicted: float | None = None,
    stats: BudgetStats | None = None,
) -> Rendition:
    """Encode at `quality`, lower quality down to `floor` to meet `max_bytes`, and only then shrink.

    `predicted` is the expected size at `quality` from what is already known (see jpeg_fit), if any.
    """
    first = [predicted]  # a prediction speaks of this image only, not of a downscaled retry

    def fit(image: Any, fmt: str, quality: int, max_bytes: int, floor: int) -> budget.Fit:
        return _fit(image, fmt, quality, max_bytes, floor, first.pop() if first else None, stats)

    return fit_rendition(image, (image.width, image.height), variant, fmt, quality, max_bytes, floor, fit, _shrink)


def fit_rendition(
    image: Any,
    size: tuple[int, int],
    variant: str,
    fmt: str,
    quality: int,
    max_bytes: int,
    floor: int,
    fit: Fitter,
    shrink: Shrinker,
) -> Rendition:
    """The budget policy for any backend: `fit` searches quality, `shrink` downscales by a factor."""
    for _ in range(MAX_DOWNSCALES):
        found = fit(image, fmt, quality, max_bytes, floor)
        if found.data is not None:
            return Rendition(variant, fmt, size[0], size[1], found.quality, found.data)
        # Bytes scale with pixel count: shrink the area by budget/size, a little under.
        scale = min(0.9, math.sqrt(max_bytes / found.smallest_size) * 0.95)
        image, size = shrink(image, scale)
        quality = min(quality, floor)
    # Final, not a ValueError: the pipeline would retry an unexpected type, and fail the same way.
    raise TranscodeError("image_too_large", f"{variant}/{fmt} cannot fit {max_bytes} bytes even at {size[0]}x{size[1]}")


def _shrink(image: pyvips.Image, scale: float) -> tuple[pyvips.Image, tuple[int, int]]:
    image = image.resize(scale).copy_memory()
    return image, (image.width, image.height)
