"""Pure arithmetic of the benchmark: percentiles, the measured figures, the targets and the
recommended configuration. No I/O here, so every rule is unit-tested on made-up numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

# The targets, in one place so the report and the tests agree on them.
CPU_VS_NAIVE_MAX = 0.7  # our CPU per image at most 0.7x the one-thumbnail-per-variant version
SPEED_VS_PILLOW_MIN = 2.0  # at least twice the images/s of the Pillow baseline
PIPELINE_VS_CODEC_MIN = 0.85  # the HTTP pipeline keeps the pool at least 85% as busy as a bare loop
API_P99_MAX_MS = 50.0  # the API stays responsive while the pool is saturated
SOCIAL_P99_MAX_MS = 20.0  # like, unlike and comment round trips while the pool is saturated

# Recommendation knobs (why each value is what it is is said where it is used).
NEAR_BEST = 0.95
BUSY_ENOUGH = 0.95  # a saturated pool busier than this is not waiting on the pipeline
MEMORY_SHARE = 0.7
BACKLOG_SECONDS = 120.0
BACKLOG_MIN = 20


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100; NaN for no values."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def ms_summary(seconds: Iterable[float], quantiles: Sequence[int]) -> dict[str, float]:
    """``{"p50": ms, ...}`` from durations in seconds, rounded for reading."""
    values = [s * 1000 for s in seconds]
    return {f"p{q}": _round(percentile(values, q)) for q in quantiles}


def _round(value: float, digits: int = 2) -> float:
    return value if math.isnan(value) else round(value, digits)


@dataclass(frozen=True)
class CodecFigures:
    """One codec run: one backend over the image set at one worker count."""

    backend: str
    workers: int
    images: int  # successful transcodes timed
    wall_s: float
    cpu_s: float  # summed over the calls, measured inside the workers
    peak_rss_mb: float  # the largest worker's peak resident set
    vips_concurrency: int = 1
    failures: tuple[tuple[str, str], ...] = ()  # (file, "code: message")
    repeat: int = 1  # passes over the set: images // repeat is the number of distinct images
    cpu_s_by_image: tuple[tuple[str, float], ...] = ()  # mean CPU per call, per file: which inputs cost

    @property
    def images_per_s(self) -> float:
        return per_second(self.images, self.wall_s)

    @property
    def cpu_ms_per_image(self) -> float:
        return self.cpu_s * 1000 / self.images if self.images else math.nan

    def to_dict(self) -> dict:
        return {
            "backend": self.backend,
            "workers": self.workers,
            "images_per_s": _round(self.images_per_s, 3),
            "cpu_ms_per_image": _round(self.cpu_ms_per_image, 1),
            "peak_rss_mb": _round(self.peak_rss_mb, 1),
            "images": self.images,
            "wall_s": _round(self.wall_s, 3),
            "passes": self.repeat,
            "vips_concurrency": self.vips_concurrency,
            "failures": [{"file": f, "error": e} for f, e in self.failures],
            "cpu_ms_by_image": {name: round(cpu * 1000, 1) for name, cpu in self.cpu_s_by_image},
        }


@dataclass(frozen=True)
class PipelineFigures:
    """One run through the real HTTP API: uploads in, published posts out."""

    workers: int
    clients: int
    published: int
    failed: int
    wall_s: float  # first upload completed -> last post published
    e2e_s: tuple[float, ...]  # per post: complete -> seen published
    api_s: tuple[float, ...]  # cheap-endpoint latencies sampled while the pool was saturated
    peak_queue: int
    queue_source: str = "clients"  # "metrics" when the server's gauge was read
    api_endpoint: str = "/healthz"
    saturated: bool = True  # False: the samples had to be taken with the pool not full
    pool_busy_avg: float | None = None  # mean busy workers while saturated, from /metrics
    cpu_share: dict[str, float] | None = None  # % of all cores by role (server we started only)
    social_s: dict[str, tuple[float, ...]] | None = None  # --social: round trips per call, like the API
    social_saturated: bool = True
    social_refused: int = 0  # 429 answers waited out (a target with its default rate limits)

    @property
    def social_all_s(self) -> tuple[float, ...]:
        return tuple(s for samples in (self.social_s or {}).values() for s in samples)

    @property
    def uploads_per_s(self) -> float:
        return per_second(self.published, self.wall_s)

    def to_dict(self) -> dict:
        return {
            "workers": self.workers,
            "clients": self.clients,
            "uploads_per_s": _round(self.uploads_per_s, 3),
            "e2e_ms": ms_summary(self.e2e_s, (50, 95, 99)),
            "api_ms": ms_summary(self.api_s, (50, 99)),
            "peak_queue": self.peak_queue,
            "published": self.published,
            "failed": self.failed,
            "wall_s": _round(self.wall_s, 3),
            "api_samples": len(self.api_s),
            "api_endpoint": self.api_endpoint,
            "queue_source": self.queue_source,
            "saturated": self.saturated,
            "pool_busy_avg": None if self.pool_busy_avg is None else _round(self.pool_busy_avg),
            "cpu_share_pct": self.cpu_share,
            **(self._social_dict() if self.social_s is not None else {}),
        }

    def _social_dict(self) -> dict:
        calls = {name: ms_summary(samples, (50, 99)) for name, samples in (self.social_s or {}).items()}
        return {
            "social_ms": {**calls, "all": ms_summary(self.social_all_s, (50, 99))},
            "social_samples": {name: len(samples) for name, samples in (self.social_s or {}).items()},
            "social_saturated": self.social_saturated,
            "social_refused": self.social_refused,
        }


def best_pipeline(runs: Sequence[PipelineFigures]) -> PipelineFigures | None:
    """The run that the single-run figures and targets speak of: the highest uploads/s."""
    return max(runs, key=lambda p: p.uploads_per_s, default=None)


@dataclass(frozen=True)
class Check:
    """One target: the measured ratio, the bound, and whether it holds (None: not measured)."""

    name: str
    value: float | None
    bound: float
    higher_is_better: bool
    detail: str

    @property
    def ok(self) -> bool | None:
        if self.value is None or math.isnan(self.value):
            return None
        return self.value >= self.bound if self.higher_is_better else self.value <= self.bound

    def to_dict(self) -> dict:
        return {
            "value": None if self.value is None else _round(self.value, 3),
            "target": ("≥ " if self.higher_is_better else "≤ ") + f"{self.bound:g}",
            "ok": self.ok,
            "detail": self.detail,
        }


def _by_backend(codec: Sequence[CodecFigures], backend: str) -> dict[int, CodecFigures]:
    return {c.workers: c for c in codec if c.backend == backend and c.images}


def _paired(codec: Sequence[CodecFigures], other: str) -> tuple[CodecFigures, CodecFigures] | None:
    """Ours and the other backend at the same worker count (the fewest workers: least noise)."""
    ours, theirs = _by_backend(codec, "vips"), _by_backend(codec, other)
    common = sorted(set(ours) & set(theirs))
    return (ours[common[0]], theirs[common[0]]) if common else None


def target_checks(codec: Sequence[CodecFigures], pipeline: PipelineFigures | None) -> list[Check]:
    """Every target that this run's figures can speak to."""
    checks: list[Check] = []
    pair = _paired(codec, "naive")
    if pair:
        ours, naive = pair
        checks.append(Check(
            "cpu_vs_naive", ours.cpu_ms_per_image / naive.cpu_ms_per_image, CPU_VS_NAIVE_MAX, False,
            f"CPU/image {ours.cpu_ms_per_image:.0f} ms vs naive {naive.cpu_ms_per_image:.0f} ms "
            f"at {ours.workers} worker(s)",
        ))
    pair = _paired(codec, "pillow")
    if pair:
        ours, pillow = pair
        checks.append(Check(
            "speed_vs_pillow", _ratio(ours.images_per_s, pillow.images_per_s), SPEED_VS_PILLOW_MIN, True,
            f"{ours.images_per_s:.2f} vs pillow {pillow.images_per_s:.2f} images/s at {ours.workers} worker(s); "
            f"CPU/image {ours.cpu_ms_per_image:.0f} vs {pillow.cpu_ms_per_image:.0f} ms",
        ))
    if pipeline is not None:
        bare = _by_backend(codec, "vips").get(pipeline.workers)
        uploaded = pipeline.published + pipeline.failed
        image_count = bare.images // bare.repeat if bare else 0
        checks.append(Check(
            "pipeline_vs_codec",
            _ratio(pipeline.uploads_per_s, bare.images_per_s) if bare else None,
            PIPELINE_VS_CODEC_MIN, True,
            f"{pipeline.uploads_per_s:.2f} uploads/s vs codec "
            + (f"{bare.images_per_s:.2f} images/s" if bare else "(not measured)")
            + f" at {pipeline.workers} worker(s)"
            + (f" (image mix differs: {uploaded} uploads of {image_count} images)"
               if bare and image_count and uploaded % image_count else ""),
        ))
        p99 = percentile([s * 1000 for s in pipeline.api_s], 99)
        checks.append(Check(
            "api_p99_ms", p99, API_P99_MAX_MS, False,
            f"{pipeline.api_endpoint} p99 over {len(pipeline.api_s)} samples"
            + ("" if pipeline.saturated else " (pool never saturated: add clients)"),
        ))
        if pipeline.social_s is not None:
            social = pipeline.social_all_s
            checks.append(Check(
                "social_p99_ms", percentile([s * 1000 for s in social], 99), SOCIAL_P99_MAX_MS, False,
                f"like, unlike, comment p99 over {len(social)} round trips"
                + ("" if pipeline.social_saturated else " (pool never saturated: add clients)"),
            ))
    return checks


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


@dataclass(frozen=True)
class Recommendation:
    workers: int
    mailbox_size: int
    vips_concurrency: int
    backlog_high_water: int
    throughput: float  # images/s expected at these settings
    reasons: tuple[str, ...] = field(default=())

    SETTINGS = ("workers", "mailbox_size", "vips_concurrency", "backlog_high_water")

    def config_lines(self) -> list[str]:
        """TOML ``key = value`` lines for server/config.py, ready to paste."""
        return [f"{name} = {getattr(self, name)}" for name in self.SETTINGS]

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in self.SETTINGS}
        out["expected_images_per_s"] = _round(self.throughput, 3)
        out["reasons"] = list(self.reasons)
        return out


def _fewest_near_best(rates: dict[int, float]) -> int:
    """The smallest worker count within 5% of the best rate: the rest is noise that costs memory
    and leaves less CPU for the event loop."""
    best = max(rates.values())
    return min(w for w, rate in rates.items() if rate >= best * NEAR_BEST)


def recommend(
    codec: Sequence[CodecFigures],
    pipelines: Sequence[PipelineFigures],
    cores: int,
    memory_mb: float | None,
) -> Recommendation | None:
    """Settings for this machine from what was measured; None when nothing was measured."""
    ours = _by_backend(codec, "vips")
    served = {p.workers: p.uploads_per_s for p in pipelines if p.published}
    if served:
        rates, source = served, "pipeline uploads/s"
    elif ours:
        rates, source = {w: c.images_per_s for w, c in ours.items()}, "codec images/s"
    else:
        return None
    workers = _fewest_near_best(rates)
    reasons = [f"workers = {workers}: fewest within {100 - NEAR_BEST * 100:.0f}% of the best {source} "
               f"({', '.join(f'{w}: {r:.2f}' for w, r in sorted(rates.items()))})"]

    peak_rss = max((c.peak_rss_mb for c in ours.values()), default=0.0)
    if memory_mb and peak_rss > 0:
        fits = max(1, int(memory_mb * MEMORY_SHARE // peak_rss))
        if fits < workers:
            reasons.append(f"capped at {fits}: {MEMORY_SHARE:.0%} of {memory_mb:.0f} MB RAM / "
                           f"{peak_rss:.0f} MB peak per worker")
            workers = fits
    if workers in rates:
        throughput = rates[workers]
    else:  # capped below anything measured: scale the smallest run linearly
        smallest = min(rates)
        throughput = rates[smallest] * workers / smallest

    # Processes scale better than libvips threads, so threads only fill cores the pool leaves idle.
    vips_concurrency = max(1, cores // workers)
    reasons.append(f"vips_concurrency = {vips_concurrency}: {cores} core(s) / {workers} worker(s)")

    # mailbox_size is every job held at once: the pool's plus those being fetched or published.
    # Twice the workers is the server's default; more only if the pool was seen waiting for work.
    mailbox = 2 * workers
    starved = [p for p in pipelines if p.workers == workers and p.pool_busy_avg is not None
               and p.pool_busy_avg < workers * BUSY_ENOUGH]
    if starved:
        mailbox = 3 * workers
        reasons.append(f"mailbox_size = {mailbox}: the pool was only {starved[0].pool_busy_avg:.2f} of {workers} "
                       f"busy while saturated; stage more jobs around it")
    else:
        reasons.append(f"mailbox_size = {mailbox}: {workers} transcoding plus as many fetching or publishing")

    # Past about two minutes of queued work, an upload is better told to come back later.
    backlog = max(BACKLOG_MIN, math.ceil(throughput * BACKLOG_SECONDS))
    reasons.append(f"backlog_high_water = {backlog}: about {BACKLOG_SECONDS:.0f} s of work "
                   f"at {throughput:.2f} images/s")
    return Recommendation(workers, mailbox, vips_concurrency, backlog, throughput, tuple(reasons))
