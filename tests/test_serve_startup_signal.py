"""SIGTERM while the embedded PostgreSQL is still starting: exit 0 and no PostgreSQL left behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from serverproc import ServerProcess, free_port, postgres_processes, server_env

pytestmark = pytest.mark.fault


def test_sigterm_while_postgres_starts_leaves_no_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port(), server_env()).start(wait_ready=0)
    deadline = time.monotonic() + 60
    while not (data_dir / "pg").exists():  # start_embedded has begun: initdb and start take ~1 s
        assert time.monotonic() < deadline and server.proc.poll() is None, server.log_text()
        time.sleep(0.01)
    assert server.terminate() == 0, server.log_text()
    time.sleep(1.0)  # let a postmaster that was still coming up appear, if one was left behind
    left = postgres_processes(data_dir / "pg")
    for proc in left:  # never leak a server from a failing run
        proc.kill()
    assert left == [], server.log_text()
