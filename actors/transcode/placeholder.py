"""BlurHash and dominant colour, computed from a tiny copy of the smallest variant (microseconds)."""

from __future__ import annotations

import warnings

import blurhash
import pyvips
from PIL import Image

_SAMPLE_SIDE = 32  # BlurHash keeps only a few DCT components; more pixels add time, not detail
_CLUSTERS = 8
_SAME_FAMILY = 48  # RGB distance under which two clusters count as one colour family


def tiny_rgb(image: pyvips.Image) -> Image.Image:
    """A <=32 px Pillow RGB copy of an 8-bit sRGB vips image.

    Pillow's box filter does this in ~0.1 ms; a libvips resize took ~2 ms, mostly setting up its
    pipeline, which on a small photo was several percent of the whole transcode.
    """
    if image.bands == 1:
        image = image.bandjoin([image, image])
    image = image[:3].cast("uchar") if image.bands != 3 or image.format != "uchar" else image
    rgb = Image.frombytes("RGB", (image.width, image.height), image.write_to_memory())
    scale = min(1.0, _SAMPLE_SIDE / max(rgb.size))
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BOX)
    return rgb


def placeholder(rgb: Image.Image) -> str:
    """BlurHash with more components along the longer side, so the blur keeps its layout."""
    width, height = rgb.size
    x, y = (4, 3) if width >= height else (3, 4)
    with warnings.catch_warnings():
        # blurhash-python 1.2 reads pixels with Image.getdata, deprecated in Pillow 12.
        warnings.simplefilter("ignore", DeprecationWarning)
        return blurhash.encode(rgb.copy(), x, y)  # it closes the image it is given


def dominant_color(rgb: Image.Image) -> str:
    """Colour of the largest family of similar pixels, as #rrggbb (a better backdrop than the mean).

    Median cut splits a big region (a sky) into several near-equal clusters, so the single most
    common cluster flips between regions on tiny pixel changes; grouping clusters that are close
    in colour first makes the answer stable.
    """
    quantized = rgb.quantize(colors=_CLUSTERS, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or [0, 0, 0] * _CLUSTERS
    groups: list[tuple[tuple[int, int, int], list[tuple[int, tuple[int, int, int]]]]] = []
    for count, index in sorted(quantized.getcolors() or [(1, 0)], reverse=True):
        color = tuple(palette[index * 3 : index * 3 + 3])
        for seed, members in groups:
            if sum((a - b) ** 2 for a, b in zip(seed, color)) <= _SAME_FAMILY**2:
                members.append((count, color))
                break
        else:
            groups.append((color, [(count, color)]))
    members = max((m for _, m in groups), key=lambda m: sum(c for c, _ in m))
    total = sum(c for c, _ in members)
    r, g, b = (round(sum(c * col[i] for c, col in members) / total) for i in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"
