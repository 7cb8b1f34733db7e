"""Named SQL queries kept in ``.sql`` files next to this module (the procrastinate way).

A file holds blocks introduced by ``-- name: some_query``; ``queries()["some_query"]`` is its text.
Loaded through importlib.resources so it also works inside the frozen executable.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_named_queries(text: str) -> dict[str, str]:
    """Split a file into its named blocks; pure, unit-tested."""
    found: dict[str, str] = {}
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in found:
            raise ValueError(f"query {name!r} is defined twice")
        found[name] = body.strip()
    return found


@cache
def queries() -> dict[str, str]:
    merged: dict[str, str] = {}
    folder = resources.files("server.db") / "queries"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            for name, body in parse_named_queries(entry.read_text(encoding="utf-8")).items():
                if name in merged:
                    raise ValueError(f"query {name!r} is defined in two files")
                merged[name] = body
    return merged


def q(name: str) -> str:
    """The text of one named query; a KeyError names the missing query."""
    return queries()[name]
