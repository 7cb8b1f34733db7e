"""``imagepipe jobs list|retry ID|retry-dead``: look at the queue and replay what gave up."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any, Sequence

import asyncpg

from .jobs import JobQueue

STATUSES = ("queued", "running", "succeeded", "failed", "dead")
_COLUMNS = ("id", "status", "attempts", "breaks", "post_id", "run_after", "error")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A fixed-width table, one job per line; pure so it is tested without a database."""
    cells = [
        (
            str(r["id"]),
            r["status"],
            f"{r['attempts']}/{r['max_attempts']}",
            str(r["pool_breaks"]),
            str(r["post_id"]),
            _when(r["run_after"]),
            f"{r['last_error_code']}: {r['last_error']}" if r["last_error_code"] else (r["last_error"] or ""),
        )
        for r in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(_COLUMNS)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(_COLUMNS, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


async def jobs_command(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    queue = JobQueue(pool)
    if args.jobs_command == "list":
        if args.status is not None and args.status not in STATUSES:
            print(f"imagepipe: unknown status {args.status!r}; use one of {', '.join(STATUSES)}", file=sys.stderr)
            return 1
        if args.limit <= 0:
            print("imagepipe: --limit must be greater than 0", file=sys.stderr)
            return 1
        rows = await queue.list(args.status, args.limit)
        if not rows:
            print("no jobs" + (f" with status {args.status}" if args.status else ""))
            return 0
        print(format_table([dict(r) for r in rows]))
        return 0
    if args.jobs_command == "retry":
        job = await queue.get(args.job_id)
        if job is None:
            print(f"imagepipe: job {args.job_id} does not exist", file=sys.stderr)
            return 1
        if job["post_deleted"]:
            print(f"imagepipe: job {args.job_id} belongs to deleted post {job['post_id']}; not retried", file=sys.stderr)
            return 1
        if not await queue.retry([args.job_id]):
            print(
                f"imagepipe: job {args.job_id} is {job['status']}; only dead or failed jobs can be retried",
                file=sys.stderr,
            )
            return 1
        print(f"job {args.job_id} queued again (post {job['post_id']})")
        return 0
    if args.jobs_command == "retry-dead":
        ids = await queue.retry_dead()
        print(f"{len(ids)} dead job{'s' if len(ids) != 1 else ''} queued again" + (f": {', '.join(map(str, ids))}" if ids else ""))
        return 0
    print(f"imagepipe: unknown jobs command {args.jobs_command!r}", file=sys.stderr)
    return 1
