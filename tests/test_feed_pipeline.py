"""The real pipeline (libvips in a process pool, the local store) publishing and failing posts:
the owner's post_published and post_failed notifications come from the trigger on the post's
status, with nothing added to the pipeline's code, and the published post is in the owner's feed."""

from __future__ import annotations

import asyncpg

from conftest import corpus_file
from server.db import q
from test_pipeline import add_posts, config, run_until_settled, small_jpeg, store  # noqa: F401  (fixtures)


async def test_the_pipelines_publish_and_failure_notify_the_owner(db_pool: asyncpg.Pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    tiny = corpus_file("tiny-100x68.jpg").read_bytes()  # too small: the pipeline fails it
    good, bad = await add_posts(db_pool, store, [small_jpeg, tiny])
    await run_until_settled(db_pool, store, config(workers=1), 90)
    async with db_pool.acquire() as conn:
        notes = await conn.fetch(
            "SELECT n.kind::text AS kind, n.post_id, n.actor_id, n.recipient_id = p.user_id AS to_owner"
            " FROM notifications n JOIN posts p ON p.id = n.post_id ORDER BY n.kind")
        owner = await conn.fetchval("SELECT user_id FROM posts WHERE id = $1", good)
        feed = await conn.fetch(q("feed_merge"), owner, None, None, 10)
    assert [(n["kind"], n["post_id"], n["actor_id"], n["to_owner"]) for n in notes] == [
        ("post_published", good, None, True), ("post_failed", bad, None, True)]
    assert [r["id"] for r in feed] == [good]
