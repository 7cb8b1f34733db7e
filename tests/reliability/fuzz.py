"""Decoder fuzzing: mutated real photos through the real ``transcode`` in the real ``WorkerPool``.

Every input must end as a result or a ``TranscodeError`` with one of its codes. Anything else is a
finding and is kept (file + note) in the regressions folder:
- ``crash``: the worker died running it alone (a segfault, an abort, the kernel's OOM killer);
- ``hang``: it ran past the time limit, and the pool had to be killed to stop it;
- ``unexpected``: it raised something other than a TranscodeError (the pipeline would retry it as
  an internal error instead of failing the post with a reason).
As in the pipeline, inputs that were in flight beside one that broke the pool run again alone, so
a break is pinned on the input that caused it. The parent surviving to the end of the run is the
proof that a crashing or hanging worker never takes it down.

    PYTHONPATH=tests python -m reliability.fuzz -n 3000 --seed 1 --report var/fuzz.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import time
import traceback
from collections import Counter, deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from actors.pipeline.pool import WorkerPool
from actors.transcode import TranscodeError, TranscodeOptions
from actors.transcode.errors import CODES
from actors.transcode.worker import DEFAULT_MEMORY_LIMIT

from .fuzzwork import fuzz_transcode, quiet_worker_init
from .mutate import mutate, sniff_kind
from .seeds import build_seeds, by_kind

REGRESSIONS = Path(__file__).resolve().parents[1] / "fuzz_regressions"
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "heif": "heic", "avif": "avif", "other": "bin"}
# Seeds are at most a few hundred pixels: a legitimate transcode takes well under a second.
DEFAULT_TIME_LIMIT_S = 20.0
REPORT_EVERY_S = 30.0


@dataclass(frozen=True)
class Input:
    number: int
    data: bytes
    seed_name: str
    mutation: str

    @property
    def kind(self) -> str:
        return self.seed_name.split("-")[0].split(".")[0]


@dataclass
class Tally:
    inputs: int = 0
    outcomes: Counter = field(default_factory=Counter)  # published | rejected:<code> | crash | hang | unexpected
    by_kind: Counter = field(default_factory=Counter)
    by_mutator: Counter = field(default_factory=Counter)
    findings: list[dict[str, Any]] = field(default_factory=list)
    pool_breaks: int = 0
    max_seconds: float = 0.0
    max_rss_kb: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self, limit_s: float) -> dict[str, Any]:
        wall = time.monotonic() - self.started
        return {
            "inputs": self.inputs, "wall_s": round(wall, 1), "inputs_per_s": round(self.inputs / wall, 1) if wall else 0,
            "outcomes": dict(self.outcomes), "by_format": dict(self.by_kind), "by_mutator": dict(self.by_mutator),
            "findings": self.findings, "pool_breaks": self.pool_breaks,
            "max_transcode_s": round(self.max_seconds, 3), "time_limit_s": limit_s,
            "max_worker_rss_mb": round(self.max_rss_kb / 1024, 1),
            "memory_limit_mb": DEFAULT_MEMORY_LIMIT // 2**20,
        }


def inputs(n: int, seed: int, seeds: dict[str, bytes], start: int = 0) -> Iterator[Input]:
    """The n inputs of a run, each from its own RNG: input k is the same whatever ran before it."""
    kinds = by_kind(seeds)
    names = sorted(seeds)
    for number in range(start, start + n):
        rng = random.Random(f"{seed}:{number}")
        name = rng.choice(names)
        data, mutation = mutate(seeds[name], rng, kinds)
        yield Input(number, data, name, mutation)


def keep(item: Input, outcome: str, detail: str, folder: Path) -> Path:
    """Save a finding as a regression file (named by its content) with a note beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(item.data).hexdigest()[:16]
    path = folder / f"{outcome}-{sniff_kind(item.data)}-{digest}.{EXTENSIONS[sniff_kind(item.data)]}"
    path.write_bytes(item.data)
    path.with_suffix(path.suffix + ".txt").write_text(
        f"outcome: {outcome}\nseed: {item.seed_name}\nmutation: {item.mutation}\ninput: {item.number}\n\n{detail}\n")
    return path


@dataclass
class _Running:
    item: Input
    future: Any
    started: float
    alone: bool


class Fuzzer:
    """Feeds the pool at most one input per worker (suspects alone), and stops overrunning inputs
    by killing the pool's workers, as the transcode supervisor does."""

    def __init__(self, workers: int, time_limit_s: float, folder: Path, options: TranscodeOptions | None = None,
                 function: Callable[..., Any] = fuzz_transcode) -> None:
        self.pool = WorkerPool(workers, "spawn", quiet_worker_init, (1,))
        self.workers = workers
        self.time_limit_s = time_limit_s
        self.folder = folder
        self.options = options or TranscodeOptions()
        self.function = function
        self.tally = Tally()
        self.suspects: deque[Input] = deque()

    async def run(self, items: Iterator[Input], report: Callable[[Tally], None] | None = None) -> Tally:
        await self.pool.start()
        running: list[_Running] = []
        fresh = iter(items)
        exhausted = False
        last_report = time.monotonic()
        try:
            while True:
                while len(running) < self.workers and not (running and running[0].alone):
                    if self.suspects:
                        if running:
                            break  # a suspect runs alone: wait for the pool to empty
                        item, alone = self.suspects.popleft(), True
                    elif not exhausted:
                        item = next(fresh, None)
                        if item is None:
                            exhausted = True
                            break
                        alone = False
                    else:
                        break
                    future = asyncio.wrap_future(self.pool.submit(self.function, item.data, self.options))
                    running.append(_Running(item, future, time.monotonic(), alone))
                if not running:
                    break
                await asyncio.wait([r.future for r in running], timeout=0.2, return_when=asyncio.FIRST_COMPLETED)
                running = await self._settle(running)
                if report and time.monotonic() - last_report > REPORT_EVERY_S:
                    report(self.tally)
                    last_report = time.monotonic()
        finally:
            await self.pool.close()
        return self.tally

    async def _settle(self, running: list[_Running]) -> list[_Running]:
        now = time.monotonic()
        overdue = [r for r in running if not r.future.done() and now - r.started > self.time_limit_s]
        if overdue:
            self.pool.kill_workers()  # a running task cannot be cancelled
            await asyncio.gather(*(r.future for r in running), return_exceptions=True)
            for r in running:
                if r in overdue:
                    self._record(r.item, "hang", f"still running after {self.time_limit_s:g}s; the pool was killed")
                elif not r.future.cancelled() and not isinstance(r.future.exception(), BrokenProcessPool):
                    self._outcome(r)
                else:
                    self.suspects.append(r.item)
            await self._rebuild()
            return []
        broken = [r for r in running if r.future.done() and isinstance(r.future.exception(), BrokenProcessPool)]
        if broken:
            await asyncio.gather(*(r.future for r in running), return_exceptions=True)
            for r in running:
                exc = r.future.exception()
                if not isinstance(exc, BrokenProcessPool):
                    self._outcome(r)
                elif r.alone or len(running) == 1:
                    self._record(r.item, "crash", f"the worker died running it alone: {exc}")
                else:
                    self.suspects.append(r.item)
            await self._rebuild()
            return []
        still = []
        for r in running:
            if r.future.done():
                self._outcome(r)
            else:
                still.append(r)
        return still

    async def _rebuild(self) -> None:
        self.tally.pool_breaks += 1
        await self.pool.shutdown(kill=True)
        await self.pool.start()

    def _outcome(self, r: _Running) -> None:
        exc = r.future.exception()
        if exc is None:
            result = r.future.result()
            self._cost(result)
            self._record(r.item, "published")
        elif isinstance(exc, TranscodeError) and exc.code in CODES:
            self._cost(getattr(exc, "cost", None))
            self._record(r.item, f"rejected:{exc.code}")
        else:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            cause = getattr(exc, "__cause__", None)
            self._record(r.item, "unexpected", f"{text}\n{cause or ''}")

    def _cost(self, cost: dict[str, Any] | None) -> None:
        if cost:
            self.tally.max_seconds = max(self.tally.max_seconds, float(cost.get("seconds", 0)))
            self.tally.max_rss_kb = max(self.tally.max_rss_kb, int(cost.get("maxrss_kb", 0)))

    def _record(self, item: Input, outcome: str, detail: str = "") -> None:
        t = self.tally
        t.inputs += 1
        t.outcomes[outcome] += 1
        t.by_kind[sniff_kind(item.data) if sniff_kind(item.data) != "other" else f"{item.kind}(mangled)"] += 1
        t.by_mutator[item.mutation.split("+")[0]] += 1
        if outcome in ("crash", "hang", "unexpected"):
            path = keep(item, outcome, detail, self.folder)
            t.findings.append({"outcome": outcome, "file": str(path), "seed": item.seed_name, "mutation": item.mutation,
                               "detail": detail.strip().splitlines()[-1][:300] if detail.strip() else ""})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reliability.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3000, help="inputs (default 3000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first input number (resume a long run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S)
    parser.add_argument("--out", type=Path, default=REGRESSIONS, help="where findings are kept")
    parser.add_argument("--report", type=Path, help="JSON report, rewritten every 30 s and at the end")
    args = parser.parse_args(argv)
    seeds = build_seeds()

    def report(tally: Tally) -> None:
        text = json.dumps({"seed": args.seed, "start": args.start, "asked": args.n, "seeds": sorted(seeds),
                           **tally.as_dict(args.time_limit)}, indent=1)
        if args.report:
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(text)
        print(f"fuzz: {tally.inputs} inputs, {dict(tally.outcomes)}", file=sys.stderr, flush=True)

    fuzzer = Fuzzer(args.workers, args.time_limit, args.out)
    tally = asyncio.run(fuzzer.run(inputs(args.n, args.seed, seeds, args.start), report))
    report(tally)
    print(json.dumps(tally.as_dict(args.time_limit), indent=1))
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
