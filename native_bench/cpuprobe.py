"""Where the CPU went during a pipeline run on this machine: pool workers, the server's event loop,
PostgreSQL, and the bench's own clients. On a small VM they all share the same cores, so a pipeline
that falls short of the bare codec is often just the server and database taking their share."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from server.db.embedded import postgres_processes

def cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


ROLES = ("pool_workers", "server", "postgres", "bench_client")


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (the server and its pool); empty once it is gone."""
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_server(pid: int, pgdata: Path) -> None:
    """SIGKILL a server, its pool and the embedded PostgreSQL on ``pgdata`` (which is not its child)."""
    for victim in process_tree(pid) + postgres_processes(pgdata):
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass


def _cpu(proc: psutil.Process) -> float:
    try:
        times = proc.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0.0
    return times.user + times.system


@dataclass
class CpuProbe:
    """Samples CPU seconds by role; ``share`` turns two samples into percent of the machine."""

    server_pid: int
    pgdata: Path

    def sample(self) -> dict[str, float]:
        totals = dict.fromkeys(ROLES, 0.0)
        totals["wall"] = time.monotonic()
        server, *pool = process_tree(self.server_pid) or [None]
        if server is not None:
            totals["server"] = _cpu(server)
            # Every child of the server is the pool (spawned workers and multiprocessing's helper).
            totals["pool_workers"] = sum(_cpu(child) for child in pool)
        totals["postgres"] = sum(_cpu(proc) for proc in postgres_processes(self.pgdata))
        totals["bench_client"] = _cpu(psutil.Process(os.getpid()))
        machine = psutil.cpu_times()
        totals["machine"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return totals


def share(before: dict[str, float], after: dict[str, float], cores: int) -> dict[str, float]:
    """Percent of all cores each role used between two samples (pure)."""
    wall = after["wall"] - before["wall"]
    if wall <= 0:
        return {}
    used = {role: max(0.0, after[role] - before[role]) for role in (*ROLES, "machine")}
    # Whatever else ran on the machine meanwhile (another service, a backup): it skews the figures.
    used["other"] = max(0.0, used.pop("machine") - sum(used.values()))
    return {role: round(100 * seconds / (wall * cores), 1) for role, seconds in used.items()}
