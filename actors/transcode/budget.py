"""Find the highest quality whose encode fits a byte budget, in a few encodes.

JPEG-like codecs scale their quantisers by m(q) = (200 - 2q) / 100 (q >= 50) or 50 / q, and the
output size follows size ~ C * m(q) ** -k closely for a given picture. One measured point plus a
typical k (about 0.6 for photos) predicts the quality for the budget; a second point fits k for that
very picture (a secant step in log-log space). That lands within budget in 2-3 encodes where a
linear walk down from q90 takes many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

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


def fit_exponent(a: tuple[int, int], b: tuple[int, int]) -> float:
    (qa, sa), (qb, sb) = a, b
    ratio = math.log(max(multiplier(qb), 0.01) / max(multiplier(qa), 0.01))
    if ratio == 0 or sa <= 0 or sb <= 0:
        return PRIOR_EXPONENT
    return min(max(math.log(sa / sb) / ratio, 0.2), 2.5)


def search(encode: Encoder, quality: int, max_bytes: int, floor: int, first: bytes | None = None) -> Fit:
    """Highest-found quality in [floor, quality] whose encode is <= max_bytes, in <= MAX_PROBES encodes.

    Keeps a bracket: the lowest quality seen over budget and the highest seen within it. Guesses
    extrapolate from over-budget points until one fits, then interpolate inside the bracket.
    `first` is the encode at `quality` if the caller already has it.
    """
    data = first if first is not None else encode(quality)
    probes = 0 if first is not None else 1
    if len(data) <= max_bytes:
        return Fit(quality, data, len(data), probes)
    over: list[tuple[int, int]] = [(quality, len(data))]  # (quality, size) over budget, descending q
    best: tuple[int, bytes] | None = None  # highest quality within budget
    target = max_bytes * TARGET_FILL
    while probes < MAX_PROBES:
        low = best[0] + 1 if best else floor
        high = over[-1][0] - 1
        if low > high:
            break
        if best:
            exponent = fit_exponent((best[0], len(best[1])), over[-1])
        elif len(over) >= 2:
            exponent = fit_exponent(over[-2], over[-1])
        else:
            exponent = PRIOR_EXPONENT
        guess = math.floor(predict_quality(over[-1][0], over[-1][1], target, exponent))
        q = min(max(guess, low), high)
        data = encode(q)
        probes += 1
        if len(data) <= max_bytes:
            best = (q, data)
            if len(data) >= max_bytes * 0.9:
                break  # close to the budget: more probes would buy little quality
        else:
            over.append((q, len(data)))
    if best:
        return Fit(best[0], best[1], len(best[1]), probes)
    return Fit(floor, None, over[-1][1], probes)
