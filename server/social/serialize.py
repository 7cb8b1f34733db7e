"""Accounts and comments as the API shows them (DESIGN.md "Social"); pure: rows in, JSON out."""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from ..http import rfc3339


def user_summary(row: Mapping[str, Any], id_key: str = "id") -> dict[str, Any]:
    """An account in a list (followers, likers, a comment's author)."""
    return {"id": str(row[id_key]), "username": row["username"], "display_name": row["display_name"]}


def profile_json(row: Mapping[str, Any], viewer: uuid.UUID | None) -> dict[str, Any]:
    """A profile; ``followed_by_me`` and ``blocked_by_me`` only for a signed-in viewer."""
    body: dict[str, Any] = {
        "id": str(row["id"]),
        "username": row["username"],
        "display_name": row["display_name"],
        "bio": row["bio"],
        "posts_count": row["posts_count"],
        "followers_count": row["followers_count"],
        "following_count": row["following_count"],
        "created_at": rfc3339(row["created_at"]),
    }
    if viewer is not None:
        body["followed_by_me"] = row["followed_by_me"]
        body["blocked_by_me"] = row["blocked_by_me"]
    return body


def comment_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "post_id": str(row["post_id"]),
        "user": user_summary(row, "user_id"),
        "body": row["body"],
        "created_at": rfc3339(row["created_at"]),
    }
