"""Process-pool initializer: make a worker process safe for hostile uploads.

- libvips' operation cache off: every upload is different, and the cache would keep decoded
  pixels of earlier (possibly huge) files alive.
- only the five loaders we accept may run, and never libvips' "untrusted" ones (matload, magick...).
  Magic-byte sniffing in probe.py refuses others first; this is the second wall.
- an address-space cap, so a decoder fooled into a giant allocation fails with an error instead of
  pushing the machine into swap or the OOM killer.
- a lower CPU priority: transcoding is batch work, while the event loop and PostgreSQL answer
  people; when the pool is saturated the kernel should serve them first.
- an orphan watchdog: a worker whose server was SIGKILLed would otherwise live on, holding memory
  and a libvips thread pool, until someone noticed.
- SIGINT ignored: Ctrl-C in a terminal reaches the whole process group, and the server decides
  how its workers stop (drain, then shut the pool); a worker dying on it would only print a
  KeyboardInterrupt traceback and break the pool under the jobs being drained.
"""

from __future__ import annotations

import os
import resource
import signal
import threading
import time

import pillow_heif
import pyvips

ALLOWED_LOADER_CLASSES = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadWebp",
    "VipsForeignLoadHeif",
    "VipsForeignLoadNsgif",
)
# 100 MP (the default max_pixels) needs ~300 MB decoded plus a 4000 px working copy; libvips'
# threads and glibc arenas reserve address space beyond that. 3 GiB leaves room without letting a
# worker take the host down.
DEFAULT_MEMORY_LIMIT = 3 * 1024**3
# Added to the worker's nice value (0-19 scale): enough for the API to win contended cores.
WORKER_NICENESS = 10
ORPHAN_CHECK_S = 1.0


def _exit_when_orphaned(parent_pid: int) -> None:
    # Re-parenting is the only portable sign that the parent died; PR_SET_PDEATHSIG is tied to
    # the thread that spawned us, which for a pool is not guaranteed to outlive the worker.
    while os.getppid() == parent_pid:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


def _lower_priority() -> None:
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not permitted on this system: run at normal priority
        pass


def worker_init(
    vips_concurrency: int = 1, memory_limit: int | None = DEFAULT_MEMORY_LIMIT, moderation: str | None = None,
) -> None:
    """Run once in each pool worker before any transcode. ``moderation`` names the classifier to
    load now, once per worker (``actors.moderation``), rather than on the first image."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), name="orphan-watchdog", daemon=True).start()
    _lower_priority()
    pyvips.cache_set_max(0)
    pyvips.cache_set_max_mem(0)
    pyvips.cache_set_max_files(0)
    pyvips.concurrency_set(max(1, vips_concurrency))
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for name in ALLOWED_LOADER_CLASSES:
        pyvips.operation_block_set(name, False)
    # One decode thread per worker: the pool already runs one worker per core.
    pillow_heif.options.DECODE_THREADS = max(1, vips_concurrency)
    if memory_limit:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    if moderation:
        from actors.moderation import preload

        preload(moderation)
