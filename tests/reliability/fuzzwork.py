"""What runs in the pool worker during fuzzing: the real ``transcode``, plus what it cost.

The summary (not the variants' bytes) goes back, so the parent's memory stays flat over a million
inputs; a TranscodeError goes back as it is, carrying the same figures as an attribute (exceptions
pickle their ``__dict__``). ``ru_maxrss`` is the worker's peak so far: a worker that never passes
its address-space cap (``worker_init``) kept every input it ran within the memory limit.
"""

from __future__ import annotations

import resource
import time
from typing import Any


def _cost(started: float) -> dict[str, float]:
    return {"seconds": time.monotonic() - started, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def fuzz_transcode(source: bytes, options: Any) -> dict[str, Any]:
    from actors.transcode import TranscodeError, transcode

    started = time.monotonic()
    try:
        result = transcode(source, options)
    except TranscodeError as exc:
        exc.cost = _cost(started)  # type: ignore[attr-defined]
        raise
    return {"width": result.width, "height": result.height, "renditions": len(result.renditions), **_cost(started)}


def quiet_worker_init(vips_concurrency: int = 1) -> None:
    """``worker_init``, with the worker's stderr sent to /dev/null: mangled headers make GLib print
    a warning per call, megabytes over a long run, and the outcome is judged by what comes back."""
    import os

    from actors.transcode import worker_init

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    worker_init(vips_concurrency)


CRASH_MARKER, HANG_MARKER = b"FUZZ-CRASH-ME", b"FUZZ-HANG-ME"


def crash_or_hang_on_marker(source: bytes, options: Any) -> dict[str, Any]:
    """``fuzz_transcode``, except that a marked input kills its worker or never returns: what a
    libvips segfault or an endless decode would do, to prove the fuzzer's own handling of both."""
    import os

    if CRASH_MARKER in source:
        os._exit(70)
    if HANG_MARKER in source:
        time.sleep(3600)
    return fuzz_transcode(source, options)
