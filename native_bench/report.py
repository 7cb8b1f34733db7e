"""What the operator reads: plain-text tables on stdout, and the same figures as JSON for tooling."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .ratios import medians, paired, targets
from .stats import Check, CodecFigures, PipelineFigures, Recommendation, best_pipeline

if TYPE_CHECKING:
    from .interleave import Interleaved
    from .posts_list import PostsFigures
    from .queue import QueueFigures

QUEUE_JOBS_PER_S_MIN = 3000  # the target on a 2-core machine


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


def interleaved_text(run: "Interleaved") -> str:
    """CPU per image per backend, the ratios to ``vips`` with their spread, outputs and their SSIM,
    and what the byte budget cost the production transcode."""
    med = medians(run.cpu_s)
    others = [b for b in run.backends if b != "vips"] if "vips" in run.backends else []
    ratios = {b: {r.image: r for r in paired(run.cpu_s, "vips", b)} for b in others}
    rows = []
    for image in run.images:
        cells: list[object] = [image]
        cells += [med.get(b, {}).get(image, math.nan) * 1000 for b in run.backends]
        for b in others:
            r = ratios[b].get(image)
            cells.append(f"{r.median:.3f} ({r.low:.3f}-{r.high:.3f})" if r else "-")
        rows.append(cells)
    where = f"CPU {run.cpu}" if run.cpu is not None else "any CPU"
    text = (f"Interleaved on {where}, {run.rounds} rounds: median CPU ms per call, and vips/other per round "
            f"(median, min-max)\n")
    text += table(("image", *(f"{b} ms" for b in run.backends), *(f"vips/{b}" for b in others)), rows)
    qrows = []
    for image in run.images:
        for b in run.backends:
            for out, score in sorted(run.outputs.get(b, {}).get(image, ()), key=lambda o: -o[0].width * o[0].height):
                size = f"{out.width}x{out.height}"
                qrows.append((image, b, out.variant, size, out.quality, out.size, f"{score:.4f}"))
    if qrows:
        text += "\n\nOutputs (untimed first round): SSIM on luma against the source resized to the same size\n"
        text += table(("image", "backend", "variant", "size", "quality", "bytes", "SSIM"), qrows)
    brows = [(image, d.get("probes", 0), d.get("probe_pixels", 0), d.get("discarded", 0),
              d.get("discarded_progressive", 0), d.get("cpu_ms", 0.0))
             for image, d in run.budget.get("vips", {}).items()]
    if brows:
        text += "\n\nByte budget (vips, last round): probe encodes, their pixels, full encodes thrown away, CPU ms\n"
        text += table(("image", "probes", "probe pixels", "discarded", "discarded progressive", "budget ms"), brows)
    failed = [f"{image} ({b}: {e})" for b, per in run.failures.items() for image, e in per.items()]
    if failed:
        text += "\nnot timed (error): " + "; ".join(failed)
    checks = [(t.name, "-" if t.worst is None else round(t.worst.median, 3), f"≤ {t.bound:g}",
               {True: "ok", False: "MISSED", None: "n/a"}[t.ok], "" if t.worst is None else
               f"worst: {t.worst.image} ({t.worst.low:.3f}-{t.worst.high:.3f} over {t.worst.rounds} rounds)")
              for t in targets(run.cpu_s)]
    if checks:
        text += "\n\nTargets\n" + table(("target", "measured", "wanted", "verdict", "from"), checks)
    return text + "\n"


def interleaved_document(run: "Interleaved", machine: dict) -> dict:
    return {
        "interleaved": {
            "backends": list(run.backends), "rounds": run.rounds, "cpu": run.cpu,
            "cpu_ms": {b: {i: [round(s * 1000, 2) for s in v] for i, v in per.items()} for b, per in run.cpu_s.items()},
            "ratios": [r.to_dict() for b in run.backends if b != "vips" for r in paired(run.cpu_s, "vips", b)],
            "outputs": {b: {i: [dict(o.__dict__, ssim=round(s, 5), file=None) for o, s in outs]
                            for i, outs in per.items()} for b, per in run.outputs.items()},
            "budget": run.budget,
            "failures": run.failures,
        },
        "targets": {t.name: t.to_dict() for t in targets(run.cpu_s)},
        "machine": machine,
    }


def queue_text(figures: "QueueFigures") -> str:
    d = figures.to_dict()
    o = figures.options

    def ms(key: str) -> str:
        return " / ".join(_fmt(d[key][p]) for p in ("p50", "p95", "p99"))

    rows = [
        ("jobs / accounts", f"{o.jobs} / {o.accounts}"),
        ("claimers / processes / batch / connections per process",
         f"{o.claimers} / {o.processes} / {o.batch} / {o.pool_size}"),
        ("jobs/s (claim, renew, complete)", _fmt(figures.jobs_per_s)),
        ("claim ms p50 / p95 / p99", ms("claim_ms")),
        ("renew ms p50 / p95 / p99", ms("renew_ms")),
        ("complete ms p50 / p95 / p99", ms("complete_ms")),
        ("empty claims", str(figures.empty_claims)),
        ("CPU ms per job: PostgreSQL / claimers", "-" if figures.cpu_ms_per_job() is None else
         " / ".join(f"{v:.3f}" for v in figures.cpu_ms_per_job().values())),
        ("jobs/s that CPU allows on 2 idle cores", "-" if figures.capacity(2) is None else _fmt(figures.capacity(2))),
        ("exactly once", "yes" if figures.exactly_once else "NO: " + "; ".join(figures.problems)),
    ]
    verdict = "ok" if figures.jobs_per_s >= QUEUE_JOBS_PER_S_MIN else "MISSED"
    return ("Queue (no-op jobs through JobQueue.claim / heartbeat / succeed)\n" + table(("measure", "value"), rows)
            + f"\n\nTarget: >= {QUEUE_JOBS_PER_S_MIN:,} jobs/s: {verdict}\n")


def posts_text(figures: "PostsFigures") -> str:
    d = figures.to_dict()
    rows = [
        ("posts / accounts", f"{d['posts']} / {figures.options.accounts}"),
        ("clients / pages of " + str(d["page_size"]), f"{d['clients']} / {d['pages']}"),
        ("pages/s", _fmt(figures.pages_per_s)),
        ("page ms p50 / p95 / p99", " / ".join(_fmt(d["latency_ms"][p]) for p in ("p50", "p95", "p99"))),
        ("PostgreSQL CPU ms per page", "-" if d["postgres_cpu_ms_per_page"] is None
         else f"{d['postgres_cpu_ms_per_page']:.3f}"),
        ("client CPU ms per page", f"{d['client_cpu_ms_per_page']:.3f}"),
        ("database bytes per post (with its renditions and counters)", f"{d['database_bytes_per_post']:,}"),
    ]
    return "Posts list (list_user_posts + post_images_for, one page each)\n" + table(("measure", "value"), rows) + "\n"
