"""The quality search as pure logic, against a synthetic codec whose size curve we choose."""

from __future__ import annotations

import pytest

from actors.transcode import budget
from actors.transcode.metadata import extract


def codec(scale: float, exponent: float):
    """size(q) = scale * m(q) ** -exponent, the shape real JPEG encoders follow; counts calls."""
    calls: list[int] = []

    def encode(quality: int) -> bytes:
        calls.append(quality)
        return b"x" * int(scale * budget.multiplier(quality) ** -exponent)

    return encode, calls


@pytest.mark.parametrize("exponent", [0.4, 0.6, 0.9, 1.3])
@pytest.mark.parametrize("over", [1.1, 1.6, 3.0])
def test_search_fits_in_few_encodes_and_near_the_best_quality(exponent: float, over: float) -> None:
    max_bytes = 100_000
    encode, _ = codec(1.0, exponent)
    scale = over * max_bytes / len(encode(90))  # size at q90 is `over` times the budget
    encode, calls = codec(scale, exponent)
    fit = budget.search(encode, 90, max_bytes, 10)
    assert len(calls) <= budget.MAX_PROBES
    fitting = [q for q in range(10, 91) if len(encode(q)) <= max_bytes]
    if not fitting:  # a flat curve 3x over budget cannot fit even at the floor
        assert fit.data is None and fit.quality == 10
        return
    assert fit.data is not None and len(fit.data) <= max_bytes
    assert max(fitting) - 4 <= fit.quality <= max(fitting)


def test_fitting_first_encode_is_the_only_encode() -> None:
    encode, calls = codec(1000.0, 0.6)
    fit = budget.search(encode, 85, 10_000, 60)
    assert (fit.quality, fit.probes, calls) == (85, 1, [85])


def test_budget_below_the_floor_reports_no_data_and_the_smallest_size() -> None:
    encode, calls = codec(500_000.0, 0.6)
    fit = budget.search(encode, 90, 1_000, 60)
    assert fit.data is None and fit.quality == 60
    assert fit.smallest_size == len(encode(60))
    assert len(calls) <= budget.MAX_PROBES + 1


def test_metadata_of_garbage_exif_is_all_none() -> None:
    for blob in (b"", b"Exif\0\0garbage", b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + bytes(50), bytes(range(256))):
        meta = extract(blob, 10, 20, store_gps=True)
        assert meta["taken_at"] is None and meta["camera_make"] is None
        assert (meta["original_width"], meta["original_height"]) == (10, 20)


def test_dominant_color_is_the_largest_family_not_the_largest_cluster() -> None:
    from PIL import Image, ImageDraw

    from actors.transcode.placeholder import dominant_color

    # 40% flat red beats no single blue shade, but the blue family (60%, in shades) wins.
    image = Image.new("RGB", (30, 20), (200, 30, 30))
    draw = ImageDraw.Draw(image)
    for i, x in enumerate(range(12, 30, 3)):
        draw.rectangle((x, 0, x + 2, 19), fill=(20, 40, 150 + 8 * i))
    r, g, b = (int(dominant_color(image)[i : i + 2], 16) for i in (1, 3, 5))
    assert b > 140 and r < 60
