"""Uploads and posts: presigned upload (init/complete), reading, listing and deleting posts, and the
sweeps that expire abandoned uploads and purge deleted posts' objects.

Public surface: ``add_routes`` (HTTP); ``expire_upload_sessions`` and ``purge_deleted_posts`` for
the pipeline's reaper (``chores(pool, store)`` gives both as zero-argument callables);
``purge_soon`` (start purging deleted posts' objects in the background, e.g. after an account deletion);
``sniff_image_type`` (what bytes really are).
"""

from aiohttp import web

from .cleanup import chores, expire_upload_sessions, purge_deleted_posts
from .sniff import sniff_image_type
from .uploads import complete_upload, init_upload
from .views import BACKGROUND, delete_post, drain_background, get_post, list_user_posts, purge_soon


def add_routes(app: web.Application) -> None:
    app[BACKGROUND] = set()
    app.on_shutdown.append(drain_background)
    app.router.add_post("/api/v1/posts/upload/init", init_upload)
    app.router.add_post("/api/v1/posts/upload/complete", complete_upload)
    app.router.add_get("/api/v1/posts/{post_id}", get_post)
    app.router.add_delete("/api/v1/posts/{post_id}", delete_post)
    app.router.add_get("/api/v1/users/{user_id}/posts", list_user_posts)


__all__ = [
    "add_routes", "chores", "expire_upload_sessions", "purge_deleted_posts", "purge_soon", "sniff_image_type",
]
