"""``bench posts`` on the session's real PostgreSQL: seeded pages are listed and costed."""

from __future__ import annotations

import json
from pathlib import Path

import native_bench


def test_posts_bench_loads_pages_of_the_seeded_profiles(pg_server, tmp_path: Path) -> None:
    out = tmp_path / "posts.json"
    code = native_bench.main(["posts", "--accounts", "4", "--posts-per-account", "45", "--clients", "3",
                              "--pages", "60", "--dsn", pg_server.uri, "--quiet", "--json", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())["posts"]
    assert doc["posts"] == 180 and doc["pages"] == 60
    assert doc["pages_per_s"] > 0 and doc["latency_ms"]["p50"] > 0
    assert doc["postgres_cpu_ms_per_page"] is None  # another server's processes are not ours to see
