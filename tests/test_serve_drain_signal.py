"""A second SIGTERM while the server drains (an impatient operator, a supervisor that repeats
itself) must not cut the drain short: exit 0, no PostgreSQL left behind."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from serverproc import ServerProcess, free_port, postgres_processes, server_env

pytestmark = pytest.mark.fault


def test_a_repeated_sigterm_does_not_cut_the_drain_short(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port(), server_env()).start()
    assert server.proc is not None
    # A request whose body never finishes arriving: the shutdown waits for its handler.
    with server, socket.create_connection(("127.0.0.1", server.port)) as slow:
        slow.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the drain is under way, waiting for that request
        assert server.proc.poll() is None, "the drain should take longer than this"
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 0, server.log_text()
        assert "still draining" in server.log_text()
    assert postgres_processes(data_dir / "pg") == []
