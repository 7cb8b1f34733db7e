"""``bench pipeline --social``: the figures and target on made-up numbers, then a tiny real run
against the bench's own server (like, unlike and comment round trips are timed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import native_bench
from native_bench.report import render
from native_bench.samples import write_samples
from native_bench.social import SocialTally
from native_bench.stats import SOCIAL_P99_MAX_MS, PipelineFigures, target_checks


def _figures(social_ms: dict[str, tuple[float, ...]] | None) -> PipelineFigures:
    social = None if social_ms is None else {k: tuple(v / 1000 for v in vs) for k, vs in social_ms.items()}
    return PipelineFigures(2, clients=8, published=10, failed=0, wall_s=5.0, e2e_s=(1.0,), api_s=(0.005,),
                           peak_queue=4, social_s=social)


def test_social_figures_target_and_table() -> None:
    run = _figures({"like": (5.0,) * 99 + (40.0,), "unlike": (4.0,) * 100, "comment": (6.0,) * 100})
    doc = run.to_dict()
    assert doc["social_samples"] == {"like": 100, "unlike": 100, "comment": 100}
    assert doc["social_ms"]["unlike"] == {"p50": 4.0, "p99": 4.0}
    assert doc["social_ms"]["all"]["p50"] == 5.0
    check = {c.name: c for c in target_checks([], run)}["social_p99_ms"]
    assert check.bound == SOCIAL_P99_MAX_MS and check.ok is True  # p99 of all 300 round trips
    slow = {c.name: c for c in target_checks([], _figures({"like": (25.0,) * 10}))}["social_p99_ms"]
    assert slow.ok is False
    text = render([], [run], target_checks([], run), None, "test")
    assert "like ms p50 / p99 (--social)" in text and "social_p99_ms" in text
    # Without --social nothing of it appears.
    plain = _figures(None)
    assert "social_ms" not in plain.to_dict()
    assert "social_p99_ms" not in {c.name for c in target_checks([], plain)}


def test_only_saturated_samples_count_when_there_are_any() -> None:
    tally = SocialTally()
    tally.samples["like"] += [(0.5, False), (0.002, True)]
    tally.samples["comment"] += [(0.3, False)]
    assert tally.timed() == {"like": (0.002,), "unlike": (), "comment": (0.3,)}
    assert tally.saturated


@pytest.mark.skipif(importlib.util.find_spec("actors.pipeline") is None, reason="no pipeline to publish posts")
def test_social_round_trips_on_the_bench_server(tmp_path: Path) -> None:
    write_samples(tmp_path / "images", [("a.jpg", 1600, 1200, 1, 1)])
    out = tmp_path / "out.json"
    code = native_bench.main([
        "pipeline", "--social", "--images", str(tmp_path / "images"), "--workers", "1", "--clients", "2",
        "--uploads", "2", "--no-codec", "--quiet", "--json", str(out), "--data-dir", str(tmp_path / "bench"),
    ])
    assert code == 0
    doc = json.loads(out.read_text())
    pipe = doc["pipeline"]
    assert pipe["published"] == 4
    assert all(n > 0 for n in pipe["social_samples"].values()), pipe["social_samples"]
    assert 0 < pipe["social_ms"]["all"]["p50"] <= pipe["social_ms"]["all"]["p99"]
    assert pipe["social_refused"] == 0  # the bench server lifts the social rate limits
    assert doc["targets"]["social_p99_ms"]["value"] > 0
