"""``imagepipe bench``: measure, never assert. Codec throughput per worker count, end-to-end
throughput through the real HTTP API, and settings recommended for this machine.

Public surface: ``main`` (the CLI entry, called by ``server.cli``), and the pure figures and rules
in ``stats`` (``CodecFigures``, ``PipelineFigures``, ``recommend``, ``target_checks``).
"""

from __future__ import annotations

from typing import Sequence

from .stats import CodecFigures, PipelineFigures, Recommendation, recommend, target_checks


def main(argv: Sequence[str], data_dir: str | None = None, config: str | None = None) -> int:
    """Run ``imagepipe bench ARGS``; the exit code. Imported lazily: pool workers import this
    package to reach ``native_bench.codec`` and must not pay for aiohttp (it would show in RSS)."""
    from .cli import main as cli_main

    return cli_main(argv, data_dir=data_dir, config=config)


__all__ = ["main", "CodecFigures", "PipelineFigures", "Recommendation", "recommend", "target_checks"]
