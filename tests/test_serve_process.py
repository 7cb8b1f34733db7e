"""The real ``serve`` process: SIGTERM exits 0 leaving no PostgreSQL behind; after a SIGKILL of
everything (server and PostgreSQL), the next start on the same data dir works."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverproc import ServerProcess, free_port, postgres_processes, server_env

pytestmark = pytest.mark.fault


def test_sigterm_exits_zero_and_stops_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port(), server_env()).start()
    assert postgres_processes(data_dir / "pg"), "embedded PostgreSQL should be running"
    assert server.terminate() == 0, server.log_text()
    assert postgres_processes(data_dir / "pg") == []
    assert (data_dir / "jwt.key").stat().st_mode & 0o777 == 0o600


def test_start_after_sigkill_of_everything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port(), server_env()).start()
    server.kill_all()
    assert postgres_processes(data_dir / "pg") == []
    assert (data_dir / "pg" / "postmaster.pid").exists(), "a crash leaves a stale pid file"
    again = ServerProcess(data_dir, free_port(), server_env()).start()
    assert again.terminate() == 0, again.log_text()
    assert postgres_processes(data_dir / "pg") == []
