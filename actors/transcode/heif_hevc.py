"""HEVC-coded HEIF (every iPhone/Android .heic): the libvips wheel ships libheif with only the AV1
decoder, so these pixels come from pillow-heif's libde265 instead. The header checks still ran in
libvips; libheif applies the container's rotation/mirror (irot/imir) while decoding.
"""

from __future__ import annotations

import pillow_heif
import pyvips

from .decode import to_srgb8
from .errors import TranscodeError


def is_hevc(header_image: pyvips.Image) -> bool:
    try:
        return header_image.get_typeof("heif-compression") != 0 and header_image.get("heif-compression") == "hevc"
    except pyvips.Error:
        return False


def decode_hevc(source: bytes, largest_side: int) -> pyvips.Image:
    try:
        heif = pillow_heif.open_heif(source, convert_hdr_to_8bit=True)
        pixels = heif.data
    except Exception as exc:  # noqa: BLE001 - libheif reports corruption with assorted types
        # Not a pyvips.Error: that would carry whatever stale message libvips' error buffer holds
        # (the header read leaves "source: bad seek...") instead of libheif's reason.
        raise TranscodeError("image_corrupt", f"cannot decode heif data: {str(exc)[:200]}") from exc
    bands = len(heif.mode)  # "RGB" or "RGBA" with convert_hdr_to_8bit
    width, height = heif.size
    image = pyvips.Image.new_from_memory(pixels, heif.stride // bands, height, bands, "uchar")
    if image.width != width:
        image = image.crop(0, 0, width, height)
    image = image.copy(interpretation="srgb")
    # Resize first, then colour-convert the (smaller) result.
    image = image.thumbnail_image(largest_side, height=largest_side, size="down", no_rotate=True)
    icc = heif.info.get("icc_profile")
    if icc:
        image = image.copy()
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
        image = image.icc_transform("srgb", embedded=True, input_profile="srgb")
    # Pixels were handed to libvips without a copy; materialise before `heif` goes away.
    return to_srgb8(image)
