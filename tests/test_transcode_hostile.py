"""Hostile and broken files, each built here in a few KB: every one must end as a TranscodeError with
the right code, or as clean metadata-free renditions, quickly and without a raw library exception
(which the pipeline would treat as retryable and run again for nothing)."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
import pyvips
from PIL import Image

import images
from images import assert_clean, pil
from actors.transcode import TranscodeError, TranscodeOptions, VariantSpec, transcode

SMALL = TranscodeOptions(variants=(VariantSpec("thumbnail", 150, 80, 30_000),), formats=("jpeg", "webp", "avif"))


def _refused(data: bytes, code: str, options: TranscodeOptions = SMALL) -> TranscodeError:
    with pytest.raises(TranscodeError) as err:
        transcode(data, options)
    assert err.value.code == code and err.value.final
    return err.value


# --- JPEG scan bomb ---------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int, int]]:
    """(start, marker, header end, entropy-data end) of each segment up to EOI."""
    pos, out = 2, []
    while True:
        marker = data[pos + 1]
        if marker == 0xD9:
            return out
        end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        stop = end
        if marker == 0xDA:
            while data[stop] != 0xFF or data[stop + 1] == 0 or 0xD0 <= data[stop + 1] <= 0xD7:
                stop += 1
        out.append((pos, marker, end, stop))
        pos = stop


def scan_bomb(side: int, repeats: int) -> bytes:
    """A flat progressive JPEG whose first AC scan (rewritten to full precision, Al=0, so a repeat is
    legal to libjpeg and draws no warning) is repeated: each repeat is ~100 bytes of end-of-band runs
    but a full pass over every coefficient block of the image."""
    out = io.BytesIO()
    Image.new("L", (side, side), 128).save(out, "JPEG", progressive=True, quality=90)
    data = out.getvalue()
    pieces, repeated = [data[:2]], False
    for start, marker, end, stop in _jpeg_segments(data):
        if marker == 0xDA:
            header = data[start:end]
            spectral = 5 + 2 * header[4]
            first_ac = header[spectral] > 0 and header[spectral + 2] >> 4 == 0
            if first_ac and not repeated:
                header = header[: spectral + 2] + b"\0" + header[spectral + 3 :]
                pieces.append((header + data[end:stop]) * repeats)
                repeated = True
            if header[spectral] > 0 or header[spectral + 2] >> 4:
                continue  # the other AC and refinement scans would now contradict the precision
        pieces.append(data[start:stop])
    return b"".join(pieces) + b"\xff\xd9"


def test_progressive_jpeg_scan_bomb_is_refused_before_decoding() -> None:
    bomb = scan_bomb(2000, 3000)
    assert len(bomb) < 400_000
    started = time.process_time()
    err = _refused(bomb, "image_corrupt")
    assert "scans" in err.message
    # Refused from its markers: far below one full decode pass per scan (seconds here).
    assert time.process_time() - started < 0.5


def test_few_repeated_scans_still_decode() -> None:
    result = transcode(scan_bomb(400, 20), SMALL)
    assert pil(result.renditions[0].data).getpixel((10, 10))[0] in range(120, 137)


def test_scans_of_exif_thumbnail_and_appended_images_are_not_counted() -> None:
    """APPn payloads and bytes after the primary image's EOI (phone gain maps, polyglot tails) may
    hold FF DA pairs; only the primary image's own scans cost decode passes."""
    thumb = images.jpeg(Image.new("RGB", (160, 120), (10, 200, 10)))
    exif = Image.Exif()
    exif[0x010F] = "Phone"
    primary = images.jpeg(images.upright(), exif=exif.tobytes() + b"\xff\xda" * 300, progressive=True)
    result = transcode(primary + thumb * 40 + b"\xff\xda\x00\x08" * 500, SMALL)
    assert len(result.renditions) == 3


# --- header bombs: refused before any pixel is decoded ---------------------------------------


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = images.jpeg(images.upright(160, 160))
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def _gif(frames: int, screen: tuple[int, int] = (160, 160), frame: tuple[int, int] = (1, 1)) -> bytes:
    """Hand-written GIF of `frames` 1-pixel-data frames (~20 bytes each)."""
    head = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    one = b"\x21\xf9\x04\x00\x01\x00\x00\x00\x2c" + struct.pack("<HHHHB", 0, 0, *frame, 0) + b"\x02\x02\x44\x01\x00"
    return head + one * frames + b"\x3b"


def _webp_frames(count: int) -> bytes:
    frames = []
    for i in range(count):
        frame = Image.new("RGB", (160, 160))
        frame.putpixel((i % 160, i // 160), (255, 255, 255))  # distinct, so Pillow keeps every frame
        frames.append(frame)
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=10, lossless=True)
    return out.getvalue()


def _avif_declaring(width: int, height: int) -> bytes:
    data = bytearray(pyvips.Image.black(200, 200).heifsave_buffer(compression="av1"))
    at = data.find(b"ispe")
    while at != -1:
        data[at + 8 : at + 16] = struct.pack(">II", width, height)
        at = data.find(b"ispe", at + 4)
    return bytes(data)


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda: _jpeg_claiming(65500, 65500), "image_too_large"),
        (lambda: images.png_file(100_000, 100_000, 8, 0, zlib.compress(b"\0" * 10)), "image_too_large"),
        (lambda: images.png_file(2**31 - 1, 2**31 - 1, 8, 0, zlib.compress(b"\0")), "image_corrupt"),
        (lambda: images.png_file(0, 500, 8, 0, zlib.compress(b"\0" * 500)), "image_corrupt"),
        (lambda: _gif(5000), "image_too_large"),
        (lambda: _gif(1, frame=(65535, 65535)), "image_too_large"),
        (lambda: _webp_frames(1001), "image_too_large"),
        (lambda: _avif_declaring(60000, 60000), "image_too_large"),
        (lambda: _avif_declaring(9000, 9000), "image_corrupt"),  # ispe disagrees with the AV1 data
        (lambda: b"\xff\xd8\xff", "image_corrupt"),
        (lambda: b"\x89PNG\r\n\x1a\n", "image_corrupt"),
        (lambda: b"GIF89a", "image_corrupt"),
        (lambda: b"RIFF\0\0\0\0WEBP", "image_corrupt"),
        (lambda: b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "image_corrupt"),
    ],
    ids=[
        "jpeg-65500", "png-huge-tiny-idat", "png-2^31", "png-zero-width", "gif-5000-frames",
        "gif-huge-frame", "webp-1001-frames", "avif-ispe-60000", "avif-ispe-lies", "jpeg-magic",
        "png-magic", "gif-magic", "webp-magic", "heif-magic",
    ],
)
def test_hostile_headers_are_refused_with_their_reason(make, code: str) -> None:
    _refused(make(), code)


# --- broken but displayable: clean outputs, never a raw exception ----------------------------


def _png_with_chunk(kind: bytes, body: bytes) -> bytes:
    out = io.BytesIO()
    images.upright().save(out, "PNG")
    data = out.getvalue()
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return data[:33] + chunk + data[33:]  # right after IHDR


def _deflate_bomb(megabytes: int) -> bytes:
    comp = zlib.compressobj(9)
    return b"".join(comp.compress(b"A" * 2**20) for _ in range(megabytes)) + comp.flush()


def _jpeg_with_app1(payload: bytes) -> bytes:
    good = images.jpeg(images.upright())
    return good[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + good[2:]


def _looping_exif() -> bytes:
    """IFD0's Exif and GPS pointers and its next-IFD link all point back at IFD0."""
    entries = struct.pack("<HHII", 0x8769, 4, 1, 8) + struct.pack("<HHII", 0x8825, 4, 1, 8)
    return _jpeg_with_app1(b"Exif\0\0II*\0" + struct.pack("<I", 8) + struct.pack("<H", 2) + entries + struct.pack("<I", 8))


def _xmp_gps() -> bytes:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.5N"'
        b' exif:GPSLongitude="2,21.0E"/></rdf:RDF></x:xmpmeta>'
    )
    return _jpeg_with_app1(b"http://ns.adobe.com/xap/1.0/\0" + xmp)


def _bogus_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return images.jpeg(images.upright(), exif=exif.tobytes())


@pytest.mark.parametrize(
    "make",
    [
        lambda: _png_with_chunk(b"iCCP", b"evil\0\0" + _deflate_bomb(100)),
        lambda: _png_with_chunk(b"zTXt", b"Comment\0\0" + _deflate_bomb(100)),
        lambda: _png_with_chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + _deflate_bomb(100)),
        _looping_exif,
        _xmp_gps,
        lambda: _bogus_orientation(0),
        lambda: _bogus_orientation(9),
        lambda: _bogus_orientation(65535),
    ],
    ids=["png-iccp-bomb", "png-ztxt-bomb", "png-xmp-bomb", "exif-loop", "xmp-only-gps", "orient-0", "orient-9", "orient-65535"],
)
def test_broken_metadata_gives_the_upright_picture_and_no_metadata(make) -> None:
    result = transcode(make(), SMALL)
    assert (result.width, result.height) == (480, 320)
    assert "gps" not in result.metadata
    for rendition in result.renditions:
        assert (rendition.width, rendition.height) == (150, 100)
        assert images.mean_abs_diff(pil(rendition.data), images.upright()) < 8
        assert_clean(rendition.data)
        assert b"GPS" not in rendition.data


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1)])
def test_extreme_strip_is_never_cut_to_zero_pixels(size: tuple[int, int]) -> None:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    result = transcode(out.getvalue(), SMALL)
    for rendition in result.renditions:
        assert max(rendition.width, rendition.height) == 150 and min(rendition.width, rendition.height) == 1
        assert pil(rendition.data).size == (rendition.width, rendition.height)


def test_sixteen_bit_grey_with_alpha_keeps_its_grey_and_flattens_on_white() -> None:
    row = b"\0" + struct.pack(">HH", 20000, 65535) * 150 + struct.pack(">HH", 50000, 0) * 150
    result = transcode(images.png_file(300, 200, 16, 4, zlib.compress(row * 200)), SMALL)
    for rendition in result.renditions:
        picture = pil(rendition.data).convert("RGB")
        left, right = picture.getpixel((20, 50)), picture.getpixel((130, 50))
        assert all(abs(c - 78) <= 3 for c in left) and all(c >= 250 for c in right)  # 20000/65535


def test_palette_with_transparent_index_flattens_on_white() -> None:
    image = Image.new("P", (300, 200), 0)
    image.putpalette([200, 20, 20, 20, 200, 20] + [0] * 762)
    image.paste(1, (150, 0, 300, 200))
    out = io.BytesIO()
    image.save(out, "PNG", transparency=1)
    for rendition in transcode(out.getvalue(), SMALL).renditions:
        picture = pil(rendition.data).convert("RGB")
        left, right = picture.getpixel((20, 50)), picture.getpixel((130, 50))
        assert abs(left[0] - 200) <= 6 and left[1] <= 30 and all(c >= 250 for c in right)


def test_hevc_heif_whose_stream_disagrees_with_its_header_names_the_real_reason() -> None:
    """The size check reads `ispe` (400x300); the HEVC stream is 480x320, which libheif refuses.
    The reason must be libheif's, not a stale libvips message such as "source: bad seek"."""
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(images.upright()).save(out, format="HEIF")
    data = bytearray(out.getvalue())
    at = data.find(b"ispe")
    data[at + 8 : at + 16] = struct.pack(">II", 400, 300)
    err = _refused(bytes(data), "image_corrupt")
    assert "size" in err.message and "seek" not in err.message


def test_unreachable_budget_is_a_final_transcode_error_not_a_retryable_value_error() -> None:
    """No shrink gets detail this dense under 100 bytes; retrying would fail the same way."""
    options = TranscodeOptions(variants=(VariantSpec("thumbnail", 150, 80, 100),))
    err = _refused(images.jpeg(images.noise(600, 400)), "image_too_large", options)
    assert "100 bytes" in err.message


def test_jpeg_header_claiming_far_more_blocks_than_its_data_can_hold_is_refused() -> None:
    """2.8 KB claiming 9999x9999 (under the pixel limit) decoded to 100 MP of grey, allocating
    ~400 MB and publishing a grey picture: every 8x8 block costs a Huffman-coded JPEG at least one bit."""
    bomb = _jpeg_claiming(9999, 9999)
    assert len(bomb) < 4000
    err = _refused(bomb, "image_corrupt")
    assert "9999x9999" in err.message


@pytest.mark.parametrize("progressive", [False, True])
def test_flat_large_jpeg_is_not_mistaken_for_one(progressive: bool) -> None:
    """The flattest real picture (one grey) is the closest a good file comes to that bound."""
    out = io.BytesIO()
    Image.new("L", (3000, 2000), 90).save(out, "JPEG", quality=50, progressive=progressive)
    result = transcode(out.getvalue(), SMALL)
    assert (result.width, result.height) == (3000, 2000)


def test_a_long_animation_of_ordinary_frames_is_not_too_large() -> None:
    """Only the first frame is decoded, so the pixel limit is per frame: 120 frames of 1 MP (120 MP
    in all) is an ordinary animated GIF; the frame count has its own limit."""
    result = transcode(_gif(120, screen=(1000, 1000)))
    assert [(r.variant, r.width, r.height) for r in result.renditions][-1] == ("original", 1000, 1000)
    with pytest.raises(TranscodeError) as info:
        transcode(_gif(120, screen=(1000, 1000)), TranscodeOptions(max_frames=100))
    assert info.value.code == "image_too_large" and "frames" in info.value.message
