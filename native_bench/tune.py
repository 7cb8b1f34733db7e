"""``bench tune``: find how many workers this machine wants. The codec is cheap to measure at every
worker count; the pipeline (a server start, accounts, uploads) only at the few best counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .stats import CodecFigures, PipelineFigures

if TYPE_CHECKING:
    from .cli import Context


def best_counts(codec: list[CodecFigures], top: int) -> list[int]:
    """The ``top`` worker counts with the highest images/s, fewest workers first on ties."""
    ranked = sorted((c for c in codec if c.backend == "vips" and c.images), key=lambda c: (-c.images_per_s, c.workers))
    return sorted(c.workers for c in ranked[:top])


def tune(
    ctx: "Context", max_workers: int, top: int, with_pipeline: bool
) -> tuple[list[CodecFigures], list[PipelineFigures]]:
    from .cli import good_images

    codec = [ctx.codec("vips", w) for w in range(1, max_workers + 1)]
    pipelines = []
    if with_pipeline:
        good = good_images(ctx, codec)
        pipelines = [ctx.pipeline(w, good) for w in best_counts(codec, top)]
    return codec, pipelines
