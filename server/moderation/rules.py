"""Moderation rules as pure functions: who sees scores, what a report or a removal must carry, and
when reports hide a post. Who may see a post in which status is the one SQL rule ``post_visible_to``
(0010_social.sql, extended for review in 0032) and its mirror in ``server/social/rules.py``. Each check raises ``ApiError`` with the status and
code the HTTP contract promises; handlers only call these."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from ..http import ApiError

REPORT_REASONS = ("nudity", "violence", "spam", "harassment", "other")
MAX_NOTE_CHARS = 1000
MAX_REMOVAL_REASON_CHARS = 500

IN_REVIEW, REMOVED, PUBLISHED = "in_review", "removed", "published"
# Statuses an admin decision applies to: approve takes a post out of review; remove also takes down
# a published post (an admin acting on a report before the threshold).
APPROVABLE = (IN_REVIEW,)
REMOVABLE = (IN_REVIEW, PUBLISHED)


@dataclass(frozen=True)
class Report:
    reason: str
    note: str


def sees_moderation(*, is_owner: bool, is_admin: bool) -> bool:
    """Scores and reasons are the owner's and the admins' business only."""
    return is_owner or is_admin


def reports_hide(open_reports: int, threshold: int, status: str) -> bool:
    """Enough distinct accounts have reported a published post: it leaves public view for review."""
    return status == PUBLISHED and open_reports >= threshold


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {message}", details={"field": field})


def _text(value: Any, field: str, max_chars: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _invalid(field, "must be a string")
    text = value.strip()
    if required and not text:
        raise _invalid(field, "is required")
    if len(text) > max_chars:
        raise _invalid(field, f"must be at most {max_chars} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise _invalid(field, "must not contain control characters")  # NUL included
    return text


def parse_report(body: Mapping[str, Any]) -> Report:
    reason = body.get("reason")
    if reason not in REPORT_REASONS:
        raise ApiError(400, "invalid_reason", f"reason must be one of {', '.join(REPORT_REASONS)}",
                       details={"field": "reason"})
    return Report(reason=reason, note=_text(body.get("note"), "note", MAX_NOTE_CHARS, required=False))


def parse_removal(body: Mapping[str, Any]) -> str:
    """The reason the owner will read; required, so no post disappears unexplained."""
    return _text(body.get("reason"), "reason", MAX_REMOVAL_REASON_CHARS, required=True)


def check_transition(status: str | None, allowed: tuple[str, ...], action: str) -> None:
    """409 when the post is not in a status ``action`` applies to (404 is the caller's, for no post)."""
    if status not in allowed:
        raise ApiError(409, "invalid_status",
                       f"cannot {action} a post that is {status}; only {' or '.join(allowed)} posts",
                       details={"status": status})
