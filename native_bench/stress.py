"""The pipeline bench's two stress modes, ``--overload`` and ``--noisy-neighbour``: each against a
server started here on embedded defaults (or ``--url``), reported as a short table (and JSON)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Sequence

from .accounts import Target
from .errors import BenchError
from .launch import start_server
from .noisy import drive_noisy
from .overload import drive_overload
from .pipeline import Upload
from .progress import say


def transcodable(paths: Sequence[Path], options: Any) -> list[Path]:
    """The images our transcode accepts: a failing one would count as a failed post, not as load."""
    from actors.transcode import TranscodeError, transcode

    good = []
    for path in paths:
        try:
            transcode(path.read_bytes(), options)
        except TranscodeError:
            continue
        good.append(path)
    if not good:
        raise BenchError("no image in the set transcodes; nothing to upload")
    return good


def run_stress(args: Any, paths: Sequence[Path], workers: int, options: Any) -> dict[str, Any]:
    """Run the mode the flags ask for; its summary (also printed, and written with ``--json``)."""
    progress = not args.quiet
    paths = transcodable(paths, options)
    items = [Upload.load(p) for p in paths]

    def tell(text: str) -> None:
        say(text, progress)

    async def drive(target: Target) -> dict[str, Any]:
        if args.overload:
            return (await drive_overload(target, items, workers, args.duration, tell)).summary()
        return (await drive_noisy(target, items, options, workers, tell)).summary()

    if args.url:
        outbox = Path(args.data_dir) / "outbox" if args.data_dir else None
        summary = asyncio.run(drive(Target(args.url, outbox, args.token)))
    else:
        tell(f"pipeline: starting a server with {workers} worker(s)")
        server = start_server(workers, parent_dir=args.data_dir, config=args.config)
        try:
            summary = asyncio.run(drive(Target(server.base_url, server.outbox, args.token)))
        except BenchError as exc:
            raise BenchError(f"{exc}\n--- server log (tail) ---\n{server.log_tail()}") from None
        finally:
            server.stop()
    mode = "overload" if args.overload else "noisy-neighbour"
    summary = {"mode": mode, "workers": workers, "image": paths[0].name, **summary}
    width = max(len(k) for k in summary)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in summary.items()))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(summary, indent=1))
    return summary
