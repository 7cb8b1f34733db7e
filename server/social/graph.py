"""The graph between accounts: follow, unfollow, block, unblock. One transaction per action, each in
one function, so work that must commit with the edge (issue 11's follow notification) goes in there.

Every change to the edges between two accounts first takes a transaction-scoped advisory lock on
the pair and only then reads how they relate: a follow racing a block either lands before it (and
the block removes it) or sees the block (and is refused). Counters move by trigger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from ..db import q
from ..feed import notify
from ..http import ApiError
from . import rules
from .rules import Relation
from .validation import UserRef


@dataclass(frozen=True)
class FollowResult:
    following: bool
    followers_count: int
    changed: bool  # an edge was made or removed now (not a repeat)
    notify: uuid.UUID | None = None  # who to tell after commit (feed.announce)


def account_gone() -> ApiError:
    """The caller's own account was deleted while its token still verifies."""
    return ApiError(401, "unauthorized", "the account no longer exists", headers={"WWW-Authenticate": "Bearer"})


def gone_error(exc: asyncpg.ForeignKeyViolationError) -> ApiError:
    """A row we insert points at something deleted a moment ago: say which side went."""
    constraint = exc.constraint_name or ""
    if constraint.endswith(("followee_id_fkey", "blocked_id_fkey")):
        return rules.user_not_found()
    if constraint.endswith("post_id_fkey"):
        return rules.post_not_found()
    return account_gone()


def relation_of(row: asyncpg.Record) -> Relation:
    return Relation(blocked_by_me=bool(row["blocked_by_me"]), blocks_me=bool(row["blocks_me"]))


async def find_account(conn: asyncpg.Connection, ref: UserRef, viewer: uuid.UUID | None) -> asyncpg.Record:
    """The account ``ref`` names, with its counters and how it relates to ``viewer``; 404 if none.
    Callers decide what a block means for them (rules.check_*)."""
    row = await conn.fetchrow(q("social_target"), ref.id, ref.username, viewer)
    if row is None:
        raise rules.user_not_found()
    return row


async def _locked_relation(conn: asyncpg.Connection, actor: uuid.UUID, target: uuid.UUID) -> Relation:
    await conn.execute(q("social_lock_pair"), actor, target)
    row = await conn.fetchrow(q("social_relation"), actor, target)
    if row is None:  # deleted since it was looked up
        raise rules.user_not_found()
    return relation_of(row)


async def _followers_count(conn: asyncpg.Connection, target: uuid.UUID) -> int:
    return await conn.fetchval(q("social_followers_count"), target) or 0


async def follow(conn: asyncpg.Connection, actor: uuid.UUID, target: uuid.UUID) -> FollowResult:
    """``actor`` follows ``target``; idempotent. Across a block the target does not exist (404)."""
    rules.check_not_self(actor, target, "follow")
    try:
        async with conn.transaction():
            rules.check_profile_visible(await _locked_relation(conn, actor, target))
            made = await conn.fetchval(q("social_follow"), actor, target) is not None
            told = await notify.followed(conn, actor, target) if made else None
            count = await _followers_count(conn, target)
    except asyncpg.ForeignKeyViolationError as exc:
        raise gone_error(exc) from None
    return FollowResult(following=True, followers_count=count, changed=made, notify=told)


async def unfollow(conn: asyncpg.Connection, actor: uuid.UUID, target: uuid.UUID) -> FollowResult:
    rules.check_not_self(actor, target, "follow")
    async with conn.transaction():
        rules.check_profile_visible(await _locked_relation(conn, actor, target))
        removed = await conn.fetchval(q("social_unfollow"), actor, target) is not None
        count = await _followers_count(conn, target)
    return FollowResult(following=False, followers_count=count, changed=removed)


async def block(conn: asyncpg.Connection, actor: uuid.UUID, target: uuid.UUID) -> bool:
    """``actor`` blocks ``target``; idempotent; both follows between them go. The target is never told."""
    rules.check_not_self(actor, target, "block")
    try:
        async with conn.transaction():
            rules.check_can_block(await _locked_relation(conn, actor, target))
            await conn.execute(q("social_block"), actor, target)
            await conn.execute(q("social_unfollow_both"), actor, target)
            await notify.forget_pair(conn, actor, target)
    except asyncpg.ForeignKeyViolationError as exc:
        raise gone_error(exc) from None
    return True


async def unblock(conn: asyncpg.Connection, actor: uuid.UUID, target: uuid.UUID) -> bool:
    """Removes ``actor``'s block (the other side's own block, if any, stays); follows do not return."""
    rules.check_not_self(actor, target, "block")
    async with conn.transaction():
        rules.check_can_block(await _locked_relation(conn, actor, target))
        await conn.execute(q("social_unblock"), actor, target)
    return False
