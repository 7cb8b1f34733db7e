"""``bench social``: the network model's shape on a small network (pure), the COPY seed on a real
database leaving every counter exact and every index back, the figures' targets on made-up
numbers, and a tiny end-to-end run (a few hundred rows: the full seed belongs to the bench)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import asyncpg
import pytest

import native_bench
from helpers_social import INVARIANTS
from native_bench.social_bench.figures import SocialFigures, render
from native_bench.social_bench.network import NetworkParams, build_network
from native_bench.social_bench.seed import seed

SMALL = NetworkParams(accounts=400, posts=4000, likes=12_000, median_followees=20, heavy_followees=200,
                      heavy_accounts=3, celebrity_posts=40, seed=5)


def test_the_network_has_the_issues_shape() -> None:
    net = build_network(SMALL, now=1_700_000_000.0)
    counts = [len(f) for f in net.followees]
    assert abs(statistics.median(counts) - 20) <= 2
    assert [counts[a] for a in range(1, 4)] == [200] * 3  # the heavy followers
    assert net.followers_count[0] == 200 == max(net.followers_count)  # half of everyone follows the celebrity
    assert all(len(set(f)) == len(f) and a not in f for a, f in enumerate(net.followees))  # no repeats, no self
    assert set(net.followees[net.roles.dormant_follower]) <= net.dormant
    assert len(net.post_ids) == 4000 and len(set(net.post_ids)) == 4000
    assert list(net.post_time) == sorted(net.post_time) and max(net.post_time) <= net.now
    newest = {a: max(t for t, x in zip(net.post_time, net.post_author) if x == a) for a in net.dormant
              if a in set(net.post_author)}
    assert all(net.now - t > 100 * 86_400 for t in newest.values()), "dormant accounts stopped months ago"
    likes = list(net.like_rows())
    assert sum(len(likers) for _, likers in likes) == sum(net.post_likes)
    assert abs(sum(net.post_likes) - 12_000) < 600
    assert all(len(set(likers)) == len(likers) and net.post_author[p] not in likers for p, likers in likes)
    again = build_network(SMALL, now=1_700_000_000.0)
    assert again.account_ids == net.account_ids and again.followees == net.followees  # deterministic


async def _indexes(conn: asyncpg.Connection) -> set[str]:
    return {r["indexdef"] for r in await conn.fetch("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")}


async def test_the_seed_leaves_exact_counters_and_every_index(db_dsn: str) -> None:
    net = build_network(SMALL, now=1_700_000_000.0)
    conn = await asyncpg.connect(db_dsn)
    try:
        before = await _indexes(conn)
        report = await seed(db_dsn, net, "x" * 60)
        assert await _indexes(conn) == before
        assert await conn.fetch(f"SELECT * FROM ({INVARIANTS}) x WHERE stored <> actual") == []
        assert report.rows["likes"] == sum(net.post_likes) == await conn.fetchval("SELECT count(*) FROM likes")
        assert report.rows["follows"] == net.follow_count
        assert await conn.fetchval("SELECT count(*) FROM posts WHERE status = 'published' AND published_at IS NOT NULL") == 4000
        assert await conn.fetchval("SELECT count(*) FROM notifications") == 0
    finally:
        await conn.close()


def test_targets_and_table_on_made_up_numbers() -> None:
    figures = SocialFigures(
        seed={"rows": {"users": 10, "posts": 20, "follows": 30, "likes": 40}, "network_s": 1.0, "wall_s": 2.0,
              "total_s": 3.0},
        latencies={"median page 1": [0.004] * 99 + [0.012], "heavy page 1": [0.005] * 100, "delivery": [0.03] * 10},
        post_to_feed={"followers": 5000, "wal_bytes": 2400, "follower_rows": 0, "notifications": 1, "missed": 0},
    )
    checks = {c["what"]: c for c in figures.checks()}
    assert checks["median page 1"]["met"] is True and checks["heavy page 1"]["met"] is True
    assert checks["median page 10"]["met"] is False and checks["median page 10"]["p99_ms"] is None  # not measured
    slow = SocialFigures(seed=figures.seed, latencies={"median page 1": [0.004] * 90 + [0.05] * 10})
    assert {c["what"]: c for c in slow.checks()}["median page 1"]["met"] is False
    text = render(figures)
    assert "5,000 followers" in text and "target p99" in text
    assert json.loads(json.dumps(figures.to_dict()))["latency_ms"]["heavy page 1"]["n"] == 100


def test_a_tiny_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "social.json"
    code = native_bench.main([
        "social", "--accounts", "120", "--posts", "600", "--likes", "1000", "--median-followees", "12",
        "--heavy-followees", "60", "--seconds", "2", "--clients", "2", "--social-clients", "1",
        "--page-size", "5", "--publications", "2", "--deliveries", "6", "--designs", "--quiet",
        "--json", str(out), "--data-dir", str(tmp_path / "bench"),
    ])
    assert code == 0
    doc = json.loads(out.read_text())["social"]
    assert doc["seed"]["rows"]["posts"] == 600 and doc["seed"]["rows"]["users"] == 120
    for name in ("median page 1", "median page 10", "heavy page 1", "heavy page 10", "like", "comment",
                 "post to feed", "delivery"):
        assert doc["latency_ms"][name]["n"] > 0, name
    assert doc["delivery_lost"] == 0 and doc["post_to_feed"]["missed"] == 0
    assert doc["post_to_feed"]["follower_rows"] == 0 and doc["post_to_feed"]["notifications"] == 1
    assert len(doc["explain"]) == 3 and all("Buffers" in plan for plan in doc["explain"].values())
    assert {d["design"] for d in doc["designs"]} >= {"plain IN (followees) ORDER BY time", "per-followee merge only"}
    assert not list((tmp_path / "bench").iterdir()), "the bench removes its database and instances"
