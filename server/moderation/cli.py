"""``imagepipe moderation list|approve ID|remove ID --reason R|audit`` and
``imagepipe users grant-admin|revoke-admin LOGIN``: the admin API's decisions from a shell on the
server, recorded in the audit as ``cli:<os user>``."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Sequence

import asyncpg

from ..config import Settings
from ..db import q
from ..http import ApiError
from . import decisions
from .audit import Actor
from .queue import queue_page
from .roles import UnknownLogin, set_admin
from .rules import MAX_REMOVAL_REASON_CHARS

QUEUE_COLUMNS = ("post_id", "held_at", "held_by", "score", "reports", "owner")
AUDIT_COLUMNS = ("at", "actor", "action", "post_id", "user_id", "reason")


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns under upper-case headers; pure."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(columns)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def _fail(message: str) -> int:
    print(f"imagepipe: {message}", file=sys.stderr)
    return 1


def _post_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def users_command(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    admin = args.users_command == "grant-admin"
    async with pool.acquire() as conn:
        try:
            username, changed = await set_admin(conn, args.login, admin, Actor.command_line())
        except UnknownLogin:
            return _fail(f"no account with username or email {args.login!r}")
    state = "is an admin" if admin else "is not an admin"
    print(f"{username} {state}" + ("" if changed else " (unchanged)"))
    return 0


async def moderation_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    command = args.moderation_command
    if command == "list":
        return await _list(pool, args.limit)
    if command == "audit":
        return await _audit(pool, args)
    post_id = _post_id(args.post_id)
    if post_id is None:
        return _fail(f"{args.post_id!r} is not a post id")
    if command == "remove" and not 0 < len(args.reason.strip()) <= MAX_REMOVAL_REASON_CHARS:
        return _fail(f"--reason must be 1 to {MAX_REMOVAL_REASON_CHARS} characters")
    from ..secrets_store import load_or_create_jwt_key
    from ..storage import create_store

    store = create_store(settings, load_or_create_jwt_key(settings))
    await store.open()
    try:
        if command == "approve":
            await decisions.approve_post(pool, store, post_id, Actor.command_line())
            print(f"post {post_id} approved: published")
        else:
            await decisions.remove_post(pool, store, post_id, args.reason.strip(), Actor.command_line())
            print(f"post {post_id} removed")
    except ApiError as exc:
        return _fail(exc.message)
    finally:
        await store.close()
    return 0


async def _list(pool: asyncpg.Pool, limit: int) -> int:
    if limit <= 0:
        return _fail("--limit must be greater than 0")
    async with pool.acquire() as conn:
        items, _ = await queue_page(conn, lambda key: key, min(limit, 1000))
    if not items:
        print("no posts waiting for review")
        return 0
    rows = [
        (
            item["post"]["id"],
            (item["held_at"] or "-")[:19].replace("T", " "),
            item["held_by"] or "-",
            "-" if item["post"].get("moderation", {}).get("score") is None
            else f"{item['post']['moderation']['score']:.2f}",
            str(item["report_count"]),
            item["post"]["user"]["username"],
        )
        for item in items
    ]
    print(format_table(QUEUE_COLUMNS, rows))
    return 0


async def _audit(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    async with pool.acquire() as conn:
        if args.post_id:
            post_id = _post_id(args.post_id)
            if post_id is None:
                return _fail(f"{args.post_id!r} is not a post id")
            rows = await conn.fetch(q("moderation_audit_for_post"), post_id)
        else:
            rows = await conn.fetch(q("moderation_audit_recent"), max(1, args.limit))
    if not rows:
        print("no decisions recorded")
        return 0
    print(format_table(AUDIT_COLUMNS, [
        (r["at"].strftime("%Y-%m-%d %H:%M:%S"), r["actor"], r["action"], str(r["post_id"] or "-"),
         str(r["user_id"] or "-"), r["reason"])
        for r in rows
    ]))
    return 0
