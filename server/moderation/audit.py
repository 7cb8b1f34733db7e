"""Who decided: the actor of a moderation decision, and the audit row every decision writes.

The row is written in the same transaction as the decision itself, so there is never a decision
without its record nor a record of something that did not happen.
"""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

import asyncpg

from ..db import q


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID | None  # the admin's account; None for the system and the command line
    label: str  # user:<username> | cli:<os user> | classifier | reports

    @classmethod
    def user(cls, user_id: uuid.UUID, username: str) -> "Actor":
        return cls(user_id, f"user:{username}")

    @classmethod
    def command_line(cls) -> "Actor":
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            who = "unknown"
        return cls(None, f"cli:{who}")


REPORTS = Actor(None, "reports")
CLASSIFIER = Actor(None, "classifier")


async def record(
    conn: asyncpg.Connection, actor: Actor, action: str, *, post_id: uuid.UUID | None = None,
    comment_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None, reason: str = "",
    details: Mapping[str, Any] | None = None,
) -> None:
    await conn.execute(q("moderation_audit"), actor.id, actor.label, action, post_id, comment_id, user_id,
                       reason, dict(details or {}))  # the pool's codec encodes jsonb
