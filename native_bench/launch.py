"""Start and stop the server the pipeline benchmark drives: the same executable (or ``python -m
server``) on a free loopback port, with its own throw-away data dir on embedded defaults."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .cpuprobe import kill_server
from .errors import BenchError

READY_TIMEOUT_S = 180.0  # first start runs initdb for the embedded PostgreSQL
STOP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command() -> list[str]:
    """Frozen: the executable itself takes ``serve``; otherwise this interpreter runs the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "server"]


def bench_env(workers: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The operator's environment minus a stray ``IMAGEPIPE_DATABASE_URL`` or S3 switch (a bench
    must never write into a real database or bucket unless handed a config file on purpose)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEPIPE_")}
    env["IMAGEPIPE_WORKERS"] = str(workers)
    # Sign-up is not what is measured: cheap password hashing and no rate limits for our clients.
    env["IMAGEPIPE_BCRYPT_ROUNDS"] = "4"
    env["IMAGEPIPE_RATE_LIMIT_IP_PER_MIN"] = "1000000"
    env["IMAGEPIPE_RATE_LIMIT_ACCOUNT_PER_MIN"] = "1000000"
    for action in ("FOLLOWS", "LIKES", "COMMENTS"):  # --social measures round trips, not the limits
        env[f"IMAGEPIPE_RATE_LIMIT_{action}_PER_MIN"] = "1000000"
    env["IMAGEPIPE_UPLOADS_PER_USER_PER_MIN"] = "1000000"  # fair-use limits are not what is measured
    env["IMAGEPIPE_USER_QUOTA_BYTES"] = str(1 << 50)
    env["IMAGEPIPE_LOG_LEVEL"] = "warning"
    env.update(extra or {})
    return env


@dataclass
class LocalServer:
    """A server process this benchmark started and owns."""

    data_dir: Path
    port: int
    proc: subprocess.Popen
    log_path: Path
    own_dir: bool

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the bench server exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise BenchError(f"the bench server was not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM (graceful drain), then SIGKILL of what we started if it hangs."""
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill_tree()
        else:
            code = self.proc.returncode
        if self.own_dir:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)
        return code

    def _kill_tree(self) -> None:
        kill_server(self.proc.pid, self.data_dir / "pg")
        self.proc.wait(10)


def start_server(workers: int, parent_dir: str | None = None, config: str | None = None) -> LocalServer:
    """A fresh server with ``workers`` pool processes; its data dir lives under ``parent_dir`` (so the
    database sits on the disk the operator will use) or the system temp dir, and is removed on stop."""
    if parent_dir:
        Path(parent_dir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="imagepipe-bench-", dir=parent_dir))
    data_dir = root / "data"
    port = free_port()
    log_path = root / "server.log"
    command = [*server_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    if config:
        command += ["--config", config]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, env=bench_env(workers), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = LocalServer(data_dir=data_dir, port=port, proc=proc, log_path=log_path, own_dir=True)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server
