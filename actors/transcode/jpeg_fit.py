"""A progressive JPEG within its byte budget for the price of one progressive encode.

A progressive encode costs about six baseline ones (libjpeg optimises the Huffman tables of each of
its ten scans), so the budget is settled before it, on cheaper evidence:
- a prediction from what is already known (the source JPEG's bytes and quality, or the encode of
  the previous, larger variant) lets the common case, a budget far away, skip every probe;
- otherwise an estimate encodes every k-th band of 16 rows (one 4:2:0 MCU row) as optimised
  baseline (a small image: all of it, with the standard tables). On the corpus its bytes, scaled to
  the whole image, were 1.00-1.07x the progressive size, at 1/20-1/40 of its cost. The
  quality search runs on estimates, aiming under the budget by that spread, and then the one
  progressive encode is made.
If the progressive encode still lands over (a picture unlike the corpus, or a wrong prediction), the
estimator is recalibrated on that real size and the search goes on: the only path with a second
progressive encode, counted in `BudgetStats.discarded_progressive`.
"""

from __future__ import annotations

import time
from typing import Callable

import pyvips

from . import budget
from .options import BudgetStats

SAMPLE_BAND = 16  # one MCU row at 4:2:0: bands never split a block row
SAMPLE_PIXELS = 300_000  # below twice this the whole image is the sample; above, about this many
# Progressive bytes / estimate, medians on the corpus: a sample is encoded with optimised tables
# (closer to progressive, and their cost is spread over many pixels); a whole small image with the
# standard tables, which cost a third as much there.
SAMPLED_RATIO = 0.966
WHOLE_RATIO = 0.925
# Aim the estimate this far under the budget, by its spread on the corpus (wider for a sample).
SAMPLED_FILL = 0.955
WHOLE_FILL = 0.98
TRUST_PREDICTION = 0.9  # a prediction at most this share of the budget skips the probes
# Stop searching once the estimate is this close under its aim. A whole small image's probe costs a
# millisecond, so it searches closer (the corpus camera photo's medium: q82 as before, not q80).
SAMPLED_CLOSE_ENOUGH = 0.95
WHOLE_CLOSE_ENOUGH = 0.985
MAX_RECALIBRATIONS = 3


class Estimator:
    """quality -> estimated progressive bytes of `image`, from its sampled rows; counts its cost."""

    def __init__(self, image: pyvips.Image, stats: BudgetStats) -> None:
        self.stats = stats
        tiles = sample_bands(image.width, image.height)
        self.sampled = bool(tiles)
        self.ratio = SAMPLED_RATIO if self.sampled else WHOLE_RATIO
        self.fill = SAMPLED_FILL if self.sampled else WHOLE_FILL
        self.close_enough = SAMPLED_CLOSE_ENOUGH if self.sampled else WHOLE_CLOSE_ENOUGH
        if tiles:
            crops = [image.crop(x, y, w, h) for x, y, w, h in tiles]
            self.sample = pyvips.Image.arrayjoin(crops, across=1) if len(crops) > 1 else crops[0]
            self.scale = image.width * image.height / sum(w * h for _, _, w, h in tiles)
        else:
            self.sample, self.scale = image, 1.0
        self._seen: dict[int, float] = {}

    def raw(self, quality: int) -> float:
        """Scaled bytes of the sample at `quality`, before the progressive ratio."""
        if quality not in self._seen:
            start = time.process_time()
            data = self.sample.jpegsave_buffer(Q=quality, subsample_mode="on", optimize_coding=self.sampled, keep=0)
            self.stats.cpu_s += time.process_time() - start
            self.stats.probes += 1
            self.stats.probe_pixels += self.sample.width * self.sample.height
            self._seen[quality] = len(data) * self.scale
        return self._seen[quality]

    def __call__(self, quality: int) -> float:
        return self.raw(quality) * self.ratio

    def calibrate(self, quality: int, real_size: int) -> None:
        """This picture's own ratio, from a real progressive encode."""
        self.ratio = real_size / self.raw(quality)


def sample_bands(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) bands of one MCU row, about SAMPLE_PIXELS in all, or [] for the whole image.

    A systematic sample with each band in the middle of its stride. (Tiles staggered across the
    columns were tried: DC prediction restarting at every tile made them 1-18% heavier than the
    image, where whole rows stayed within 0-7%.)
    """
    if width * height < 2 * SAMPLE_PIXELS:
        return []
    stride = max(1, (width * height) // SAMPLE_PIXELS)
    starts = range((stride // 2) * SAMPLE_BAND, height, stride * SAMPLE_BAND)
    return [(0, y, width, min(SAMPLE_BAND, height - y)) for y in starts]


def fit_progressive(
    final: Callable[[int], bytes],
    image: pyvips.Image,
    quality: int,
    max_bytes: int,
    floor: int,
    predicted: float | None,
    stats: BudgetStats,
) -> budget.Fit:
    """Highest quality in [floor, quality] whose progressive encode (`final`) fits `max_bytes`."""
    estimate = Estimator(image, stats)
    if predicted is not None and predicted <= max_bytes * TRUST_PREDICTION:
        q = quality
    else:
        found = budget.search_size(estimate, quality, max_bytes * estimate.fill, floor,
                                   close_enough=estimate.close_enough)
        if not found.fits:
            return budget.Fit(floor, None, int(found.smallest_size), stats.probes)
        q = found.quality
    for _ in range(MAX_RECALIBRATIONS + 1):
        start = time.process_time()
        data = final(q)
        if len(data) <= max_bytes:
            return budget.Fit(q, data, len(data), stats.probes)
        stats.cpu_s += time.process_time() - start  # thrown away: all of it was the budget's cost
        stats.discarded += 1
        stats.discarded_progressive += 1
        if q <= floor:
            break
        estimate.calibrate(q, len(data))
        found = budget.search_size(estimate, q, max_bytes * estimate.fill, floor, first=estimate(q),
                                   close_enough=estimate.close_enough)
        if not found.fits:
            return budget.Fit(floor, None, int(found.smallest_size), stats.probes)
        q = min(found.quality, q - 1)
    return budget.Fit(floor, None, len(data), stats.probes)
