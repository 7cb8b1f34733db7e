"""Every photo of the shared corpus through the public API of a real server on embedded defaults:
the tiny one fails as image_too_small, a 30000x30000 PNG bomb under 1 MB fails as image_too_large
at its first attempt, the rest publish with metadata-free variants that fit their size and budget."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path

import pytest
import pyvips

import images
from conftest import CORPUS, corpus_file
from serverproc import ServerProcess, free_port, server_env
from server.config import Settings, parse_variants
from test_faults_survival import jobs_cli
from test_pipeline_hooks import HttpApi

CONTENT_TYPES = {".jpg": "image/jpeg", ".heif": "image/heif", ".png": "image/png"}
EXPECTED_FAILURES = {"tiny-100x68.jpg": "image_too_small", "png-bomb-30000x30000.png": "image_too_large"}
METADATA_FIELDS = ("exif-data", "xmp-data", "iptc-data", "icc-profile-data")
BUDGETS = {name: (side, max_bytes) for name, side, _, max_bytes in parse_variants(Settings().variants)}


def _upload(api: HttpApi, name: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    status, grant, _ = api.call("POST", "/api/v1/posts/upload/init", {
        "filename": name, "content_type": CONTENT_TYPES[Path(name).suffix], "file_size": len(data),
        "file_hash": digest,
    })
    assert status == 201, grant
    status, body, _ = api.call("PUT", "", raw=data, headers=grant["upload_headers"], url=grant["presigned_url"])
    assert status in (200, 201, 204), body
    status, body, _ = api.call("POST", "/api/v1/posts/upload/complete", {
        "post_id": grant["post_id"], "upload_token": grant["upload_token"], "file_hash": digest,
        "file_size": len(data),
    })
    assert status == 200 and body["status"] == "processing", body
    return grant["post_id"]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/jpeg"
        return resp.read()


def _settled(api: HttpApi, post_ids: dict[str, str], timeout: float = 180.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        posts = {name: api.post(post_id) for name, post_id in post_ids.items()}
        if all(p["status"] in ("published", "failed") for p in posts.values()) or time.monotonic() > deadline:
            return posts
        time.sleep(0.3)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    corpus_file("tiny-100x68.jpg")  # skips cleanly when the shared corpus is absent
    data_dir = tmp_path_factory.mktemp("corpus") / "data"
    env = server_env(IMAGEPIPE_WORKERS="2")
    with ServerProcess(data_dir, free_port(), env).start() as server:
        api = HttpApi(server.base_url).signup(data_dir, username="corpus")
        sources = {p.name: p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.suffix in CONTENT_TYPES}
        sources["png-bomb-30000x30000.png"] = images.png_bomb()
        assert len(sources["png-bomb-30000x30000.png"]) < 1024 * 1024
        post_ids = {name: _upload(api, name, data) for name, data in sources.items()}
        posts = _settled(api, post_ids)
        variants = {
            name: {v: _fetch(post["variants"][v]["url"]) for v in BUDGETS}
            for name, post in posts.items() if post["status"] == "published"
        }
        failed_jobs = jobs_cli(data_dir, env, "list", "--status", "failed")
        yield posts, variants, failed_jobs, server.log_text()


def test_bad_files_fail_their_own_post_with_the_reason(outcome) -> None:  # type: ignore[no-untyped-def]
    posts, _, failed_jobs, _ = outcome
    for name, code in EXPECTED_FAILURES.items():
        assert posts[name]["status"] == "failed", (name, posts[name])
        assert posts[name]["error"]["code"] == code and posts[name]["error"]["message"]
    # A final error is not retried: the bomb's job failed at its first attempt.
    bomb_line = next(line for line in failed_jobs.splitlines() if "image_too_large" in line)
    assert " 1/5 " in f" {bomb_line} ", failed_jobs


def test_every_real_photo_publishes_with_clean_variants_in_budget(outcome) -> None:  # type: ignore[no-untyped-def]
    posts, variants, _, _ = outcome
    photos = [name for name in posts if name not in EXPECTED_FAILURES]
    assert len(photos) >= 3
    for name in photos:
        post = posts[name]
        assert post["status"] == "published", (name, post)
        for variant, (max_side, max_bytes) in BUDGETS.items():
            listed = post["variants"][variant]
            data = variants[name][variant]
            assert len(data) == listed["bytes"] <= max_bytes
            fetched = pyvips.Image.new_from_buffer(data, "")
            assert fetched.get("vips-loader") == "jpegload_buffer"
            assert (fetched.width, fetched.height) == (listed["width"], listed["height"])
            assert max(fetched.width, fetched.height) <= min(max_side, max(post["width"], post["height"]))
            assert not [f for f in fetched.get_fields() if f in METADATA_FIELDS or f.startswith("exif-")], name
        # Aspect ratio kept: the original variant has the upright source's shape.
        original = post["variants"]["original"]
        assert abs(original["width"] / original["height"] - post["width"] / post["height"]) < 0.01

