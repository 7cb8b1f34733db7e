"""Calling the API the way a patient app does: JSON in and out, the server's error quoted when an
answer is not the expected one, and ``Retry-After`` honoured (backlog full, store busy, rate limit)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from .errors import BenchError

BUSY_STATUSES = (429, 503)
MAX_WAIT_S = 180.0  # a rate-limit window is a minute; give up well after two of them


async def expect(resp: aiohttp.ClientResponse, status: int | tuple[int, ...], what: str) -> dict:
    """The JSON body of an expected answer, or a BenchError that quotes the server's error."""
    wanted = (status,) if isinstance(status, int) else status
    try:
        body = await resp.json(content_type=None)
    except (aiohttp.ContentTypeError, ValueError):
        body = None
    if resp.status not in wanted:
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        detail = f"{error.get('code')}: {error.get('message')}" if error else (await resp.text())[:200]
        raise BenchError(f"{what}: HTTP {resp.status} {detail}")
    return body if isinstance(body, dict) else {}


async def call(session: aiohttp.ClientSession, method: str, url: str, what: str, status: int, **kwargs: Any) -> dict:
    """One API call; waits out ``Retry-After`` answers up to ``MAX_WAIT_S`` in all."""
    waited = 0.0
    while True:
        async with session.request(method, url, **kwargs) as resp:
            retry_after = resp.headers.get("Retry-After") if resp.status in BUSY_STATUSES else None
            if retry_after is None or waited >= MAX_WAIT_S:
                return await expect(resp, status, what)
        delay = min(max(_seconds(retry_after), 0.1), 10.0)
        waited += delay
        await asyncio.sleep(delay)


def _seconds(retry_after: str) -> float:
    try:
        return float(retry_after)
    except ValueError:  # an HTTP date: not worth parsing for a pause of seconds
        return 1.0
