"""``POST /api/v1/posts/{id}/reports`` and ``POST /api/v1/comments/{id}/reports``.

One report per account per post or comment, ever (a unique index; a second one is a 409 and changes
nothing), at most ``reports_per_hour`` per account, verified accounts only, never on one's own
content. The report that brings a published post to ``report_hide_threshold`` distinct reporters
hides it for review, in the same transaction.
"""

from __future__ import annotations

import math
import uuid

import asyncpg
from aiohttp import web

from .. import appkeys
from ..auth import require_verified_user
from ..db import q
from ..http import ApiError, read_json
from ..posts.validation import parse_uuid
from . import decisions
from .rules import PUBLISHED, Report, parse_report, reports_hide


async def _limit(conn: asyncpg.Connection, reporter: uuid.UUID, per_hour: int) -> None:
    await conn.execute(q("moderation_lock_reporter"), reporter)
    if await conn.fetchval(q("moderation_recent_reports"), reporter) >= per_hour:
        raise ApiError(429, "rate_limited", f"at most {per_hour} reports an hour; try again later",
                       headers={"Retry-After": str(math.ceil(3600 / per_hour))})


async def _reportable_post(conn: asyncpg.Connection, post_id: uuid.UUID, reporter: uuid.UUID) -> asyncpg.Record:
    post = await conn.fetchrow(q("moderation_lock_reported_post"), post_id, reporter)
    if post is None or not post["visible"]:  # across a block, or in review: it does not exist for them
        raise ApiError(404, "post_not_found", "no such post")
    if post["status"] != PUBLISHED:
        raise ApiError(409, "invalid_status", f"only published posts can be reported; this one is {post['status']}")
    return post


def _accepted(report_id: int) -> web.Response:
    return web.json_response({"report_id": report_id, "status": "received"}, status=202)


async def report_post(request: web.Request) -> web.Response:
    reporter = await require_verified_user(request)
    post_id = parse_uuid(request.match_info["post_id"])
    report: Report = parse_report(await read_json(request))
    settings = request.app[appkeys.SETTINGS]
    pool: asyncpg.Pool = request.app[appkeys.DB]
    async with pool.acquire() as conn, conn.transaction():
        post = await _reportable_post(conn, post_id, reporter)
        if post["user_id"] == reporter:
            raise ApiError(400, "cannot_report_own", "you cannot report your own post")
        await _limit(conn, reporter, settings.reports_per_hour)
        report_id = await conn.fetchval(q("moderation_insert_post_report"), reporter, post_id, report.reason, report.note)
        if report_id is None:
            raise ApiError(409, "already_reported", "you have already reported this post")
        reporters = await conn.fetchval(q("moderation_open_post_reports"), post_id)
        hidden = reports_hide(reporters, settings.report_hide_threshold, post["status"])
        if hidden:
            hidden = await decisions.hide_for_reports(conn, post_id, reporters)
    if hidden:
        await decisions.hide_objects(pool, request.app[appkeys.STORE], post_id)
    return _accepted(report_id)


async def report_comment(request: web.Request) -> web.Response:
    reporter = await require_verified_user(request)
    comment_id = parse_uuid(request.match_info["comment_id"])
    report = parse_report(await read_json(request))
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.DB].acquire() as conn, conn.transaction():
        comment = await conn.fetchrow(q("moderation_comment"), comment_id, reporter)
        if comment is None or comment["blocked"]:
            raise ApiError(404, "comment_not_found", "no such comment")
        try:
            await _reportable_post(conn, comment["post_id"], reporter)
        except ApiError as exc:
            if exc.status == 404:
                raise ApiError(404, "comment_not_found", "no such comment") from None
            raise
        if comment["user_id"] == reporter:
            raise ApiError(400, "cannot_report_own", "you cannot report your own comment")
        await _limit(conn, reporter, settings.reports_per_hour)
        report_id = await conn.fetchval(q("moderation_insert_comment_report"), reporter, comment["post_id"],
                                        comment_id, report.reason, report.note)
        if report_id is None:
            raise ApiError(409, "already_reported", "you have already reported this comment")
    return _accepted(report_id)
