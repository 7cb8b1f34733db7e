"""Run a real ``python -m server serve`` process on a loopback port, for black-box tests.

Each server gets its own process group, so a test can SIGKILL "everything" (server, pool workers)
and, with ``kill_all``, the embedded PostgreSQL too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import urllib.error
import urllib.request

from native_bench.cpuprobe import kill_server
from openapi_check import forget_origin, register_origin
from server.db.embedded import postgres_processes  # noqa: F401  (tests import it from here)

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    env: dict[str, str]
    command: Sequence[str] = field(default_factory=lambda: [sys.executable, "-m", "server"])
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: float = 60.0) -> "ServerProcess":
        self.log_path = self.data_dir.parent / f"server-{self.port}-{int(time.time() * 1000)}.log"
        register_origin(self.base_url)  # its answers are checked against the OpenAPI document
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*self.command, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait_ready:
            self.wait_ready(wait_ready)
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.log_text()}")

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        forget_origin(self.base_url)  # a later, foreign server may get this port; start() registers again
        return code

    def kill_all(self) -> None:
        """SIGKILL the server's whole process tree and the embedded PostgreSQL: a power cut."""
        assert self.proc is not None
        kill_server(self.proc.pid, self.data_dir / "pg")
        self.proc.wait(10)
        forget_origin(self.base_url)

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill_all()
        forget_origin(self.base_url)


def server_env(**extra: str) -> dict[str, str]:
    """A clean environment: no IMAGEPIPE_* leaking in from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEPIPE_")}
    env.setdefault("XDG_RUNTIME_DIR", "/tmp")
    env["IMAGEPIPE_BCRYPT_ROUNDS"] = "4"
    env.update(extra)
    return env
