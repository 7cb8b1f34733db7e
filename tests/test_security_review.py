"""Security review regressions: each test shows an attack that worked before its fix."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from helpers_auth import create_verified_user
from helpers_posts import local_api, put_presigned, small_jpeg  # noqa: F401 (fixture)
from server import appkeys
from server.posts import purge_deleted_posts
from server.storage import source_key


async def test_a_json_body_sent_in_pieces_is_read_whole(client) -> None:
    """A slow client's body arrives in several reads; only the first was parsed, so a valid
    request failed as malformed JSON (and a body past the limit slipped past the 413)."""
    body = json.dumps({"login": "nobody_here", "password": "wrong password"}).encode()

    async def pieces():
        for i in range(0, len(body), 8):
            yield body[i:i + 8]
            await asyncio.sleep(0.01)

    resp = await client.post("/api/v1/auth/login", data=pieces(), headers={"Content-Type": "application/json"})
    assert resp.status == 401, await resp.text()
    assert (await resp.json())["error"]["code"] == "invalid_credentials"


async def test_an_oversized_json_body_in_pieces_is_refused(client) -> None:
    async def pieces():
        yield b'{"login": "'
        for _ in range(70):
            await asyncio.sleep(0)
            yield b"a" * 1024
        yield b'", "password": "x"}'

    resp = await client.post("/api/v1/auth/login", data=pieces(), headers={"Content-Type": "application/json"})
    assert resp.status == 413, await resp.text()


class TestLoginLimitPerAccount:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(rate_limit_ip_per_min=100, login_failures_per_address=3)

    async def test_email_and_username_of_one_account_share_one_budget(self, client, db_pool, settings) -> None:
        """Alternating the two spellings of one account gave a guesser twice the attempts."""
        await create_verified_user(db_pool, settings, client.app[appkeys.JWT_KEY], email="alice@example.org",
                                   username="alice")
        for login in ("alice", "alice@example.org", "alice"):
            resp = await client.post("/api/v1/auth/login", json={"login": login, "password": "wrong password"})
            assert resp.status == 401, await resp.text()
        resp = await client.post("/api/v1/auth/login", json={"login": "Alice@Example.org", "password": "wrong password"})
        assert resp.status == 429, await resp.text()


def test_instances_starting_together_on_one_data_dir_agree_on_the_jwt_key(tmp_path) -> None:
    """Each starter wrote its own key over the other's: the loser signed tokens (and upload URLs)
    with a key no other instance, nor its own restart, would accept."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from server.config import load_settings
    from server.secrets_store import load_or_create_jwt_key

    for attempt in range(20):
        settings = load_settings(cli={"data_dir": str(tmp_path / str(attempt))}, environ={})
        barrier = Barrier(4)

        def start() -> str:
            barrier.wait()
            return load_or_create_jwt_key(settings)

        with ThreadPoolExecutor(4) as pool:
            keys = set(pool.map(lambda _: start(), range(4)))
        on_disk = (settings.data_dir / "jwt.key").read_text(encoding="ascii")
        assert keys == {on_disk}, f"attempt {attempt}: {len(keys)} different keys"
        assert (settings.data_dir / "jwt.key").stat().st_mode & 0o777 == 0o600
        assert [p.name for p in settings.data_dir.iterdir()] == ["jwt.key"], "no temp file left behind"


async def test_a_used_upload_url_takes_no_more_bytes(local_api) -> None:
    """The signed URL stays valid until it expires: after complete it swapped the verified source
    for other bytes of the same size, and after a delete it left bytes no purge would ever remove."""
    data = small_jpeg()
    grant = await local_api.uploaded(data, declare_hash=False)
    resp = await local_api.complete(local_api.complete_body(grant, data))
    assert resp.status == 200, await resp.text()
    status, text = await put_presigned(grant, b"\0" * len(data))
    assert status == 409, text
    assert json.loads(text)["error"]["code"] == "upload_closed"
    source = local_api.store.path_for(source_key(local_api.user_id, uuid.UUID(grant["post_id"])))
    assert source.read_bytes() == data

    resp = await local_api.client.delete(f"/api/v1/posts/{grant['post_id']}", headers=local_api.auth())
    assert resp.status == 204
    await purge_deleted_posts(local_api.pool, local_api.store)
    assert not source.exists()
    status, text = await put_presigned(grant, data)
    assert status == 409, text
    assert not source.exists()


async def test_deeply_nested_json_is_a_400_not_a_500(client) -> None:
    """64 KB of ``[`` blew the decoder's recursion limit: an unhandled error and a logged traceback
    per request."""
    resp = await client.post("/api/v1/auth/login", data=b'{"login": ' + b"[" * 60000,
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"]["code"] == "invalid_json"
