"""The rules of the feed, notifications and live streams as pure functions: which read strategy a
feed page uses, who is notified of what, when a stream is admitted, and what a client's cursors
and read requests mean. No I/O, so each rule is unit-tested alone; the SQL (queries/feed.sql,
queries/notifications.sql) applies the same rules to rows and says so where it does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Mapping

from ..http import ApiError

# -- the feed ---------------------------------------------------------------------------------------

# How many of the newest public posts below the cursor one feed page looks through before it falls
# back to one index probe per followee. Measured on the bench network (README): a full window costs
# about 1 ms; a viewer whose followees wrote at least (limit + 1) of the newest WINDOW_POSTS posts,
# i.e. a share above ~0.4% of everything posted lately, never needs the fallback.
WINDOW_POSTS = 5000
# Below this many followees the per-followee merge alone is cheaper than looking through a window
# that would be mostly other people's posts (a new account, someone following a handful).
MERGE_ONLY_BELOW = 32


def uses_window(following_count: int) -> bool:
    """Whether a feed page starts with the recent window (else it goes straight to the merge)."""
    return following_count >= MERGE_ONLY_BELOW


def needs_merge(found: int, wanted: int) -> bool:
    """The window found fewer rows than wanted: everything above the window's last row is known,
    the rest comes from the per-followee merge below it."""
    return found < wanted


# -- notifications ----------------------------------------------------------------------------------

KINDS = ("follow", "like", "comment", "post_published", "post_failed")
# The same event about the same thing within this window is one notification: like -> unlike ->
# like (or follow -> unfollow -> follow) does not notify three times. The notify_* queries take it
# as a parameter; a post's own news (its trigger in 0040) uses the same day.
REPEAT_WINDOW_S = 24 * 3600



# -- positions: list cursors and stream event ids ---------------------------------------------------

@dataclass(frozen=True, order=True)
class Position:
    """Where a notification sits in its recipient's stream: its writing transaction, then its id.
    Streams deliver in this order and only behind every transaction still running, so a resumed
    stream never misses a row that commits late (0040_feed_and_notifications.sql)."""

    tx: int
    id: int


_POSITION_VERSION = "n1"
_MAX_TOKEN = 64


def encode_position(pos: Position) -> str:
    raw = f"{_POSITION_VERSION}:{pos.tx}:{pos.id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_position(token: str) -> Position:
    """The position inside a token this API issued; ValueError for anything else."""
    try:
        if not token or len(token) > _MAX_TOKEN:
            raise ValueError("bad length")
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode("ascii")).decode("ascii")
        version, tx, ident = raw.split(":")
        if version != _POSITION_VERSION or not (tx.isdecimal() and ident.isdecimal()):
            raise ValueError("not a position")
        pos = Position(int(tx), int(ident))
    except (UnicodeError, binascii.Error) as exc:
        raise ValueError(str(exc)) from None
    if pos.tx >= 2**63 or pos.id >= 2**63:
        raise ValueError("out of range")
    return pos


def list_cursor(token: str | None) -> Position | None:
    if not token:
        return None
    try:
        return decode_position(token)
    except ValueError:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned",
                       details={"field": "cursor"}) from None


def last_event_id(header: str | None) -> Position | None:
    """``Last-Event-ID`` as EventSource sends it on reconnect; absent or empty means "from now"."""
    if header is None or not header.strip():
        return None
    try:
        return decode_position(header.strip())
    except ValueError:
        raise ApiError(400, "invalid_last_event_id", "Last-Event-ID is not an event id this API sent") from None


def unread_only(raw: str | None) -> bool:
    if raw is None or raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise ApiError(400, "invalid_unread_only", "unread_only must be true or false", details={"field": "unread_only"})


# -- marking read -----------------------------------------------------------------------------------

MAX_READ_IDS = 100


@dataclass(frozen=True)
class ReadRequest:
    up_to: int | None = None  # every notification up to this one (in list order), inclusive
    ids: tuple[int, ...] = ()


def _notification_id(value: Any, field: str) -> int:
    # Ids are strings in the API (JSON numbers lose precision past 2**53); a bare integer is accepted.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not (text.isascii() and text.isdecimal()) or len(text) > 18 or int(text) < 1:
        raise ApiError(400, "invalid_read_request", f"{field}: must be a notification id", details={"field": field})
    return int(text)


def parse_read(body: Mapping[str, Any]) -> ReadRequest:
    """``{"up_to": id}`` or ``{"ids": [id, ...]}`` (1..100), exactly one of them."""
    unknown = set(body) - {"up_to", "ids"}
    if unknown:
        raise ApiError(400, "invalid_read_request", f"unknown field {sorted(unknown)[0]!r}")
    if ("up_to" in body) == ("ids" in body):
        raise ApiError(400, "invalid_read_request", "send exactly one of up_to or ids")
    if "up_to" in body:
        return ReadRequest(up_to=_notification_id(body["up_to"], "up_to"))
    ids = body["ids"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_READ_IDS:
        raise ApiError(400, "invalid_read_request", f"ids: must be a list of 1 to {MAX_READ_IDS} ids",
                       details={"field": "ids"})
    return ReadRequest(ids=tuple(dict.fromkeys(_notification_id(i, "ids") for i in ids)))


# -- streams ----------------------------------------------------------------------------------------

def stream_refusal(open_for_account: int, open_total: int, max_per_account: int, max_total: int) -> ApiError | None:
    """Why one more stream may not open (429), or None. The per-account cap comes first and is far
    below the total, so one account can never take every slot of an instance."""
    if open_for_account >= max_per_account:
        return ApiError(429, "too_many_streams", f"at most {max_per_account} open streams per account",
                        headers={"Retry-After": "10"})
    if open_total >= max_total:
        return ApiError(429, "streams_full", "this instance has no room for another stream; retry",
                        headers={"Retry-After": "5"})
    return None
