"""The issue's must-show, black-box: a real ``python -m server serve`` on embedded defaults (its own
PostgreSQL and local store in the data dir), a real HTTP client, 72 uploads through the public API.

24 survive a SIGKILL of a pool worker mid-job, 24 more a SIGKILL of the whole server (PostgreSQL
included) and a restart on the same data dir, 24 more a SIGTERM drain (exit 0) and a restart.
Every post ends published with its three variants; nothing stays processing, nothing is dead.
Drain and recovery times are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import corpus_file
from serverproc import REPO, ServerProcess, free_port, server_env
from test_pipeline_hooks import HttpApi, kill_busy_worker, make_small_jpeg, pool_workers, wait_for

pytestmark = pytest.mark.fault

BATCH = 24


@pytest.fixture(scope="session")
def photo() -> bytes:
    return make_small_jpeg(corpus_file("phone-3264x2448.jpg"))  # 800x600


def _busy(api: HttpApi) -> bool:
    return api.metrics().get("imagepipe_pool_busy_workers", 0) > 0


def _pool_rebuilt(api: HttpApi) -> bool:
    numbers = api.metrics()
    return numbers["imagepipe_pool_restarts_total"] >= 1 and numbers["imagepipe_ready"] == 1


def _all_published(api: HttpApi, post_ids: list[str]) -> bool:
    return api.statuses(post_ids) == {"published": len(post_ids)}


def _uploads(api: HttpApi, photo: bytes, n: int) -> list[str]:
    # Each upload's bytes differ (decoders ignore bytes after the end marker) so no two are alike.
    return api.upload_many([photo + i.to_bytes(4, "big") for i in range(n)])


def power_cut(server: ServerProcess) -> None:
    """SIGKILL the server and its pool workers at once (kill_all's process scan is slow enough for
    a small batch to finish meanwhile), then everything else, PostgreSQL included."""
    assert server.proc is not None
    for process in [psutil.Process(server.proc.pid), *pool_workers(server.proc.pid)]:
        process.send_signal(signal.SIGKILL)
    server.kill_all()


def jobs_cli(data_dir: Path, env: dict[str, str], *args: str) -> str:
    """``imagepipe jobs ...`` on the running server's data dir (it adopts the embedded PostgreSQL)."""
    done = subprocess.run(
        [sys.executable, "-m", "server", "jobs", "--data-dir", str(data_dir), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_72_uploads_survive_worker_kill_server_kill_and_drain(tmp_path: Path, photo: bytes) -> None:
    data_dir = tmp_path / "data"
    env = server_env(IMAGEPIPE_MAX_OPEN_UPLOADS_PER_USER="100",  # 24 uploads are opened before completing
                     IMAGEPIPE_UPLOADS_PER_USER_PER_MIN="1000")  # ... and 72 started by one account
    timings: dict[str, float] = {}

    # 1. A pool worker is SIGKILLed under a job.
    server = ServerProcess(data_dir, free_port(), env).start()
    try:
        api = HttpApi(server.base_url).signup(data_dir)
        first = _uploads(api, photo, BATCH)
        kill_busy_worker(server.proc.pid)
        killed_at = time.monotonic()
        wait_for(lambda: _pool_rebuilt(api), 40, 0.02)
        timings["worker kill -> pool rebuilt, ready again"] = time.monotonic() - killed_at
        wait_for(lambda: _all_published(api, first), 120, 0.25)
        timings["worker kill -> batch 1 published"] = time.monotonic() - killed_at
        assert api.metrics()["imagepipe_pool_breaks_total"] >= 1
        listed = jobs_cli(data_dir, env, "list", "--limit", "100")
        assert any(line.split()[3] == "1" for line in listed.splitlines()[1:]), "the kill landed mid-job"

        # 2. The whole server, PostgreSQL included, is SIGKILLed with jobs in flight.
        second = _uploads(api, photo, BATCH)
        wait_for(lambda: _busy(api), 30, 0.02)
        power_cut(server)
    except BaseException:
        server.kill_all()
        raise
    restarted_at = time.monotonic()
    server = ServerProcess(data_dir, free_port(), env).start()
    try:
        timings["server kill: restart -> ready"] = time.monotonic() - restarted_at
        assert "took back jobs held when this instance last stopped" in server.log_text(), "killed mid-flight"
        api = api.with_base(server.base_url)
        wait_for(lambda: _all_published(api, first + second), 120, 0.25)
        timings["server kill: restart -> batch 2 published"] = time.monotonic() - restarted_at

        # 3. SIGTERM with jobs in flight: drain, exit 0; the rest is done after a restart.
        third = _uploads(api, photo, BATCH)
        wait_for(lambda: _busy(api), 30, 0.02)
        term_at = time.monotonic()
        assert server.terminate(90) == 0, server.log_text()
        timings["SIGTERM -> exit 0 (drain)"] = time.monotonic() - term_at
        assert "pipeline drained" in server.log_text()
        left = jobs_cli(data_dir, env, "list", "--status", "queued", "--limit", "100")
        assert "no jobs" not in left, "the drain stopped claiming; the rest waits for the restart"
        left_after_drain = len(left.strip().splitlines()) - 1
    except BaseException:
        server.kill_all()
        raise
    restarted_at = time.monotonic()
    with ServerProcess(data_dir, free_port(), env).start() as server:
        api = api.with_base(server.base_url)
        timings["drain: restart -> ready"] = time.monotonic() - restarted_at
        everything = first + second + third
        wait_for(lambda: _all_published(api, everything), 120, 0.25)
        timings["drain: restart -> batch 3 published"] = time.monotonic() - restarted_at

        for post_id in everything:
            post = api.post(post_id)
            assert set(post["variants"]) == {"thumbnail", "medium", "original"}, post
            assert post["width"] and post["thumbnail_url"]
        numbers = api.metrics()
        assert numbers['imagepipe_jobs{status="succeeded"}'] == 3 * BATCH
        assert numbers['imagepipe_jobs{status="dead"}'] == 0 and numbers['imagepipe_jobs{status="failed"}'] == 0
        assert server.terminate() == 0

    print(f"\n  jobs left queued by the drain, done after the restart: {left_after_drain}")
    for name, seconds in timings.items():
        print(f"  {name}: {seconds:.2f}s")
