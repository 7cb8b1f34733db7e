"""Results cross the worker pipe as a few hundred bytes, whatever the task returned.

Why: every worker writes its results into one shared pipe, and the executor's manager thread reads
a whole message once it has seen its first bytes. A worker SIGKILLed half way through writing a
large result leaves a partial message that can never complete while the parent itself keeps the
pipe's write end open, so the manager thread blocks forever: no break is reported and every future
hangs (CPython issue 105829 is a relative). A pipe write of at most ``PIPE_BUF`` (4 KiB on Linux)
bytes is atomic, so a message that small is either wholly in the pipe or not there at all.

So the worker side (``run_task``) pickles the task's outcome itself and, past ``INLINE_LIMIT``,
writes it to a file in the pool's spill directory and sends only the file name; the parent side
(``open_envelope``) turns the small envelope back into the result or the exception.
"""

from __future__ import annotations

import os
import pickle
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable

# Well under PIPE_BUF once the executor wraps the envelope in its own _ResultItem.
INLINE_LIMIT = 1024


@dataclass(frozen=True)
class Envelope:
    """What a task sends back: its pickled outcome inline, or the name of the file holding it."""

    failed: bool
    inline: bytes | None = None
    path: str | None = None


class RemoteTraceback(Exception):
    """The worker-side traceback, attached as ``__cause__`` of an exception raised in a worker."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def _pickled_exception(exc: BaseException) -> bytes:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        return pickle.dumps((exc, text), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that cannot cross processes still says what it was
        return pickle.dumps((RuntimeError(f"{type(exc).__name__}: {exc}"), text), protocol=pickle.HIGHEST_PROTOCOL)


def run_task(fn: Callable[..., Any], args: tuple[Any, ...], spill_dir: str) -> Envelope:
    """Runs in the worker: call ``fn`` and package its outcome so that sending it is atomic."""
    try:
        payload = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
        failed = False
    except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
        payload = _pickled_exception(exc)
        failed = True
    if len(payload) <= INLINE_LIMIT:
        return Envelope(failed, inline=payload)
    path = os.path.join(spill_dir, uuid.uuid4().hex)
    with open(path, "wb") as fh:
        fh.write(payload)
    return Envelope(failed, path=path)


class ResultLost(Exception):
    """The spilled result vanished before it was read (its pool was torn down meanwhile)."""


def open_envelope(envelope: Envelope) -> tuple[bool, Any]:
    """Runs in the parent: (failed, result or exception). The spill file is removed once read."""
    if envelope.path is not None:
        try:
            with open(envelope.path, "rb") as fh:
                payload = fh.read()
        except OSError as exc:
            raise ResultLost(f"the worker's result file is gone: {exc}") from None
        finally:
            try:
                os.unlink(envelope.path)
            except OSError:
                pass
    else:
        assert envelope.inline is not None
        payload = envelope.inline
    outcome = pickle.loads(payload)
    if not envelope.failed:
        return False, outcome
    exc, text = outcome
    exc.__cause__ = RemoteTraceback(text)
    return True, exc
