"""Start-up as an operator sees it, on a real ``serve`` process: a busy port is one line and exit 2
before PostgreSQL starts; "ready on http://HOST:PORT" comes once, only when the port answers and
the pipeline runs; a normal start prints no warning, and Ctrl-C stops it without tracebacks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from serverproc import REPO, ServerProcess, free_port, server_env
from server.config import load_settings
from server.startup import ListenError, Listeners, bind, ready_line

pytestmark = pytest.mark.fault


def quiet_env(**extra: str) -> dict[str, str]:
    """A service's environment: no XDG_RUNTIME_DIR (systemd services, cron, containers)."""
    env = server_env(**extra)
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def serve(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), *args],
        cwd=REPO, env=env or quiet_env(), capture_output=True, text=True, timeout=60,
    )


def test_a_busy_port_is_one_line_and_exit_2_before_postgres(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve(tmp_path / "data", "--host", "127.0.0.1", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"imagepipe: cannot listen for the API on 127.0.0.1:{port}: the port is already in use "
        "(another imagepipe or another program); stop it or choose another port"
    ]
    assert done.stdout == ""
    assert not (tmp_path / "data" / "pg").exists()  # PostgreSQL was never started


def test_a_busy_metrics_port_is_refused_the_same_way(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        done = serve(tmp_path / "data", "--port", str(free_port()), env=quiet_env(IMAGEPIPE_METRICS_PORT=str(metrics_port)))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert f"cannot listen for metrics on 127.0.0.1:{metrics_port}" in done.stderr
    assert not (tmp_path / "data" / "pg").exists()


def test_bind_does_not_listen_until_the_app_is_up() -> None:
    """A bound port refuses connections (no silent hang during start-up) yet keeps others out."""
    port = free_port()
    [sock] = bind("127.0.0.1", port, "the API")
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        sock.listen()
        with pytest.raises(ListenError, match="already in use"):
            bind("127.0.0.1", port, "the API")
    finally:
        sock.close()


def test_every_address_of_the_host_is_bound() -> None:
    """``localhost`` can mean 127.0.0.1 and ::1: clients may try either."""
    port = free_port()
    expected = {info[0] for info in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)}
    socks = bind("localhost", port, "the API")
    try:
        assert {sock.family for sock in socks} == expected and len(socks) == len(expected)
        for sock in socks:
            sock.listen()
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        for sock in socks:
            sock.close()


def test_ready_line_names_the_bound_address() -> None:
    settings = load_settings(cli={"host": "::1", "port": 8080, "metrics_port": 9100}, environ={})
    api = socket.socket(socket.AF_INET)
    api.bind(("127.0.0.1", 0))
    try:
        line = ready_line(settings, Listeners([api]))
        assert line == f"ready on http://[::1]:{api.getsockname()[1]}"
    finally:
        api.close()


def _ready_lines(server: ServerProcess) -> list[str]:
    return [line for line in server.log_text().splitlines() if " ready on http://" in line]


def test_ready_is_said_once_when_the_port_answers_and_the_pipeline_runs(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", free_port(), quiet_env(IMAGEPIPE_WORKERS="1")).start(wait_ready=0)
    try:
        deadline = time.monotonic() + 60
        while not _ready_lines(server):
            assert time.monotonic() < deadline and server.proc.poll() is None, server.log_text()
            time.sleep(0.01)
        # The moment the line is out, the port answers and the service is ready for work.
        with urllib.request.urlopen(f"{server.base_url}/readyz", timeout=5) as resp:
            assert resp.status == 200
        log = server.log_text()
        assert log.index("image worker pool ready") < log.index(" ready on http://")
        assert _ready_lines(server)[0].endswith(f"ready on http://127.0.0.1:{server.port} (data dir {server.data_dir})")
        # No warning, no traceback, nothing but INFO lines on a normal start.
        levels = {line.split()[2] for line in log.splitlines()}
        assert levels == {"INFO"}, log
        assert "Warning" not in log and "Traceback" not in log
        # Ctrl-C in a terminal signals the whole process group: the pool workers too.
        os.killpg(server.proc.pid, signal.SIGINT)
        assert server.proc.wait(60) == 0
    finally:
        server.__exit__(None, None, None)
    log = server.log_text()
    assert len(_ready_lines(server)) == 1
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
