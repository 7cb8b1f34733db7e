"""Pure arithmetic of an interleaved run: per-image CPU medians, per-round ratios between two
backends with their spread, and the issue's targets on them. Unit-tested on made-up numbers."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence

# The targets: production within 3% of the floor on every image class, and ahead of sharp
# (the fastest libvips binding) by at least 3% on every JPEG class.
VS_FLOOR_MAX = 1.03
VS_SHARP_MAX = 0.97
JPEG_SUFFIXES = (".jpg", ".jpeg")


@dataclass(frozen=True)
class Ratio:
    """ours / theirs on one image: median over rounds, and the lowest and highest round."""

    image: str
    ours: str
    theirs: str
    median: float
    low: float
    high: float
    rounds: int

    def to_dict(self) -> dict:
        return {"image": self.image, "ours": self.ours, "theirs": self.theirs, "median": round(self.median, 4),
                "min": round(self.low, 4), "max": round(self.high, 4), "rounds": self.rounds}


def medians(cpu_s: Mapping[str, Mapping[str, Sequence[float]]]) -> dict[str, dict[str, float]]:
    """backend -> image -> median CPU seconds."""
    return {b: {i: statistics.median(v) for i, v in per.items() if v} for b, per in cpu_s.items()}


def paired(cpu_s: Mapping[str, Mapping[str, Sequence[float]]], ours: str, theirs: str) -> list[Ratio]:
    """Per image, the ratio of the two backends' calls in the same round (neighbours in time, so a
    noisy machine slows both), summarised over the rounds."""
    out = []
    for image, mine in cpu_s.get(ours, {}).items():
        other = cpu_s.get(theirs, {}).get(image)
        if not mine or not other:
            continue
        ratios = [a / b for a, b in zip(mine, other) if b > 0]
        if ratios:
            out.append(Ratio(image, ours, theirs, statistics.median(ratios), min(ratios), max(ratios), len(ratios)))
    return out


@dataclass(frozen=True)
class Target:
    name: str
    bound: float
    worst: Ratio | None  # the image furthest from the bound

    @property
    def ok(self) -> bool | None:
        return None if self.worst is None else self.worst.median <= self.bound

    def to_dict(self) -> dict:
        return {"target": f"≤ {self.bound:g}", "ok": self.ok,
                "worst": None if self.worst is None else self.worst.to_dict()}


def targets(cpu_s: Mapping[str, Mapping[str, Sequence[float]]], ours: str = "vips") -> list[Target]:
    """vips/floor on every image, vips/sharp on every JPEG image; only what this run measured."""
    out = []
    if "floor" in cpu_s and ours in cpu_s:
        found = paired(cpu_s, ours, "floor")
        out.append(Target("vips_vs_floor", VS_FLOOR_MAX, max(found, key=lambda r: r.median, default=None)))
    if "sharp" in cpu_s and ours in cpu_s:
        found = [r for r in paired(cpu_s, ours, "sharp") if r.image.lower().endswith(JPEG_SUFFIXES)]
        out.append(Target("vips_vs_sharp", VS_SHARP_MAX, max(found, key=lambda r: r.median, default=None)))
    return out
