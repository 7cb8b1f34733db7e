"""Two ``serve`` processes on one PostgreSQL and one S3 bucket share the queue: every upload is
published exactly once (one successful completion across both), both instances take work, and a
SIGKILLed instance's jobs are finished by the other once its leases expire."""

from __future__ import annotations

import signal
from pathlib import Path

import asyncpg
import psutil
import pytest

from conftest import corpus_file
from s3server import AWS_ENV
from serverproc import ServerProcess, free_port, server_env
from test_pipeline_hooks import HttpApi, pool_workers, wait_for

pytestmark = pytest.mark.fault


def _env(db_dsn: str, s3_bucket, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return server_env(
        **AWS_ENV,
        IMAGEPIPE_DATABASE_URL=db_dsn,
        IMAGEPIPE_STORAGE="s3",
        IMAGEPIPE_S3_BUCKET=s3_bucket.name,
        IMAGEPIPE_S3_ENDPOINT_URL=s3_bucket.endpoint_url,
        IMAGEPIPE_S3_REGION=s3_bucket.region,
        IMAGEPIPE_JWT_SECRET="x" * 40,  # instances behind one load balancer share the signing key
        IMAGEPIPE_WORKERS="1",
        **extra,
    )


def _start_two(tmp_path: Path, env: dict[str, str]) -> tuple[ServerProcess, ServerProcess]:
    a = ServerProcess(tmp_path / "a", free_port(), env).start(wait_ready=0)
    b = ServerProcess(tmp_path / "b", free_port(), env).start(wait_ready=0)
    a.wait_ready(60)
    b.wait_ready(60)
    return a, b


async def _job_rows(db_dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_dsn)
    try:
        return await conn.fetch(
            "SELECT j.status::text AS s, j.attempts, (SELECT count(*) FROM post_images i WHERE i.post_id = j.post_id) AS n "
            "FROM jobs j"
        )
    finally:
        await conn.close()


async def test_two_instances_share_the_queue_without_double_completion(tmp_path: Path, db_dsn: str, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    photo = corpus_file("phone-3264x2448.jpg").read_bytes()  # full size: slow enough for both to take some
    a, b = _start_two(tmp_path, _env(db_dsn, s3_bucket))
    with a, b:
        api = HttpApi(a.base_url).signup(tmp_path / "a")
        posts = api.upload_many([photo + bytes([i]) for i in range(10)])
        wait_for(lambda: api.statuses(posts) == {"published": 10}, 120, 0.25)
        on_b = HttpApi(b.base_url, api.token)
        assert on_b.post(posts[0])["status"] == "published"

        done_a = api.metrics()["imagepipe_jobs_succeeded_total"]
        done_b = on_b.metrics()["imagepipe_jobs_succeeded_total"]
        assert done_a + done_b == 10, "each job completed exactly once"
        assert done_a > 0 and done_b > 0, "both instances took work"
        assert a.terminate() == 0 and b.terminate() == 0
    rows = await _job_rows(db_dsn)
    assert [(r["s"], r["n"]) for r in rows] == [("succeeded", 3)] * 10


async def test_a_killed_instances_jobs_are_finished_by_the_other(tmp_path: Path, db_dsn: str, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    photo = corpus_file("phone-3264x2448.jpg").read_bytes()
    a, b = _start_two(tmp_path, _env(db_dsn, s3_bucket, IMAGEPIPE_JOB_LEASE_S="3"))
    with a, b:
        api = HttpApi(a.base_url).signup(tmp_path / "a")
        posts = api.upload_many([photo + bytes([i]) for i in range(8)])
        wait_for(lambda: api.metrics()["imagepipe_pool_busy_workers"] > 0, 30, 0.02)
        for process in [psutil.Process(a.proc.pid), *pool_workers(a.proc.pid)]:
            process.send_signal(signal.SIGKILL)  # its leases stay behind in the shared database
        a.proc.wait(10)
        on_b = HttpApi(b.base_url, api.token)
        wait_for(lambda: on_b.statuses(posts) == {"published": 8}, 120, 0.25)
        assert on_b.metrics()["imagepipe_leases_reaped_total"] >= 1
        assert b.terminate() == 0
    rows = await _job_rows(db_dsn)
    assert [(r["s"], r["n"]) for r in rows] == [("succeeded", 3)] * 8
