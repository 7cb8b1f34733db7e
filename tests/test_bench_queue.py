"""``bench queue`` on the session's real PostgreSQL (a database of its own, dropped afterwards), and
its exactly-once check on made-up logs."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

import native_bench
from native_bench.queue import ClaimerLog, check_exactly_once


async def bench_databases(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")
                if r["datname"].startswith("imagepipe_bench_")]
    finally:
        await conn.close()


def test_queue_bench_drains_every_job_exactly_once(pg_server, tmp_path: Path, capsys) -> None:
    import asyncio

    out = tmp_path / "queue.json"
    code = native_bench.main(["queue", "--jobs", "400", "--claimers", "8", "--processes", "2", "--batch", "4",
                              "--accounts", "7", "--dsn", pg_server.uri, "--quiet", "--json", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())["queue"]
    assert doc["exactly_once"] is True and doc["problems"] == []
    assert doc["final_states"] == {"succeeded": 400}
    assert doc["jobs_per_s"] > 0 and doc["claim_ms"]["p50"] > 0 and doc["complete_ms"]["p99"] > 0
    assert "jobs/s" in capsys.readouterr().out
    assert asyncio.run(bench_databases(pg_server.uri)) == []  # its own database, dropped


def logs(*claimed_completed: tuple[list[int], list[int]]) -> list[ClaimerLog]:
    return [ClaimerLog(claimed=list(c), completed=list(d)) for c, d in claimed_completed]


def test_exactly_once_holds_for_a_clean_run() -> None:
    assert check_exactly_once(4, logs(([1, 2], [1, 2]), ([3, 4], [3, 4])), {"succeeded": 4}) == []


@pytest.mark.parametrize(
    "run, states, expected",
    [
        (logs(([1, 2], [1, 2]), ([2, 3, 4], [3, 4])), {"succeeded": 4}, "claimed more than once"),
        (logs(([1, 2], [1, 2, 2]), ([3, 4], [3, 4])), {"succeeded": 4}, "completed more than once"),
        (logs(([1, 2], [1, 2]), ([3], [3])), {"succeeded": 3, "queued": 1}, "3 distinct jobs claimed of 4"),
        (logs(([1, 2], [1]), ([3, 4], [3, 4])), {"succeeded": 3, "running": 1}, "3 distinct jobs completed"),
        (logs(([1, 2], [1, 2]), ([3, 4], [3, 4])), {"succeeded": 3, "queued": 1}, "final job states"),
    ],
)
def test_exactly_once_names_each_way_it_can_break(run, states, expected: str) -> None:
    problems = check_exactly_once(4, run, states)
    assert any(expected in p for p in problems), problems
