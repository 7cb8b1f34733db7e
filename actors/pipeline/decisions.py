"""Supervision decisions as pure functions: what a failure means for its job, who is poison after a
pool break, and when a suspect job may run. Unit-tested without a pool or a database."""

from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Iterable

import asyncpg

FINAL, RETRY, DEFER, POISON = "final", "retry", "defer", "poison"

POISON_CODE = "poison_image"
POISON_MESSAGE = (
    "this image crashed the image worker {n} times and was set aside; it may be corrupt or hostile"
)


@dataclass(frozen=True)
class Verdict:
    """FINAL: the post fails now (job ``failed``). POISON: the job is ``dead``, the post fails.
    RETRY: uses an attempt, backs off. DEFER: our fault (outage, restart), no attempt used."""

    kind: str
    code: str
    message: str


_DB_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError: refused, reset
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash recovery
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
)
# InterfaceError is also what a programming error raises (a query given the wrong number of
# arguments): only these mean the connection or pool went away under us.
_LOST_CONNECTION = ("connection is closed", "connection was closed", "pool is closing", "pool is closed")


def is_db_transient(exc: BaseException) -> bool:
    """A database outage rather than a bug: worth waiting out."""
    if isinstance(exc, _DB_TRANSIENT):
        return True
    return isinstance(exc, asyncpg.InterfaceError) and any(text in str(exc) for text in _LOST_CONNECTION)


def classify(
    exc: BaseException,
    *,
    not_found: tuple[type[BaseException], ...] = (),
    store_errors: tuple[type[BaseException], ...] = (),
) -> Verdict:
    code = getattr(exc, "code", None)
    if code is not None and hasattr(exc, "final") and isinstance(code, str):  # a TranscodeError
        message = getattr(exc, "message", str(exc))
        return Verdict(FINAL if exc.final else RETRY, code, message)  # type: ignore[attr-defined]
    if not_found and isinstance(exc, not_found):
        return Verdict(FINAL, "source_missing", "the uploaded file is no longer in storage")
    if store_errors and isinstance(exc, store_errors):
        return Verdict(DEFER, "store_unavailable", f"object store unavailable: {_short(exc)}")
    if is_db_transient(exc):
        return Verdict(DEFER, "db_unavailable", f"database unavailable: {_short(exc)}")
    if isinstance(exc, BrokenProcessPool):
        return Verdict(DEFER, "pool_broken", "the image worker pool broke")
    return Verdict(RETRY, "internal_error", f"unexpected {exc.__class__.__name__}: {_short(exc)}")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text[:200]


# The stored source no longer has the bytes verified at upload/complete: the store let them be
# replaced (uploads are create-only, so this means a store without conditional writes, or tampering).
# Processing other bytes than the ones verified would publish something nobody checked.
SOURCE_CHANGED = Verdict(
    FINAL, "source_changed", "the uploaded file changed after it was verified; upload it again",
)


def poison_verdict(breaks: int) -> Verdict:
    return Verdict(POISON, POISON_CODE, POISON_MESSAGE.format(n=breaks))


# A first timeout may be a busy machine; a second one on the same image is the image (a CPU bomb),
# and retrying it would cost a pool kill and a full time limit per remaining attempt.
TIMEOUT_ATTEMPTS = 2


def timeout_verdict(timeout_s: float, attempts: int = 1) -> Verdict:
    if attempts >= TIMEOUT_ATTEMPTS:
        return Verdict(
            FINAL, "job_timeout",
            f"transcoding took longer than {timeout_s:g}s on {attempts} attempts; the image was set aside",
        )
    return Verdict(RETRY, "job_timeout", f"transcoding took longer than {timeout_s:g}s and was stopped")


def split_poison(breaks: dict[int, int], threshold: int) -> tuple[list[int], list[int]]:
    """After a break: (poison ids, ids to run again), given each job's pool_breaks count."""
    poison = sorted(i for i, n in breaks.items() if n >= threshold)
    again = sorted(i for i, n in breaks.items() if n < threshold)
    return poison, again


def may_submit(next_suspect: bool, running_suspects: Iterable[bool], workers: int) -> bool:
    """A job that was in flight at a pool break runs alone, so the next break names the culprit and
    innocent bystanders are not counted again; nothing else runs beside it."""
    running = list(running_suspects)
    if len(running) >= workers:
        return False
    if not running:
        return True
    return not next_suspect and not any(running)


# Past these limits a held job is not progressing, whatever the reason (a wedged pool, a hung store
# call, a bug): its lease is no longer renewed, so another instance may take it (every write of ours
# is fenced by the claim), and readiness says so. Generous on purpose: each is a backstop behind the
# stage's own timeout, never the normal way a job ends.
STAGE_SLACK_S = 15.0


def stage_limits(job_timeout_s: float, io_timeout_s: float, capacity: int) -> dict[str, float]:
    """Seconds a job may stay in each stage. ``wait`` is a job fetched and queued for a worker: at
    worst every other held job runs before it, one at a time (suspects run alone), each up to the
    job timeout."""
    return {
        "fetch": io_timeout_s + STAGE_SLACK_S,
        "wait": job_timeout_s * max(1, capacity) + STAGE_SLACK_S,
        "pool": job_timeout_s + STAGE_SLACK_S,
        "publish": 2 * io_timeout_s + STAGE_SLACK_S,  # the puts, then the commit with its retries
    }


def stuck(stages: Iterable[tuple[int, str, float]], limits: dict[str, float], now: float) -> list[int]:
    """Ids of the jobs, given as (id, stage, entered_at), that overstayed their stage."""
    return sorted(job_id for job_id, stage, since in stages if now - since > limits.get(stage, float("inf")))
