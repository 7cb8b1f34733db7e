"""Actor base class, the stable ActorRef senders hold, and one incarnation's message loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from .errors import ActorStopped
from .mailbox import Envelope, Mailbox

log = logging.getLogger("actors")

# After cancelling a task (brutal kill) we wait this long for its finally-blocks; an actor that
# swallows cancellation is reported rather than allowed to hang the whole shutdown.
KILL_GRACE = 1.0


class Actor:
    """Subclass and override ``receive``; ``on_start``/``on_stop`` bracket one incarnation.

    ``on_stop`` runs after a graceful stop, a normal exit and a crash in ``receive`` (bounded by
    the child's ``shutdown_timeout``), but only if ``on_start`` completed, and not after a brutal
    kill. A restart creates a new instance from the ChildSpec factory, so state never leaks from
    a crashed incarnation. ``on_start`` is not time-bounded: keep it short.

    Never ``await self.ref.tell(...)`` from inside ``receive``: with a full mailbox the actor
    would wait for itself. Use ``try_tell`` there, or tell from a task the actor owns.
    """

    ref: ActorRef  # set by the runtime before on_start
    _incarnation: _Incarnation | None = None

    async def on_start(self) -> None:
        pass

    async def receive(self, message: Any) -> Any:
        """Handle one message; the return value answers ``ask``; an exception crashes the actor."""
        raise NotImplementedError(f"{type(self).__name__} does not handle {message!r}")

    async def on_stop(self) -> None:
        pass

    def stop_self(self) -> None:
        """Exit normally after the current message (OTP ``{stop, normal}``): a transient child is
        then not restarted, a permanent one is."""
        if self._incarnation is not None:
            self._incarnation.request_exit()


class ActorRef:
    """Address of a supervised actor, stable across restarts.

    The mailbox belongs to the ref, not to an incarnation: messages accepted while the actor is
    restarting wait for the next incarnation, and a crash drops only the message being handled
    (so one poison message cannot crash-loop the actor, and accepted work is not silently lost).
    The mailbox is closed (queued asks fail with ActorStopped) only when the actor will not come
    back: temporary child, transient normal exit, or its supervisor gave up or stopped.
    """

    def __init__(self, path: str, mailbox_size: int) -> None:
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        self._mailbox = Mailbox(mailbox_size)
        self._incarnation: _Incarnation | None = None

    def __repr__(self) -> str:
        return f"<ActorRef {self.path} alive={self.is_alive} depth={self.mailbox_depth}>"

    async def tell(self, message: Any) -> None:
        """Queue a message, waiting while the mailbox is full (backpressure)."""
        await self._mailbox.put(Envelope(message))

    def try_tell(self, message: Any) -> None:
        """Queue a message or raise MailboxFull at once (ActorStopped if the actor is gone)."""
        self._mailbox.put_nowait(Envelope(message))

    async def ask(self, message: Any, timeout: float) -> Any:
        """Send and await the reply; ``timeout`` covers waiting for room and for the answer.

        Raises TimeoutError, ActorStopped, or the exception that crashed the actor while it
        handled this message. An ask that times out before the actor reaches it is skipped.
        """
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout):
            await self._mailbox.put(Envelope(message, reply))
            return await reply

    @property
    def mailbox_depth(self) -> int:
        return len(self._mailbox)

    @property
    def is_alive(self) -> bool:
        return self._incarnation is not None

    def _retire(self) -> None:
        for envelope in self._mailbox.close():
            _settle(envelope.reply, error=ActorStopped(f"{self.path} stopped"))


def _settle(reply: asyncio.Future[Any] | None, *, result: Any = None,
            error: BaseException | None = None) -> None:
    if reply is None or reply.done():
        return
    if error is not None:
        reply.set_exception(error)
    else:
        reply.set_result(result)


ExitCallback = Callable[[Any, "BaseException | None"], None]


class _Incarnation:
    """One running instance of an actor: its task, its stop protocol, its exit report."""

    def __init__(self, actor: Actor, ref: ActorRef, shutdown_timeout: float,
                 on_exit: ExitCallback) -> None:
        self.actor = actor
        self.ref = ref
        self.shutdown_timeout = shutdown_timeout
        self._on_exit = on_exit
        self._task: asyncio.Task[None] | None = None
        self._exiting = False  # leave the loop after the current message
        self._stop_requested = False  # the supervisor is stopping us: do not report the exit
        self._current: Envelope | None = None

    async def start(self) -> None:
        self.actor.ref = self.ref
        self.actor._incarnation = self
        await self.actor.on_start()
        self.ref._incarnation = self
        self._task = asyncio.create_task(self._run(), name=f"actor:{self.ref.path}")

    def request_exit(self) -> None:
        self._exiting = True
        self.ref._mailbox.interrupt()

    async def _run(self) -> None:
        reason: BaseException | None = None
        task = asyncio.current_task()
        assert task is not None
        try:
            while not self._exiting:
                envelope = await self.ref._mailbox.get()
                if envelope is None:
                    break
                if envelope.reply is not None and envelope.reply.done():
                    continue  # the asker timed out or went away before we got here
                self._current = envelope
                try:
                    result = await self.actor.receive(envelope.message)
                except asyncio.CancelledError as exc:
                    if task.cancelling():
                        raise  # brutal kill: the finally below fails the asker
                    reason = exc  # something inside receive was cancelled: that is a crash
                except Exception as exc:
                    reason = exc
                else:
                    _settle(envelope.reply, result=result)
                    self._current = None
                    continue
                _settle(envelope.reply, error=reason)
                self._current = None
                break
        finally:
            if self.ref._incarnation is self:
                self.ref._incarnation = None
            if self._current is not None:
                _settle(self._current.reply, error=ActorStopped(f"{self.ref.path} was killed"))
                self._current = None
        if reason is not None:
            log.warning("actor %s crashed: %r", self.ref.path, reason, exc_info=reason)
        await self._run_on_stop()
        if not self._stop_requested:
            self._on_exit(self, reason)

    async def _run_on_stop(self) -> None:
        try:
            async with asyncio.timeout(self.shutdown_timeout):
                await self.actor.on_stop()
        except TimeoutError:
            log.error("actor %s: on_stop took longer than %.3gs", self.ref.path,
                      self.shutdown_timeout)
        except Exception:
            log.exception("actor %s: on_stop failed", self.ref.path)

    async def stop(self, timeout: float, override: float | None = None) -> None:
        """Graceful: finish the current message, run on_stop; after ``timeout``, kill."""
        self._stop_requested = True
        self.request_exit()
        if self._task is None or self._task.done():
            return
        try:
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
        except asyncio.CancelledError:
            self.abort()  # our caller is being killed: take this task down with it
            raise
        if not done:
            log.warning("actor %s did not stop within %.3gs; cancelling", self.ref.path, timeout)
            await self.kill()

    def abort(self) -> None:
        """Cancel without waiting (used when the caller itself is being cancelled)."""
        self._stop_requested = True
        if self._task is not None:
            self._task.cancel()

    async def kill(self) -> None:
        self.abort()
        if self._task is not None:
            await _await_cancelled([self._task], self.ref.path)

    def tasks(self) -> list[asyncio.Task[Any]]:
        return [self._task] if self._task is not None else []


async def _await_cancelled(tasks: list[asyncio.Task[Any]], what: str) -> None:
    pending = [t for t in tasks if not t.done()]
    if not pending:
        return
    _, still = await asyncio.wait(pending, timeout=KILL_GRACE)
    if still:
        log.error("%s: %d task(s) ignored cancellation", what, len(still))
