"""The bench's yardsticks (naive libvips, tuned Pillow) make the same pictures as `transcode`, so
comparing their CPU time compares strategies, not different outputs."""

from __future__ import annotations

import pytest
from PIL import Image

import images
from actors.transcode import DEFAULT_VARIANTS, TranscodeError, TranscodeOptions, VariantSpec, transcode
from actors.transcode.naive import transcode_naive
from actors.transcode.pillow_backend import transcode_pillow
from conftest import corpus_file
from images import assert_clean, mean_abs_diff, pil

BACKENDS = [transcode_naive, transcode_pillow]
SMALL = TranscodeOptions(variants=(VariantSpec("medium", 600, 85, 100_000), VariantSpec("thumbnail", 150, 80, 30_000)))


@pytest.fixture(scope="module")
def photo_outputs() -> dict:
    source = corpus_file("phone-landscape-4608x1976.jpg").read_bytes()
    return {fn.__name__: fn(source) for fn in (transcode, transcode_naive, transcode_pillow)}


@pytest.mark.parametrize("name", ["transcode_naive", "transcode_pillow"])
def test_same_variants_sizes_and_budgets_as_ours(photo_outputs, name: str) -> None:
    ours = {r.variant: r for r in photo_outputs["transcode"].renditions}
    other = photo_outputs[name]
    assert (other.width, other.height) == (photo_outputs["transcode"].width, photo_outputs["transcode"].height)
    assert other.metadata == photo_outputs["transcode"].metadata
    budgets = {v.name: v.max_bytes for v in DEFAULT_VARIANTS}
    for rendition in other.renditions:
        mine = ours[rendition.variant]
        assert abs(rendition.width - mine.width) <= 1 and abs(rendition.height - mine.height) <= 1
        assert len(rendition.data) <= budgets[rendition.variant]
        assert_clean(rendition.data)
        assert mean_abs_diff(pil(mine.data), pil(rendition.data)) < 3


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda fn: fn.__name__)
@pytest.mark.parametrize(
    "make, code",
    [
        (images.png_bomb, "image_too_large"),
        (lambda: images.jpeg(Image.new("RGB", (100, 60))), "image_too_small"),
        (lambda: images.jpeg(images.noise(800, 600))[:60_000], "image_corrupt"),
        (lambda: b"%PDF-1.4 nothing to see", "unsupported_format"),
    ],
)
def test_yardsticks_refuse_the_same_files(backend, make, code: str) -> None:
    with pytest.raises(TranscodeError) as err:
        backend(make(), SMALL)
    assert err.value.code == code


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda fn: fn.__name__)
def test_yardsticks_orient_and_flatten(backend) -> None:
    picture = images.upright()
    medium = pil(backend(images.oriented_jpeg(8, picture), SMALL).renditions[0].data)
    assert mean_abs_diff(medium, picture) < 4
    flat = pil(backend(images.rgba_png(), SMALL).renditions[0].data)
    assert min(flat.getpixel((50, 150))) > 245
