"""Find the highest quality whose encode fits a byte budget, in a few encodes, and predict sizes
before encoding at all.

JPEG-like codecs scale their quantisers by m(q) = (200 - 2q) / 100 (q >= 50) or 50 / q, and the
output size follows size ~ C * m(q) ** -k closely for a given picture. One measured point plus a
typical k (about 0.6 for photos) predicts the quality for the budget; a second point fits k for that
very picture (a secant step in log-log space). That lands within budget in 2-3 encodes where a
linear walk down from q90 takes many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

Encoder = Callable[[int], bytes]

PRIOR_EXPONENT = 0.6  # measured on the corpus phone photos: 0.5-0.6 at 4:2:0
TARGET_FILL = 0.97  # aim a little under the budget so one encode usually suffices
MAX_PROBES = 4


@dataclass(frozen=True)
class Fit:
    """Outcome of a search: `data` is None when even `floor` is over budget (caller downscales)."""

    quality: int
    data: bytes | None
    smallest_size: int  # size at the lowest quality tried, to size a downscale
    probes: int


def multiplier(quality: int) -> float:
    quality = min(max(quality, 1), 100)
    return (200 - 2 * quality) / 100 if quality >= 50 else 50 / quality


def predict_quality(q1: int, s1: float, target: float, exponent: float) -> float:
    """Quality whose predicted size is `target`, given the size `s1` measured at `q1`."""
    m = max(multiplier(q1), 0.01) * (s1 / target) ** (1 / exponent)
    return 200 / 2 - 50 * m if m <= 1.0 else 50 / m


# IJG's luminance table (JPEG Annex K), in the zigzag order a DQT segment stores it.
_IJG_LUMA_ZIGZAG = (
    16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58,
    51, 61, 60, 57, 51, 56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81, 87, 95, 98, 103, 104, 103,
    62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99,
)
DETAIL_EXPONENT = 0.5  # bytes per pixel grow about as (downscale factor) ** 0.5: detail packs closer
PREDICTION_EXPONENT = 0.5  # the flattest size curve seen: moving quality by it over-predicts, safely


def source_quality(luma_table: Sequence[int]) -> int:
    """The IJG quality (1-100) whose scaled standard table is nearest `luma_table` (zigzag order).

    Phones and cameras often write their own tables; for those this is the IJG quality of the same
    average coarseness, which is what the size of a re-encode depends on.
    """
    if len(luma_table) != 64:
        raise ValueError("a JPEG quantisation table has 64 entries")
    scale = sum(100 * t / s for t, s in zip(luma_table, _IJG_LUMA_ZIGZAG)) / 64
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return min(100, max(1, round(quality)))


def predict_size(size: float, quality_from: int, quality_to: int, exponent: float = PREDICTION_EXPONENT) -> float:
    """The size at `quality_to` of a picture measured at `size` bytes at `quality_from`."""
    ratio = max(multiplier(quality_to), 0.01) / max(multiplier(quality_from), 0.01)
    return size * ratio ** -exponent


def predict_resized(size: float, pixels_from: int, pixels_to: int) -> float:
    """The size of the same picture at another pixel count (downscaling packs detail closer)."""
    if pixels_to >= pixels_from:
        return size * pixels_to / pixels_from
    shrink = math.sqrt(pixels_from / pixels_to)
    return size * (pixels_to / pixels_from) * shrink**DETAIL_EXPONENT


def fit_exponent(a: tuple[int, float], b: tuple[int, float]) -> float:
    (qa, sa), (qb, sb) = a, b
    ratio = math.log(max(multiplier(qb), 0.01) / max(multiplier(qa), 0.01))
    if ratio == 0 or sa <= 0 or sb <= 0:
        return PRIOR_EXPONENT
    return min(max(math.log(sa / sb) / ratio, 0.2), 2.5)


def search(encode: Encoder, quality: int, max_bytes: int, floor: int, first: bytes | None = None) -> Fit:
    """Highest-found quality in [floor, quality] whose encode is <= max_bytes, in <= MAX_PROBES encodes.

    `first` is the encode at `quality` if the caller already has it.
    """
    kept: dict[int, bytes] = {} if first is None else {quality: first}

    def measure(q: int) -> float:
        kept[q] = encode(q)
        return len(kept[q])

    found = search_size(measure, quality, max_bytes, floor, first=None if first is None else len(first))
    data = kept.get(found.quality) if found.fits else None
    return Fit(found.quality, data, int(found.smallest_size), found.probes)


@dataclass(frozen=True)
class SizeFit:
    """Outcome of a search over sizes (real or estimated): `fits` is False when even `floor` is over."""

    quality: int
    size: float
    fits: bool
    smallest_size: float
    probes: int
    exponent: float  # the size curve's exponent as measured on this picture (the prior if unmeasured)


def search_size(
    measure: Callable[[int], float],
    quality: int,
    max_size: float,
    floor: int,
    first: float | None = None,
    close_enough: float = 0.9,
) -> SizeFit:
    """Highest-found quality in [floor, quality] whose measured size is <= max_size.

    Keeps a bracket: the lowest quality seen over budget and the highest seen within it. Guesses
    extrapolate from over-budget points until one fits, then interpolate inside the bracket; it
    stops once a fitting size is within `close_enough` of `max_size` (more would buy little quality).
    """
    size = first if first is not None else measure(quality)
    probes = 0 if first is not None else 1
    if size <= max_size:
        return SizeFit(quality, size, True, size, probes, PRIOR_EXPONENT)
    over: list[tuple[int, float]] = [(quality, size)]  # (quality, size) over budget, descending q
    best: tuple[int, float] | None = None  # highest quality within budget
    exponent = PRIOR_EXPONENT
    target = max_size * TARGET_FILL
    while probes < MAX_PROBES:
        low = best[0] + 1 if best else floor
        high = over[-1][0] - 1
        if low > high:
            break
        if best:
            exponent = fit_exponent(best, over[-1])
        elif len(over) >= 2:
            exponent = fit_exponent(over[-2], over[-1])
        guess = math.floor(predict_quality(over[-1][0], over[-1][1], target, exponent))
        q = min(max(guess, low), high)
        size = measure(q)
        probes += 1
        if size <= max_size:
            best = (q, size)
            if size >= max_size * close_enough:
                break
        else:
            over.append((q, size))
    if best:
        return SizeFit(best[0], best[1], True, best[1], probes, exponent)
    return SizeFit(floor, over[-1][1], False, over[-1][1], probes, exponent)
