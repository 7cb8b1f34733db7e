"""The pipeline benchmark: N concurrent clients through the real HTTP API (init -> PUT -> complete ->
poll until published), while two samplers watch the server: the latency of a cheap API call and the
queue depth. Each client is a closed loop (next upload once the last one is published), so the
number of posts processing never exceeds the number of clients: with more clients than workers the
pool is saturated and the backlog stays bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Coroutine, Sequence
from urllib.parse import urljoin

import aiohttp

from .accounts import Target, account_names, create_account
from .api import call, expect
from .cpuprobe import CpuProbe, cores, share
from .errors import BenchError
from .launch import start_server
from .progress import Progress, say
from .promtext import gauge, queue_depth
from .social import SocialTally, social_client
from .stats import PipelineFigures

PUBLISH_TIMEOUT_S = 300.0
POLL_FIRST_S, POLL_MAX_S = 0.05, 0.2  # fine at first, then gentle: polling is load on the server too
API_SAMPLE_GAP_S = 0.05
METRICS_GAP_S = 0.25
# Workers transcoding right now: with the pool saturated, anything under ``workers`` means the
# pipeline starves its pool (claims, hand-offs, publishing), not that the CPU is slow.
BUSY_GAUGE = "imagepipe_pool_busy_workers"
CONTENT_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".heic": "image/heic", ".heif": "image/heif", ".avif": "image/avif", ".gif": "image/gif",
    ".tif": "image/tiff", ".tiff": "image/tiff",
}


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    content_type: str
    sha256: str

    @classmethod
    def load(cls, path: Path) -> "Upload":
        data = path.read_bytes()
        return cls(path.name, data, CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                   hashlib.sha256(data).hexdigest())


@dataclass
class Tally:
    """Shared by the clients and the samplers of one run."""

    workers: int
    in_flight: int = 0
    peak_in_flight: int = 0
    completed_at: list[float] = field(default_factory=list)
    published_at: list[float] = field(default_factory=list)
    e2e_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    api_s: list[tuple[float, bool]] = field(default_factory=list)  # (latency, pool saturated)
    peak_metric_queue: int | None = None
    pool_busy: list[float] = field(default_factory=list)  # busy workers, sampled while saturated
    done: bool = False

    @property
    def saturated(self) -> bool:
        return self.in_flight >= self.workers


async def upload_once(session: aiohttp.ClientSession, base: str, token: str, item: Upload) -> tuple[str, float]:
    """init -> PUT -> complete; the post id and when complete was answered."""
    auth = {"Authorization": f"Bearer {token}"}
    init = await call(session, "POST", f"{base}/api/v1/posts/upload/init", "upload init", 201, headers=auth, json={
        "filename": item.name, "content_type": item.content_type, "file_size": len(item.data), "file_hash": item.sha256,
    })
    put_url = urljoin(base + "/", init["presigned_url"])
    headers = dict(init.get("upload_headers") or {})
    async with session.request(init.get("upload_method", "PUT"), put_url, data=item.data, headers=headers) as resp:
        if resp.status >= 300:
            raise BenchError(f"upload PUT: HTTP {resp.status} {(await resp.text())[:200]}")
    await call(session, "POST", f"{base}/api/v1/posts/upload/complete", "upload complete", 200, headers=auth, json={
        "post_id": init["post_id"], "upload_token": init["upload_token"],
        "file_hash": item.sha256, "file_size": len(item.data),
    })
    return init["post_id"], time.perf_counter()


async def wait_published(session: aiohttp.ClientSession, base: str, token: str, post_id: str) -> tuple[str, float]:
    """Poll the post until it leaves ``processing``: its final status and when that was seen."""
    auth = {"Authorization": f"Bearer {token}"}
    gap = POLL_FIRST_S
    deadline = time.perf_counter() + PUBLISH_TIMEOUT_S
    while time.perf_counter() < deadline:
        async with session.get(f"{base}/api/v1/posts/{post_id}", headers=auth) as resp:
            post = await expect(resp, 200, "get post")
        if post.get("status") == "published":
            return "published", time.perf_counter()
        if post.get("status") == "failed":
            return f"failed: {post.get('error')}", time.perf_counter()
        await asyncio.sleep(gap)
        gap = min(POLL_MAX_S, gap * 1.5)
    return "timeout", time.perf_counter()


async def _client(session: aiohttp.ClientSession, base: str, token: str, items: Sequence[Upload],
                  tally: Tally, bar: Progress) -> None:
    for item in items:
        post_id, completed = await upload_once(session, base, token, item)
        tally.completed_at.append(completed)
        tally.in_flight += 1
        tally.peak_in_flight = max(tally.peak_in_flight, tally.in_flight)
        try:
            status, seen = await wait_published(session, base, token, post_id)
        finally:
            tally.in_flight -= 1
        if status == "published":
            tally.published_at.append(seen)
            tally.e2e_s.append(seen - completed)
        else:
            tally.failures.append(f"{item.name}: {status}")
        bar.advance()


async def _sample_api(base: str, url: str, token: str, tally: Tally) -> None:
    """Time a cheap call on its own connection, all the run long; each sample notes whether the
    pool was saturated when it was sent."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        while not tally.done:
            busy = tally.saturated
            start = time.perf_counter()
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:  # the clients will report a server that went away
                ok = False
            if ok:
                tally.api_s.append((time.perf_counter() - start, busy))
            await asyncio.sleep(API_SAMPLE_GAP_S)


async def _sample_queue(base: str, tally: Tally) -> None:
    async with aiohttp.ClientSession() as session:
        while not tally.done:
            saturated = tally.saturated
            try:
                async with session.get(f"{base}/metrics") as resp:
                    text = await resp.text() if resp.status == 200 else ""
            except aiohttp.ClientError:
                text = ""
            depth, busy = queue_depth(text), gauge(text, BUSY_GAUGE)
            if depth is not None:
                tally.peak_metric_queue = max(tally.peak_metric_queue or 0, int(depth))
                saturated = depth > tally.workers  # the server's own count beats our polling-delayed one
            if busy is not None and saturated:
                tally.pool_busy.append(busy)
            await asyncio.sleep(METRICS_GAP_S)


async def drive(target: Target, items: Sequence[Upload], workers: int, clients: int, uploads: int,
                progress: bool = True, probe: CpuProbe | None = None, social: bool = False) -> PipelineFigures:
    """Accounts, a warm-up round (one upload per worker, untimed), then the measured run."""
    base = target.base_url.rstrip("/")
    connector = aiohttp.TCPConnector(limit=max(100, clients * 2))
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        say(f"pipeline: creating {clients} account(s) on {base}", progress)
        tokens = await asyncio.gather(*(create_account(session, target, n) for n in account_names(clients)))

        # Warm-up: pool workers start lazily and the first image of each pays imports.
        say(f"pipeline: warm-up ({workers} upload(s))", progress)
        warm = await asyncio.gather(*(
            upload_once(session, base, tokens[0], items[i % len(items)]) for i in range(workers)
        ))
        statuses = await asyncio.gather(*(wait_published(session, base, tokens[0], pid) for pid, _ in warm))
        if not any(status == "published" for status, _ in statuses):
            raise BenchError(f"warm-up uploads did not publish: {[s for s, _ in statuses]}")
        probe_url = f"{base}/api/v1/posts/{warm[0][0]}"

        tally = Tally(workers=workers)
        bar = Progress(f"pipeline x{workers} ({clients} clients)", clients * uploads, enabled=progress)
        samplers = [asyncio.create_task(_sample_api(base, probe_url, tokens[0], tally)),
                    asyncio.create_task(_sample_queue(base, tally))]
        social_tally = SocialTally() if social else None
        if social_tally is not None:  # one companion per client, on the warm-up post
            samplers += [asyncio.create_task(social_client(base, token, warm[0][0], tally, social_tally))
                         for token in tokens]
        cpu_before = probe.sample() if probe else None
        try:
            # Round-robin over the set as a whole, so the uploaded mix matches the codec run's
            # whenever clients x uploads is a multiple of the image count (like with like).
            await asyncio.gather(*(
                _client(session, base, tokens[c], [items[(c * uploads + k) % len(items)] for k in range(uploads)],
                        tally, bar)
                for c in range(clients)
            ))
        finally:
            cpu_split = share(cpu_before, probe.sample(), cores()) if probe and cpu_before else None
            tally.done = True
            await asyncio.gather(*samplers, return_exceptions=True)
        wall = (max(tally.published_at) - min(tally.completed_at)) if tally.published_at else 0.0
        bar.close(f"{len(tally.published_at) / wall:.2f} uploads/s" if wall else "")
    for failure in tally.failures:
        say(f"pipeline: post failed: {failure}", progress)
    for error in (social_tally.errors[:5] if social_tally else []):
        say(f"pipeline: social call failed: {error}", progress)
    busy = [s for s, saturated in tally.api_s if saturated]
    return PipelineFigures(
        workers=workers,
        clients=clients,
        published=len(tally.published_at),
        failed=len(tally.failures),
        wall_s=wall,
        e2e_s=tuple(tally.e2e_s),
        api_s=tuple(busy or (s for s, _ in tally.api_s)),
        peak_queue=tally.peak_metric_queue if tally.peak_metric_queue is not None else tally.peak_in_flight,
        queue_source="metrics" if tally.peak_metric_queue is not None else "clients",
        api_endpoint="GET /api/v1/posts/{id}",
        saturated=bool(busy),
        cpu_share=cpu_split,
        pool_busy_avg=sum(tally.pool_busy) / len(tally.pool_busy) if tally.pool_busy else None,
        social_s=social_tally.timed() if social_tally else None,
        social_saturated=social_tally.saturated if social_tally else True,
        social_refused=social_tally.refused if social_tally else 0,
    )


def run_pipeline(
    paths: Sequence[Path],
    workers: int,
    clients: int,
    uploads: int,
    url: str | None = None,
    token: str | None = None,
    data_dir: str | None = None,
    config: str | None = None,
    progress: bool = True,
    social: bool = False,
) -> PipelineFigures:
    """Against ``url``, or a server started here (and stopped, its data removed, afterwards)."""
    items = [Upload.load(p) for p in paths]
    if url:
        outbox = Path(data_dir) / "outbox" if data_dir else None
        return _run(drive(Target(url, outbox, token), items, workers, clients, uploads, progress, social=social), url)
    say(f"pipeline: starting a server with {workers} worker(s)", progress)
    server = start_server(workers, parent_dir=data_dir, config=config)
    try:
        probe = CpuProbe(server.proc.pid, server.data_dir / "pg")
        target = Target(server.base_url, server.outbox, token)
        return _run(drive(target, items, workers, clients, uploads, progress, probe, social), server.base_url)
    except BenchError as exc:
        raise BenchError(f"{exc}\n--- server log (tail) ---\n{server.log_tail()}") from None
    finally:
        server.stop()


def _run(run: Coroutine[Any, Any, PipelineFigures], url: str) -> PipelineFigures:
    try:
        return asyncio.run(run)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise BenchError(f"lost the connection to {url}: {exc.__class__.__name__} {exc}") from None
