"""What moderation costs the pool: the classifier's CPU per image, its share of a 12 MP photo's
transcode, and the memory a worker gains by holding the model.

Two spawned one-worker pools run the same real transcode over the same images, one without the
classifier and one with it loaded by the pool initializer (as the pipeline does). CPU is measured in
the worker: the transcode's process CPU, and the classifier thread's own CPU as the stage reports it.
The share is judged on the whole difference (transcode CPU with the classifier minus without), which
is larger than the classifier thread's own CPU: it also counts what running the model costs the rest
of the transcode (caches, allocator), so the target is checked against the less flattering figure.
Peak RSS is each worker's ``ru_maxrss``; the difference is what the model adds per worker. The
12 MP built-in sample is always in the set, since the target is stated against it.
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from .errors import BenchError
from .progress import Progress
from .samples import builtin_samples
from .stats import Check

SHARE_MAX = 0.15  # the classifier at most 15% of a 12 MP photo's transcode CPU
EXTRA_RSS_MAX_MB = 100.0  # and at most 100 MB more resident memory per worker
TWELVE_MP = "builtin-12mp-landscape.jpg"


@dataclass(frozen=True)
class ModerationFigures:
    classifier: str
    images: int  # distinct images measured
    classifier_cpu_ms: float  # mean over every call, measured on the classifier's own thread
    twelve_mp_transcode_cpu_ms: float  # the 12 MP sample, moderation off
    twelve_mp_with_classifier_cpu_ms: float  # ...and on
    twelve_mp_classifier_cpu_ms: float  # the classifier thread's own share of the latter
    rss_without_mb: float  # peak RSS of the worker without the model
    rss_with_mb: float
    per_image: tuple[tuple[str, float, float, float], ...] = ()  # (file, transcode ms off, on, classifier ms)

    @property
    def added_12mp_cpu_ms(self) -> float:
        return self.twelve_mp_with_classifier_cpu_ms - self.twelve_mp_transcode_cpu_ms

    @property
    def share_of_12mp(self) -> float:
        if not self.twelve_mp_transcode_cpu_ms:
            return math.nan
        return self.added_12mp_cpu_ms / self.twelve_mp_transcode_cpu_ms

    @property
    def extra_rss_mb(self) -> float:
        return self.rss_with_mb - self.rss_without_mb

    def checks(self) -> list[Check]:
        return [
            Check("moderation_share_of_12mp_transcode", self.share_of_12mp, SHARE_MAX, False,
                  f"+{self.added_12mp_cpu_ms:.1f} ms on a {self.twelve_mp_transcode_cpu_ms:.0f} ms CPU "
                  f"12 MP transcode (classifier thread {self.twelve_mp_classifier_cpu_ms:.1f} ms)"),
            Check("moderation_extra_rss_mb", self.extra_rss_mb, EXTRA_RSS_MAX_MB, False,
                  f"peak RSS per worker {self.rss_with_mb:.0f} MB with the model, {self.rss_without_mb:.0f} without"),
        ]

    def to_dict(self) -> dict:
        return {
            "classifier": self.classifier,
            "images": self.images,
            "classifier_cpu_ms_per_image": round(self.classifier_cpu_ms, 2),
            "twelve_mp_transcode_cpu_ms": round(self.twelve_mp_transcode_cpu_ms, 1),
            "twelve_mp_with_classifier_cpu_ms": round(self.twelve_mp_with_classifier_cpu_ms, 1),
            "twelve_mp_classifier_cpu_ms": round(self.twelve_mp_classifier_cpu_ms, 2),
            "share_of_12mp_transcode": round(self.share_of_12mp, 4),
            "peak_rss_without_mb": round(self.rss_without_mb, 1),
            "peak_rss_with_mb": round(self.rss_with_mb, 1),
            "extra_rss_mb": round(self.extra_rss_mb, 1),
            "per_image": [
                {"file": f, "transcode_cpu_ms_off": round(off, 1), "transcode_cpu_ms_on": round(on, 1),
                 "classifier_cpu_ms": round(clf, 2)}
                for f, off, on, clf in self.per_image
            ],
        }


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _start_worker(vips_concurrency: int, classifier: str | None) -> None:
    from actors.transcode import worker_init

    worker_init(vips_concurrency, moderation=classifier)


def _measure(path: str, options: Any) -> tuple[float, float, float | None, str | None]:
    """In the worker: (transcode CPU s, peak RSS MB, classifier CPU ms or None, error). A file the
    transcode refuses is reported with error None and no CPU: it is left out, as ``codec`` does."""
    from actors.transcode import TranscodeError, transcode

    data = Path(path).read_bytes()
    start = time.process_time()
    try:
        result = transcode(data, options)
    except TranscodeError:
        return math.nan, _peak_rss_mb(), None, None
    cpu = time.process_time() - start
    found = result.moderation
    if found is not None and found.error:
        return cpu, _peak_rss_mb(), None, f"{found.error}: {found.message}"
    return cpu, _peak_rss_mb(), found.cpu_ms if found is not None else None, None


def _run(paths: Sequence[str], options: Any, classifier: str | None, repeat: int, vips_concurrency: int,
         bar: Progress) -> tuple[dict[str, list[tuple[float, float | None]]], float]:
    """One fresh one-worker pool: per file, the (CPU s, classifier ms) of each timed call; peak RSS."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(vips_concurrency, classifier)) as pool:
        calls: dict[str, list[tuple[float, float | None]]] = {}
        peak = 0.0
        for round_ in range(repeat + 1):  # round 0 warms up (imports, first-call costs): untimed
            for path in paths:
                cpu, rss, clf, error = pool.submit(_measure, path, options).result()
                if error:
                    raise BenchError(f"{Path(path).name}: {error}")
                peak = max(peak, rss)
                if round_:
                    bar.advance()
                    if not math.isnan(cpu):
                        calls.setdefault(Path(path).name, []).append((cpu, clf))
    return calls, peak


def run_moderation(images: Sequence[Path], options: Any, classifier: str, repeat: int = 2,
                   vips_concurrency: int = 1, progress: bool = True) -> ModerationFigures:
    """``options``: the transcode options to measure with (their own moderation setting is replaced)."""
    from actors.moderation import ModerationOptions, unavailable_reason

    problem = unavailable_reason(classifier)
    if problem:
        raise BenchError(f"moderation: {problem}")
    twelve = next(p for p in builtin_samples() if p.name == TWELVE_MP)
    paths = list(dict.fromkeys([str(twelve), *(str(p) for p in images)]))
    off = replace(options, moderation=None)
    on = replace(options, moderation=ModerationOptions(classifier, timeout_s=60.0))
    bar = Progress(f"moderation {classifier}", 2 * repeat * len(paths), enabled=progress)
    without, rss_without = _run(paths, off, None, repeat, vips_concurrency, bar)
    with_model, rss_with = _run(paths, on, classifier, repeat, vips_concurrency, bar)
    bar.close()
    per_image = []
    for path in paths:
        name = Path(path).name
        if name not in without or name not in with_model:
            continue  # the transcode refuses it (too small, corrupt): nothing to moderate
        cpu_off = sum(c for c, _ in without[name]) / len(without[name]) * 1000
        cpu_on = sum(c for c, _ in with_model[name]) / len(with_model[name]) * 1000
        clf = [m for _, m in with_model[name] if m is not None]
        per_image.append((name, cpu_off, cpu_on, sum(clf) / len(clf) if clf else math.nan))
    twelve_row = next(row for row in per_image if row[0] == TWELVE_MP)
    all_clf = [m for calls in with_model.values() for _, m in calls if m is not None]
    return ModerationFigures(
        classifier=classifier,
        images=len(per_image),
        classifier_cpu_ms=sum(all_clf) / len(all_clf) if all_clf else math.nan,
        twelve_mp_transcode_cpu_ms=twelve_row[1],
        twelve_mp_with_classifier_cpu_ms=twelve_row[2],
        twelve_mp_classifier_cpu_ms=twelve_row[3],
        rss_without_mb=rss_without,
        rss_with_mb=rss_with,
        per_image=tuple(per_image),
    )


def moderation_table(figures: ModerationFigures) -> str:
    from .report import table

    rows = [(name, off, on, clf) for name, off, on, clf in figures.per_image]
    head = (f"Moderation: {figures.classifier} in the pool worker (1 worker, CPU ms per image measured inside it)\n"
            f"classifier thread {figures.classifier_cpu_ms:.1f} ms CPU per image; a 12 MP transcode "
            f"+{figures.added_12mp_cpu_ms:.0f} ms CPU with it ({figures.share_of_12mp:.1%}); "
            f"peak RSS per worker {figures.rss_without_mb:.0f} -> {figures.rss_with_mb:.0f} MB "
            f"(+{figures.extra_rss_mb:.0f} MB with the model loaded)\n")
    return head + table(("image", "transcode ms (off)", "transcode ms (on)", "classifier ms"), rows)


def default_classifier(requested: str | None, configured: str) -> str | None:
    """What to measure: ``--moderation`` if given (``off`` skips), else the configured classifier,
    else NudeNet when it is installed; None: nothing to measure. Pure but for the availability check."""
    if requested is not None:
        return None if requested == "off" else requested
    if configured != "off":
        return configured
    from actors.moderation import unavailable_reason

    return "nudenet" if unavailable_reason("nudenet") is None else None
