"""The social rules as pure functions: who sees what across a block, which posts count, and what a
refused action answers. No I/O, so each rule is unit-tested alone.

The database holds the same rules as SQL functions (``post_is_public``, ``users_blocked``,
``post_visible_to`` in ``0010_social.sql``) because lists filter rows before they leave PostgreSQL;
these mirrors are for code that already holds the rows, and a test runs both over every case so
the two cannot drift apart. Change one, change the other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..http import ApiError

# The statuses a post can have today that others may read by id (the owner's app polls a post while
# it processes). A status added later (moderation's in_review, removed) is hidden from others until
# it is added here and to post_visible_to.
READABLE_BY_OTHERS = frozenset({"pending_upload", "processing", "published", "failed"})


def post_is_public(status: str, deleted: bool) -> bool:
    """Counts in ``posts_count``, shows in others' lists, can be liked, commented on and viewed."""
    return not deleted and status == "published"


@dataclass(frozen=True)
class Relation:
    """How the caller (viewer) and another account stand, as far as blocks go."""

    blocked_by_me: bool = False  # the viewer blocks the other account
    blocks_me: bool = False  # the other account blocks the viewer

    @property
    def blocked(self) -> bool:
        """Either side blocks the other: each is absent to the other."""
        return self.blocked_by_me or self.blocks_me


def post_visible_to(owner: uuid.UUID | None, status: str, deleted: bool, viewer: uuid.UUID | None,
                    blocked: bool, viewer_is_admin: bool = False) -> bool:
    """Whether ``viewer`` (None: anonymous) may see a post at all; ``blocked`` says whether a block
    stands between owner and viewer. A post in review is also seen by admins, blocks or not
    (moderation, 0032)."""
    if deleted:
        return False
    if viewer is not None and owner == viewer:
        return True
    if status == "in_review":
        return viewer is not None and viewer_is_admin
    return status in READABLE_BY_OTHERS and not blocked


def user_not_found() -> ApiError:
    return ApiError(404, "user_not_found", "no such user")


def post_not_found() -> ApiError:
    return ApiError(404, "post_not_found", "no such post")


def check_profile_visible(relation: Relation) -> None:
    """A profile, its lists and follows: across a block, the other account does not exist."""
    if relation.blocked:
        raise user_not_found()


def check_can_block(relation: Relation) -> None:
    """Blocking and unblocking: the blocker always manages its own block (it knows of it). Without
    one, the other side's block makes the account absent, as everywhere else: a different answer
    would tell the caller it has been blocked, and blocks are private."""
    if relation.blocks_me and not relation.blocked_by_me:
        raise user_not_found()


def check_not_self(actor: uuid.UUID, target: uuid.UUID, action: str) -> None:
    if actor == target:
        raise ApiError(400, f"cannot_{action}_self", f"you cannot {action} yourself")


def check_post_for_engagement(found: bool, visible: bool, public: bool) -> None:
    """Like, comment, view: the post must exist for the actor (404) and be published (409)."""
    if not found or not visible:
        raise post_not_found()
    if not public:
        raise ApiError(409, "post_not_published", "only published posts can be liked, commented on or viewed")


def check_comment_delete(actor: uuid.UUID, author: uuid.UUID, owner: uuid.UUID | None, visible: bool) -> None:
    """The author or the post's owner may delete a comment (the owner even one whose author they
    blocked: it still shows to everyone else); others get 403 if they can see it, else 404."""
    if actor == author or actor == owner:
        return
    if not visible:
        raise ApiError(404, "comment_not_found", "no such comment")
    raise ApiError(403, "forbidden", "only the comment's author or the post's owner may delete it")


def view_counts(viewer: uuid.UUID, owner: uuid.UUID | None) -> bool:
    """An owner looking at their own post is not a view."""
    return viewer != owner
