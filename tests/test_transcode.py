"""The production transcode on real phone photos and on generated hard cases.

Outputs are judged as pictures (sizes, colours, similarity to an upright reference decoded by
Pillow), never by bytes. One transcode per real photo, shared by the tests through fixtures.
"""

from __future__ import annotations

import io
import re

import blurhash
import pytest
import pyvips
from PIL import Image, ImageOps, ImageStat

import images
from images import METADATA_FIELD, assert_clean, mean_abs_diff, pil
from actors.transcode import DEFAULT_VARIANTS, TranscodeError, TranscodeOptions, VariantSpec, transcode
from conftest import corpus_file

PHOTOS = ["phone-landscape-4608x1976.jpg", "phone-3264x2448.jpg", "phone-4608x1976.heif", "camera-with-gps.jpg"]


@pytest.fixture(scope="module")
def photo_results() -> dict:
    return {}


@pytest.fixture(params=PHOTOS)
def photo(request, photo_results) -> tuple[str, bytes, object]:
    name = request.param
    source = corpus_file(name).read_bytes()
    if name not in photo_results:
        photo_results[name] = transcode(source)
    return name, source, photo_results[name]


def upright_reference(source: bytes, side: int = 600) -> Image.Image:
    """The source as a viewer shows it, decoded independently by Pillow (pillow-heif for HEIF)."""
    if source[4:8] == b"ftyp":
        import pillow_heif

        image = pillow_heif.open_heif(source).to_pillow()
    else:
        image = Image.open(io.BytesIO(source))
        image.draft("RGB", (side, side))
        image = ImageOps.exif_transpose(image)
    image = image.convert("RGB")
    image.thumbnail((side, side))
    return image


# --- real photos ---------------------------------------------------------------------------


def test_variants_fit_their_box_keep_aspect_and_budget(photo) -> None:
    name, _, result = photo
    specs = {v.name: v for v in DEFAULT_VARIANTS}
    assert [r.variant for r in result.renditions] == [v.name for v in DEFAULT_VARIANTS]
    for rendition in result.renditions:
        spec = specs[rendition.variant]
        image = pil(rendition.data)
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size == (rendition.width, rendition.height)
        longer = max(result.width, result.height)
        assert max(image.size) == min(spec.max_side, longer)  # fits the box, never upscaled
        assert abs(image.width / image.height - result.width / result.height) < 0.02
        assert len(rendition.data) <= spec.max_bytes
        assert 60 <= rendition.quality <= spec.quality


def test_variants_look_like_the_upright_source(photo) -> None:
    _, source, result = photo
    reference = upright_reference(source)
    for rendition in result.renditions:
        image = pil(rendition.data)
        assert mean_abs_diff(image, reference) < 12, rendition.variant
        # The thumbnail keeps the overall colour (no colour-space or channel mix-up).
        for got, want in zip(ImageStat.Stat(image).mean, ImageStat.Stat(reference).mean):
            assert abs(got - want) < 8


def test_no_metadata_survives_in_any_variant(photo) -> None:
    _, _, result = photo
    for rendition in result.renditions:
        assert_clean(rendition.data)


def test_large_variants_are_progressive_small_ones_baseline(photo) -> None:
    _, _, result = photo
    for rendition in result.renditions:
        progressive = pil(rendition.data).info.get("progressive", 0) == 1
        assert progressive == (max(rendition.width, rendition.height) >= 400)


def test_placeholder_decodes_and_dominant_color_is_hex(photo) -> None:
    _, _, result = photo
    assert blurhash.is_valid_blurhash(result.placeholder)
    blurred = blurhash.decode(result.placeholder, 30, 20).convert("RGB")
    # The blur keeps the picture's overall tone: compare with the smallest variant's mean.
    thumbnail = pil(result.renditions[0].data)
    for got, want in zip(ImageStat.Stat(blurred).mean, ImageStat.Stat(thumbnail).mean):
        assert abs(got - want) < 25
    assert re.fullmatch(r"#[0-9a-f]{6}", result.dominant_color)


def test_camera_metadata_extracted_gps_only_on_request() -> None:
    source = corpus_file("camera-with-gps.jpg").read_bytes()
    plain = transcode(source)
    assert plain.metadata["camera_make"] == "NIKON"
    assert plain.metadata["camera_model"] == "COOLPIX P6000"
    assert plain.metadata["taken_at"] == "2008-10-22T16:28:39"
    assert (plain.metadata["original_width"], plain.metadata["original_height"]) == (640, 480)
    assert "gps" not in plain.metadata
    with_gps = transcode(source, TranscodeOptions(store_gps=True))
    gps = with_gps.metadata["gps"]
    assert -90 <= gps["latitude"] <= 90 and -180 <= gps["longitude"] <= 180
    assert gps["latitude"] != 0 and gps["longitude"] != 0
    for rendition in with_gps.renditions:
        assert_clean(rendition.data)  # storing GPS in the database never puts it in a file


def test_phone_metadata_has_offset_time() -> None:
    result = transcode(corpus_file("phone-landscape-4608x1976.jpg").read_bytes(), TranscodeOptions(variants=DEFAULT_VARIANTS[:1]))
    assert result.metadata["taken_at"] == "2022-08-14T14:12:31+03:00"
    assert result.metadata["camera_make"] == "HMD Global"


def test_tiny_photo_is_refused_as_too_small() -> None:
    with pytest.raises(TranscodeError) as err:
        transcode(corpus_file("tiny-100x68.jpg").read_bytes())
    assert err.value.code == "image_too_small" and err.value.final


# --- generated hard cases ------------------------------------------------------------------

SMALL = TranscodeOptions(variants=(VariantSpec("medium", 600, 85, 100_000), VariantSpec("thumbnail", 150, 80, 30_000)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_shown_upright(orientation: int) -> None:
    picture = images.upright()
    result = transcode(images.oriented_jpeg(orientation, picture), SMALL)
    assert (result.width, result.height) == picture.size
    medium = pil(result.renditions[0].data)
    assert medium.size == picture.size  # 480x320 fits 600: not resized, not upscaled
    assert mean_abs_diff(medium, picture) < 4
    # Any wrong transform moves the red bar out of the top-left corner.
    r, g, b = medium.getpixel((20, 20))
    assert r > 180 and g < 80 and b < 80


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_orientation_in_png_and_webp(fmt: str) -> None:
    picture = images.upright()
    result = transcode(images.oriented_jpeg(6, picture, fmt), SMALL)
    assert (result.width, result.height) == picture.size
    assert mean_abs_diff(pil(result.renditions[0].data), picture) < 4


def test_orientation_and_downscale_together() -> None:
    picture = images.upright(1200, 800)
    result = transcode(images.oriented_jpeg(6, picture), SMALL)
    assert (result.width, result.height) == (1200, 800)
    medium = pil(result.renditions[0].data)
    assert medium.size == (600, 400)
    assert mean_abs_diff(medium, picture) < 4


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "AVIF", "GIF"])
def test_other_input_formats_decode_to_the_same_picture(fmt: str) -> None:
    picture = images.upright()
    if fmt == "AVIF":  # saved with libvips: Pillow's AVIF writer may be absent
        vimage = pyvips.Image.new_from_memory(picture.tobytes(), picture.width, picture.height, 3, "uchar")
        data = vimage.heifsave_buffer(compression="av1", Q=90, effort=0)
    else:
        out = io.BytesIO()
        picture.save(out, fmt)
        data = out.getvalue()
    result = transcode(data, SMALL)
    assert mean_abs_diff(pil(result.renditions[0].data), picture) < 6


def test_greyscale_jpeg_comes_out_as_rgb() -> None:
    picture = images.upright().convert("L")
    image = pil(transcode(images.jpeg(picture), SMALL).renditions[0].data)
    assert image.mode == "RGB"
    assert mean_abs_diff(image, picture.convert("RGB")) < 4


def test_cmyk_jpeg_becomes_srgb_with_the_right_hues() -> None:
    result = transcode(images.cmyk_jpeg(), SMALL)
    image = pil(result.renditions[0].data)
    assert image.mode == "RGB"
    cyan, yellow = image.getpixel((50, 150)), image.getpixel((350, 150))
    assert cyan[0] < 90 and cyan[2] > 150 and cyan[1] > 120  # not inverted (that would be red)
    assert yellow[0] > 200 and yellow[1] > 200 and yellow[2] < 90
    assert_clean(result.renditions[0].data)


def test_adobe_rgb_is_converted_to_srgb() -> None:
    color = (40, 200, 60)
    source, expected = images.adobe_rgb_jpeg(color)
    image = pil(transcode(source, SMALL).renditions[0].data)
    got = image.getpixel((150, 100))
    assert all(abs(a - b) <= 6 for a, b in zip(got, expected)), (got, expected)
    assert any(abs(a - b) > 15 for a, b in zip(got, color))  # really converted, not passed through


def test_sixteen_bit_png_is_reduced_to_eight_bit_srgb() -> None:
    result = transcode(images.png16((65535, 32768, 8192)), SMALL)
    image = pil(result.renditions[0].data)
    assert image.mode == "RGB"
    got = image.getpixel((100, 100))
    assert all(abs(a - b) <= 4 for a, b in zip(got, (255, 128, 32))), got


def test_alpha_is_flattened_onto_white() -> None:
    image = pil(transcode(images.rgba_png(), SMALL).renditions[0].data)
    assert min(image.getpixel((50, 150))) > 245  # transparent half
    r, g, b = image.getpixel((350, 150))
    assert r > 180 and g < 60 and b < 60


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_becomes_a_still_of_the_first_frame(fmt: str) -> None:
    result = transcode(images.animated(fmt), SMALL)
    image = pil(result.renditions[0].data)
    assert image.size == (320, 240)  # one frame, not the whole strip
    r, g, b = ImageStat.Stat(image).mean
    assert r > 180 and b < 60


def test_too_many_frames_is_too_large() -> None:
    with pytest.raises(TranscodeError) as err:
        transcode(images.animated("GIF", frames=5), TranscodeOptions(max_frames=3))
    assert err.value.code == "image_too_large"


def test_pixel_limit_is_judged_from_the_header() -> None:
    with pytest.raises(TranscodeError) as err:
        transcode(images.jpeg(images.upright()), TranscodeOptions(max_pixels=480 * 320 - 1))
    assert err.value.code == "image_too_large"


def test_png_bomb_is_refused_from_its_header() -> None:
    bomb = images.png_bomb()
    assert len(bomb) < 1_000_000
    with pytest.raises(TranscodeError) as err:
        transcode(bomb)
    assert err.value.code == "image_too_large" and "30000x30000" in err.value.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_file_is_corrupt(fmt: str) -> None:
    out = io.BytesIO()
    images.noise(800, 600).save(out, fmt)
    whole = out.getvalue()
    with pytest.raises(TranscodeError) as err:
        transcode(whole[: len(whole) * 2 // 3], SMALL)
    assert err.value.code == "image_corrupt" and err.value.final


def test_truncated_heif_is_corrupt() -> None:
    whole = corpus_file("phone-4608x1976.heif").read_bytes()
    with pytest.raises(TranscodeError) as err:
        transcode(whole[: len(whole) // 2], SMALL)
    assert err.value.code == "image_corrupt"


@pytest.mark.parametrize(
    "data, code",
    [
        (b"%PDF-1.7\n" + bytes(range(256)) * 40, "unsupported_format"),
        (b"II*\0" + bytes(2000), "unsupported_format"),  # TIFF: a loader we never allow
        (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40, "image_corrupt"),
        (b"GIF89a" + b"<script>alert(1)</script>" * 80, "image_corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"PK\x03\x04" * 500, "image_corrupt"),
        (b"", "unsupported_format"),
    ],
)
def test_garbage_is_refused_with_a_reason(data: bytes, code: str) -> None:
    with pytest.raises(TranscodeError) as err:
        transcode(data)
    assert err.value.code == code


def test_polyglot_tail_is_not_carried_into_outputs() -> None:
    payload = b"PK\x03\x04<html><script>alert(document.cookie)</script></html>" * 20
    result = transcode(images.jpeg(images.upright()) + payload, SMALL)
    for rendition in result.renditions:
        assert b"<script>" not in rendition.data and b"PK\x03\x04" not in rendition.data
        assert_clean(rendition.data)


def test_broken_exif_does_not_fail_a_good_picture() -> None:
    result = transcode(images.broken_exif_jpeg(), SMALL)
    assert result.metadata["taken_at"] is None and result.metadata["camera_make"] is None
    assert mean_abs_diff(pil(result.renditions[0].data), images.upright()) < 4


def test_budget_lowers_quality_before_size() -> None:
    options = TranscodeOptions(variants=(VariantSpec("medium", 600, 90, 120_000),))
    rendition = transcode(images.jpeg(images.noise(900, 600), quality=95), options).renditions[0]
    assert len(rendition.data) <= 120_000
    assert 60 <= rendition.quality < 90
    assert (rendition.width, rendition.height) == (600, 400)  # quality alone was enough


def test_budget_shrinks_only_below_the_quality_floor() -> None:
    options = TranscodeOptions(variants=(VariantSpec("medium", 600, 90, 40_000),), quality_floor=70)
    rendition = transcode(images.jpeg(images.noise(900, 600), quality=95), options).renditions[0]
    assert len(rendition.data) <= 40_000
    assert rendition.quality == 70
    assert rendition.width < 600 and abs(rendition.width / rendition.height - 1.5) < 0.02
    assert pil(rendition.data).size == (rendition.width, rendition.height)


def test_webp_and_avif_renditions_when_asked() -> None:
    options = TranscodeOptions(variants=SMALL.variants, formats=("jpeg", "webp", "avif"))
    result = transcode(images.jpeg(images.upright()), options)
    assert [(r.variant, r.format) for r in result.renditions] == [
        (v, f) for v in ("medium", "thumbnail") for f in ("jpeg", "webp", "avif")
    ]
    for rendition in result.renditions:
        decoded = pyvips.Image.new_from_buffer(rendition.data, "")
        assert (decoded.width, decoded.height) == (rendition.width, rendition.height)
        assert [f for f in decoded.get_fields() if METADATA_FIELD.match(f)] == []
        as_rgb = Image.frombytes("RGB", (decoded.width, decoded.height), decoded[:3].write_to_memory())
        assert mean_abs_diff(as_rgb, images.upright()) < 6
