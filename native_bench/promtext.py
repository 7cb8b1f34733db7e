"""Just enough of the Prometheus text format to read the pipeline's queue gauge from ``/metrics``.

The exact metric name belongs to the pipeline; we look for the plain gauges whose name speaks of
queued or backlogged jobs, and sum their label sets (one per instance or state)."""

from __future__ import annotations

import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfaINFA]+)")
_COUNTERISH = ("_total", "_bucket", "_sum", "_count", "_created", "_seconds", "_bytes")
_PREFERRED = ("imagepipe_jobs_queued", "imagepipe_queue_depth", "imagepipe_backlog", "imagepipe_jobs_waiting")


def parse_samples(text: str) -> dict[str, float]:
    """Metric name -> sum over its label sets; comments and malformed lines are skipped."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        totals[match.group(1)] = totals.get(match.group(1), 0.0) + value
    return totals


def _label_filtered(text: str, name: str) -> float | None:
    """For a gauge labelled by job state, only the queued state counts as the queue."""
    total = None
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        labels = match.group(2) if match and match.group(1) == name else None
        if labels and re.search(r'(state|status)="queued"', labels):
            total = (total or 0.0) + float(match.group(3))
    return total


def gauge(text: str, name: str) -> float | None:
    """One metric by exact name (summed over label sets), or None when absent."""
    return parse_samples(text).get(name)


def queue_depth(text: str) -> float | None:
    """The queued-jobs gauge, or None when the server exposes none."""
    samples = parse_samples(text)
    names = [n for n in _PREFERRED if n in samples]
    names += sorted(
        n for n in samples
        if n not in names and ("queue" in n or "backlog" in n) and not n.endswith(_COUNTERISH)
    )
    if not names:
        return None
    filtered = _label_filtered(text, names[0])
    return filtered if filtered is not None else samples[names[0]]
