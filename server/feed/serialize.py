"""Feed items and notifications as the API shows them (DESIGN.md "Social"); pure: rows in, JSON out."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ..http import rfc3339
from ..posts.serialize import post_json
from .rules import Position, encode_position


def feed_item(row: Mapping[str, Any], images: Iterable[Mapping[str, Any]], url_for: Callable[[str], str]) -> dict[str, Any]:
    """A post as ``GET /posts/{id}`` shows it, plus its author (a feed mixes accounts, and an app
    should not need a profile request per item)."""
    body = post_json(row, images, url_for)
    body["user"] = {"id": str(row["user_id"]), "username": row["username"], "display_name": row["display_name"]}
    return body


def position_of(row: Mapping[str, Any]) -> Position:
    return Position(int(row["tx"]), int(row["id"]))


def notification(row: Mapping[str, Any]) -> dict[str, Any]:
    """``{id, kind, actor, post_id?, comment_id?, created_at, read}``; ``actor`` is null for a
    post's own news (published, failed). Ids are strings: JSON numbers lose precision past 2**53."""
    body: dict[str, Any] = {
        "id": str(row["id"]),
        "kind": row["kind"],
        "actor": None if row["actor_id"] is None else {
            "id": str(row["actor_id"]), "username": row["username"], "display_name": row["display_name"],
        },
        "created_at": rfc3339(row["created_at"]),
        "read": row["read_at"] is not None,
    }
    for key in ("post_id", "comment_id"):
        if row[key] is not None:
            body[key] = str(row[key])
    return body


def event_id(row: Mapping[str, Any]) -> str:
    return encode_position(position_of(row))
