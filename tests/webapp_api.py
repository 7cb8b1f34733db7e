"""Plain-HTTP helpers for the web app's browser tests: what other people do meanwhile (a second
account that uploads, follows, likes, comments), and reading back what the app did, through the
same public API the app uses."""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from helpers_auth import outbox_mails
from serverproc import ServerProcess

PASSWORD = "correct horse battery staple"


def call(server: ServerProcess, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    """One API call; the decoded JSON answer (None for 204). Refusals raise HTTPError."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.base_url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=15) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def refusal(server: ServerProcess, method: str, path: str, body: Any = None) -> dict[str, str]:
    """The ``error`` of a call the API refuses."""
    try:
        call(server, method, path, body)
    except urllib.error.HTTPError as refused:
        return json.load(refused)["error"]
    raise AssertionError(f"{method} {path} was not refused")


def mailed_link(server: ServerProcess, to: str, containing: str = "", timeout: float = 10) -> str:
    """The link in the newest mail to ``to`` (whose link contains ``containing``), whatever page it
    opens; mail may go out in the background, so this waits for it a little."""
    deadline = time.monotonic() + timeout
    while True:
        for mail in reversed(outbox_mails(server.data_dir)):
            if mail["To"] == to:
                links = [u for u in re.findall(r"https?://\S+token=\S+", mail.get_content()) if containing in u]
                if links:
                    return links[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail with a link for {to} in {server.data_dir}/outbox")
        time.sleep(0.1)


def register(server: ServerProcess, username: str) -> str:
    """A new account; its e-mail address (the mailed link still has to be followed)."""
    email = f"{username}@example.org"
    call(server, "POST", "/api/v1/auth/register", {"email": email, "username": username, "password": PASSWORD})
    return email


def log_in(server: ServerProcess, username: str) -> str:
    """An access token for ``username`` (a login of its own, beside any in the browser)."""
    return call(server, "POST", "/api/v1/auth/login", {"login": username, "password": PASSWORD})["access_token"]


def upload(server: ServerProcess, token: str, photo: Path, caption: str) -> str:
    """init, PUT, complete, as the README's quick start does; the post id."""
    data = photo.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    grant = call(server, "POST", "/api/v1/posts/upload/init", {
        "filename": photo.name, "content_type": "image/jpeg", "file_size": len(data), "file_hash": digest,
        "caption": caption}, token)
    put = urllib.request.Request(grant["presigned_url"], data=data, method="PUT", headers=grant["upload_headers"])
    urllib.request.urlopen(put, timeout=30).close()
    call(server, "POST", "/api/v1/posts/upload/complete", {
        "post_id": grant["post_id"], "upload_token": grant["upload_token"], "file_hash": digest,
        "file_size": len(data)}, token)
    return grant["post_id"]


def wait_published(server: ServerProcess, post_ids: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(post_ids)
    while waiting:
        post = call(server, "GET", f"/api/v1/posts/{waiting[0]}")
        if post["status"] == "published":
            waiting.pop(0)
            continue
        assert post["status"] == "processing", post
        assert time.monotonic() < deadline, f"not published in {timeout}s: {waiting}"
        time.sleep(0.2)
