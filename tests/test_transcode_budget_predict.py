"""Budgets settled before the one progressive encode: predictions from what is known, sampled
estimates, and the search over them. Pure parts on made-up numbers; the rest on real libvips encodes."""

from __future__ import annotations

import pytest
import pyvips

from actors.transcode import budget, jpeg_fit
from actors.transcode.encode import encoder, jpeg_options
from actors.transcode.options import BudgetStats
from actors.transcode.probe import jpeg_luma_table


@pytest.mark.parametrize("quality", [20, 50, 75, 90, 95, 98])
def test_source_quality_reads_back_the_ijg_quality_of_a_jpeg(quality: int) -> None:
    data = pyvips.Image.black(64, 48).jpegsave_buffer(Q=quality)
    assert budget.source_quality(jpeg_luma_table(data)) == quality


def test_luma_table_absent_or_cut_short_is_none() -> None:
    data = pyvips.Image.black(64, 48).jpegsave_buffer(Q=80)
    dqt = data.index(b"\xff\xdb")
    assert jpeg_luma_table(data[: dqt + 10]) is None
    assert jpeg_luma_table(b"\xff\xd8\xff\xda\x00\x08" + bytes(8)) is None
    with pytest.raises(ValueError):
        budget.source_quality([1] * 10)


def test_predictions_move_with_quality_and_pack_detail_when_downscaling() -> None:
    assert budget.predict_size(1000, 90, 90) == pytest.approx(1000)
    assert budget.predict_size(1000, 95, 90) < 1000 < budget.predict_size(1000, 75, 90)
    # m(75) / m(90) = 0.5 / 0.2: with the prediction exponent 0.5, sqrt(2.5) times the bytes.
    assert budget.predict_size(1000, 75, 90) == pytest.approx(1000 * 2.5**0.5)
    assert budget.predict_resized(1000, 100, 100) == 1000
    assert budget.predict_resized(1000, 100, 400) == 4000  # upscaling adds no detail
    # 4x fewer pixels: a quarter of the bytes, times 2 ** DETAIL_EXPONENT for the denser detail.
    assert budget.predict_resized(1000, 400, 100) == pytest.approx(250 * 2**budget.DETAIL_EXPONENT)


def test_search_size_stops_close_under_the_aim_and_reports_misses() -> None:
    def size(q: int) -> float:
        return 1000 * budget.multiplier(q) ** -0.7

    found = budget.search_size(size, 90, 0.6 * size(90), 40, close_enough=0.95)
    assert found.fits and size(found.quality) <= 0.6 * size(90)
    assert size(found.quality + 1) > 0.6 * size(90) or size(found.quality) >= 0.95 * 0.6 * size(90)
    missed = budget.search_size(size, 90, 0.01 * size(90), 60)
    assert not missed.fits and missed.quality == 60 and missed.smallest_size > 0.01 * size(90)


def test_bands_sample_every_part_of_a_large_image_and_nothing_of_a_small_one() -> None:
    assert jpeg_fit.sample_bands(600, 450) == []
    bands = jpeg_fit.sample_bands(4000, 3000)
    assert all(w == 4000 and h == jpeg_fit.SAMPLE_BAND and y % 16 == 0 for _, y, w, h in bands)
    pixels = sum(w * h for *_, w, h in bands)
    assert 0.8 * jpeg_fit.SAMPLE_PIXELS <= pixels <= 1.3 * jpeg_fit.SAMPLE_PIXELS
    ys = [y for _, y, _, _ in bands]
    assert ys[0] < 3000 * 0.15 and ys[-1] > 3000 * 0.85  # top to bottom, not one region
    assert len({b - a for a, b in zip(ys, ys[1:])}) == 1  # evenly spaced


def photo(width: int, height: int) -> pyvips.Image:
    """Smooth colour with fine noise: compresses like a detailed photo."""
    noise = pyvips.Image.gaussnoise(width, height, sigma=18, mean=128, seed=7)
    xyz = pyvips.Image.xyz(width, height)
    image = (noise + xyz[0] * (60 / width)).bandjoin([noise * 0.8 + 30, xyz[1] * (150 / height) + noise * 0.3])
    return image.cast("uchar").copy(interpretation="srgb").copy_memory()


def counting(image: pyvips.Image) -> tuple[list[int], object]:
    calls: list[int] = []
    encode = encoder(image, "jpeg")

    def final(q: int) -> bytes:
        calls.append(q)
        return encode(q)

    return calls, final


@pytest.mark.parametrize("over", [1.15, 1.6, 3.0])
def test_a_binding_budget_costs_one_progressive_encode_and_fits(over: float) -> None:
    image = photo(1400, 1000)
    assert jpeg_options(image.width, image.height, 90)["interlace"]
    full = len(encoder(image, "jpeg")(90))
    max_bytes = int(full / over)
    calls, final = counting(image)
    stats = BudgetStats()
    fit = jpeg_fit.fit_progressive(final, image, 90, max_bytes, 30, None, stats)
    assert fit.data is not None and len(fit.data) <= max_bytes
    assert len(calls) == 1 and stats.discarded_progressive == 0
    assert 1 <= stats.probes <= budget.MAX_PROBES and stats.probe_pixels < image.width * image.height * 4
    # Near the best quality that fits: the estimates aim a few percent under the budget.
    best = next(q for q in range(90, 29, -1) if len(encoder(image, "jpeg")(q)) <= max_bytes)
    assert best - 3 <= fit.quality <= best


def test_a_prediction_far_under_the_budget_skips_every_probe() -> None:
    image = photo(1000, 700)
    size = len(encoder(image, "jpeg")(85))
    calls, final = counting(image)
    stats = BudgetStats()
    fit = jpeg_fit.fit_progressive(final, image, 85, size * 3, 60, predicted=size * 1.5, stats=stats)
    assert (fit.quality, calls, stats.probes) == (85, [85], 0)


def test_a_wrong_prediction_is_caught_and_still_fits() -> None:
    image = photo(1000, 700)
    size = len(encoder(image, "jpeg")(85))
    calls, final = counting(image)
    stats = BudgetStats()
    fit = jpeg_fit.fit_progressive(final, image, 85, int(size * 0.8), 40, predicted=size * 0.1, stats=stats)
    assert fit.data is not None and len(fit.data) <= size * 0.8
    assert calls[0] == 85 and len(calls) >= 2 and stats.discarded_progressive == len(calls) - 1
