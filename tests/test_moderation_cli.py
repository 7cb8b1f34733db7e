"""``imagepipe users grant-admin|revoke-admin`` and ``imagepipe moderation list|approve|remove|audit``
as an operator runs them: the real CLI in its own process, on the database and data dir of a running
app, deciding on posts the real pipeline published and reports hid."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from helpers_moderation import ModApi, mod  # noqa: F401  (fixture)
from serverproc import REPO, server_env
from test_moderation_admin import hidden_post


async def cli(mod: ModApi, *args: str) -> subprocess.CompletedProcess[str]:
    command, *rest = args
    env = server_env(IMAGEPIPE_DATABASE_URL=mod.settings.database_url)
    argv = [sys.executable, "-m", "server", command, "--data-dir", str(mod.settings.data_dir), *rest]
    return await asyncio.to_thread(subprocess.run, argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


async def test_grant_and_revoke_admin_by_username_or_email(mod: ModApi) -> None:
    user_id, token = await mod.user()
    async with mod.pool.acquire() as conn:
        username, email = await conn.fetchrow("SELECT username, email FROM users WHERE id = $1", user_id)
    assert (await mod.call("GET", "/api/v1/admin/moderation/queue", token))[0] == 403
    done = await cli(mod, "users", "grant-admin", username.upper())
    assert done.returncode == 0 and done.stdout.strip() == f"{username} is an admin", done.stderr
    assert (await mod.call("GET", "/api/v1/admin/moderation/queue", token))[0] == 200
    again = await cli(mod, "users", "grant-admin", email)
    assert again.returncode == 0 and "(unchanged)" in again.stdout
    done = await cli(mod, "users", "revoke-admin", email)
    assert done.returncode == 0 and done.stdout.strip() == f"{username} is not an admin"
    assert (await mod.call("GET", "/api/v1/admin/moderation/queue", token))[0] == 403
    missing = await cli(mod, "users", "grant-admin", "nobody-here")
    assert missing.returncode == 1 and "no account" in missing.stderr
    async with mod.pool.acquire() as conn:
        actions = await conn.fetch("SELECT actor, action FROM moderation_audit WHERE user_id = $1 ORDER BY id", user_id)
    assert [a["action"] for a in actions] == ["grant_admin", "revoke_admin"]
    assert all(a["actor"].startswith("cli:") for a in actions)


async def test_list_approve_and_remove_from_the_command_line(mod: ModApi) -> None:
    _, owner_token = await mod.user()
    first = await hidden_post(mod, owner_token, 320)
    second = await hidden_post(mod, owner_token, 330)

    listed = await cli(mod, "moderation", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.strip().splitlines()
    assert header.split()[:3] == ["POST_ID", "HELD_AT", "HELD_BY"]
    assert [row.split()[0] for row in rows] == [first["id"], second["id"]]  # oldest first
    assert all(row.split()[3:6] == ["reports", "-", "3"] for row in rows)

    done = await cli(mod, "moderation", "approve", first["id"])
    assert done.returncode == 0, done.stderr
    status, post = await mod.call("GET", f"/api/v1/posts/{first['id']}")
    assert (status, post["status"]) == (200, "published")
    assert await mod.fetch(post["variants"]["medium"]["url"]) == 200  # the CLI moved the objects back

    done = await cli(mod, "moderation", "remove", second["id"], "--reason", "spam ring")
    assert done.returncode == 0, done.stderr
    status, post = await mod.call("GET", f"/api/v1/posts/{second['id']}", owner_token)
    assert (post["status"], post["removal"]["reason"]) == ("removed", "spam ring")
    assert (await cli(mod, "moderation", "list")).stdout.strip() == "no posts waiting for review"

    for args, message in (
        (("approve", first["id"]), "published"),  # not in review any more
        (("approve", "nope"), "not a post id"),
        (("remove", second["id"], "--reason", ""), "--reason"),
    ):
        failed = await cli(mod, "moderation", *args)
        assert failed.returncode == 1 and message in failed.stderr, (args, failed.stderr)
    audit = await cli(mod, "moderation", "audit", "--post", second["id"])
    lines = audit.stdout.strip().splitlines()
    assert [line.split()[3] for line in lines[1:]] == ["hide", "remove"]
    assert "spam ring" in lines[-1] and lines[-1].split()[2].startswith("cli:")


def test_serve_refuses_to_start_with_a_classifier_it_cannot_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = server_env(IMAGEPIPE_MODERATION="no_such_package.models:make")
    done = subprocess.run([sys.executable, "-m", "server", "serve", "--data-dir", str(tmp_path / "d"), "--port", "1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "moderation: cannot find module no_such_package.models" in done.stderr
    assert not (tmp_path / "d" / "pg").exists()  # refused before anything started
