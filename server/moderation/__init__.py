"""Moderation, the human side: reports, the admin role, the review queue and its decisions, the
audit of every decision, and what the posts API shows of it all. (The classifier itself runs in the
pool worker: ``actors/moderation``.)

Public surface: ``add_routes`` (HTTP); ``chores(pool, store)`` (purge removed posts, move objects
after their status) for the pipeline's reaper; ``reader`` / ``annotate`` / ``url_for`` for
the posts views; ``approve_post`` / ``remove_post`` / ``transition`` (every status change goes
through ``decisions``); ``Actor``, ``Viewer``.
"""

from aiohttp import web

from .audit import Actor
from .decisions import approve_post, remove_post, transition
from .objects import chores
from .post_views import annotate, reader, url_for
from .roles import Viewer


def add_routes(app: web.Application) -> None:
    from . import admin_api, post_views, reports

    app.router.add_post("/api/v1/posts/{post_id}/reports", reports.report_post)
    app.router.add_post("/api/v1/comments/{comment_id}/reports", reports.report_comment)
    app.router.add_get("/api/v1/posts/{post_id}/held/{name:.+}", post_views.held_rendition)
    app.router.add_get("/api/v1/admin/moderation/queue", admin_api.review_queue)
    app.router.add_post("/api/v1/admin/posts/{post_id}/approve", admin_api.approve)
    app.router.add_post("/api/v1/admin/posts/{post_id}/remove", admin_api.remove)


__all__ = ["Actor", "add_routes", "annotate", "approve_post", "chores", "reader", "remove_post",
           "transition", "url_for", "Viewer"]
