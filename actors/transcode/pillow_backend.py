"""The same transcode done with Pillow (tuned, not a straw man): the bench's baseline.

Tuning: `draft()` lets libjpeg decode JPEGs at 1/2, 1/4 or 1/8 scale straight from the DCT;
variants cascade from the largest one; `reducing_gap` makes Pillow box-reduce before its Lanczos
pass; colour goes through LittleCMS only when the embedded profile is not sRGB. Same checks, codec
settings and byte budgets as the libvips path (shared `budget`/`encode` policy).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from PIL import Image, ImageCms, ImageOps
import pillow_heif

from . import budget, metadata
from .decode import is_srgb_profile
from .encode import PROGRESSIVE_MIN_SIDE, fit_rendition
from .errors import TranscodeError
from .options import TranscodeOptions, TranscodeResult
from .placeholder import dominant_color, placeholder
from .probe import sniff

pillow_heif.register_heif_opener()
_SRGB = ImageCms.createProfile("sRGB")
_REDUCING_GAP = 2.0  # box-reduce to within 2x of the target first: ~3x faster, no visible change
_PIL_FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}


def transcode_pillow(source: bytes, options: TranscodeOptions = TranscodeOptions()) -> TranscodeResult:
    fmt = sniff(source)
    try:
        with warnings.catch_warnings():
            # Our own max_pixels rule (below) decides; Pillow's lower default would refuse 90-100 MP.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(source))
        frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError as exc:
        raise TranscodeError("image_too_large", "image exceeds the pixel limit") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow signals bad headers with many types
        raise TranscodeError("image_corrupt", f"unreadable {fmt} header") from exc
    _check(image.size, frames, options)
    exif = image.getexif()
    orientation = exif.get(0x0112, 1)
    width, height = image.size[::-1] if orientation in (5, 6, 7, 8) else image.size
    meta = metadata.extract(_exif_bytes(image), width, height, options.store_gps)
    variants = sorted(options.variants, key=lambda v: v.max_side, reverse=True)
    try:
        picture = _decode(image, variants[0].max_side)
        renditions = []
        for spec in variants:
            picture = _fit(picture, spec.max_side)
            for out in options.formats:
                renditions.append(
                    fit_rendition(picture, picture.size, spec.name, out, spec.quality,
                                  spec.max_bytes, options.quality_floor, _fit_quality, _shrink)
                )
    except (OSError, SyntaxError, ValueError) as exc:
        raise TranscodeError("image_corrupt", f"cannot decode {fmt} data") from exc
    tiny = picture.copy()
    tiny.thumbnail((32, 32))
    order = {spec.name: i for i, spec in enumerate(options.variants)}
    renditions.sort(key=lambda r: (order[r.variant], options.formats.index(r.format)))
    return TranscodeResult(width, height, tuple(renditions), meta, placeholder(tiny), dominant_color(tiny))


def _check(size: tuple[int, int], frames: int, options: TranscodeOptions) -> None:
    width, height = size
    if frames > options.max_frames or width * height * frames > options.max_pixels:
        raise TranscodeError("image_too_large", f"{width}x{height}x{frames} exceeds the limits")
    if max(width, height) < options.min_side:
        raise TranscodeError("image_too_small", f"longer side {max(width, height)} px is too small")


def _exif_bytes(image: Image.Image) -> bytes | None:
    try:
        return image.info.get("exif") or image.getexif().tobytes() or None
    except Exception:  # noqa: BLE001
        return None


def _decode(image: Image.Image, largest_side: int) -> Image.Image:
    """Upright 8-bit sRGB RGB, alpha on white, first frame only; JPEG decoded at reduced scale."""
    if image.format == "JPEG":
        image.draft("RGB" if image.mode != "CMYK" else "CMYK", (largest_side, largest_side))
    image.seek(0)
    icc = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I"):
        image = image.point(lambda v: v / 256).convert("L")  # 16-bit grey keeps its top byte
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    if icc and not is_srgb_profile(icc) and image.mode in ("RGB", "CMYK", "L"):
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source_profile, _SRGB, outputMode="RGB")
        except ImageCms.PyCMSError:
            pass  # a broken profile: fall back to treating the pixels as sRGB
    return image.convert("RGB") if image.mode != "RGB" else image


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def _shrink(image: Image.Image, scale: float) -> tuple[Image.Image, tuple[int, int]]:
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    return image, image.size


def _save(image: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": quality}
    if fmt == "jpeg":
        progressive = max(image.size) >= PROGRESSIVE_MIN_SIDE
        kwargs.update(progressive=progressive, optimize=not progressive, subsampling=2)
    image.save(out, _PIL_FORMATS[fmt], **kwargs)
    return out.getvalue()


def _fit_quality(image: Image.Image, fmt: str, quality: int, max_bytes: int, floor: int) -> budget.Fit:
    return budget.search(lambda q: _save(image, fmt, q), quality, max_bytes, floor)
