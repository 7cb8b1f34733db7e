"""How close an output is to its source: SSIM on luma against the source resized to the same size.

SSIM (Wang, Bovik, Sheikh and Simoncelli 2004) with the usual 11-tap Gaussian window (sigma 1.5)
and constants K1 = 0.01, K2 = 0.03, computed with libvips arithmetic so the bench needs nothing
beyond what the server already ships. The reference is one full decode of the source (upright,
sRGB) resized with libvips' default Lanczos-3 to the output's exact size, the same for every
backend, so a backend that resizes worse or quantises harder scores lower.
"""

from __future__ import annotations

import pyvips

SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def luma(image: pyvips.Image) -> pyvips.Image:
    """Rec. 601 luma as float, the channel SSIM is usually reported on."""
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.bands >= 3:
        image = image[0] * 0.299 + image[1] * 0.587 + image[2] * 0.114
    return image.cast("float")


def ssim(a: pyvips.Image, b: pyvips.Image) -> float:
    """Mean SSIM of two images of one size (1.0: identical)."""
    if (a.width, a.height) != (b.width, b.height):
        raise ValueError(f"sizes differ: {a.width}x{a.height} vs {b.width}x{b.height}")
    x, y = luma(a), luma(b)

    def blur(image: pyvips.Image) -> pyvips.Image:
        # min_ampl 0.01 keeps the window's tails (the default 0.2 would cut it to about 5 taps).
        return image.gaussblur(SIGMA, precision="float", min_ampl=0.01)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    num = (mx * my * 2 + _C1) * (cov * 2 + _C2)
    den = (mx * mx + my * my + _C1) * (vx + vy + _C2)
    return float((num / den).avg())


def reference(source: bytes) -> pyvips.Image:
    """The whole source, upright and 8-bit sRGB, in memory (HEVC-coded HEIF through pillow-heif)."""
    from actors.transcode.decode import to_srgb8
    from actors.transcode.heif_hevc import decode_hevc, is_hevc

    header = pyvips.Image.new_from_buffer(source, "")
    if is_hevc(header):
        return decode_hevc(source, max(header.width, header.height)).copy_memory()
    image = header.autorot()
    if image.get_typeof("icc-profile-data"):
        image = image.icc_transform("srgb", embedded=True)
    return to_srgb8(image).copy_memory()


def score(ref: pyvips.Image, encoded: bytes) -> float:
    """SSIM of an encoded output against the reference resized to the output's size."""
    out = pyvips.Image.new_from_buffer(encoded, "")
    scaled = ref.resize(out.width / ref.width, vscale=out.height / ref.height) if (
        (out.width, out.height) != (ref.width, ref.height)) else ref
    return ssim(scaled, out)
