"""The production transcode: header checks, one decode, every variant derived from it, budgets."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyvips

from . import budget, metadata
from .decode import decode, resize_to_fit
from .encode import encode_within
from .errors import TranscodeError
from .heif_hevc import decode_hevc, is_hevc
from .options import BudgetStats, Rendition, TranscodeOptions, TranscodeResult
from .placeholder import dominant_color, placeholder, tiny_rgb
from .probe import Header, read_header

_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)


def transcode(source: bytes, options: TranscodeOptions = TranscodeOptions()) -> TranscodeResult:
    """Source bytes -> renditions of every variant in every requested format, metadata stripped.

    Raises TranscodeError (final) for too small, too large, corrupt or unsupported files.
    """
    lap = _Laps()
    header = read_header(source, options)
    width, height = upright_size(header)
    meta = source_metadata(header.image, width, height, options.store_gps)
    variants = sorted(options.variants, key=lambda v: v.max_side, reverse=True)
    try:
        # Every variant (and any budget retry) reads this one decode: keep it in memory, as
        # libvips would otherwise re-run the sequential decode, which JPEG cannot do twice.
        image = decode_source(source, header, variants[0].max_side).copy_memory()
        lap("decode")
        renditions: list[Rendition] = []
        stats = BudgetStats()
        # What a JPEG re-encode will weigh, from what is known before encoding: the source JPEG
        # for the largest variant, then each JPEG encode for the next, smaller one.
        known = Known(len(source), header.jpeg_quality, header.width * header.height) if header.jpeg_quality else None
        for spec in variants:
            resized = resize_to_fit(image, spec.max_side)
            if resized is not image:
                # The next, smaller variant is cut from this one, and the placeholder reads the last.
                resized = resized.copy_memory()
            image = resized
            for fmt in options.formats:
                predicted = known.predict(spec.quality, image.width * image.height) if known and fmt == "jpeg" else None
                rendition = encode_within(
                    image, spec.name, fmt, spec.quality, spec.max_bytes, options.quality_floor, predicted, stats
                )
                renditions.append(rendition)
                if fmt == "jpeg":
                    known = Known(len(rendition.data), rendition.quality, rendition.width * rendition.height)
            lap(spec.name)
        tiny = tiny_rgb(image)
    except pyvips.Error as exc:
        raise TranscodeError("image_corrupt", f"cannot decode {header.format} data: {_first_line(exc)}") from exc
    order = {spec.name: i for i, spec in enumerate(options.variants)}
    renditions.sort(key=lambda r: (order[r.variant], options.formats.index(r.format)))
    return TranscodeResult(
        width=width,
        height=height,
        renditions=tuple(renditions),
        metadata=meta,
        placeholder=placeholder(tiny),
        dominant_color=dominant_color(tiny),
        timings=tuple(lap.steps),
        budget=stats,
    )


class _Laps:
    """Wall and CPU time of each step since the previous one. CPU is the process's (every libvips
    thread of this worker), which is this job's alone: a pool worker runs one transcode at a time."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float, float]] = []
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __call__(self, step: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.steps.append((step, wall - self._wall, cpu - self._cpu))
        self._wall, self._cpu = wall, cpu


@dataclass(frozen=True)
class Known:
    """A JPEG of the same picture already in hand: its bytes, quality and pixel count."""

    size: int
    quality: int
    pixels: int

    def predict(self, quality: int, pixels: int) -> float:
        return budget.predict_resized(budget.predict_size(self.size, self.quality, quality), self.pixels, pixels)


def decode_source(source: bytes, header: Header, largest_side: int) -> pyvips.Image:
    """The one decode, by the decoder this build can run for the format."""
    if header.format == "heif" and is_hevc(header.image):
        return decode_hevc(source, largest_side)
    return decode(source, largest_side, _blob(header.image, "icc-profile-data"))


def upright_size(header: Header) -> tuple[int, int]:
    """Source size as displayed: orientations 5-8 swap width and height.

    HEIF is exempt: libheif has applied the container's irot/imir, and the spec says a HEIF's EXIF
    orientation must then be ignored.
    """
    if header.format != "heif" and _orientation(header.image) in _SWAPPING_ORIENTATIONS:
        return header.height, header.width
    return header.width, header.height


def _orientation(image: pyvips.Image) -> int:
    try:
        value = int(image.get("orientation")) if image.get_typeof("orientation") else 1
    except (pyvips.Error, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def source_metadata(image: pyvips.Image, width: int, height: int, store_gps: bool) -> dict:
    try:
        return metadata.extract(_blob(image, "exif-data"), width, height, store_gps)
    except Exception:  # noqa: BLE001 - metadata is a bonus; it never fails a good photo
        return metadata.extract(None, width, height, store_gps)


def _blob(image: pyvips.Image, name: str) -> bytes | None:
    try:
        return image.get(name) if image.get_typeof(name) else None
    except pyvips.Error:
        return None


def _first_line(exc: pyvips.Error) -> str:
    detail = (exc.detail or exc.message or "").strip().splitlines()
    return detail[0][:200] if detail else "libvips error"
