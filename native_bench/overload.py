"""``bench pipeline --overload``: twice the pool's throughput, open loop, for ``--duration`` seconds.

First the pool's throughput is measured (a burst that keeps every worker busy for a tenth of the
duration, at least 10 s); then uploads *arrive* at twice that rate whatever the server answers, as
users would. The contract under overload: the only errors are 503s with ``Retry-After`` from ``upload/init`` (the
backlog is full: come back later), the API stays responsive (p99 of a cheap authenticated call,
sampled all along, under 50 ms), and every upload the server accepted is published in the end.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import aiohttp

from .accounts import Target, account_names, create_account
from .noisy import salted
from .pipeline import Upload, upload_once, wait_published
from .stats import percentile

API_TARGET_P99_S = 0.050
SAMPLE_GAP_S = 0.05
ACCOUNTS = 8
DRAIN_TIMEOUT_S = 1800.0


@dataclass
class Overload:
    capacity_per_s: float = 0.0
    offered_per_s: float = 0.0
    duration_s: float = 0.0
    arrivals: int = 0
    accepted: list[str] = field(default_factory=list)
    refused_503: int = 0
    refused_503_without_retry_after: int = 0
    errors: Counter = field(default_factory=Counter)  # "<step> HTTP <status>" -> count
    api_s: list[float] = field(default_factory=list)
    init_s: list[float] = field(default_factory=list)
    published: int = 0
    failed: int = 0
    lost: int = 0
    drain_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        p = lambda xs, q: round(percentile(xs, q) * 1000, 1) if xs else None  # noqa: E731
        return {
            "capacity_uploads_per_s": round(self.capacity_per_s, 2), "offered_uploads_per_s": round(self.offered_per_s, 2),
            "duration_s": self.duration_s, "arrivals": self.arrivals, "accepted": len(self.accepted),
            "refused_503_backlog": self.refused_503, "refused_503_without_retry_after": self.refused_503_without_retry_after,
            "other_errors": dict(self.errors), "api_p50_ms": p(self.api_s, 50), "api_p99_ms": p(self.api_s, 99),
            "api_samples": len(self.api_s), "init_p99_ms": p(self.init_s, 99), "published": self.published,
            "failed": self.failed, "lost": self.lost, "drain_s": round(self.drain_s, 1),
            "verdict": "ok" if self.ok else "FAILED",
        }

    @property
    def ok(self) -> bool:
        api = percentile(self.api_s, 99) if self.api_s else 1.0
        return not self.errors and not self.refused_503_without_retry_after and not self.lost and api < API_TARGET_P99_S


async def _arrival(session: aiohttp.ClientSession, base: str, token: str, item: Upload, run: Overload,
                   owners: dict[str, str]) -> None:
    """One user's upload, tried once: a 503 at init is the answer we expect when the backlog is full."""
    auth = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    async with session.post(f"{base}/api/v1/posts/upload/init", headers=auth, json={
        "filename": item.name, "content_type": item.content_type, "file_size": len(item.data), "file_hash": item.sha256,
    }) as resp:
        run.init_s.append(time.perf_counter() - started)
        body = await resp.json(content_type=None)
        if resp.status == 503:
            run.refused_503 += 1
            if not resp.headers.get("Retry-After"):
                run.refused_503_without_retry_after += 1
            return
        if resp.status != 201:
            run.errors[f"init HTTP {resp.status}"] += 1
            return
    url = body["presigned_url"] if body["presigned_url"].startswith("http") else base + body["presigned_url"]
    async with session.request(body.get("upload_method", "PUT"), url, data=item.data,
                               headers=body.get("upload_headers") or {}) as resp:
        if resp.status >= 300:
            run.errors[f"PUT HTTP {resp.status}"] += 1
            return
    async with session.post(f"{base}/api/v1/posts/upload/complete", headers=auth, json={
        "post_id": body["post_id"], "upload_token": body["upload_token"], "file_hash": item.sha256,
        "file_size": len(item.data),
    }) as resp:
        if resp.status != 200:
            run.errors[f"complete HTTP {resp.status}"] += 1
            return
    run.accepted.append(body["post_id"])
    owners[body["post_id"]] = token


async def _sample_api(base: str, url: str, token: str, run: Overload, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        while not stop.is_set():
            start = time.perf_counter()
            async with session.get(url) as resp:
                await resp.read()
                if resp.status == 200:
                    run.api_s.append(time.perf_counter() - start)
                else:
                    run.errors[f"api sample HTTP {resp.status}"] += 1
            await asyncio.sleep(SAMPLE_GAP_S)


async def _capacity(session: aiohttp.ClientSession, base: str, tokens: list[str], items: Sequence[Upload],
                    workers: int, seconds: float) -> float:
    """Published uploads per second with the pool never idle: a burst large enough to keep every
    worker busy for about ``seconds`` is queued at once and timed from the first completed upload
    to the last publication (a closed loop of clients measures their own round trips instead)."""
    per_worker_s = 1.0  # a first guess of one transcode; corrected by a small burst first
    burst = [salted(items[k % len(items)], 10_000 + k) for k in range(2 * workers)]
    for _ in range(2):
        started = await asyncio.gather(*(upload_once(session, base, tokens[k % len(tokens)], u)
                                         for k, u in enumerate(burst)))
        finished = await asyncio.gather(*(wait_published(session, base, tokens[k % len(tokens)], pid)
                                          for k, (pid, _) in enumerate(started)))
        elapsed = max(seen for _, seen in finished) - min(done for _, done in started)
        rate = len(burst) / max(elapsed, 1e-6)
        per_worker_s = workers / rate
        size = max(2 * workers, int(seconds / per_worker_s * workers))
        burst = [salted(items[k % len(items)], 20_000 + k) for k in range(size)]
    return rate


async def drive_overload(target: Target, items: Sequence[Upload], workers: int, duration_s: float,
                         say=print) -> Overload:  # type: ignore[no-untyped-def]
    base = target.base_url.rstrip("/")
    run = Overload(duration_s=duration_s)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500), timeout=timeout) as session:
        tokens = await asyncio.gather(*(create_account(session, target, n) for n in account_names(ACCOUNTS)))
        warm, _ = await upload_once(session, base, tokens[0], items[0])
        await wait_published(session, base, tokens[0], warm)
        calibrate = max(10.0, duration_s / 10)
        say(f"overload: measuring the pool's throughput for {calibrate:.0f}s")
        run.capacity_per_s = await _capacity(session, base, tokens, items, workers, calibrate)
        run.offered_per_s = 2 * run.capacity_per_s
        say(f"overload: {run.capacity_per_s:.2f} uploads/s; offering {run.offered_per_s:.2f}/s for {duration_s:.0f}s")
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_api(base, f"{base}/api/v1/posts/{warm}", tokens[0], run, stop))
        arrivals: set[asyncio.Task[None]] = set()
        owners: dict[str, str] = {}  # post id -> its account's token (a processing post is its owner's alone)
        start = time.perf_counter()
        while (now := time.perf_counter()) - start < duration_s:
            due = int((now - start) * run.offered_per_s) + 1
            while run.arrivals < due:
                item = items[run.arrivals % len(items)]
                token = tokens[run.arrivals % len(tokens)]
                upload = salted(item, run.arrivals)  # each arrival is a new photo
                task = asyncio.create_task(_arrival(session, base, token, upload, run, owners))
                arrivals.add(task)
                task.add_done_callback(arrivals.discard)
                run.arrivals += 1
            await asyncio.sleep(0.02)
        await asyncio.gather(*arrivals, return_exceptions=True)
        say(f"overload: {len(run.accepted)} accepted; waiting for the backlog to drain")
        drain_start = time.perf_counter()
        final = await _final_states(session, base, owners, run.accepted)
        stop.set()
        await sampler
        run.drain_s = time.perf_counter() - drain_start
    run.published = sum(1 for s in final.values() if s == "published")
    run.failed = sum(1 for s in final.values() if s == "failed")
    run.lost = len(run.accepted) - run.published - run.failed
    return run


async def _final_states(session: aiohttp.ClientSession, base: str, owners: dict[str, str], posts: list[str],
                        timeout_s: float = DRAIN_TIMEOUT_S) -> dict[str, str]:
    """Each accepted post's status once none is processing (or the timeout passed): polled a few
    at a time, so the drain is not itself a load test."""
    final: dict[str, str] = {}
    pending = list(posts)
    deadline = time.perf_counter() + timeout_s
    gate = asyncio.Semaphore(8)

    async def look(post_id: str) -> None:
        async with gate, session.get(f"{base}/api/v1/posts/{post_id}",
                                     headers={"Authorization": f"Bearer {owners[post_id]}"}) as resp:
            body = await resp.json(content_type=None) if resp.status == 200 else {}
        if body.get("status") in ("published", "failed"):
            final[post_id] = body["status"]

    while pending and time.perf_counter() < deadline:
        await asyncio.gather(*(look(p) for p in pending))
        pending = [p for p in pending if p not in final]
        if pending:
            await asyncio.sleep(1.0)
    return final
