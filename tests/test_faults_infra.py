"""Outages of what the pipeline depends on, for real: a dedicated embedded PostgreSQL stopped and
started again mid-processing, the S3 server taken away and brought back, and a burst of uploads
beyond the backlog's high-water mark. Each ends with every post published, no attempt burned by
the outage, and one row per variant."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest


from helpers_posts import start_posts_api
from server.config import load_settings
from server.db import create_pool, migrate, start_embedded
from server.storage import create_store
from serverproc import REPO
from test_pipeline import add_posts, all_settled, config, make_pipeline, small_jpeg, variants  # noqa: F401 (fixture)
from test_pipeline_hooks import post_states, sleepy_transcode, wait_until

pytestmark = pytest.mark.fault


def start_in_other_process(pgdata: Path) -> None:
    """Start the stopped server again the way a restarted service would: from a fresh process (the
    embedded package remembers, per process, servers it has already started)."""
    subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; from server.db import start_embedded; "
         "start_embedded(Path(sys.argv[1]))", str(pgdata)],
        cwd=REPO, check=True, timeout=60, capture_output=True,
    )


async def _published(pool: asyncpg.Pool, n: int) -> bool:
    return (await post_states(pool)).get("published", 0) >= n


async def _attempts(pool: asyncpg.Pool) -> list[int]:
    async with pool.acquire() as conn:
        return [r["attempts"] for r in await conn.fetch("SELECT attempts FROM jobs")]


async def test_postgres_stopped_and_started_mid_processing(tmp_path: Path, small_jpeg: bytes) -> None:
    pg = await asyncio.to_thread(start_embedded, tmp_path / "pg")
    pool = await create_pool(pg.uri, min_size=1, max_size=6)
    pipeline = None
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        settings = load_settings(cli={"data_dir": str(tmp_path / "data"), "database_url": pg.uri}, environ={})
        store = create_store(settings, "k" * 32)
        await store.open()
        posts = await add_posts(pool, store, [small_jpeg] * 16)
        pipeline = make_pipeline(pool, store, config(transcode=sleepy_transcode, poll_interval_s=0.3))
        await pipeline.start()
        await wait_until(lambda: _published(pool, 2), 60, 0.05)

        await asyncio.to_thread(pg.stop)  # fast shutdown: every connection is cut
        await asyncio.sleep(2.0)
        assert pipeline.metrics.in_flight >= 0  # still alive, waiting it out
        await asyncio.to_thread(start_in_other_process, tmp_path / "pg")

        await wait_until(lambda: all_settled(pool), 90, 0.2)
        assert await post_states(pool) == {"published": len(posts)}
        assert len(await variants(pool)) == 3 * len(posts)
        assert pipeline.listener.reconnects >= 1, "the outage was felt"
        assert pipeline.metrics.jobs_dead == pipeline.metrics.jobs_failed == 0
    finally:
        if pipeline is not None:
            await pipeline.close()
        await pool.close()
        await asyncio.to_thread(pg.stop)


async def test_s3_taken_away_and_brought_back(settings, db_pool, s3_server, s3_bucket, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    s3_settings = settings.with_overrides(**s3_bucket.settings_overrides(), s3_max_attempts=1, s3_connect_timeout_s=1.0)
    store = create_store(s3_settings, "k" * 32)
    await store.open()
    pipeline = None
    try:
        posts = await add_posts(db_pool, store, [small_jpeg] * 12)
        pipeline = make_pipeline(db_pool, store, config(transcode=sleepy_transcode, retry_base_s=1.0))
        await pipeline.start()
        await wait_until(lambda: _published(db_pool, 2), 60, 0.05)
        s3_server.stop()
        await wait_until(lambda: _deferred(pipeline), 30, 0.05)
        await asyncio.sleep(1.5)
        s3_server.start()

        await wait_until(lambda: all_settled(db_pool), 90, 0.2)
        assert await post_states(db_pool) == {"published": len(posts)}
        assert max(await _attempts(db_pool)) == 1, "an outage never uses up attempts"
        rows = await variants(db_pool)
        assert len(rows) == 3 * len(posts)
        for row in rows:
            assert len(await store.get(row["storage_key"])) == row["bytes"]
    finally:
        if not s3_server.running:
            s3_server.start()
        if pipeline is not None:
            await pipeline.close()
        await store.close()


async def _deferred(pipeline) -> bool:  # type: ignore[no-untyped-def]
    return pipeline.metrics.jobs_deferred > 0


async def test_a_burst_beyond_the_high_water_mark_is_told_to_come_back(
    aiohttp_server, aiohttp_client, settings, db_pool, small_jpeg  # type: ignore[no-untyped-def]
) -> None:
    api = await start_posts_api(aiohttp_server, aiohttp_client, settings, db_pool, backlog_high_water=4)
    for _ in range(4):
        grant = await api.uploaded(small_jpeg)
        resp = await api.complete(api.complete_body(grant, small_jpeg))
        assert resp.status == 200, await resp.text()
    refused = await api.init({"filename": "p.jpg", "content_type": "image/jpeg", "file_size": len(small_jpeg)})
    assert refused.status == 503 and refused.headers["Retry-After"].isdigit()
    assert (await refused.json())["error"]["code"] == "backlog_full"
    assert (await api.counts())["posts"] == 4, "a refused init changes nothing"

    pipeline = make_pipeline(db_pool, api.store, config())
    await pipeline.start()
    try:
        await wait_until(lambda: all_settled(db_pool), 60)
    finally:
        await pipeline.close()
    assert await post_states(db_pool) == {"published": 4}
    again = await api.init({"filename": "p.jpg", "content_type": "image/jpeg", "file_size": len(small_jpeg)})
    assert again.status == 201, await again.text()


async def test_authenticated_calls_during_a_database_outage_answer_503(tmp_path: Path, aiohttp_client, caplog) -> None:  # type: ignore[no-untyped-def]
    from helpers_auth import create_verified_user
    from server.app import create_app
    from server import appkeys

    pg = await asyncio.to_thread(start_embedded, tmp_path / "pg")
    pool = await create_pool(pg.uri, min_size=1, max_size=3)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        settings = load_settings(
            cli={"data_dir": str(tmp_path / "data"), "database_url": pg.uri, "bcrypt_rounds": 4}, environ={})
        app = create_app(settings, pool=pool, pipeline=False)
        client = await aiohttp_client(app)
        _, token = await create_verified_user(pool, settings, app[appkeys.JWT_KEY])
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/auth/me", headers=auth)).status == 200

        await asyncio.to_thread(pg.stop)  # every connection is cut, new ones are refused
        caplog.clear()
        for path in ("/api/v1/auth/me", "/api/v1/posts/upload/init"):
            method = client.get if path.endswith("/me") else client.post
            resp = await method(path, headers=auth, json={})
            body = await resp.json()
            assert resp.status == 503, body
            assert body["error"]["code"] == "database_unavailable" and resp.headers["Retry-After"].isdigit()
        assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)

        await asyncio.to_thread(start_in_other_process, tmp_path / "pg")

        async def back() -> bool:
            return (await client.get("/api/v1/auth/me", headers=auth)).status == 200

        await wait_until(back, 30, 0.2)
    finally:
        await pool.close()
        await asyncio.to_thread(pg.stop)
