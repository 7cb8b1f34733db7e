"""The pure rules of the feed, notifications and streams: positions and cursors, read requests,
stream admission, SSE framing, NOTIFY payload splitting and the settings' validation."""

from __future__ import annotations

import json

import pytest

from server.config import Settings, validate
from server.feed import rules, sse
from server.feed.rules import Position
from server.feed.stream import PAYLOAD_MAX, _payloads
from server.http import ApiError


def test_positions_round_trip_and_order_like_the_stream() -> None:
    for pos in (Position(0, 0), Position(1, 2), Position(2**63 - 1, 2**63 - 1)):
        assert rules.decode_position(rules.encode_position(pos)) == pos
    assert Position(5, 100) < Position(6, 1) < Position(6, 2)  # transaction first, then id


@pytest.mark.parametrize("token", ["", "42", "bjE6MTo6", "x" * 65, "bjI6MTox", "bjE6LTE6MQ",
                                   "bjE6OTIyMzM3MjAzNjg1NDc3NTgwODox", "bjE6MTp4", "\u00e9\u00e9\u00e9\u00e9"])
def test_positions_refuse_what_this_api_did_not_issue(token: str) -> None:
    with pytest.raises(ValueError):
        rules.decode_position(token)


def test_cursor_and_last_event_id_answers() -> None:
    token = rules.encode_position(Position(7, 9))
    assert rules.list_cursor(None) is None and rules.list_cursor(token) == Position(7, 9)
    assert rules.last_event_id(None) is None and rules.last_event_id("  ") is None
    assert rules.last_event_id(f" {token} ") == Position(7, 9)
    with pytest.raises(ApiError) as bad_cursor:
        rules.list_cursor("nope")
    assert (bad_cursor.value.status, bad_cursor.value.code) == (400, "invalid_cursor")
    with pytest.raises(ApiError) as bad_id:
        rules.last_event_id("nope")
    assert (bad_id.value.status, bad_id.value.code) == (400, "invalid_last_event_id")


def test_unread_only_values() -> None:
    assert [rules.unread_only(v) for v in (None, "", "false", "0", "true", "1")] == [False] * 4 + [True] * 2
    with pytest.raises(ApiError):
        rules.unread_only("yes")


def test_read_requests() -> None:
    assert rules.parse_read({"up_to": "12"}) == rules.ReadRequest(up_to=12)
    assert rules.parse_read({"up_to": 12}) == rules.ReadRequest(up_to=12)
    assert rules.parse_read({"ids": ["3", 4, "3"]}) == rules.ReadRequest(ids=(3, 4))
    for body in ({}, {"up_to": 1, "ids": [1]}, {"ids": []}, {"ids": "1"}, {"ids": [None]}, {"up_to": 0},
                 {"up_to": "1e3"}, {"up_to": True}, {"up_to": "9" * 19}, {"ids": list(range(1, 102))},
                 {"up_to": 1, "x": 1}, {"up_to": "\u0661"}):
        with pytest.raises(ApiError) as err:
            rules.parse_read(body)
        assert (err.value.status, err.value.code) == (400, "invalid_read_request"), body


def test_stream_admission_puts_the_account_cap_first() -> None:
    assert rules.stream_refusal(0, 0, 5, 1000) is None
    assert rules.stream_refusal(4, 999, 5, 1000) is None
    per_account = rules.stream_refusal(5, 10, 5, 1000)
    assert per_account is not None and (per_account.status, per_account.code) == (429, "too_many_streams")
    assert "Retry-After" in per_account.headers
    full = rules.stream_refusal(0, 1000, 5, 1000)
    assert full is not None and (full.status, full.code) == (429, "streams_full")


def test_feed_read_strategy() -> None:
    assert not rules.uses_window(0) and not rules.uses_window(rules.MERGE_ONLY_BELOW - 1)
    assert rules.uses_window(rules.MERGE_ONLY_BELOW) and rules.uses_window(2000)
    assert rules.needs_merge(3, 21) and not rules.needs_merge(21, 21)


def test_sse_framing_keeps_data_on_one_line() -> None:
    frame = sse.event("abc", "notification", {"body": "line one\nline two\r\n\n: not a comment"})
    text = frame.decode("utf-8")
    assert text.endswith("\n\n") and text.count("\n\n") == 1
    lines = text[:-2].split("\n")
    assert lines[:2] == ["id: abc", "event: notification"] and lines[2].startswith("data: ")
    assert json.loads(lines[2][len("data: "):]) == {"body": "line one\nline two\r\n\n: not a comment"}
    assert sse.position("p", 1500) == b"retry: 1500\nid: p\n\n"
    assert sse.retry(700) == b"retry: 700\n\n" and sse.comment("ping") == b": ping\n\n"


def test_notify_payloads_stay_under_the_limit_and_lose_nobody() -> None:
    ids = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(1000)]
    payloads = _payloads(ids)
    assert len(payloads) > 1 and all(len(p.encode()) <= PAYLOAD_MAX for p in payloads)
    assert [i for p in payloads for i in p.split(",")] == ids
    assert _payloads([]) == []


def test_stream_settings_are_validated() -> None:
    good = Settings()
    assert validate(good) == []
    bad = good.with_overrides(stream_max_per_account=10, stream_max_total=5, stream_ticket_ttl_s=3600,
                              stream_heartbeat_s=0.5, stream_retry_ms=10, stream_poll_s=120.0)
    problems = "\n".join(validate(bad))
    for name in ("stream_max_per_account", "stream_ticket_ttl_s", "stream_heartbeat_s", "stream_retry_ms",
                 "stream_poll_s"):
        assert name in problems
    assert "stream_max_total" in "\n".join(validate(good.with_overrides(stream_max_total=0)))
