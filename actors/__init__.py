"""imagepipe's actors: the supervised runtime (``actors.runtime``, re-exported here), the pipeline
actors (``actors.pipeline``) and the pure transcode function (``actors.transcode``).

Kept light on purpose: importing ``actors`` pulls in only asyncio, never pyvips, aiohttp or
asyncpg, so worker processes and unit tests stay cheap; import the subpackages explicitly.
"""

from .runtime import (Actor, ActorEvent, ActorRef, ActorStopped, ActorSystem, ChildSpec,
                      ChildStartError, ChildStatus, MailboxFull, RestartIntensityExceeded,
                      Supervisor)

__all__ = [
    "Actor",
    "ActorEvent",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "ChildSpec",
    "ChildStartError",
    "ChildStatus",
    "MailboxFull",
    "RestartIntensityExceeded",
    "Supervisor",
]
