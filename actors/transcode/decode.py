"""Decode once into an upright, 8-bit, 3-band sRGB image, already shrunk to the largest variant.

`thumbnail_buffer` gives shrink-on-load (JPEG DCT scaling, HEIF/WebP embedded scaling), applies the
EXIF orientation (HEIF: libheif's own irot/imir), and with `output_profile="srgb"` converts any
embedded profile (Adobe RGB, Display P3, CMYK) to sRGB; CMYK without a profile uses libvips' built-in
CMYK profile. Animated GIF/WebP load only their first frame here (n=1 is the loader default).
"""

from __future__ import annotations

import math

import pyvips

WHITE = [255, 255, 255]


def decode(source: bytes, largest_side: int, icc_profile: bytes | None) -> pyvips.Image:
    """`icc_profile` is the embedded profile from the header, if any."""
    colour = {}
    if icc_profile and not is_srgb_profile(icc_profile):
        # Only then: an LCMS transform costs ~10x the JPEG decode on a 9 MP photo.
        colour["output_profile"] = "srgb"
    image = pyvips.Image.thumbnail_buffer(
        source,
        largest_side,
        height=largest_side,
        size="down",  # never upscale
        # Truncated or broken data must raise, not leave grey blocks. libvips 8.18's thumbnail
        # does not pass its own fail_on to the loader; the loader option string does.
        option_string="fail_on=error",
        **colour,
    )
    return to_srgb8(image)


def is_srgb_profile(icc: bytes) -> bool:
    """An embedded sRGB profile (most phones) needs no transform; judged by its description tag."""
    if len(icc) < 132 or icc[16:20] != b"RGB ":
        return False
    count = int.from_bytes(icc[128:132], "big")
    for i in range(min(count, 100)):
        entry = icc[132 + 12 * i : 144 + 12 * i]
        if len(entry) < 12:
            return False
        if entry[:4] == b"desc":
            offset = int.from_bytes(entry[4:8], "big")
            size = int.from_bytes(entry[8:12], "big")
            text = icc[offset : offset + min(size, 512)]
            # "desc" (ICC v2, ASCII) or "mluc" (v4, UTF-16BE) both spell the name out.
            return b"sRGB" in text or "sRGB".encode("utf-16-be") in text
    return False


def to_srgb8(image: pyvips.Image) -> pyvips.Image:
    """16-bit, grey, CMYK leftovers and alpha all end as plain 8-bit RGB on white."""
    if image.hasalpha():
        # Flatten in the image's own range (65535 for 16-bit) before dropping to 8 bits.
        white = 65535 if image.format == "ushort" else 255
        image = image.flatten(background=[white] * (image.bands - 1))
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands == 1:
        image = image.bandjoin([image, image])
    elif image.bands > 3:
        image = image[:3]
    return strip_fields(image)


def strip_fields(image: pyvips.Image) -> pyvips.Image:
    """Drop every metadata field so nothing can leak into an output even if a saver kept some."""
    image = image.copy()
    for name in image.get_fields():
        if name.startswith(("exif-", "xmp-", "iptc-", "icc-", "gainmap", "orientation", "heif-", "gif-", "png-", "jpeg-")):
            image.remove(name)
    return image


# libvips shrinks by an integer box filter until the rest is within this factor, then Lanczos-3
# takes over. Its default, 2, spends more (its box shrink is the slow part: 15 vs 8 ms taking an
# 8 MP photo to 600 px) for slightly more aliasing; at 4 the 600 and 150 px variants came out
# closer to a one-step Lanczos-3 reduction of the full source on every corpus photo.
RESIZE_GAP = 4.0


def resize_to_fit(image: pyvips.Image, max_side: int) -> pyvips.Image:
    """Shrink so the longer side is at most `max_side`; never upscale; aspect ratio kept."""
    longer = max(image.width, image.height)
    if longer <= max_side:
        return image
    width, height = fit_size(image.width, image.height, max_side)
    return image.resize(width / image.width, vscale=height / image.height, gap=RESIZE_GAP)


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size that fits `max_side`, rounded half up like libvips' thumbnail."""
    scale = max_side / max(width, height)
    return max(1, math.floor(width * scale + 0.5)), max(1, math.floor(height * scale + 0.5))
