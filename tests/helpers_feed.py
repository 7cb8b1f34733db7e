"""Test helpers for the feed and notifications: posts published the way the pipeline publishes
them (a status change, so the triggers of 0040 run), feed paging, and reading an SSE stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, AsyncIterator

import aiohttp
import asyncpg

from helpers_social import Account, SocialApi

INSERT_PROCESSING = """
INSERT INTO posts (id, user_id, caption, status, source_key, content_type, file_size)
VALUES ($1, $2, 'cap', 'processing', $3, 'image/jpeg', 1000)
"""


async def publish(social: SocialApi, owner: Account, at: datetime | None = None) -> uuid.UUID:
    """A post that goes processing -> published, as the pipeline's publish does (``at``: a
    publication time in the past, for history)."""
    return await publish_as(social.pool, owner.id, at)


async def publish_as(pool: asyncpg.Pool, owner: uuid.UUID, at: datetime | None = None) -> uuid.UUID:
    post_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute(INSERT_PROCESSING, post_id, owner, f"uploads/{owner}/{post_id}/source")
        await conn.execute("INSERT INTO post_metadata (post_id) VALUES ($1)", post_id)
        await conn.execute("UPDATE posts SET status = 'published', published_at = $2 WHERE id = $1", post_id, at)
    return post_id


async def follow_all(social: SocialApi, who: Account, whom: list[Account]) -> None:
    """Many follows at once, past the per-minute follow limit (the API is tested elsewhere)."""
    async with social.pool.acquire() as conn:
        await conn.executemany("INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)",
                               [(who.id, other.id) for other in whom])


async def feed_ids(social: SocialApi, who: Account, limit: int = 100) -> list[str]:
    body = await social.ok("GET", f"/api/v1/feed?limit={limit}", who)
    return [item["id"] for item in body["items"]]


@dataclass
class Event:
    id: str | None
    name: str | None
    data: Any
    retry: int | None = None


@dataclass
class SseReader:
    """Parses a text/event-stream response: events, id-only messages and retry hints."""

    resp: aiohttp.ClientResponse
    buffer: bytes = b""
    comments: list[str] = field(default_factory=list)

    async def next(self, timeout: float = 10.0) -> Event:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> Event:
        while True:
            if b"\n\n" in self.buffer:
                block, self.buffer = self.buffer.split(b"\n\n", 1)
                fields: dict[str, str] = {}
                for line in block.decode("utf-8").split("\n"):
                    if line.startswith(":"):
                        self.comments.append(line[1:].strip())
                        continue
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                if not fields:
                    continue
                return Event(id=fields.get("id"), name=fields.get("event"),
                             data=json.loads(fields["data"]) if "data" in fields else None,
                             retry=int(fields["retry"]) if "retry" in fields else None)
            chunk = await self.resp.content.readany()
            if not chunk:
                raise EOFError("stream ended")
            self.buffer += chunk

    async def notification(self, timeout: float = 10.0) -> Event:
        """The next notification event (skipping id-only messages)."""
        while True:
            event = await self.next(timeout)
            if event.name == "notification":
                return event

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.next()
