"""``bench pipeline --noisy-neighbour``: one account queues 60 jobs at once; another account's single
upload is timed (``upload/complete`` answered -> seen published) against its time on the idle
server. Fair claiming promises at most ``2 x idle + one transcode``; the bound is printed beside the
figure, measured in the same run. "One transcode" is one job as the pipeline runs it under the
backlog (the drain time over the jobs left): a transcode timed alone, also printed, leaves out what
each job ahead costs besides its pixels (fetch, three fsynced variant writes, the commit)."""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import time
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urljoin

import aiohttp

from .accounts import Target, account_names, create_account
from .api import call
from .errors import BenchError
from .pipeline import Upload, upload_once, wait_published

NOISY_JOBS = 60
OPEN_AT_ONCE = 20  # the default max_open_uploads_per_user
IDLE_RUNS = 3


@dataclass
class Noisy:
    idle_s: float
    one_transcode_s: float  # alone, in this process
    one_job_s: float  # through the pipeline, under the backlog
    with_backlog_s: float
    backlog: int
    backlog_left: int  # the noisy account's posts still processing when the timed one published

    @property
    def bound_s(self) -> float:
        return 2 * self.idle_s + self.one_job_s

    def summary(self) -> dict[str, Any]:
        return {"idle_s": round(self.idle_s, 3), "one_transcode_s": round(self.one_transcode_s, 3),
                "one_job_s": round(self.one_job_s, 3),
                "with_backlog_s": round(self.with_backlog_s, 3), "bound_s": round(self.bound_s, 3),
                "backlog_jobs": self.backlog, "backlog_left_when_published": self.backlog_left,
                "verdict": "ok" if self.with_backlog_s <= self.bound_s else "FAILED"}


def salted(item: Upload, salt: int) -> Upload:
    """The same photo as a new upload (its own bytes and hash): decoders ignore bytes after a JPEG,
    PNG, GIF or WebP end; an ISO-BMFF file (HEIF, AVIF) gets a ``free`` box, since loose trailing
    bytes would make it a truncated file."""
    tail = salt.to_bytes(4, "big")
    if item.data[4:8] == b"ftyp":
        tail = (8 + len(tail)).to_bytes(4, "big") + b"free" + tail
    data = item.data + tail
    return Upload(item.name, data, item.content_type, hashlib.sha256(data).hexdigest())


async def _timed(session: aiohttp.ClientSession, base: str, token: str, item: Upload) -> float:
    post_id, completed = await upload_once(session, base, token, item)
    status, seen = await wait_published(session, base, token, post_id)
    if status != "published":
        raise RuntimeError(f"the timed upload ended {status}")
    return seen - completed


def one_transcode_s(item: Upload, options: Any) -> float:
    """The transcode alone, in this process (best of three): the 'one transcode' of the bound."""
    from actors.transcode import transcode

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        transcode(item.data, options)
        best = min(best, time.perf_counter() - start)
    return best


async def queue_backlog(session: aiohttp.ClientSession, base: str, token: str, item: Upload) -> list[tuple[str, float]]:
    """60 jobs in about a second: uploads are opened and sent first, then completed together, in
    batches that respect the server's cap on uploads one account may have open at once."""
    auth = {"Authorization": f"Bearer {token}"}
    done: list[tuple[str, float]] = []
    for start in range(0, NOISY_JOBS, OPEN_AT_ONCE):
        batch = [salted(item, 1000 + i) for i in range(start, min(NOISY_JOBS, start + OPEN_AT_ONCE))]
        grants = await asyncio.gather(*(_open(session, base, auth, u) for u in batch))

        async def complete(grant: dict, upload: Upload) -> tuple[str, float]:
            await call(session, "POST", f"{base}/api/v1/posts/upload/complete", "upload complete", 200, headers=auth,
                       json={"post_id": grant["post_id"], "upload_token": grant["upload_token"],
                             "file_hash": upload.sha256, "file_size": len(upload.data)})
            return grant["post_id"], time.perf_counter()

        done += await asyncio.gather(*(complete(g, u) for g, u in zip(grants, batch)))
    return done


async def _open(session: aiohttp.ClientSession, base: str, auth: dict, item: Upload) -> dict:
    grant = await call(session, "POST", f"{base}/api/v1/posts/upload/init", "upload init", 201, headers=auth, json={
        "filename": item.name, "content_type": item.content_type, "file_size": len(item.data), "file_hash": item.sha256})
    async with session.request(grant.get("upload_method", "PUT"), urljoin(base + "/", grant["presigned_url"]),
                               data=item.data, headers=grant.get("upload_headers") or {}) as resp:
        if resp.status >= 300:
            raise BenchError(f"upload PUT: HTTP {resp.status}")
    return grant


async def drive_noisy(target: Target, items: Sequence[Upload], options: Any, workers: int, say=print) -> Noisy:  # type: ignore[no-untyped-def]
    base = target.base_url.rstrip("/")
    item = items[0]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        noisy_token, quiet_token = await asyncio.gather(*(create_account(session, target, n) for n in account_names(2)))
        await _timed(session, base, quiet_token, salted(item, 0))  # warm-up: the pool's first image pays imports
        idle = statistics.median([await _timed(session, base, quiet_token, salted(item, i + 1)) for i in range(IDLE_RUNS)])
        say(f"noisy-neighbour: idle {idle:.3f}s; queueing {NOISY_JOBS} jobs from another account")
        backlog = await queue_backlog(session, base, noisy_token, item)
        timed = await _timed(session, base, quiet_token, salted(item, 99))

        async def processing(post_id: str) -> bool:
            async with session.get(f"{base}/api/v1/posts/{post_id}", headers={"Authorization": f"Bearer {noisy_token}"}) as resp:
                return (await resp.json(content_type=None)).get("status") == "processing"

        left = sum(await asyncio.gather(*(processing(pid) for pid, _ in backlog)))
        say(f"noisy-neighbour: with the backlog {timed:.3f}s; waiting for the backlog to drain")
        drain_start = time.perf_counter()
        drained = await asyncio.gather(*(wait_published(session, base, noisy_token, pid) for pid, _ in backlog))
        # The drain runs ``workers`` jobs at a time: one job's time is the time per job times that.
        one_job = (max(seen for _, seen in drained) - drain_start) / max(left, 1) * workers
    return Noisy(idle, await asyncio.to_thread(one_transcode_s, item, options), one_job, timed, NOISY_JOBS, left)
