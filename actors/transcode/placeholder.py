"""BlurHash and dominant colour, computed from a tiny copy of the smallest variant (microseconds)."""

from __future__ import annotations

import warnings

import blurhash
import pyvips
from PIL import Image

_SAMPLE_SIDE = 32  # BlurHash keeps only a few DCT components; more pixels add time, not detail


def tiny_rgb(image: pyvips.Image) -> Image.Image:
    """A <=32 px Pillow RGB copy of an 8-bit sRGB vips image."""
    scale = min(1.0, _SAMPLE_SIDE / max(image.width, image.height))
    small = image.resize(scale) if scale < 1.0 else image
    if small.bands == 1:
        small = small.bandjoin([small, small])
    small = small[:3].cast("uchar")
    return Image.frombytes("RGB", (small.width, small.height), small.write_to_memory())


def placeholder(rgb: Image.Image) -> str:
    """BlurHash with more components along the longer side, so the blur keeps its layout."""
    width, height = rgb.size
    x, y = (4, 3) if width >= height else (3, 4)
    with warnings.catch_warnings():
        # blurhash-python 1.2 reads pixels with Image.getdata, deprecated in Pillow 12.
        warnings.simplefilter("ignore", DeprecationWarning)
        return blurhash.encode(rgb.copy(), x, y)  # it closes the image it is given


def dominant_color(rgb: Image.Image) -> str:
    """The most common of a few median-cut clusters, as #rrggbb (a better backdrop than the mean)."""
    quantized = rgb.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or [0, 0, 0]
    colors = quantized.getcolors() or [(1, 0)]
    _, index = max(colors)
    r, g, b = palette[index * 3 : index * 3 + 3]
    return f"#{r:02x}{g:02x}{b:02x}"
