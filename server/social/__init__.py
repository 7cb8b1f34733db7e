"""The social half of the product: profiles, follows, blocks, likes, comments, views, and deleting
one's account (DESIGN.md "Social").

Public surface for other areas (feed, notifications, moderation):
- ``add_routes``: the HTTP endpoints;
- the rules, mirrored in SQL (0010_social.sql: ``post_is_public``, ``users_blocked``,
  ``post_visible_to``): ``post_is_public``, ``post_visible_to``, ``Relation``, ``READABLE_BY_OTHERS``;
- ``graph`` and ``engagement``: one function per action, each one transaction (``follow``,
  ``like``, ``add_comment``...), where work that must commit with the action belongs.
"""

from . import engagement, graph
from .handlers import add_routes
from .rules import READABLE_BY_OTHERS, Relation, post_is_public, post_visible_to

__all__ = [
    "READABLE_BY_OTHERS",
    "Relation",
    "add_routes",
    "engagement",
    "graph",
    "post_is_public",
    "post_visible_to",
]
