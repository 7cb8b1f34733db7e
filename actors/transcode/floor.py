"""The floor: the least work that makes the same files, kept as the bench's yardstick for `transcode`.

One decode with shrink-on-load to the largest variant, the smaller variants resized from it, and one
encode per variant with the production codec settings at the quality the production transcode ended
with. No header checks, colour handling, metadata, placeholder or byte-budget search: whatever
`transcode` spends above this is overhead, and `bench codec` shows it.

The qualities come from a `plan` (one production transcode, run outside the timed span), so that a
budget that binds is judged against the encodes it really needed, not against an over-budget file.
"""

from __future__ import annotations

import pyvips

from .decode import resize_to_fit
from .encode import encoder
from .heif_hevc import decode_hevc, is_hevc
from .options import Rendition, TranscodeOptions
from .probe import sniff
from .vips_transcode import transcode

Plan = dict[str, int]  # variant name -> quality the production transcode used


def plan(source: bytes, options: TranscodeOptions = TranscodeOptions()) -> Plan:
    """The final JPEG quality of every variant, from one production transcode."""
    result = transcode(source, options)
    return {r.variant: r.quality for r in result.renditions if r.format == "jpeg"}


def transcode_floor(
    source: bytes, options: TranscodeOptions = TranscodeOptions(), qualities: Plan | None = None
) -> list[Rendition]:
    """Decode once, resize, encode each variant once: JPEG only, like the bench's other yardsticks."""
    variants = sorted(options.variants, key=lambda v: v.max_side, reverse=True)
    image = _decode(source, variants[0].max_side).copy_memory()
    out = []
    for spec in variants:
        resized = resize_to_fit(image, spec.max_side)
        if resized is not image and spec is not variants[-1]:
            resized = resized.copy_memory()
        image = resized
        quality = (qualities or {}).get(spec.name, spec.quality)
        data = encoder(image, "jpeg")(quality)
        out.append(Rendition(spec.name, "jpeg", image.width, image.height, quality, data))
    return out


def _decode(source: bytes, side: int) -> pyvips.Image:
    if sniff(source) == "heif" and is_hevc(pyvips.Image.new_from_buffer(source, "")):
        return decode_hevc(source, side)  # the only HEVC decoder this build has
    return pyvips.Image.thumbnail_buffer(source, side, height=side, size="down")
