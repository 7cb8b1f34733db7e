"""Small rules found by the reliability work, each on the real parts it concerns."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from server.jobs import JobQueue
from server.pipeline_ctx import instance_prefix, lease_owner, lock_data_dir
from test_pipeline_hooks import insert_processing_post, insert_user


async def test_a_restart_on_a_shared_data_dir_never_reaps_the_live_siblings_leases(tmp_path: Path, db_pool: asyncpg.Pool) -> None:
    """Two ``serve`` processes on one data dir (how two local-store instances share their objects):
    only one holds the data dir's lock. When that one dies and its successor takes the lock, it
    reaps every lease named under the data dir's prefix as its dead predecessor's, so the sibling,
    alive and working, must never have named its leases under that prefix."""
    first = lock_data_dir(tmp_path)
    assert first is not None
    sibling = lease_owner(tmp_path, locked=lock_data_dir(tmp_path) is not None)
    async with db_pool.acquire() as conn:
        _, job_id = await insert_processing_post(conn, await insert_user(conn))
    queue = JobQueue(db_pool)
    [held] = await queue.claim(1, sibling, 600)

    first.close()  # the lock holder is SIGKILLed; its successor starts and takes the lock
    successor = lock_data_dir(tmp_path)
    assert successor is not None
    try:
        assert await queue.reap(instance_prefix(tmp_path)) == {}
    finally:
        successor.close()
    assert await queue.heartbeat([held], 600) == {job_id}, "the sibling still holds its job"


def test_a_connection_broken_mid_operation_is_an_outage_not_a_bug() -> None:
    """``pg_terminate_backend`` (or a PostgreSQL crash) during a query can leave asyncpg's protocol
    half way, and the next use of that connection raises InternalClientError ("cannot switch to
    state 12; another operation (2) is in progress"; asyncpg issues 784 and 1069) before the pool
    drops it. Found by the crash torture: upload/init answered 500 with a traceback, and a pipeline
    actor would crash (or a job lose an attempt) instead of waiting the outage out."""
    from asyncpg.exceptions import InternalClientError

    from actors.pipeline.decisions import DEFER, classify, is_db_transient

    broken = InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    assert is_db_transient(broken)
    assert classify(broken).kind == DEFER


async def test_a_publish_retried_after_its_commit_landed_is_still_published(db_pool: asyncpg.Pool) -> None:
    """A connection cut just after PostgreSQL committed the publish (pg_terminate_backend, a crash)
    looks like an outage to the publisher, which tries again. Found by the crash torture: the retry
    found the job no longer running, answered LOST, and the publisher, believing itself fenced out,
    deleted its objects, which were the ones the post now showed (three posts out of 10,000 lost their
    variants). The claim is this holder's alone, so "succeeded under my claim" means my commit."""
    from actors.pipeline.ports import Published, StoredImage

    async with db_pool.acquire() as conn:
        await insert_processing_post(conn, await insert_user(conn))
    queue = JobQueue(db_pool)
    [job] = await queue.claim(1, "holder", 30)
    images = [StoredImage("thumbnail", "jpeg", f"posts/{job.post_id}/{job.claim}/thumbnail.jpg", 1, 1, 1, 80)]
    first = await queue.publish(job, images, 1, 1, {})
    again = await queue.publish(job, images, 1, 1, {})
    assert first.outcome is Published.PUBLISHED
    assert again.outcome is Published.PUBLISHED, "the same claim's commit, seen again"
    assert again.queued_for_s is not None and again.queued_for_s >= 0
