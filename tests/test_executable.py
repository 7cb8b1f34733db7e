"""The one-file executable (``make dist`` -> ``dist/imagepipe``) as a black box.

Built at most once per session, and only when missing or older than the sources. Each test runs it
with a private ``TMPDIR`` so "no extraction directory of ours is left behind" is checked exactly.
The main test walks a user's whole path through the frozen server: register, verify from the
outbox mail, log in, upload a real photo through the presigned URL, wait until the pipeline has
published it, fetch every variant, then SIGTERM: exit 0, PostgreSQL stopped, nothing left in TMPDIR.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import psutil
import pytest

from conftest import corpus_file
from helpers_auth import KNOWN_PASSWORD, verification_token
from s3server import AWS_ENV
from serverproc import REPO, ServerProcess, free_port, postgres_processes, server_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EXECUTABLE = REPO / "dist" / "imagepipe"
SOURCE_DIRS = ("server", "actors", "native_bench")
SOURCE_SUFFIXES = {".py", ".sql", ".toml", ".yaml", ".html", ".js"}  # .yaml/.html/.js: server/openapi
PUBLISH_TIMEOUT_S = 180.0


def newest_source_mtime() -> float:
    paths = [REPO / "build.spec", REPO / "setup.cfg"]
    for folder in SOURCE_DIRS:
        paths += [p for p in (REPO / folder).rglob("*") if p.suffix in SOURCE_SUFFIXES]
    return max(p.stat().st_mtime for p in paths if p.exists())


def is_stale(executable: Path) -> bool:
    return not executable.exists() or executable.stat().st_mtime < newest_source_mtime()


@pytest.fixture(scope="module")
def executable() -> Path:
    """``dist/imagepipe``, rebuilt only if stale; the lock (shared with ``make dist``) keeps parallel
    sessions from building into dist/ at the same time."""
    lock_path = REPO / "build" / ".imagepipe-build.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_stale(EXECUTABLE):
            log = REPO / "build" / "pyinstaller.log"
            staging = REPO / "build" / "staging"
            with open(log, "wb") as out:
                done = subprocess.run(
                    [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--distpath", str(staging),
                     "build.spec"],
                    cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=840,
                )
            assert done.returncode == 0, f"build failed:\n{log.read_text(errors='replace')[-4000:]}"
            # PyInstaller writes in place; a rename never shows a half-written file to a running test.
            EXECUTABLE.parent.mkdir(exist_ok=True)
            os.replace(staging / EXECUTABLE.name, EXECUTABLE)
    assert os.access(EXECUTABLE, os.X_OK)
    return EXECUTABLE


@pytest.fixture
def private_tmp(tmp_path: Path) -> Path:
    """The bootloader extracts into $TMPDIR; a directory of our own shows exactly what it leaves."""
    path = tmp_path / "tmp"
    path.mkdir()
    return path


def extraction_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("_MEI*"))


def run_tool(executable: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(executable), *args], env=server_env(TMPDIR=str(tmp)), capture_output=True, text=True, timeout=120
    )


def test_version_names_embedded_components(executable: Path, private_tmp: Path) -> None:
    done = run_tool(executable, private_tmp, "version")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert re.fullmatch(r"\d+\.\d+\.\d+", lines["python"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", lines["libvips"]), "libvips missing or in the slow ABI mode"
    assert re.fullmatch(r"18\.\d+", lines["postgresql"]), "the bundled postgres binary did not answer"
    # Built where the moderation extra is installed (the test extra has it): the model and the two
    # licence statements of its wheel travel inside.
    assert lines["moderation"].startswith("nudenet 3.4.2 320n.onnx"), lines["moderation"]
    assert "MIT" in lines["moderation"] and "AFFERO" in lines["moderation"].upper()
    assert lines["imagepipe"]
    assert extraction_dirs(private_tmp) == []


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_process_pool_runs_libvips_in_frozen_workers(executable: Path, private_tmp: Path, start_method: str) -> None:
    done = run_tool(executable, private_tmp, "_selftest", start_method)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["frozen"] is True and report["start_method"] == start_method
    assert report["worker_pids"] and report["parent_pid"] not in report["worker_pids"]
    assert all(r["vips_api_mode"] and r["jpeg_size"] == [64, 48] for r in report["results"])
    assert report["botocore_s3_operations"] > 50, "botocore's S3 model was not bundled"
    assert extraction_dirs(private_tmp) == []


# --- the whole flow over HTTP ----------------------------------------------------------------------


def http(method: str, url: str, body: Any = None, token: str | None = None, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request; JSON answers are decoded, anything else is returned as bytes."""
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, raw, kind = resp.status, resp.read(), resp.headers.get_content_type()
    except urllib.error.HTTPError as err:
        status, raw, kind = err.code, err.read(), err.headers.get_content_type()
    return status, json.loads(raw) if kind == "application/json" else raw


def register_verified_login(server: ServerProcess) -> str:
    email, base = "frozen@example.org", server.base_url
    status, answer = http("POST", f"{base}/api/v1/auth/register",
                          {"email": email, "username": "frozen", "password": KNOWN_PASSWORD})
    assert status == 201, answer
    token = verification_token(server.data_dir, email)
    status, answer = http("POST", f"{base}/api/v1/auth/verify-email",
                          {"token": token, "username": "frozen", "password": KNOWN_PASSWORD})
    assert status == 200, answer
    status, answer = http("POST", f"{base}/api/v1/auth/login", {"login": "frozen", "password": KNOWN_PASSWORD})
    assert status == 200 and answer["token_type"] == "Bearer", answer
    return answer["access_token"]


def upload(server: ServerProcess, token: str, photo: Path) -> str:
    data = photo.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    content_type = "image/heif" if photo.suffix == ".heif" else "image/jpeg"
    status, grant = http("POST", f"{server.base_url}/api/v1/posts/upload/init", token=token, body={
        "filename": photo.name, "content_type": content_type, "file_size": len(data), "file_hash": digest,
        "caption": "from the frozen build"})
    assert status == 201 and grant["upload_method"] == "PUT", grant
    status, answer = http("PUT", grant["presigned_url"], data=data, headers=grant["upload_headers"])
    assert status in (200, 201, 204), answer
    status, answer = http("POST", f"{server.base_url}/api/v1/posts/upload/complete", token=token, body={
        "post_id": grant["post_id"], "upload_token": grant["upload_token"], "file_hash": digest,
        "file_size": len(data)})
    assert status == 200 and answer["status"] == "processing", answer
    return grant["post_id"]


def wait_published(server: ServerProcess, token: str, post_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + PUBLISH_TIMEOUT_S
    post: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, post = http("GET", f"{server.base_url}/api/v1/posts/{post_id}", token=token)
        assert status == 200, post
        if post["status"] == "published":
            return post
        assert post["status"] == "processing", f"{post}\n{server.log_text()[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"not published after {PUBLISH_TIMEOUT_S}s: {post}\n{server.log_text()[-3000:]}")


def fetch_public(url: str) -> bytes:
    status, body = http("GET", url)
    assert status == 200 and isinstance(body, bytes), (url, status)
    return body


def check_variants(post: dict[str, Any], fetch: Callable[[str], bytes] = fetch_public) -> None:
    from PIL import Image

    assert set(post["variants"]) >= {"thumbnail", "medium", "original"}
    for name, variant in post["variants"].items():
        body = fetch(variant["url"])
        assert len(body) == variant["bytes"]
        with Image.open(io.BytesIO(body)) as image:
            assert image.format == "JPEG" and image.size == (variant["width"], variant["height"]), name
    assert max(post["variants"]["thumbnail"]["width"], post["variants"]["thumbnail"]["height"]) <= 150


def assert_api_docs_served(server: ServerProcess) -> None:
    """The OpenAPI document and the docs page with every file it loads come out of the bundle."""
    status, document = http("GET", f"{server.base_url}/api/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1") and "/api/v1/posts/upload/init" in document["paths"]
    status, page = http("GET", f"{server.base_url}/api/docs")
    assert status == 200 and b"swagger-ui-bundle.js" in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js", "favicon-32x32.png"):
        status, body = http("GET", f"{server.base_url}/api/docs/{asset}")
        assert status == 200 and len(body) > 100, asset


def postgres_binary_dirs(data_dir: Path) -> set[Path]:
    """Where the running postmaster's program lives: must be the copy in the data dir."""
    found = set()
    for proc in postgres_processes(data_dir / "pg"):
        try:
            found.add(Path(proc.exe()).parent)
        except psutil.Error:
            pass
    return found


def descendants(server: ServerProcess) -> list[psutil.Process]:
    assert server.proc is not None
    return psutil.Process(server.proc.pid).children(recursive=True)


def check_web_app(server: ServerProcess) -> None:
    """The web app's page and files come out of the bundle, byte for byte."""
    status, page = http("GET", f"{server.base_url}/")
    assert status == 200 and b'type="module"' in page, page[:200]
    base = re.search(rb'src="(/app/[0-9a-f]+/)js/main.js"', page)
    assert base, page[:400]
    static = Path(__file__).resolve().parents[1] / "server" / "web" / "static"
    for name in ("js/main.js", "js/views/compose.js", "app.css"):
        status, body = http("GET", f"{server.base_url}{base.group(1).decode()}{name}", headers={"Accept-Encoding": "identity"})
        assert status == 200 and body == (static / name).read_bytes(), name


def stop_cleanly(server: ServerProcess, tmp: Path) -> None:
    assert server.terminate() == 0, server.log_text()[-3000:]
    assert postgres_processes(server.data_dir / "pg") == []
    assert extraction_dirs(tmp) == [], "the bootloader left its extraction dir behind"


def test_frozen_server_publishes_uploads_and_stops_cleanly(executable: Path, private_tmp: Path,
                                                           tmp_path: Path) -> None:
    photo, heif = corpus_file("phone-3264x2448.jpg"), corpus_file("phone-4608x1976.heif")
    data_dir = tmp_path / "data"
    env = server_env(TMPDIR=str(private_tmp))
    server = ServerProcess(data_dir, free_port(), env, command=[str(executable)])
    with server.start(wait_ready=120):
        assert len(extraction_dirs(private_tmp)) == 1
        (pg_bin,) = postgres_binary_dirs(data_dir)
        assert pg_bin.is_relative_to(data_dir / "pg-bin"), "postgres must not run from the extraction dir"
        assert_api_docs_served(server)
        token = register_verified_login(server)
        post_id = upload(server, token, photo)
        check_variants(wait_published(server, token, post_id))
        check_web_app(server)
        stop_cleanly(server, private_tmp)

    # A second start reuses the data dir and the PostgreSQL copy already there; its pool uses
    # forkserver, and a HEIF upload makes the workers decode HEVC through pillow-heif's libde265
    # and score it with the bundled NudeNet model on onnxruntime.
    installs = sorted((data_dir / "pg-bin").iterdir())
    env_forkserver = {**env, "IMAGEPIPE_WORKER_START_METHOD": "forkserver", "IMAGEPIPE_MODERATION": "nudenet"}
    again = ServerProcess(data_dir, free_port(), env_forkserver, command=[str(executable)])
    with again.start(wait_ready=120):
        assert postgres_binary_dirs(data_dir) == {pg_bin}
        status, post = http("GET", f"{again.base_url}/api/v1/posts/{post_id}", token=token)
        assert status == 200 and post["status"] == "published", post
        scored = wait_published(again, token, upload(again, token, heif))
        check_variants(scored)
        assert scored["moderation"]["model"] == "nudenet-320n" and len(scored["moderation"]["scores"]) == 18
        assert any("multiprocessing.forkserver" in " ".join(p.cmdline()) for p in descendants(again)), \
            "the pool should run under a forkserver"
        stop_cleanly(again, private_tmp)
    assert sorted((data_dir / "pg-bin").iterdir()) == installs
    assert_cli_matches_source(executable, data_dir, env)
    assert postgres_processes(data_dir / "pg") == []


def assert_cli_matches_source(executable: Path, data_dir: Path, env: dict[str, str]) -> None:
    """The operator commands print exactly what ``python -m server`` prints, on the same data."""
    data = ["--data-dir", str(data_dir)]
    for args in (["version"], ["migrate", *data], ["jobs", *data, "list"], ["bench", "codec", "--help"]):
        frozen, source = (
            subprocess.run([*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
            for command in ([str(executable)], [sys.executable, "-m", "server"])
        )
        assert (frozen.returncode, source.returncode) == (0, 0), (args, frozen.stderr, source.stderr)
        assert frozen.stdout == source.stdout, args


async def test_frozen_server_on_external_postgres_and_s3_behind_a_cdn(  # type: ignore[no-untyped-def]
    executable: Path, private_tmp: Path, tmp_path: Path, db_dsn: str, s3_bucket
) -> None:
    """The production shape of the README: IMAGEPIPE_DATABASE_URL, S3 (the real protocol, moto) and
    variant URLs on a CDN base; here the "CDN" is the bucket itself, path-style."""
    data_dir, cdn = tmp_path / "data", f"{s3_bucket.endpoint_url}/{s3_bucket.name}"
    env = server_env(
        **AWS_ENV, TMPDIR=str(private_tmp), IMAGEPIPE_DATABASE_URL=db_dsn, IMAGEPIPE_STORAGE="s3",
        IMAGEPIPE_S3_BUCKET=s3_bucket.name, IMAGEPIPE_S3_ENDPOINT_URL=s3_bucket.endpoint_url,
        IMAGEPIPE_S3_REGION=s3_bucket.region, IMAGEPIPE_CDN_BASE_URL=cdn,
    )
    server = ServerProcess(data_dir, free_port(), env, command=[str(executable)])
    with server.start(wait_ready=120):
        assert postgres_processes(data_dir / "pg") == [] and not (data_dir / "pg-bin").exists()
        token = register_verified_login(server)
        post = wait_published(server, token, upload(server, token, corpus_file("phone-3264x2448.jpg")))
        assert all(v["url"].startswith(f"{cdn}/posts/") for v in post["variants"].values()), post
        # The bucket stays private (a CDN reads it with origin credentials), so read it the same way.
        bucket = s3_bucket.client()
        check_variants(post, lambda url: bucket.get_object(
            Bucket=s3_bucket.name, Key=url.removeprefix(f"{cdn}/"))["Body"].read())
        stop_cleanly(server, private_tmp)
