"""A model of the job lifecycle, checked by Hypothesis' stateful testing against the real PostgreSQL
queue (``server.jobs.JobQueue``): random interleavings of claim, renew, publish, fail, retry, defer,
release, lease expiry, reap (with and without an outage), operator retry, post deletion and the
passing of time, by two holders. After every step the rows must be exactly what the model says.

Invariants: a job is held by at most one live claim (claim numbers are never reused, and only the
current claim's heartbeat or write is accepted); only the current claim's writes count (a stale
holder's publish, fail, retry or defer changes nothing); attempts never exceed the limit; a deleted
post's job is never claimed and its post never published.

The clock: the queue compares ``lease_expires_at`` and ``run_after`` with PostgreSQL's ``now()``,
which cannot be mocked without changing the queries. So time is moved in the rows instead: "a
lease expires" sets that job's ``lease_expires_at`` into the past, "time passes" moves every queued
job's ``run_after`` there. Every query that reads those columns compares them only with ``now()``,
so this is the same as the clock moving for those rows, and it keeps the real SQL under test.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from actors.pipeline.ports import ClaimedJob, Published, StoredImage
from conftest import with_database, TEMPLATE_DB
from server.db import create_pool, q
from server.jobs import JobQueue
from test_pipeline_hooks import insert_user

MAX_ATTEMPTS = 2
HOLDERS = ("holder-a", "holder-b")
LEASE_S = 600.0  # leases end only when the model says so


@dataclass
class Job:
    post_id: uuid.UUID
    status: str = "queued"
    attempts: int = 0
    claim: int | None = None
    owner: str | None = None
    expired: bool = False
    due: bool = True
    deleted: bool = False
    published: bool = False


@dataclass
class World:
    """What the test shares with every example: one event loop, one pool, two accounts."""

    loop: asyncio.AbstractEventLoop
    pool: asyncpg.Pool
    users: list[uuid.UUID] = field(default_factory=list)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


WORLD: World | None = None


class JobLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert WORLD is not None
        self.world = WORLD
        self.queue = JobQueue(WORLD.pool)
        self.jobs: dict[int, Job] = {}
        self.held: dict[str, list[ClaimedJob]] = {h: [] for h in HOLDERS}
        self.claims_issued: set[int] = set()
        self.published_by: list[ClaimedJob] = []  # handles whose publish was accepted

    @initialize()
    def empty_queue(self) -> None:
        self.world.run(self._sql("TRUNCATE posts, variant_writes CASCADE"))

    async def _sql(self, query: str, *args: Any) -> Any:
        async with self.world.pool.acquire() as conn:
            return await conn.execute(query, *args)

    # -- helpers -------------------------------------------------------------------------------------
    def _current(self, handle: ClaimedJob) -> bool:
        job = self.jobs[handle.id]
        return job.status == "running" and job.claim == handle.claim

    def _pick(self, holder: str, i: int) -> ClaimedJob:
        handles = self.held[holder]
        return handles.pop(i % len(handles))

    def _back_to_queue(self, job: Job, *, give_back: bool, due: bool = True) -> None:
        job.status, job.owner, job.expired, job.due = "queued", None, False, due
        if give_back:
            job.attempts = max(job.attempts - 1, 0)

    # -- rules ---------------------------------------------------------------------------------------
    # Few live jobs, so the holders keep meeting on the same ones; finished ones stay in the model.
    @precondition(lambda self: sum(j.status in ("queued", "running") for j in self.jobs.values()) < 3)
    @rule(user=st.integers(0, 1))
    def add_job(self, user: int) -> None:
        post_id = uuid.uuid4()

        async def insert() -> int:
            async with self.world.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO posts (id, user_id, status, source_key, content_type, file_size) "
                    "VALUES ($1, $2, 'processing', 'k', 'image/jpeg', 1)", post_id, self.world.users[user])
                return await conn.fetchval("INSERT INTO jobs (post_id, max_attempts) VALUES ($1, $2) RETURNING id",
                                           post_id, MAX_ATTEMPTS)

        self.jobs[self.world.run(insert())] = Job(post_id)

    @rule(holder=st.sampled_from(HOLDERS), n=st.integers(1, 3))
    def claim(self, holder: str, n: int) -> None:
        claimable = {i for i, j in self.jobs.items() if j.status == "queued" and j.due and not j.deleted}
        got = self.world.run(self.queue.claim(n, holder, LEASE_S))
        ids = {g.id for g in got}
        assert ids <= claimable, f"claimed {ids - claimable}, which the model says are not claimable"
        assert len(got) == min(n, len(claimable))
        for handle in got:
            assert handle.claim not in self.claims_issued, "a claim number was reused"
            self.claims_issued.add(handle.claim)
            job = self.jobs[handle.id]
            job.status, job.attempts, job.claim, job.owner, job.expired = "running", job.attempts + 1, handle.claim, holder, False
            assert handle.attempts == job.attempts
            self.held[holder].append(handle)

    @rule(holder=st.sampled_from(HOLDERS))
    def renew(self, holder: str) -> None:
        handles = self.held[holder]
        kept = self.world.run(self.queue.heartbeat(handles, LEASE_S)) if handles else set()
        assert kept == {h.id for h in handles if self._current(h)}
        for handle in handles:
            if self._current(handle):
                self.jobs[handle.id].expired = False

    @precondition(lambda self: any(self.held.values()))
    @rule(holder=st.sampled_from(HOLDERS), i=st.integers(0, 20))
    def publish(self, holder: str, i: int) -> None:
        if not self.held[holder]:
            return
        handle = self._pick(holder, i)
        image = StoredImage("thumbnail", "jpeg", f"posts/{handle.post_id}/{handle.claim}/thumbnail.jpg", 1, 1, 1, 80)
        outcome = self.world.run(self.queue.publish(handle, [image], 1, 1, {})).outcome
        job = self.jobs[handle.id]
        if not self._current(handle):
            assert outcome is Published.LOST
            return
        job.owner, job.expired = None, False
        if job.deleted:
            assert outcome is Published.POST_DELETED
            job.status = "failed"
        else:
            assert outcome is Published.PUBLISHED
            job.status, job.published = "succeeded", True
            self.published_by.append(handle)

    @precondition(lambda self: bool(self.published_by))
    @rule(i=st.integers(0, 20))
    def publish_retried_after_its_commit_landed(self, i: int) -> None:
        """The connection was cut after COMMIT: the holder tries the same publish again."""
        handle = self.published_by[i % len(self.published_by)]
        image = StoredImage("thumbnail", "jpeg", f"posts/{handle.post_id}/{handle.claim}/thumbnail.jpg", 1, 1, 1, 80)
        assert self.world.run(self.queue.publish(handle, [image], 1, 1, {})).outcome is Published.PUBLISHED

    @precondition(lambda self: any(self.held.values()))
    @rule(holder=st.sampled_from(HOLDERS), i=st.integers(0, 20))
    def fail_final(self, holder: str, i: int) -> None:
        if not self.held[holder]:
            return
        handle = self._pick(holder, i)
        current = self._current(handle)
        assert self.world.run(self.queue.fail_final(handle, "image_corrupt", "bad")) is current
        if current:
            job = self.jobs[handle.id]
            job.status, job.owner, job.expired = "failed", None, False

    @precondition(lambda self: any(self.held.values()))
    @rule(holder=st.sampled_from(HOLDERS), i=st.integers(0, 20), later=st.booleans())
    def fail_retry(self, holder: str, i: int, later: bool) -> None:
        if not self.held[holder]:
            return
        handle = self._pick(holder, i)
        current = self._current(handle)
        outcome = self.world.run(self.queue.fail_retry(handle, "internal_error", "boom", 3600.0 if later else 0.0))
        if not current:
            assert outcome is None
            return
        job = self.jobs[handle.id]
        expected = "dead" if job.attempts >= MAX_ATTEMPTS else "queued"
        assert outcome is not None and outcome.status == expected and outcome.attempts == job.attempts
        if expected == "dead":
            job.status, job.owner, job.expired = "dead", None, False
        else:
            self._back_to_queue(job, give_back=False, due=not later)

    @precondition(lambda self: any(self.held.values()))
    @rule(holder=st.sampled_from(HOLDERS), later=st.booleans())
    def defer_all(self, holder: str, later: bool) -> None:
        handles, self.held[holder] = self.held[holder], []
        current = {h.id for h in handles if self._current(h)}
        got = self.world.run(self.queue.defer(handles, 3600.0 if later else 0.0, "db_unavailable", "outage"))
        assert got == current
        for job_id in current:
            self._back_to_queue(self.jobs[job_id], give_back=True, due=not later)

    @rule(holder=st.sampled_from(HOLDERS))
    def release(self, holder: str) -> None:
        mine = [i for i, j in self.jobs.items() if j.status == "running" and j.owner == holder]
        assert self.world.run(self.queue.release(holder)) == len(mine)
        for job_id in mine:
            self._back_to_queue(self.jobs[job_id], give_back=True)
        self.held[holder] = []

    @precondition(lambda self: any(j.status == "running" for j in self.jobs.values()))
    @rule(i=st.integers(0, 50))
    def lease_expires(self, i: int) -> None:
        running = sorted(k for k, j in self.jobs.items() if j.status == "running")
        job_id = running[i % len(running)]
        self.world.run(self._sql("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", job_id))
        self.jobs[job_id].expired = True

    @precondition(lambda self: any(j.status == "running" for j in self.jobs.values()))
    @rule(i=st.integers(0, 50), outage=st.booleans())
    def holder_stalls(self, i: int, outage: bool) -> None:
        """The common way to a stale holder: its lease runs out and a reaper takes the job back."""
        self.lease_expires(i)
        self.reap(outage)

    @rule()
    def time_passes(self) -> None:
        self.world.run(self._sql("UPDATE jobs SET run_after = now() - interval '1 second' WHERE status = 'queued'"))
        for job in self.jobs.values():
            if job.status == "queued":
                job.due = True

    @rule(outage=st.booleans())
    def reap(self, outage: bool) -> None:
        expected: dict[str, int] = {}
        for job in self.jobs.values():
            if job.status == "running" and job.expired:
                attempts = max(job.attempts - 1, 0) if outage else job.attempts
                job.attempts, job.owner, job.expired, job.due = attempts, None, False, True
                job.status = "dead" if attempts >= MAX_ATTEMPTS else "queued"
                expected[job.status] = expected.get(job.status, 0) + 1
        closed = 0
        for job in self.jobs.values():
            if job.status == "queued" and job.deleted:
                job.status = "failed"
                closed += 1
        if closed:
            expected["post_deleted"] = closed
        assert self.world.run(self.queue.reap(outage=outage)) == expected

    @rule()
    def operator_retries_dead(self) -> None:
        dead = sorted(i for i, j in self.jobs.items() if j.status == "dead" and not j.deleted)
        assert self.world.run(self.queue.retry_dead()) == dead
        for job_id in dead:
            job = self.jobs[job_id]
            job.status, job.attempts, job.due = "queued", 0, True

    @precondition(lambda self: any(not j.deleted for j in self.jobs.values()))
    @rule(i=st.integers(0, 50))
    def delete_post(self, i: int) -> None:
        live = sorted(k for k, j in self.jobs.items() if not j.deleted)
        job_id = live[i % len(live)]
        job = self.jobs[job_id]

        async def delete() -> None:  # as DELETE /api/v1/posts/{id} does
            async with self.world.pool.acquire() as conn, conn.transaction():
                await conn.execute(q("soft_delete_post"), job.post_id)
                await conn.execute(q("cancel_queued_jobs"), job.post_id)

        self.world.run(delete())
        job.deleted = True
        if job.status == "queued":
            job.status = "failed"

    # -- invariants ----------------------------------------------------------------------------------
    @invariant()
    def rows_match_the_model(self) -> None:
        async def read() -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
            async with self.world.pool.acquire() as conn:
                jobs = await conn.fetch("SELECT id, status::text AS status, attempts, max_attempts, claim, lease_owner FROM jobs")
                posts = await conn.fetch(
                    "SELECT p.id, p.status::text AS status, p.deleted_at IS NOT NULL AS deleted, "
                    "(SELECT array_agg(storage_key) FROM post_images i WHERE i.post_id = p.id) AS keys FROM posts p")
                return jobs, posts

        jobs, posts = self.world.run(read())
        assert {r["id"] for r in jobs} == set(self.jobs)
        for row in jobs:
            model = self.jobs[row["id"]]
            assert row["attempts"] <= row["max_attempts"], "attempts beyond the limit"
            got = (row["status"], row["attempts"], row["lease_owner"])
            assert got == (model.status, model.attempts, model.owner), f"job {row['id']}: {got} but the model says {model}"
            if model.claim is not None:
                assert row["claim"] == model.claim
            live = [h for hs in self.held.values() for h in hs if h.id == row["id"] and h.claim == row["claim"]]
            assert row["status"] != "running" or len(live) <= 1, "two live claims on one job"
        by_post = {j.post_id: j for j in self.jobs.values()}
        for row in posts:
            model = by_post[row["id"]]
            if row["status"] == "published":
                # Only a publish accepted while the post was not deleted makes it published.
                assert model.published, "a post was published by a stale claim or after its deletion"
                [key] = row["keys"]
                assert int(key.split("/")[2]) == model.claim, "the post shows a claim that is not the job's last"


async def _fresh_database(admin_dsn: str) -> str:
    name = f"t_model_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    finally:
        await conn.close()
    return name


async def _drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


def test_the_job_lifecycle_against_the_real_queue(pg_server) -> None:  # type: ignore[no-untyped-def]
    global WORLD
    loop = asyncio.new_event_loop()
    name = loop.run_until_complete(_fresh_database(pg_server.uri))
    pool = loop.run_until_complete(create_pool(with_database(pg_server.uri, name), min_size=1, max_size=3))
    try:
        WORLD = World(loop, pool)

        async def accounts() -> list[uuid.UUID]:
            async with pool.acquire() as conn:
                return [await insert_user(conn), await insert_user(conn)]

        WORLD.users = loop.run_until_complete(accounts())
        run_state_machine_as_test(JobLifecycle, settings=settings(
            max_examples=500, stateful_step_count=40, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck),
        ))
    finally:
        WORLD = None
        loop.run_until_complete(pool.close())
        loop.run_until_complete(_drop_database(pg_server.uri, name))
        loop.close()
