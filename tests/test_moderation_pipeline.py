"""The classifier in the real pool and the policy in the real publisher: the real NudeNet model on
the real corpus, through the real API, PostgreSQL and local store; and classifiers that crash, hang,
reject or kill their worker, plugged in as an operator would (``moderation = module:factory``)."""

from __future__ import annotations

import uuid

import pytest

from conftest import corpus_file
from helpers_moderation import ModApi, start_mod_api
from test_pipeline_hooks import make_small_jpeg

QUEUE = "/api/v1/admin/moderation/queue"
PHOTOS = {"camera-with-gps.jpg": "image/jpeg", "phone-3264x2448.jpg": "image/jpeg",
          "phone-landscape-4608x1976.jpg": "image/jpeg", "phone-4608x1976.heif": "image/heif"}


@pytest.fixture
async def start(settings, db_pool, aiohttp_server, aiohttp_client):  # type: ignore[no-untyped-def]
    """The app with these settings; db_pool first, so it is torn down after the app and its pipeline."""

    async def make(**overrides: object) -> ModApi:
        return await start_mod_api(aiohttp_server, aiohttp_client, settings, db_pool, **overrides)

    return make


def photo(seed: int = 0) -> bytes:
    """A small real photo (800 px) cut from the corpus: fast through the pool, real pixels."""
    return make_small_jpeg(corpus_file("phone-3264x2448.jpg"), width=800 + seed)


async def test_every_corpus_photo_is_scored_by_the_real_model_and_published(start) -> None:  # type: ignore[no-untyped-def]
    mod = await start(moderation="nudenet")
    owner, token = await mod.user()
    ids = {}
    for name, content_type in PHOTOS.items():
        ids[name] = await mod.upload(token, corpus_file(name).read_bytes(), content_type)
    posts = await mod.settled(token, list(ids.values()), timeout=240)
    for name, post_id in ids.items():
        post = posts[post_id]
        assert post["status"] == "published", (name, post)
        scores = post["moderation"]
        assert scores["model"] == "nudenet-320n" and len(scores["scores"]) == 18, (name, scores)
        assert 0.0 <= scores["score"] < mod.settings.moderation_review_score, (name, scores)
        assert "error" not in scores and "held_by" not in scores
        status, public = await mod.call("GET", f"/api/v1/posts/{post_id}")
        assert status == 200 and "moderation" not in public  # scores are for the owner and admins
        assert await mod.fetch(public["variants"]["medium"]["url"]) == 200
    _, stranger = await mod.user()
    assert "moderation" not in (await mod.call("GET", f"/api/v1/posts/{ids['camera-with-gps.jpg']}", stranger))[1]
    _, admin = await mod.admin()
    assert "moderation" in (await mod.call("GET", f"/api/v1/posts/{ids['camera-with-gps.jpg']}", admin))[1]
    assert await mod.count("moderation_audit", "actor = 'classifier'") == 0  # nothing held, nothing rejected


async def test_with_review_score_0_every_upload_is_held_and_an_admin_decides(start) -> None:  # type: ignore[no-untyped-def]
    mod = await start(moderation="nudenet", moderation_review_score=0.0)
    owner, token = await mod.user()
    ids = [await mod.upload(token, photo(i)) for i in range(3)]
    posts = await mod.settled(token, ids)
    assert {p["status"] for p in posts.values()} == {"in_review"}
    keep, drop, third = ids
    for post_id in ids:
        assert posts[post_id]["moderation"]["held_by"] == "classifier"
        assert (await mod.call("GET", f"/api/v1/posts/{post_id}"))[0] == 404
    held_url = posts[drop]["variants"]["medium"]["url"]
    assert "/held/" in held_url and await mod.fetch(held_url, token) == 200
    public_guess = held_url.replace(f"/api/v1/posts/{drop}/held/", f"/media/posts/{drop}/")
    assert await mod.fetch(public_guess) == 404  # nothing of a held post is under posts/

    admin_id, admin = await mod.admin()
    _, stranger = await mod.user()
    for method, path, body in (("GET", QUEUE, None), ("POST", f"/api/v1/admin/posts/{keep}/approve", None),
                               ("POST", f"/api/v1/admin/posts/{drop}/remove", {"reason": "x"})):
        for caller in (token, stranger):
            status, answer = await mod.call(method, path, caller, body)
            assert (status, answer["error"]["code"]) == (403, "admin_required")
    status, queue = await mod.call("GET", QUEUE, admin)
    assert [item["post"]["id"] for item in queue["items"]] == ids  # oldest first
    assert all(item["post"]["moderation"]["model"] == "nudenet-320n" for item in queue["items"])

    assert (await mod.call("POST", f"/api/v1/admin/posts/{keep}/approve", admin))[0] == 200
    status, body = await mod.call("POST", f"/api/v1/admin/posts/{drop}/remove", admin, {"reason": "not allowed here"})
    assert status == 200, body
    status, approved = await mod.call("GET", f"/api/v1/posts/{keep}")
    assert approved["status"] == "published" and approved["published_at"]
    assert [await mod.fetch(v["url"]) for v in approved["variants"].values()] == [200, 200, 200]
    assert await mod.fetch(held_url, token) == 404 and await mod.fetch(held_url, admin) == 404
    assert (await mod.call("GET", f"/api/v1/posts/{drop}"))[0] == 404
    removed = (await mod.call("GET", f"/api/v1/posts/{drop}", token))[1]
    assert removed["status"] == "removed" and removed["removal"]["reason"] == "not allowed here"
    assert mod.stored(drop) == []
    assert [i["post"]["id"] for i in (await mod.call("GET", QUEUE, admin))[1]["items"]] == [third]
    async with mod.pool.acquire() as conn:
        audit = await conn.fetch("SELECT actor, actor_id, action, post_id FROM moderation_audit "
                                 "WHERE action IN ('hold', 'approve', 'remove') ORDER BY id")
    assert [(a["actor"], a["action"]) for a in audit][:3] == [("classifier", "hold")] * 3
    assert [(a["action"], str(a["post_id"]), a["actor_id"]) for a in audit[3:]] == [
        ("approve", keep, admin_id), ("remove", drop, admin_id)]


async def test_a_classifier_above_the_reject_score_fails_the_post_and_stores_nothing(start) -> None:  # type: ignore[no-untyped-def]
    mod = await start(moderation="moderation_doubles:explicit")
    _, token = await mod.user()
    post = await mod.publish(token, photo())
    assert post["status"] == "failed" and post["error"]["code"] == "rejected_by_moderation", post
    assert post["moderation"]["score"] == 1.0 and post["moderation"]["model"] == "explicit"
    assert [key for key in mod.stored(post["id"]) if not key.startswith("uploads/")] == []
    assert await mod.count("post_images", "post_id = $1", uuid.UUID(post["id"])) == 0
    assert await mod.count("jobs", "status = 'failed' AND last_error_code = 'rejected_by_moderation'") == 1
    assert await mod.count("moderation_audit", "actor = 'classifier' AND action = 'reject'") == 1


@pytest.mark.parametrize("double, error", [("crashing", "classifier_failed"), ("hanging", "classifier_timeout")])
async def test_a_crashing_or_hanging_classifier_fails_safe_and_the_pool_keeps_running(
    start, double: str, error: str,  # type: ignore[no-untyped-def]
) -> None:
    mod = await start(moderation=f"moderation_doubles:{double}", moderation_timeout_s=1.0,
                      job_timeout_s=30.0)
    _, token = await mod.user()
    pids = await mod.pipeline.worker_pids()
    first = await mod.publish(token, photo(1))
    assert first["status"] == "in_review", first
    assert first["moderation"]["error"] == error and first["moderation"]["held_by"] == "classifier_error"
    assert (await mod.call("GET", f"/api/v1/posts/{first['id']}"))[0] == 404
    second = await mod.publish(token, photo(2))  # the same worker goes on taking jobs
    assert second["status"] == "in_review"
    # A hung classifier thread is not joined by a second one: the next image is held at once.
    assert second["moderation"]["error"] == ("classifier_unavailable" if double == "hanging" else error)
    metrics = mod.pipeline.metrics
    assert (metrics.pool_breaks, metrics.jobs_succeeded) == (0, 2)
    assert await mod.pipeline.worker_pids() == pids  # the same workers: none died, none was killed
    assert await mod.count("posts", "status = 'published'") == 0


async def test_a_classifier_that_kills_its_worker_never_publishes(start) -> None:  # type: ignore[no-untyped-def]
    mod = await start(moderation="moderation_doubles:dying")
    _, token = await mod.user()
    post = await mod.publish(token, photo())
    assert post["status"] == "failed" and post["error"]["code"] == "poison_image", post
    assert mod.pipeline.metrics.pool_breaks >= 3
    assert mod.stored(post["id"]) == [f"uploads/{post['user_id']}/{post['id']}/source"]
