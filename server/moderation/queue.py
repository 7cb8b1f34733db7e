"""The review queue: posts in review, oldest held first, each with its scores and open reports,
plus comments with open reports. Shared by the admin API and ``imagepipe moderation list``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

import asyncpg

from ..db import q
from ..http import rfc3339
from ..posts.serialize import post_json
from .post_views import moderation_json


def _report_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "reason": row["reason"],
        "note": row["note"],
        "reporter": {"id": str(row["reporter_id"]), "username": row["username"]},
        "created_at": rfc3339(row["created_at"]),
    }


async def queue_page(
    conn: asyncpg.Connection, url_for: Callable[[str], str], limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> tuple[list[dict[str, Any]], tuple[datetime, uuid.UUID] | None]:
    """One page of the queue and the (held_at, id) to continue after, or None at the end."""
    after_at, after_id = after or (None, None)
    rows = await conn.fetch(q("moderation_queue"), after_at, after_id, limit + 1)
    page = rows[:limit]
    ids = [r["id"] for r in page]
    images: dict[uuid.UUID, list[asyncpg.Record]] = {}
    reports: dict[uuid.UUID, list[asyncpg.Record]] = {}
    facts: dict[uuid.UUID, asyncpg.Record] = {}
    if ids:
        for image in await conn.fetch(q("post_images_for"), ids):
            images.setdefault(image["post_id"], []).append(image)
        for report in await conn.fetch(q("moderation_open_reports_for"), ids):
            if report["comment_id"] is None:
                reports.setdefault(report["post_id"], []).append(report)
        facts = {f["post_id"]: f for f in await conn.fetch(q("moderation_facts"), ids)}
    items = []
    for row in page:
        post = post_json(row, images.get(row["id"], []), url_for)
        post["user"] = {"id": str(row["user_id"]), "username": row["username"]}
        if row["id"] in facts:
            post["moderation"] = moderation_json(facts[row["id"]])
        items.append({
            "post": post,
            "held_by": row["held_by"],
            "held_at": rfc3339(row["held_at"]),
            "report_count": len(reports.get(row["id"], [])),
            "reports": [_report_json(r) for r in reports.get(row["id"], [])],
        })
    more = (page[-1]["held_at"], page[-1]["id"]) if len(rows) > limit else None
    return items, more


async def reported_comments(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(q("moderation_reported_comments"), limit)
    return [
        {
            "comment_id": str(r["comment_id"]),
            "post_id": str(r["post_id"]),
            "report_count": r["report_count"],
            "reasons": list(r["reasons"]),
            "first_reported_at": rfc3339(r["first_reported_at"]),
        }
        for r in rows
    ]
