"""The home feed, notifications and their live stream (issue 11; DESIGN.md "Social").

Public surface:
- ``add_routes``: the HTTP endpoints (feed, notifications, read, stream ticket, stream);
- ``feed_ctx``: cleanup context running this instance's stream hub (LISTEN, announcements, poll);
- ``close_streams``: on_shutdown hook ending every stream with a ``retry:`` hint as the drain starts;
- ``notify``: what server/social calls inside an action's transaction (``followed``, ``commented``,
  ``forget_pair``, the like statement ``SET_LIKE``) and ``announce`` after its commit.
"""

from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from .. import appkeys
from . import notify
from .handlers import add_routes
from .notify import announce
from .stream import HUB, StreamHub

# How long the drain waits for streams to say goodbye before the server closes their connections.
CLOSE_STREAMS_S = 2.0


async def feed_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = StreamHub(app[appkeys.DB], app[appkeys.SETTINGS])
    app[HUB] = hub
    await hub.start()
    yield
    await hub.stop()


async def close_streams(app: web.Application) -> None:
    hub = app.get(HUB)
    if hub is not None:
        await hub.close_all(CLOSE_STREAMS_S)


__all__ = ["add_routes", "announce", "close_streams", "feed_ctx", "notify"]
