"""The whole account flow against a real ``python -m server serve`` over real HTTP: the mail is
read from the .eml file the server wrote into <data-dir>/outbox."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers_auth import outbox_mails, verification_token
from serverproc import ServerProcess, free_port, server_env

pytestmark = pytest.mark.fault  # a real server process with its own PostgreSQL


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_register_verify_login_refresh_reuse_logout(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with ServerProcess(data_dir, free_port(), server_env()).start() as server:
        base = server.base_url
        email, password = "Process.User@Example.org", "a long enough password"
        status, user = call(base, "POST", "/api/v1/auth/register", {"email": email, "username": "Proc_User", "password": password})
        assert status == 201, user
        assert user["username"] == "proc_user" and user["email_verified"] is False

        status, body = call(base, "POST", "/api/v1/auth/login", {"login": "proc_user", "password": password})
        assert (status, body["error"]["code"]) == (403, "email_not_verified")

        token = verification_token(data_dir, email)
        link_base = f"{base}/account/verify-email?token="
        assert any(link_base in m.get_content() for m in outbox_mails(data_dir))
        with urllib.request.urlopen(f"{link_base}{token}", timeout=30) as resp:  # the link, as a mail client opens it
            assert resp.status == 200 and b"<form" in resp.read()
        form = urllib.parse.urlencode({"token": token, "username": "proc_user", "password": password}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{base}/account/verify-email", data=form), timeout=30) as resp:
            assert resp.status == 200 and b"confirmed" in resp.read()  # the page's button

        status, first = call(base, "POST", "/api/v1/auth/login", {"login": email.upper(), "password": password})
        assert status == 200 and first["token_type"] == "Bearer"
        assert call(base, "GET", "/api/v1/auth/me", token=first["access_token"])[0] == 200

        status, second = call(base, "POST", "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
        assert status == 200 and second["refresh_token"] != first["refresh_token"]

        status, body = call(base, "POST", "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
        assert (status, body["error"]["code"]) == (401, "token_reused")
        status, body = call(base, "POST", "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]})
        assert status == 401, "reuse revoked the newest token of the family too"

        status, third = call(base, "POST", "/api/v1/auth/login", {"login": "proc_user", "password": password})
        assert status == 200
        status, _ = call(base, "POST", "/api/v1/auth/logout", {"refresh_token": third["refresh_token"]}, token=third["access_token"])
        assert status == 204
        assert call(base, "GET", "/api/v1/auth/me", token=third["access_token"])[0] == 401
        assert call(base, "POST", "/api/v1/auth/refresh", {"refresh_token": third["refresh_token"]})[0] == 401

        assert server.terminate() == 0
        log = server.log_text()
        for secret in (password, token, first["refresh_token"], second["refresh_token"], third["access_token"]):
            assert secret not in log, "no password or token in the server log"
