"""Backends measured side by side: one long-lived worker each, all pinned to one core, called in
turn image by image, round after round, so a busy neighbour slows every backend alike and the
ratios between them hold even where absolute times do not.

Python backends run in spawned processes (initialised like pool workers); ``sharp`` runs in Node.js
(``sharp_worker.mjs``, found through ``--sharp-dir``, the folder holding ``node_modules/sharp``).
CPU time is measured inside each worker around the transcode alone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, Sequence

from .errors import BenchError
from .progress import Progress

SHARP_SCRIPT = Path(__file__).with_name("sharp_worker.mjs")
REPLY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Output:
    variant: str
    width: int
    height: int
    quality: int
    size: int
    file: str | None = None  # written only when the caller asked for the files (quality pass)


@dataclass(frozen=True)
class Reply:
    cpu_s: float
    outputs: tuple[Output, ...] = ()
    error: str | None = None
    budget: dict = field(default_factory=dict)  # the production transcode's budget accounting


class Worker(Protocol):
    name: str

    def call(self, path: Path, out_dir: Path | None) -> Reply: ...

    def close(self) -> None: ...


def _pin(pid: int, cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {cpu})


# --- Python backends -------------------------------------------------------------------------


def _serve(conn: Connection, backend: str, vips_concurrency: int, options: Any) -> None:
    """Worker loop: one request (path, out_dir or None) in, one Reply out, until None."""
    from . import codec

    codec.worker_start(vips_concurrency)
    while True:
        request = conn.recv()
        if request is None:
            return
        path, out_dir = request
        conn.send(codec.run_once(backend, Path(path), options, Path(out_dir) if out_dir else None))


class PythonWorker:
    def __init__(self, name: str, cpu: int | None, vips_concurrency: int, options: Any) -> None:
        self.name = name
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, name, vips_concurrency, options), daemon=True)
        self._proc.start()
        child.close()
        _pin(self._proc.pid, cpu)

    def call(self, path: Path, out_dir: Path | None) -> Reply:
        self._conn.send((str(path), str(out_dir) if out_dir else None))
        if not self._conn.poll(REPLY_TIMEOUT_S):
            raise BenchError(f"{self.name} gave no answer for {path.name} in {REPLY_TIMEOUT_S:.0f} s")
        return self._conn.recv()

    def close(self) -> None:
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


# --- sharp (Node.js) -------------------------------------------------------------------------


class SharpWorker:
    """``node sharp_worker.mjs``: JSON lines both ways (the script says what it does and why)."""

    name = "sharp"

    def __init__(self, sharp_dir: str | None, cpu: int | None, options: Any) -> None:
        node = shutil.which("node")
        if node is None:
            raise BenchError("backend sharp needs Node.js (node on PATH)")
        modules = Path(sharp_dir or ".").resolve() / "node_modules"
        if not (modules / "sharp").is_dir():
            raise BenchError(f"backend sharp: no {modules / 'sharp'}; run `npm install --prefix DIR sharp` "
                             "and pass --sharp-dir DIR")
        env = dict(os.environ, SHARP_MODULES=str(modules), SHARP_VARIANTS=json.dumps(_variants(options)))
        self._proc = subprocess.Popen([node, str(SHARP_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env=env, text=True, bufsize=1)
        _pin(self._proc.pid, cpu)

    def call(self, path: Path, out_dir: Path | None) -> Reply:
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(json.dumps({"path": str(path), "out_dir": str(out_dir) if out_dir else None}) + "\n")
        line = self._proc.stdout.readline()
        if not line:
            raise BenchError(f"the sharp worker exited (code {self._proc.poll()})")
        answer = json.loads(line)
        if answer.get("error"):
            return Reply(0.0, error=answer["error"].splitlines()[-1][:200])
        outputs = tuple(Output(**o) for o in answer["outputs"])
        return Reply(answer["cpu_us"] / 1e6, outputs)

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _variants(options: Any) -> list[dict]:
    from actors.transcode import TranscodeOptions

    opts = options or TranscodeOptions()
    return [{"name": v.name, "side": v.max_side, "quality": v.quality, "max_bytes": v.max_bytes,
             "floor": opts.quality_floor} for v in sorted(opts.variants, key=lambda v: -v.max_side)]


# --- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interleaved:
    """Every timed call of one interleaved run, and the outputs of the untimed first round."""

    backends: tuple[str, ...]
    images: tuple[str, ...]
    rounds: int
    cpu: int | None
    cpu_s: dict[str, dict[str, tuple[float, ...]]]  # backend -> image -> CPU s per round
    outputs: dict[str, dict[str, tuple[tuple[Output, float], ...]]]  # backend -> image -> (output, SSIM)
    budget: dict[str, dict[str, dict]]  # backend -> image -> budget accounting of its last call
    failures: dict[str, dict[str, str]]  # backend -> image -> error


def start(backend: str, cpu: int | None, vips_concurrency: int, options: Any, sharp_dir: str | None) -> Worker:
    if backend == "sharp":
        return SharpWorker(sharp_dir, cpu, options)
    return PythonWorker(backend, cpu, vips_concurrency, options)


def run_interleaved(paths: Sequence[Path], backends: Sequence[str], rounds: int, cpu: int | None,
                    vips_concurrency: int, options: Any, sharp_dir: str | None, progress: bool) -> Interleaved:
    from .quality import reference, score

    workers: list[Worker] = []
    try:
        for name in backends:
            workers.append(start(name, cpu, vips_concurrency, options, sharp_dir))
        cpu_s = {w.name: {p.name: [] for p in paths} for w in workers}
        outputs: dict[str, dict[str, tuple]] = {w.name: {} for w in workers}
        budget: dict[str, dict[str, dict]] = {w.name: {} for w in workers}
        failures: dict[str, dict[str, str]] = {w.name: {} for w in workers}
        with tempfile.TemporaryDirectory(prefix="imagepipe-bench-") as tmp:
            # Round 0 is untimed: start-up costs, and the outputs to score.
            for path in paths:
                ref = None
                for w in workers:
                    out_dir = Path(tmp) / w.name / path.stem
                    out_dir.mkdir(parents=True, exist_ok=True)
                    reply = w.call(path, out_dir)
                    if reply.error:
                        failures[w.name][path.name] = reply.error
                        continue
                    if ref is None:
                        ref = reference(path.read_bytes())
                    outputs[w.name][path.name] = tuple(
                        (o, score(ref, Path(o.file).read_bytes())) for o in reply.outputs)
        bar = Progress(f"interleaved {','.join(backends)}", rounds * len(paths) * len(workers), enabled=progress)
        for r in range(rounds):
            order = workers[r % len(workers):] + workers[: r % len(workers)]  # nobody always goes first
            for path in paths:
                for w in order:
                    if path.name in failures[w.name]:
                        bar.advance()
                        continue
                    reply = w.call(path, None)
                    cpu_s[w.name][path.name].append(reply.cpu_s)
                    if reply.budget:
                        budget[w.name][path.name] = reply.budget
                    bar.advance()
        bar.close()
    finally:
        for w in workers:
            w.close()
    return Interleaved(
        backends=tuple(backends), images=tuple(p.name for p in paths), rounds=rounds, cpu=cpu,
        cpu_s={b: {i: tuple(v) for i, v in per.items() if v} for b, per in cpu_s.items()},
        outputs=outputs, budget=budget, failures=failures,
    )


def default_cpu() -> int | None:
    """The last core this process may use (the first tends to take interrupts)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))
