"""The figures of ``bench social``, the issue's targets, and how they print; pure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..report import table
from ..stats import ms_summary, percentile

# Issue 11's targets on the 2-core bench machine (p99, milliseconds).
TARGETS_MS = {
    "median page 1": 10.0, "median page 10": 10.0,
    "heavy page 1": 20.0, "heavy page 10": 20.0,
    "post to feed": 500.0,
    "delivery": 100.0,
    "like": 20.0, "unlike": 20.0, "comment": 20.0,
}
QUANTILES = (50, 99)


@dataclass
class SocialFigures:
    seed: dict[str, Any]
    latencies: dict[str, list[float]]  # seconds, by measurement name (see TARGETS_MS)
    post_to_feed: dict[str, Any] = field(default_factory=dict)
    delivery_lost: int = 0
    notes: list[str] = field(default_factory=list)
    explain: dict[str, str] = field(default_factory=dict)
    designs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, name: str) -> dict[str, float]:
        values = self.latencies.get(name, [])
        return {**ms_summary(values, QUANTILES), "n": len(values)}

    def checks(self) -> list[dict[str, Any]]:
        out = []
        for name, target in TARGETS_MS.items():
            values = self.latencies.get(name, [])
            p99 = percentile([v * 1000 for v in values], 99) if values else math.nan
            out.append({"what": name, "target_p99_ms": target, "p99_ms": None if math.isnan(p99) else round(p99, 2),
                        "met": (not math.isnan(p99)) and p99 < target})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "latency_ms": {name: self.summary(name) for name in self.latencies},
            "post_to_feed": self.post_to_feed,
            "delivery_lost": self.delivery_lost,
            "targets": self.checks(),
            "notes": self.notes,
            "explain": self.explain,
            "designs": self.designs,
        }


def render(f: SocialFigures) -> str:
    s = f.seed
    parts = [
        f"Seed: {s['rows'].get('users', 0):,} accounts, {s['rows'].get('posts', 0):,} posts, "
        f"{s['rows'].get('follows', 0):,} follows, {s['rows'].get('likes', 0):,} likes in {s['total_s']:.1f} s "
        f"(network {s['network_s']:.1f} s, COPY + indexes + statistics {s['wall_s']:.1f} s)",
    ]
    rows = []
    for check in f.checks():
        summary = f.summary(check["what"])
        rows.append((check["what"], summary["n"], summary["p50"], summary["p99"], check["target_p99_ms"],
                     "yes" if check["met"] else "NO"))
    parts.append("Through HTTP (ms)\n" + table(("measurement", "n", "p50", "p99", "target p99", "met"), rows))
    p = f.post_to_feed
    if p:
        parts.append(
            f"Post to feed: {p['followers']:,} followers; per publication {p['wal_bytes']:,} bytes of WAL, "
            f"{p['follower_rows']} rows written for followers (fan-out on read), {p['notifications']} notification; "
            f"{p['missed']} follower polls never saw the post")
    if f.delivery_lost:
        parts.append(f"Delivery: {f.delivery_lost} like notification(s) never arrived on B")
    if f.designs:
        parts.append("Feed designs on the seeded network (server-side, ms; buffers in brackets)\n" + table(
            ("design", "user", "page 1", "page 10", "note"),
            [(d["design"], d["user"], d["page1"], d["page10"], d.get("note", "")) for d in f.designs]))
    for name, plan in f.explain.items():
        parts.append(f"EXPLAIN (ANALYZE, BUFFERS) feed, {name}:\n{plan}")
    parts.extend(f"note: {n}" for n in f.notes)
    return "\n\n".join(parts) + "\n"
