"""What the publisher's transaction writes when moderation is on (``server.jobs.JobQueue.publish``):
the classifier's scores with the post, and for a held or rejected post its status, why, and the
audit row naming the classifier. Same transaction as the job's own fenced write, so a claim that
lost its job records nothing.

``moderation`` is an ``actors.moderation.Decision`` carrying its ``Assessment``.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.pipeline.ports import ClaimedJob, Published, PublishOutcome

from ..db import q
from . import audit


async def keep_scores(conn: asyncpg.Connection, post_id: Any, moderation: Any) -> None:
    found = moderation.assessment
    await conn.execute(q("moderation_record_assessment"), post_id, found.model, dict(found.scores),
                       found.score, found.error)


def _details(moderation: Any) -> dict[str, Any]:
    found = moderation.assessment
    return {"model": found.model, "score": found.score, "error": found.error, "why": moderation.why}


async def hold(conn: asyncpg.Connection, job: ClaimedJob, moderation: Any, width: int, height: int,
               metadata: dict[str, Any]) -> None:
    """The post's first status is in_review (it was never published, so nobody counted it)."""
    await conn.execute(q("moderation_hold_new_post"), job.post_id, width, height, metadata)
    await keep_scores(conn, job.post_id, moderation)
    await conn.execute(q("moderation_record_hold"), job.post_id, moderation.why)
    await audit.record(conn, audit.CLASSIFIER, "hold", post_id=job.post_id, user_id=job.user_id,
                       reason=moderation.message, details=_details(moderation))


async def reject(conn: asyncpg.Connection, job: ClaimedJob, moderation: Any) -> PublishOutcome:
    """Job failed (fenced), post failed ``rejected_by_moderation``, scores kept; nothing was stored."""
    closed = await conn.fetchval(q("jobs_mark_final"), job.id, job.claim, "failed", moderation.message, moderation.code)
    if closed is None:
        return PublishOutcome(Published.LOST)
    await conn.execute(q("jobs_fail_post"), job.post_id, moderation.code, moderation.message)
    await keep_scores(conn, job.post_id, moderation)
    await audit.record(conn, audit.CLASSIFIER, "reject", post_id=job.post_id, user_id=job.user_id,
                       reason=moderation.message, details=_details(moderation))
    return PublishOutcome(Published.REJECTED)
