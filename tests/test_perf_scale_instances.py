"""Scale past one machine: three ``serve`` instances on one separately started PostgreSQL (the test
session's) and one S3 bucket. Uploads go in through all three; one instance is SIGKILLed with work
in hand; every upload is published exactly once and the survivors share the rest.

Exactly once is counted, not inferred: the victim's pool workers are frozen first, so after a
moment nothing more can finish there, its ``imagepipe_jobs_succeeded_total`` is read, and then the
whole instance is killed. The three counters must add up to the number of uploads.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import asyncpg
import psutil
import pytest

from conftest import corpus_file
from serverproc import ServerProcess, free_port
from test_faults_instances import _env as shared_env  # one bucket, one database, one signing key
from test_pipeline_hooks import HttpApi, pool_workers, wait_for

pytestmark = pytest.mark.fault

UPLOADS = 18  # six through each instance
LEASE_S = "3"  # the survivors reap the victim's leases within seconds


async def _final_rows(db_dsn: str) -> list[tuple[str, int, bool]]:
    conn = await asyncpg.connect(db_dsn)
    try:
        rows = await conn.fetch(
            "SELECT j.status::text AS s, p.status::text AS p, "
            "(SELECT count(*) FROM post_images i WHERE i.post_id = j.post_id) AS n "
            "FROM jobs j JOIN posts p ON p.id = j.post_id"
        )
    finally:
        await conn.close()
    return [(r["s"], r["n"], r["p"] == "published") for r in rows]


def _succeeded(api: HttpApi) -> int:
    return int(api.metrics()["imagepipe_jobs_succeeded_total"])


async def test_three_instances_one_killed_publish_every_upload_exactly_once(
    tmp_path: Path, db_dsn: str, s3_bucket  # type: ignore[no-untyped-def]
) -> None:
    photo = corpus_file("phone-3264x2448.jpg").read_bytes()  # ~0.2 s each: a backlog that lasts
    env = shared_env(db_dsn, s3_bucket, IMAGEPIPE_JOB_LEASE_S=LEASE_S, IMAGEPIPE_POLL_INTERVAL_S="0.5")
    servers = [ServerProcess(tmp_path / name, free_port(), env).start(wait_ready=0) for name in "abc"]
    for server in servers:
        server.wait_ready(60)
    victim, *survivors = servers
    try:
        owner = HttpApi(victim.base_url).signup(victim.data_dir)
        apis = [owner.with_base(s.base_url) for s in servers]
        # Through all three: each instance takes uploads and queues their jobs in the shared table.
        grants = [apis[i % 3].put_source(photo + i.to_bytes(2, "big")) for i in range(UPLOADS)]
        posts = [apis[i % 3].complete(grant) for i, grant in enumerate(grants)]

        # The victim dies with work in hand: let it finish one, freeze its pool (nothing more can
        # finish there), let an in-flight publish land, count, then SIGKILL it all.
        wait_for(lambda: _succeeded(apis[0]) >= 1 and apis[0].metrics()["imagepipe_pool_busy_workers"] > 0, 60, 0.02)
        workers = pool_workers(victim.proc.pid)
        for worker in workers:
            worker.send_signal(signal.SIGSTOP)
        time.sleep(1.0)
        by_victim = _succeeded(apis[0])
        for process in [psutil.Process(victim.proc.pid), *workers]:
            process.send_signal(signal.SIGKILL)
        victim.proc.wait(10)

        wait_for(lambda: apis[1].statuses(posts) == {"published": UPLOADS}, 90, 0.25)
        by_survivor = [_succeeded(api) for api in apis[1:]]
        reaped = sum(int(api.metrics()["imagepipe_leases_reaped_total"]) for api in apis[1:])
        assert by_victim + sum(by_survivor) == UPLOADS, (by_victim, by_survivor)  # exactly once
        assert by_victim < UPLOADS and all(n >= 2 for n in by_survivor), (by_victim, by_survivor)  # spread
        assert reaped >= 1  # the victim's leased job was taken over, not lost
        assert all(s.terminate() == 0 for s in survivors)
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    assert sorted(await _final_rows(db_dsn)) == [("succeeded", 3, True)] * UPLOADS
