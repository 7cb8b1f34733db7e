"""Codec settings (shared by every backend so outputs are comparable) and budgeted encoding.

Settings chosen by measurement on the corpus phone photos (libvips 8.18, libjpeg-turbo-style):
- 4:2:0 chroma at every quality: at q90 it is 16% smaller and 30% cheaper to encode than the
  4:4:4 libvips picks by itself at q>=90; photos show no visible difference.
- progressive only where an image is big enough for it to pay (longer side >= 400 px); it costs ~5x
  a baseline encode but renders early and is 4-5% smaller on large images. Smaller images are
  baseline with optimised Huffman tables, which is smaller still there and cheap.
- while searching a budget for a large progressive JPEG, probes are fast baseline encodes scaled by
  the measured progressive/baseline size ratio; only the final encode is progressive.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import pyvips

from . import budget
from .errors import TranscodeError
from .options import Rendition

PROGRESSIVE_MIN_SIDE = 400
FAST_PROBE_MIN_PIXELS = 1_000_000  # below this a real encode is as cheap as a probe
PROGRESSIVE_RATIO = 0.955  # progressive/baseline size at 4:2:0, measured on the corpus photos
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


def _fast_jpeg_fit(
    image: pyvips.Image, quality: int, max_bytes: int, floor: int, size_hint: float | None
) -> budget.Fit:
    """Large progressive JPEG: decide with cheap baseline probes, encode progressive once.

    A baseline encode costs ~1/5 of a progressive one and progressive output is ~0.955 of it, so
    one baseline probe tells whether the budget binds before the expensive encode is spent. The
    probe is skipped when `size_hint` (the source JPEG's bytes for this many pixels) says the
    budget is far away.
    """
    final = encoder(image, "jpeg")

    def probe(q: int) -> bytes:
        return image.jpegsave_buffer(Q=q, subsample_mode="on", keep=_NO_METADATA)

    if size_hint is not None and size_hint <= max_bytes:
        data = final(quality)
        if len(data) <= max_bytes:
            return budget.Fit(quality, data, len(data), 1)
        baseline = probe(quality)
        return _search_then_encode(probe, final, baseline, len(data) / len(baseline), quality, max_bytes, floor, 2)
    baseline = probe(quality)
    ratio = PROGRESSIVE_RATIO
    probes = 1
    if len(baseline) * ratio <= max_bytes * 0.99:
        data = final(quality)
        probes += 1
        if len(data) <= max_bytes:
            return budget.Fit(quality, data, len(data), probes)
        ratio = len(data) / len(baseline)  # this picture's own ratio, for the search below
    return _search_then_encode(probe, final, baseline, ratio, quality, max_bytes, floor, probes)


def _search_then_encode(
    probe: budget.Encoder,
    final: budget.Encoder,
    baseline: bytes,
    ratio: float,
    quality: int,
    max_bytes: int,
    floor: int,
    probes: int,
) -> budget.Fit:
    fit = budget.search(probe, quality, int(max_bytes / ratio), floor, first=baseline)
    probes += fit.probes
    if fit.data is None:
        return budget.Fit(floor, None, int(fit.smallest_size * ratio), probes)
    q = fit.quality
    data = final(q)
    probes += 1
    while len(data) > max_bytes and q > floor:  # the ratio was off: step down, rarely taken
        q = max(floor, q - 2)
        data = final(q)
        probes += 1
    if len(data) > max_bytes:
        return budget.Fit(floor, None, len(data), probes)
    return budget.Fit(q, data, len(data), probes)


def _fit(
    image: pyvips.Image, fmt: str, quality: int, max_bytes: int, floor: int, size_hint: float | None = None
) -> budget.Fit:
    floor = max(1, min(floor, quality))
    large = image.width * image.height >= FAST_PROBE_MIN_PIXELS
    if fmt == "jpeg" and large and jpeg_options(image.width, image.height, quality)["interlace"]:
        return _fast_jpeg_fit(image, quality, max_bytes, floor, size_hint)
    return budget.search(encoder(image, fmt), quality, max_bytes, floor)


Shrinker = Callable[[Any, float], Any]
Fitter = Callable[[Any, str, int, int, int], budget.Fit]


def encode_within(
    image: pyvips.Image,
    variant: str,
    fmt: str,
    quality: int,
    max_bytes: int,
    floor: int,
    size_hint: float | None = None,
) -> Rendition:
    """Encode at `quality`, lower quality down to `floor` to meet `max_bytes`, and only then shrink."""
    fit = functools.partial(_fit, size_hint=size_hint)
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
