"""SIGTERM ends the process within ``drain_timeout_s`` plus a few seconds, whatever is stuck.

The drain itself is bounded step by step (held jobs, actor stops, lease release, pool close, the
database pool), but a process can still hang after ``serve`` returns: the interpreter joins every
non-daemon thread at exit, and a thread blocked in a system call (an executor's manager thread on a
broken pipe, a resolver call) never returns. Two guards: a daemon timer armed when the shutdown
starts, which ends the process at the deadline whatever it is doing, and a bounded wait for the
remaining threads once the shutdown is done.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)

# Beyond the drain timeout: stopping the actors, releasing leases, closing the store and the
# database pool, and stopping the embedded PostgreSQL.
EXIT_GRACE_S = 15.0
# After a clean shutdown, how long the threads that are still running get to finish.
THREADS_WAIT_S = 3.0


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def arm_exit_deadline(seconds: float, code: int = 1) -> threading.Timer:
    """From now on the process lives at most ``seconds`` more; past that it exits with ``code``."""

    def expire() -> None:
        log.error("shutdown still not finished after %.0fs; exiting now", seconds)
        _flush()
        os._exit(code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.name = "exit-deadline"
    timer.start()
    return timer


def leave_when_threads_done(code: int, wait_s: float = THREADS_WAIT_S) -> None:
    """Return if every non-daemon thread but this one ends within ``wait_s``; otherwise name them
    and exit with ``code`` at once instead of hanging in the interpreter's final join."""
    deadline = time.monotonic() + wait_s
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread is me or thread.daemon or not thread.is_alive():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    left = [t.name for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()]
    if left:
        log.warning("threads %s are still running after the shutdown; exiting without waiting for them", left)
        _flush()
        os._exit(code)
