"""A small supervised actor runtime on pure asyncio (no aiohttp, asyncpg or pyvips).

- ``Actor``: one message at a time from a bounded mailbox; ``ActorRef`` (stable across restarts)
  offers ``tell`` (waits for room: backpressure), ``try_tell`` (MailboxFull), ``ask`` (timeout).
- ``Supervisor`` / ``ChildSpec``: OTP restart types and strategies, restart intensity with
  escalation to the parent, exponential restart backoff, ordered graceful stop.
- ``ActorSystem``: the root; ``ref("sup/child")``, ``status()``, ``stop()``, ``on_escalate``.
- ``policy``: the pure supervision decisions, usable alone.

Mailboxes belong to refs, not to incarnations (OTP drops a dead process's mailbox): a restart
keeps queued messages and drops only the one being handled when the crash happened. Accepted work
is not lost to an unrelated crash, blocked senders simply keep waiting (backpressure holds), and a
poison message cannot crash-loop the actor. A mailbox is closed, failing queued asks with
ActorStopped, only when its actor will not come back.
"""

from .actor import Actor, ActorRef
from .errors import ActorStopped, ChildStartError, MailboxFull, RestartIntensityExceeded
from .policy import Backoff, RestartIntensity, restart_group, should_restart
from .registry import ActorEvent
from .supervisor import ChildSpec, ChildStatus, Supervisor
from .system import ActorSystem

__all__ = [
    "Actor",
    "ActorEvent",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "Backoff",
    "ChildSpec",
    "ChildStartError",
    "ChildStatus",
    "MailboxFull",
    "RestartIntensity",
    "RestartIntensityExceeded",
    "Supervisor",
    "restart_group",
    "should_restart",
]
