"""``bench pipeline --social``: like, unlike and comment round trips timed while the pipeline's
clients keep the pool saturated (the target: p99 < 20 ms on the bench machine).

Each pipeline client gets a social companion with the same account, on a connection of its own:
it likes, unlikes and comments on one published post (the warm-up post, so the clients contend for
one post's counters like fans of a popular photo), pauses, and repeats until the run ends. Each
sample notes whether the pool was saturated when it was sent; only those count when there are
any. A 429 (a server with its default rate limits, through ``--url``) is waited out and counted,
never timed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

SOCIAL_GAP_S = 0.2  # a person taps, reads, taps again: a gentle load beside the uploads
CALLS = ("like", "unlike", "comment")


@dataclass
class SocialTally:
    samples: dict[str, list[tuple[float, bool]]] = field(default_factory=lambda: {c: [] for c in CALLS})
    refused: int = 0  # 429 answers waited out
    errors: list[str] = field(default_factory=list)

    def timed(self) -> dict[str, tuple[float, ...]]:
        """Per call, the latencies taken while saturated (all of them if none was)."""
        out = {}
        for call, samples in self.samples.items():
            busy = [s for s, saturated in samples if saturated]
            out[call] = tuple(busy or (s for s, _ in samples))
        return out

    @property
    def saturated(self) -> bool:
        return any(busy for samples in self.samples.values() for _, busy in samples)


async def _round_trip(session: aiohttp.ClientSession, method: str, url: str, expected: int,
                      body: dict | None) -> tuple[float | None, int, float]:
    """(seconds or None when not the expected answer, status, Retry-After seconds)."""
    start = time.perf_counter()
    async with session.request(method, url, json=body) as resp:
        await resp.read()
        elapsed = time.perf_counter() - start
        try:
            retry = float(resp.headers.get("Retry-After", "1"))
        except ValueError:
            retry = 1.0
        return (elapsed if resp.status == expected else None), resp.status, retry


async def social_client(base: str, token: str, post_id: str, tally: object, social: SocialTally) -> None:
    """Runs until ``tally.done``; ``tally.saturated`` says whether the pool is full right now."""
    post = f"{base}/api/v1/posts/{post_id}"
    calls = (("like", "PUT", f"{post}/like", 200, None), ("unlike", "DELETE", f"{post}/like", 200, None),
             ("comment", "POST", f"{post}/comments", 201, {"body": "nice photo"}))
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        while not tally.done:  # type: ignore[attr-defined]
            for name, method, url, expected, body in calls:
                busy = tally.saturated  # type: ignore[attr-defined]
                try:
                    elapsed, status, retry = await _round_trip(session, method, url, expected, body)
                except aiohttp.ClientError as exc:  # the pipeline clients report a server that went away
                    social.errors.append(f"{name}: {exc.__class__.__name__}")
                    return
                if elapsed is not None:
                    social.samples[name].append((elapsed, busy))
                elif status == 429:
                    social.refused += 1
                    await asyncio.sleep(min(max(retry, 0.1), 10.0))
                else:
                    social.errors.append(f"{name}: HTTP {status}")
            await asyncio.sleep(SOCIAL_GAP_S)
