"""CPU time per image of the three transcodes, in one process, as the pool worker runs them.

    python -m actors.transcode.cpu_compare [--repeat N] FILE...

Prints the best-of-N `time.process_time()` per file for `transcode` (production), `transcode_naive`
(one thumbnail_buffer per variant) and `transcode_pillow`, and the ratios the bench targets.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

from .naive import transcode_naive
from .options import TranscodeResult
from .pillow_backend import transcode_pillow
from .vips_transcode import transcode
from .worker import worker_init

BACKENDS: dict[str, Callable[[bytes], TranscodeResult]] = {
    "ours": transcode,
    "naive": transcode_naive,
    "pillow": transcode_pillow,
}


def cpu_seconds(fn: Callable[[bytes], TranscodeResult], source: bytes, repeat: int) -> float:
    fn(source)  # warm up: imports, codec tables, first-touch allocations
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn(source)
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    worker_init(1)
    print(f"{'file':34} {'ours ms':>8} {'naive ms':>9} {'pillow ms':>10} {'ours/naive':>11} {'pillow/ours':>12}")
    for path in args.files:
        source = path.read_bytes()
        ms = {name: cpu_seconds(fn, source, args.repeat) * 1000 for name, fn in BACKENDS.items()}
        print(
            f"{path.name:34} {ms['ours']:8.0f} {ms['naive']:9.0f} {ms['pillow']:10.0f} "
            f"{ms['ours'] / ms['naive']:11.2f} {ms['pillow'] / ms['ours']:12.2f}"
        )


if __name__ == "__main__":
    main()
