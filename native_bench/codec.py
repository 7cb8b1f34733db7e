"""The codec benchmark: the real transcode function over the images in a process pool, the way the
pipeline runs it (spawn context, ``worker_init`` as initializer), once per worker count.

CPU time and peak memory are measured inside each worker and returned with each result: the parent
cannot see a child's CPU time while it is alive, and ``ru_maxrss`` is per process.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import BenchError
from .progress import Progress
from .stats import CodecFigures

BACKENDS = ("vips", "floor", "naive", "pillow")
INTERLEAVED_ONLY = ("sharp",)  # another runtime: measured only side by side (``--interleave``)


def _backend_function(backend: str) -> Callable[..., Any]:
    if backend == "floor":
        from actors.transcode.floor import transcode_floor

        return transcode_floor
    if backend == "vips":
        from actors.transcode import transcode

        return transcode
    if backend == "naive":
        from actors.transcode.naive import transcode_naive

        return transcode_naive
    if backend == "pillow":
        from actors.transcode.pillow_backend import transcode_pillow

        return transcode_pillow
    raise ValueError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


@dataclass(frozen=True)
class Sample:
    """What one call reports back from its worker."""

    pid: int
    cpu_s: float
    rss_mb: float
    error: str | None


def worker_start(vips_concurrency: int) -> None:
    """Pool initializer: exactly what the pipeline's pool runs, so the figures transfer."""
    from actors.transcode import worker_init

    worker_init(vips_concurrency)


_PLANS: dict[bytes, Any] = {}  # source digest -> the floor's qualities, learnt once per worker


def _arguments(backend: str, data: bytes, options: Any) -> tuple:
    """What the backend is called with; for the floor, the qualities the production transcode
    chose, worked out here, outside the timed span."""
    from actors.transcode import TranscodeOptions

    options = options if options is not None else TranscodeOptions()
    if backend != "floor":
        return (data, options)
    from actors.transcode.floor import plan

    key = hashlib.sha256(data).digest()
    if key not in _PLANS:
        _PLANS[key] = plan(data, options)
    return (data, options, _PLANS[key])


def _timed(backend: str, data: bytes, options: Any) -> tuple[float, Any, str | None]:
    """(CPU seconds, result, error) of one call; reading the file is outside the timed span, as the
    pipeline hands bytes in."""
    from actors.transcode import TranscodeError

    function = _backend_function(backend)
    try:
        arguments = _arguments(backend, data, options)
    except TranscodeError as exc:  # the floor learns the qualities from a transcode that refused
        return 0.0, None, _reason(exc)
    result, error = None, None
    start = time.process_time()
    try:
        result = function(*arguments)
    except TranscodeError as exc:
        error = _reason(exc)
    return time.process_time() - start, result, error


def _reason(exc: Exception) -> str:
    return f"{getattr(exc, 'code', 'error')}: {getattr(exc, 'message', exc)}"


def transcode_file(backend: str, path: str, options: Any = None) -> Sample:
    """Runs in a pool worker."""
    cpu, _, error = _timed(backend, Path(path).read_bytes(), options)
    return Sample(os.getpid(), cpu, _rss_mb(), error)


def run_once(backend: str, path: Path, options: Any, out_dir: Path | None) -> Any:
    """Runs in an interleaved worker: one timed call, its JPEG outputs (written to ``out_dir`` when
    given, for scoring) and the budget accounting of a production transcode."""
    from .interleave import Output, Reply

    cpu, result, error = _timed(backend, path.read_bytes(), options)
    if error is not None:
        return Reply(cpu, error=error)
    renditions = result if isinstance(result, list) else result.renditions
    outputs = []
    for r in renditions:
        if r.format != "jpeg":
            continue
        file = None
        if out_dir is not None:
            file = str(out_dir / f"{r.variant}.jpg")
            Path(file).write_bytes(r.data)
        outputs.append(Output(r.variant, r.width, r.height, r.quality, len(r.data), file))
    budget = getattr(result, "budget", None)
    return Reply(cpu, tuple(outputs), budget=budget.to_dict() if budget is not None else {})


def _pool(workers: int, vips_concurrency: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=worker_start,
        initargs=(vips_concurrency,),
    )


def _warm(pool: ProcessPoolExecutor, workers: int, backend: str, paths: Sequence[Path], options: Any) -> list[Sample]:
    """Start every worker and run each image once, untimed: imports, libvips start-up and the
    first-call costs are not what an operator tunes for. Also tells which files fail."""
    jobs = [str(p) for p in paths]
    while len(jobs) < workers:  # at least one call per worker, so all of them are started
        jobs.append(jobs[len(jobs) % len(paths)])
    return [f.result() for f in [pool.submit(transcode_file, backend, j, options) for j in jobs]]


def run_codec(
    paths: Sequence[Path],
    backend: str,
    workers: int,
    repeat: int = 2,
    vips_concurrency: int = 1,
    options: Any = None,
    progress: bool = True,
) -> CodecFigures:
    """Time ``repeat`` passes over the images that transcode; report the ones that do not."""
    try:
        _backend_function(backend)  # fail here, not in a worker, when the backend is missing
    except ImportError as exc:
        raise BenchError(f"backend {backend} is not available in this build: {exc}") from None
    try:
        return _timed_runs(paths, backend, workers, repeat, vips_concurrency, options, progress)
    except BrokenProcessPool:
        raise BenchError(f"a {backend} worker died (out of memory, or a crash in the codec); "
                         f"try fewer workers or smaller images") from None


def _timed_runs(paths: Sequence[Path], backend: str, workers: int, repeat: int, vips_concurrency: int,
                options: Any, progress: bool) -> CodecFigures:
    with _pool(workers, vips_concurrency) as pool:
        warm = _warm(pool, workers, backend, paths, options)
        failures = tuple(sorted({(p.name, s.error) for p, s in zip(paths, warm) if s.error}))
        failed = {name for name, _ in failures}
        good = [str(p) for p in paths if p.name not in failed]
        # At least two calls per worker, or a short set on many cores would time a half-idle pool.
        repeat = max(repeat, math.ceil(2 * workers / len(good))) if good else repeat
        jobs = [p for _ in range(repeat) for p in good]
        samples: list[Sample] = []
        bar = Progress(f"codec {backend} x{workers}", len(jobs), enabled=progress)
        start = time.perf_counter()
        futures = {pool.submit(transcode_file, backend, j, options): Path(j).name for j in jobs}
        per_image: dict[str, list[float]] = {}
        for future in as_completed(futures):
            sample = future.result()
            samples.append(sample)
            per_image.setdefault(futures[future], []).append(sample.cpu_s)
            bar.advance()
        wall = time.perf_counter() - start
        bar.close(f"{len(jobs) / wall:.2f} images/s" if wall > 0 and jobs else "")
    peak = {}
    for s in [*warm, *samples]:
        peak[s.pid] = max(peak.get(s.pid, 0.0), s.rss_mb)
    return CodecFigures(
        backend=backend,
        workers=workers,
        images=sum(1 for s in samples if s.error is None),
        wall_s=wall,
        cpu_s=sum(s.cpu_s for s in samples if s.error is None),
        peak_rss_mb=max(peak.values(), default=0.0),
        vips_concurrency=vips_concurrency,
        failures=failures,
        repeat=repeat,
        cpu_s_by_image=tuple(sorted((name, sum(v) / len(v)) for name, v in per_image.items())),
    )


def transcode_options(settings: Any) -> Any:
    """The options the server would use with these settings (formats, limits)."""
    from server.pipeline_ctx import transcode_options as server_transcode_options

    return None if settings is None else server_transcode_options(settings)
