"""The one place where a post moves between ``published``, ``in_review`` and ``removed``.

Every such move goes through ``transition`` (one UPDATE, ``moderation_set_status``) inside the
transaction that also records why (``post_moderation``) and who (``moderation_audit``). What other
areas need from it: a post whose status is not ``published`` must be treated like a deleted one
(left out of feeds, counts and notifications); areas that keep counters can hook the change here.
The publisher's own first hold of a new post (``actors/pipeline``) never passed through
``published``, so nobody counted it.

After the commit the objects follow the status (``objects.py``); a failure there is left to the
reconcile and purge sweeps, never undone: the status is what the API shows.
"""

from __future__ import annotations

import logging
import uuid
from typing import Sequence

import asyncpg

from ..db import q
from ..http import ApiError
from ..storage import ObjectStore
from . import audit, objects
from .audit import Actor
from .rules import APPROVABLE, IN_REVIEW, PUBLISHED, REMOVABLE, REMOVED, check_transition

log = logging.getLogger(__name__)


async def transition(conn: asyncpg.Connection, post_id: uuid.UUID, to: str, allowed_from: Sequence[str]) -> uuid.UUID | None:
    """Move the post to ``to`` if it is in one of ``allowed_from``; its owner, or None if it was not."""
    return await conn.fetchval(q("moderation_set_status"), post_id, to, list(allowed_from))


async def _locked_post(conn: asyncpg.Connection, post_id: uuid.UUID) -> asyncpg.Record:
    post = await conn.fetchrow(q("moderation_lock_post"), post_id)
    if post is None:
        raise ApiError(404, "post_not_found", "no such post")
    return post


async def hide_for_reports(conn: asyncpg.Connection, post_id: uuid.UUID, reporters: int) -> bool:
    """In the caller's transaction (the report that reached the threshold): published -> in_review."""
    owner = await transition(conn, post_id, IN_REVIEW, (PUBLISHED,))
    if owner is None:
        return False
    await conn.execute(q("moderation_record_hold"), post_id, "reports")
    await audit.record(conn, audit.REPORTS, "hide", post_id=post_id, user_id=owner,
                       reason=f"reported by {reporters} accounts", details={"reporters": reporters})
    return True


async def approve_post(pool: asyncpg.Pool, store: ObjectStore, post_id: uuid.UUID, actor: Actor) -> None:
    """in_review -> published, its open reports closed; 404 / 409 ``invalid_status`` otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        post = await _locked_post(conn, post_id)
        check_transition(post["status"], APPROVABLE, "approve")
        await transition(conn, post_id, PUBLISHED, APPROVABLE)
        await conn.execute(q("moderation_record_decision"), post_id, "approved", "")
        closed = await conn.execute(q("moderation_close_reports"), post_id)
        await audit.record(conn, actor, "approve", post_id=post_id, user_id=post["user_id"],
                           details={"reports_closed": int(closed.split()[-1])})
    await _follow(objects.move_renditions(pool, store, post_id, to_held=False), post_id)


async def remove_post(pool: asyncpg.Pool, store: ObjectStore, post_id: uuid.UUID, reason: str, actor: Actor) -> None:
    """in_review or published -> removed (the owner sees ``reason``), then its objects are purged."""
    async with pool.acquire() as conn, conn.transaction():
        post = await _locked_post(conn, post_id)
        check_transition(post["status"], REMOVABLE, "remove")
        await transition(conn, post_id, REMOVED, REMOVABLE)
        await conn.execute(q("moderation_record_decision"), post_id, "removed", reason)
        closed = await conn.execute(q("moderation_close_reports"), post_id)
        await audit.record(conn, actor, "remove", post_id=post_id, user_id=post["user_id"], reason=reason,
                           details={"from": post["status"], "reports_closed": int(closed.split()[-1])})
    await _follow(objects.purge_removed_posts(pool, store, post_id=post_id), post_id)


async def hide_objects(pool: asyncpg.Pool, store: ObjectStore, post_id: uuid.UUID) -> None:
    """After a hide committed: the renditions leave ``posts/``."""
    await _follow(objects.move_renditions(pool, store, post_id, to_held=True), post_id)


async def _follow(work, post_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    try:
        await work
    except Exception:  # the sweeps retry; the decision itself is committed and stands
        log.warning("objects of post %s did not follow its new status yet; the sweep will retry",
                    post_id, exc_info=True)
