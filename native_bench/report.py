"""What the operator reads: plain-text tables on stdout, and the same figures as JSON for tooling."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

from .stats import Check, CodecFigures, PipelineFigures, Recommendation, best_pipeline


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns sized to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def codec_table(codec: Sequence[CodecFigures]) -> str:
    rows = [(c.backend, c.workers, c.images, c.images_per_s, c.cpu_ms_per_image, c.peak_rss_mb) for c in codec]
    text = "Codec (transcode in a process pool)\n" + table(
        ("backend", "workers", "images", "images/s", "CPU ms/image", "peak RSS MB/worker"), rows)
    names = sorted({name for c in codec for name, _ in c.cpu_s_by_image})
    if names and len({c.backend for c in codec}) > 1:  # which inputs make the difference
        by_backend = {}
        for c in codec:  # the fewest workers: the least disturbed by the machine
            if c.backend not in by_backend or c.workers < by_backend[c.backend].workers:
                by_backend[c.backend] = c
        rows = [(name, *(dict(c.cpu_s_by_image).get(name, math.nan) * 1000 for c in by_backend.values()))
                for name in names]
        text += "\n\nCPU ms per call, by image\n" + table(("image", *by_backend), rows)
    failures: dict[str, str] = {}
    for c in codec:  # one line per file: each backend words the same refusal its own way
        for name, error in c.failures:
            failures.setdefault(name, f"{c.backend}: {error}")
    if failures:
        text += "\nskipped (transcode error): " + "; ".join(f"{f} ({e})" for f, e in sorted(failures.items()))
    return text


def pipeline_table(pipeline: PipelineFigures) -> str:
    d = pipeline.to_dict()
    rows = [
        ("workers / clients", f"{pipeline.workers} / {pipeline.clients}"),
        ("published / failed", f"{pipeline.published} / {pipeline.failed}"),
        ("uploads/s", _fmt(pipeline.uploads_per_s)),
        ("end-to-end ms p50 / p95 / p99", " / ".join(_fmt(d["e2e_ms"][k]) for k in ("p50", "p95", "p99"))),
        (f"API ms p50 / p99 ({pipeline.api_endpoint})", " / ".join(_fmt(d["api_ms"][k]) for k in ("p50", "p99"))),
        ("API samples" + ("" if pipeline.saturated else " (pool not saturated)"), str(len(pipeline.api_s))),
        (f"peak queue (from {pipeline.queue_source})", str(pipeline.peak_queue)),
    ]
    if pipeline.social_s is not None:
        for name, summary in d["social_ms"].items():
            rows.append((f"{name} ms p50 / p99 (--social)", f"{_fmt(summary['p50'])} / {_fmt(summary['p99'])}"))
        rows.append(("social round trips" + ("" if pipeline.social_saturated else " (pool not saturated)")
                     + (f", {pipeline.social_refused} rate-limited" if pipeline.social_refused else ""),
                     str(len(pipeline.social_all_s))))
    if pipeline.pool_busy_avg is not None:
        rows.append(("busy workers while saturated (mean)", f"{pipeline.pool_busy_avg:.2f} of {pipeline.workers}"))
    if pipeline.cpu_share:
        split = ", ".join(f"{role.replace('_', ' ')} {pct:g}%" for role, pct in pipeline.cpu_share.items())
        rows.append(("CPU of all cores during the run", split))
    return "Pipeline (real HTTP API, complete -> published)\n" + table(("measure", "value"), rows)


def pipeline_runs_table(runs: Sequence[PipelineFigures], codec: Sequence[CodecFigures]) -> str:
    bare = {c.workers: c.images_per_s for c in codec if c.backend == "vips" and c.images}
    rows = []
    for p in runs:
        d = p.to_dict()
        ratio = p.uploads_per_s / bare[p.workers] if bare.get(p.workers) else math.nan
        rows.append((p.workers, p.clients, p.published, p.uploads_per_s, ratio, d["e2e_ms"]["p50"],
                     d["e2e_ms"]["p95"], d["api_ms"]["p99"]))
    return "Pipeline runs\n" + table(
        ("workers", "clients", "published", "uploads/s", "x codec", "e2e p50 ms", "e2e p95 ms", "API p99 ms"), rows)


def checks_table(checks: Sequence[Check]) -> str:
    def verdict(check: Check) -> str:
        return {True: "ok", False: "MISSED", None: "n/a"}[check.ok]

    rows = [(c.name, "-" if c.value is None else round(c.value, 3), c.to_dict()["target"], verdict(c), c.detail)
            for c in checks]
    return "Targets\n" + table(("target", "measured", "wanted", "verdict", "from"), rows)


def recommendation_text(rec: Recommendation) -> str:
    lines = ["# Recommended settings for this machine (paste into your config file):", *rec.config_lines(), ""]
    lines += [f"# {reason}" for reason in rec.reasons]
    return "\n".join(lines)


def render(codec: Sequence[CodecFigures], pipelines: Sequence[PipelineFigures], checks: Sequence[Check],
           rec: Recommendation | None, source: str) -> str:
    parts = [f"Images: {source}"]
    if codec:
        parts.append(codec_table(codec))
    if len(pipelines) > 1:
        parts.append(pipeline_runs_table(pipelines, codec))
    pipeline = best_pipeline(pipelines)
    if pipeline is not None:
        parts.append(pipeline_table(pipeline))
    if checks:
        parts.append(checks_table(checks))
    if rec is not None:
        parts.append(recommendation_text(rec))
    return "\n\n".join(parts) + "\n"


def document(codec: Sequence[CodecFigures], pipelines: Sequence[PipelineFigures], checks: Sequence[Check],
             rec: Recommendation | None, machine: dict) -> dict:
    """The JSON shape promised in the issue: ``pipeline`` is the best run; every run (tune makes
    several) is in ``pipeline_runs``."""
    pipeline = best_pipeline(pipelines)
    return {
        "codec": [c.to_dict() for c in codec],
        "pipeline": pipeline.to_dict() if pipeline is not None else None,
        "pipeline_runs": [p.to_dict() for p in pipelines],
        "recommendation": rec.to_dict() if rec is not None else None,
        "targets": {c.name: c.to_dict() for c in checks},
        "machine": machine,
    }


def _json_safe(value: object) -> object:
    """NaN is not JSON: an unmeasured figure is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: str, doc: dict) -> None:
    Path(path).write_text(json.dumps(_json_safe(doc), indent=2, ensure_ascii=False) + "\n")
