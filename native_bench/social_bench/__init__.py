"""``imagepipe bench social``: a realistic social network seeded with COPY (10,000 accounts, a
million posts, power-law follows, five million likes), two instances on it, and the feed, the
notification stream and the social writes measured through HTTP against issue 11's targets;
``--designs`` adds the SQL comparison of feed designs that chose fan-out on read.

Public surface: ``add_parser`` (the subcommand's options) and ``main`` (run it, print, write JSON);
``network`` (the pure network model) and ``seed`` (COPY into a database) for tests and probes.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import BenchError
from .run import add_parser


def main(args: argparse.Namespace) -> int:
    from ..cli import machine
    from ..report import write_json
    from .figures import render
    from .run import run

    try:
        figures, _ = run(args)
    except BenchError as exc:
        print(f"imagepipe bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("imagepipe bench: interrupted", file=sys.stderr)
        return 130
    print(render(figures), end="")
    if args.json_path:
        write_json(args.json_path, {"social": figures.to_dict(), "machine": machine()})
    return 0


__all__ = ["add_parser", "main"]
