"""Shared helpers for the job-queue, pipeline and fault tests (no tests here).

It lives under tests/ because spawned pool workers must be able to import the test transcode
functions below by module name (``tests/`` is on ``sys.path`` via conftest, and spawn children
inherit ``sys.path``).
"""

from __future__ import annotations

import os
import uuid

import asyncpg

POISON_MARKER = b"IMAGEPIPE-POISON"


async def insert_user(conn: asyncpg.Connection) -> uuid.UUID:
    user_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO users (id, email, username, password_hash, email_verified_at) VALUES ($1, $2, $3, 'x', now())",
        user_id, f"{user_id.hex[:10]}@example.org", f"u{user_id.hex[:10]}",
    )
    return user_id


async def insert_processing_post(
    conn: asyncpg.Connection, user_id: uuid.UUID, *, max_attempts: int = 5, run_after_s: float = 0.0
) -> tuple[uuid.UUID, int]:
    """A post whose upload completed: status processing and one queued job (what upload/complete does)."""
    post_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO posts (id, user_id, status, source_key, content_type, file_size) "
        "VALUES ($1, $2, 'processing', $3, 'image/jpeg', 1)",
        post_id, user_id, f"uploads/{user_id}/{post_id}/source",
    )
    job_id = await conn.fetchval(
        "INSERT INTO jobs (post_id, max_attempts, run_after) VALUES ($1, $2, now() + make_interval(secs => $3)) "
        "RETURNING id",
        post_id, max_attempts, float(run_after_s),
    )
    return post_id, job_id


def poison_transcode(source: bytes, options=None):  # type: ignore[no-untyped-def]
    """The real transcode, except that a source carrying the marker kills its worker process,
    the way a libvips segfault on a hostile file would."""
    if POISON_MARKER in source:
        os._exit(70)
    from actors.transcode import TranscodeOptions, transcode

    return transcode(source, options or TranscodeOptions())


SLOW_MARKER = b"IMAGEPIPE-SLOW"


def slow_transcode(source: bytes, options=None):  # type: ignore[no-untyped-def]
    """The real transcode, except that a source carrying the marker hangs (a pathological file)."""
    if SLOW_MARKER in source:
        import time

        time.sleep(3600)
    from actors.transcode import TranscodeOptions, transcode

    return transcode(source, options or TranscodeOptions())


def make_small_jpeg(path, width: int = 800) -> bytes:  # type: ignore[no-untyped-def]
    """A small real photo (about 800x600) cut from a corpus picture: passes every rule, fast to encode."""
    import pyvips

    image = pyvips.Image.thumbnail(str(path), width)
    return image.jpegsave_buffer(Q=85)


async def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns something truthy; that value, or AssertionError."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


async def post_states(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT status::text AS s, count(*) AS n FROM posts GROUP BY status")
    return {r["s"]: r["n"] for r in rows}


# -- a plain HTTP client for black-box tests against ``python -m server serve`` --------------------

class HttpApi:
    """What a phone app does, over real HTTP (urllib, nothing shared with the server)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None, url: str | None = None) -> tuple[int, dict, dict]:
        import json
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else raw
        request = urllib.request.Request(url or f"{self.base_url}{path}", data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self.token and url is None:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                payload = resp.read()
                return resp.status, _json(payload), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read()), dict(exc.headers)

    def signup(self, data_dir, username: str = "faulty") -> "HttpApi":  # type: ignore[no-untyped-def]
        from helpers_auth import verification_token

        email, password = f"{username}@example.org", "a long enough password"
        status, body, _ = self.call("POST", "/api/v1/auth/register", {"email": email, "username": username, "password": password})
        assert status == 201, body
        token = verification_token(data_dir, email)
        status, body, _ = self.call("POST", "/api/v1/auth/verify-email",
                                    {"token": token, "username": username, "password": password})
        assert status == 200, body
        status, body, _ = self.call("POST", "/api/v1/auth/login", {"login": username, "password": password})
        assert status == 200, body
        return HttpApi(self.base_url, body["access_token"])

    def with_base(self, base_url: str) -> "HttpApi":
        return HttpApi(base_url, self.token)

    def put_source(self, data: bytes) -> dict:
        """init and PUT to the presigned URL; the grant, with the hash to complete it."""
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        status, grant, _ = self.call("POST", "/api/v1/posts/upload/init", {
            "filename": "photo.jpg", "content_type": "image/jpeg", "file_size": len(data), "file_hash": digest,
        })
        assert status == 201, grant
        status, body, _ = self.call(grant["upload_method"], "", raw=data, headers=grant["upload_headers"], url=grant["presigned_url"])
        assert status in (200, 201, 204), body
        return {**grant, "file_hash": digest, "file_size": len(data)}

    def complete(self, grant: dict) -> str:
        status, body, _ = self.call("POST", "/api/v1/posts/upload/complete", {
            k: grant[k] for k in ("post_id", "upload_token", "file_hash", "file_size")
        })
        assert status == 200 and body["status"] == "processing", body
        return grant["post_id"]

    def upload_many(self, sources: list[bytes]) -> list[str]:
        """Upload every source, then complete them all at once (many clients): the jobs arrive
        together, a real backlog, faster than small photos are processed."""
        from concurrent.futures import ThreadPoolExecutor

        grants = [self.put_source(data) for data in sources]
        with ThreadPoolExecutor(max_workers=12) as clients:
            return list(clients.map(self.complete, grants))

    def post(self, post_id: str) -> dict:
        status, body, _ = self.call("GET", f"/api/v1/posts/{post_id}")
        assert status == 200, body
        return body

    def statuses(self, post_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for post_id in post_ids:
            status = self.post(post_id)["status"]
            counts[status] = counts.get(status, 0) + 1
        return counts

    def metrics(self) -> dict[str, float]:
        """The Prometheus text as {"name{labels}": value}."""
        import urllib.request

        with urllib.request.urlopen(f"{self.base_url}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values


def _json(payload: bytes) -> dict:
    import json

    try:
        return json.loads(payload) if payload else {}
    except ValueError:
        return {"raw": payload[:200].decode(errors="replace")}


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Synchronous twin of ``wait_until`` for black-box tests."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


def pool_workers(server_pid: int) -> list:  # type: ignore[type-arg]
    """The server's process-pool workers (spawned children), not its resource tracker."""
    import psutil

    found = []
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            if any("spawn_main" in part or "forkserver" in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def kill_busy_worker(server_pid: int, timeout: float = 30.0) -> int:
    """SIGKILL a pool worker while it is computing (state R), not while it waits for work: a small
    photo takes a few milliseconds, so we watch the workers closely instead of guessing."""
    import signal
    import time

    import psutil

    deadline = time.monotonic() + timeout
    workers = pool_workers(server_pid)
    while time.monotonic() < deadline:
        for worker in workers:
            try:
                if worker.status() == psutil.STATUS_RUNNING:
                    worker.send_signal(signal.SIGKILL)
                    return worker.pid
            except psutil.NoSuchProcess:
                workers = pool_workers(server_pid)
        time.sleep(0.0005)
    raise AssertionError("no pool worker was seen computing")


def sleepy_transcode(source: bytes, options=None):  # type: ignore[no-untyped-def]
    """The real transcode after a quarter second, as a big photo would take: small test photos
    finish in milliseconds, too fast for an outage to land while jobs are in flight."""
    import time

    from actors.transcode import TranscodeOptions, transcode

    time.sleep(0.25)
    return transcode(source, options or TranscodeOptions())


FAIL_INIT_FLAG_ENV = "IMAGEPIPE_TEST_FAIL_INIT_FLAG"


def init_failing_while_flagged(vips_concurrency: int = 1) -> None:
    """A worker initializer that fails while the file named by the env variable exists: a pool that
    cannot be rebuilt (think: no memory for new processes), switched on and off by the test."""
    import os

    from actors.transcode import worker_init

    flag = os.environ.get(FAIL_INIT_FLAG_ENV)
    if flag and os.path.exists(flag):
        raise RuntimeError("worker cannot start (test flag)")
    worker_init(vips_concurrency)


def big_result(n: int) -> bytes:
    """A result big enough to still be in the pipe when its worker is killed."""
    return b"x" * n


def failing_with_a_long_message(n: int) -> None:
    raise ValueError("y" * n)
