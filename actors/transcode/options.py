"""What to produce: the variant plan and the limits a transcode enforces (plain, picklable values)."""

from __future__ import annotations

from dataclasses import dataclass, field

FORMATS = ("jpeg", "webp", "avif")


@dataclass(frozen=True)
class VariantSpec:
    """One rendition size: longer side fits `max_side`, encoded at `quality` unless over `max_bytes`."""

    name: str
    max_side: int
    quality: int
    max_bytes: int


DEFAULT_VARIANTS: tuple[VariantSpec, ...] = (
    VariantSpec("thumbnail", 150, 80, 30_000),
    VariantSpec("medium", 600, 85, 100_000),
    VariantSpec("original", 4000, 90, 2_000_000),
)


@dataclass(frozen=True)
class TranscodeOptions:
    """Limits and outputs of one transcode; every field has the house default."""

    variants: tuple[VariantSpec, ...] = DEFAULT_VARIANTS
    formats: tuple[str, ...] = ("jpeg",)
    max_pixels: int = 100_000_000
    max_frames: int = 1000
    min_side: int = 150
    quality_floor: int = 60
    store_gps: bool = False

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError("at least one variant is required")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {self.formats!r}")
        if not 1 <= self.quality_floor <= 100:
            raise ValueError("quality_floor must be within 1..100")


@dataclass(frozen=True)
class Rendition:
    """One encoded file: a variant in one format, with the quality actually used."""

    variant: str
    format: str
    width: int
    height: int
    quality: int
    data: bytes = field(repr=False)


@dataclass
class BudgetStats:
    """What meeting the byte budgets cost one transcode, beyond one encode per rendition.

    probes: cheap estimate encodes (sampled rows, optimised baseline); probe_pixels: their pixels;
    discarded: full encodes thrown away (over budget); discarded_progressive: those that were
    progressive, the expensive kind; cpu_s: CPU time of all of them.
    """

    probes: int = 0
    probe_pixels: int = 0
    discarded: int = 0
    discarded_progressive: int = 0
    cpu_s: float = 0.0

    def to_dict(self) -> dict:
        return {"probes": self.probes, "probe_pixels": self.probe_pixels, "discarded": self.discarded,
                "discarded_progressive": self.discarded_progressive, "cpu_ms": round(self.cpu_s * 1000, 2)}


@dataclass(frozen=True)
class TranscodeResult:
    """Everything the publisher stores: renditions plus the upright source size and extracted facts."""

    width: int
    height: int
    renditions: tuple[Rendition, ...]
    metadata: dict
    placeholder: str
    dominant_color: str
    # (step, wall_s, cpu_s) measured in the worker: "decode", then each variant (all its formats).
    timings: tuple[tuple[str, float, float], ...] = ()
    budget: BudgetStats | None = None  # the production transcode's accounting, for `bench codec`
