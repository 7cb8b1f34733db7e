"""Upload/listing input rules, cursors and the post JSON shape: pure logic, no server."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from server.http import ApiError
from server.posts.cursor import decode_cursor, encode_cursor
from server.posts.serialize import post_json
from server.posts.validation import (
    MAX_CAPTION_CHARS,
    parse_complete,
    parse_init,
    parse_limit,
    parse_uuid,
)

MAX = 1000
HASH = "ab" * 32
GOOD = {"filename": "IMG_0001.jpg", "content_type": "image/jpeg", "file_size": 10}


def _error(call, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


def test_minimal_init_is_accepted_with_defaults() -> None:
    req = parse_init(GOOD, MAX)
    assert (req.filename, req.content_type, req.file_size, req.file_hash, req.caption) == (
        "IMG_0001.jpg", "image/jpeg", 10, None, "")


def test_hash_is_lowercased_and_type_normalised() -> None:
    req = parse_init({**GOOD, "file_hash": HASH.upper(), "content_type": "Image/HEIC; foo=1", "caption": "hi"}, MAX)
    assert req.file_hash == HASH
    assert req.content_type == "image/heic"
    assert req.caption == "hi"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"filename": None}, 400, "invalid_request"),
        ({"filename": ""}, 400, "invalid_request"),
        ({"filename": "a" * 256}, 400, "invalid_request"),
        ({"filename": "../etc/passwd"}, 400, "invalid_request"),
        ({"filename": "dir\\x.jpg"}, 400, "invalid_request"),
        ({"filename": "a\nb.jpg"}, 400, "invalid_request"),
        ({"filename": "a\x00.jpg"}, 400, "invalid_request"),
        ({"filename": "a\u202eb.jpg"}, 400, "invalid_request"),  # right-to-left override
        ({"filename": 5}, 400, "invalid_request"),
        ({"content_type": "application/pdf"}, 415, "unsupported_media_type"),
        ({"content_type": "image/svg+xml"}, 415, "unsupported_media_type"),
        ({"content_type": None}, 400, "invalid_request"),
        ({"file_size": 0}, 400, "invalid_request"),
        ({"file_size": -1}, 400, "invalid_request"),
        ({"file_size": 1.5}, 400, "invalid_request"),
        ({"file_size": "10"}, 400, "invalid_request"),
        ({"file_size": True}, 400, "invalid_request"),
        ({"file_size": MAX + 1}, 413, "file_too_large"),
        ({"file_hash": "xyz"}, 400, "invalid_request"),
        ({"file_hash": "a" * 63}, 400, "invalid_request"),
        ({"file_hash": "g" * 64}, 400, "invalid_request"),
        ({"caption": "x" * (MAX_CAPTION_CHARS + 1)}, 400, "invalid_request"),
        ({"caption": 7}, 400, "invalid_request"),
    ],
)
def test_bad_init_fields(change: dict, status: int, code: str) -> None:
    err = _error(parse_init, {**GOOD, **change}, MAX)
    assert (err.status, err.code) == (status, code)


def test_boundaries_are_inclusive() -> None:
    assert parse_init({**GOOD, "filename": "a" * 255, "file_size": MAX,
                       "caption": "x" * MAX_CAPTION_CHARS}, MAX).file_size == MAX
    assert parse_init({**GOOD, "file_size": 1}, MAX).file_size == 1


def test_complete_requires_every_field() -> None:
    good = {"post_id": str(uuid.uuid4()), "upload_token": "tok", "file_hash": HASH, "file_size": 5}
    assert parse_complete(good, MAX).post_id == uuid.UUID(good["post_id"])
    for field in good:
        err = _error(parse_complete, {k: v for k, v in good.items() if k != field}, MAX)
        assert err.status == 400
    assert _error(parse_complete, {**good, "post_id": "nope"}, MAX).code == "invalid_id"


@pytest.mark.parametrize("raw", ["nope", "", "123", "{%s}" % uuid.uuid4(), uuid.uuid4().hex, None, 5])
def test_malformed_uuid(raw) -> None:
    assert _error(parse_uuid, raw).code == "invalid_id"


def test_canonical_uuid_any_case() -> None:
    value = uuid.uuid4()
    assert parse_uuid(str(value).upper()) == value


@pytest.mark.parametrize(("raw", "expected"), [(None, 20), ("", 20), ("1", 1), ("100", 100)])
def test_limit(raw, expected) -> None:
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "101", "-1", "abc", "2.5"])
def test_bad_limit(raw) -> None:
    assert _error(parse_limit, raw).status == 400


def test_cursor_round_trip_keeps_microseconds() -> None:
    stamp = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=timezone.utc)
    post_id = uuid.uuid4()
    token = encode_cursor(stamp, post_id)
    assert "=" not in token and "/" not in token and "+" not in token
    assert decode_cursor(token) == (stamp, post_id)
    other_zone = stamp.astimezone(timezone(timedelta(hours=5)))
    assert decode_cursor(encode_cursor(other_zone, post_id)) == (stamp, post_id)


@pytest.mark.parametrize("token", ["", "!!!", "aGVsbG8", "x" * 200, "MjoxOmFi"])
def test_forged_cursor_is_400(token: str) -> None:
    err = _error(decode_cursor, token)
    assert (err.status, err.code) == (400, "invalid_cursor")


def _post(**changes) -> dict:
    row = {
        "id": uuid.uuid4(), "user_id": uuid.uuid4(), "caption": "c", "status": "published",
        "error": None, "error_message": None, "width": 4000, "height": 3000,
        "metadata": {"placeholder": "LEHV6nWB2yk8", "dominant_color": "#aabbcc", "camera_make": "X"},
        "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "published_at": None,
        "like_count": 3, "comment_count": 1, "view_count": 9,
    }
    row.update(changes)
    return row


def _image(variant: str, fmt: str, width: int) -> dict:
    return {"variant": variant, "format": fmt, "storage_key": f"posts/p/{variant}.{fmt}",
            "width": width, "height": width // 2, "bytes": width * 10}


def test_post_json_lists_variants_with_extra_formats() -> None:
    images = [_image("thumbnail", "webp", 150), _image("thumbnail", "jpeg", 150),
              _image("medium", "jpeg", 600), _image("original", "jpeg", 4000)]
    body = post_json(_post(), images, lambda key: f"https://cdn/{key}")
    thumb = body["variants"]["thumbnail"]
    assert thumb["format"] == "jpeg" and thumb["url"] == "https://cdn/posts/p/thumbnail.jpeg"
    assert thumb["formats"]["webp"]["url"] == "https://cdn/posts/p/thumbnail.webp"
    assert "formats" not in body["variants"]["medium"]
    assert body["thumbnail_url"] == thumb["url"]
    assert body["original_url"] == "https://cdn/posts/p/original.jpeg"
    assert (body["placeholder"], body["dominant_color"]) == ("LEHV6nWB2yk8", "#aabbcc")
    assert "camera_make" not in body and "error" not in body
    assert (body["like_count"], body["comment_count"], body["view_count"]) == (3, 1, 9)


def test_failed_post_carries_its_error() -> None:
    body = post_json(_post(status="failed", error="upload_expired", metadata={},
                           like_count=None, comment_count=None, view_count=None), [], str)
    assert body["error"]["code"] == "upload_expired" and body["error"]["message"]
    assert body["variants"] == {"thumbnail": None, "medium": None, "original": None}
    assert body["thumbnail_url"] is None and body["like_count"] == 0
    assert "placeholder" not in body
