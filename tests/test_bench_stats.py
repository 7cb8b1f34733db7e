"""Pure rules of the benchmark: percentiles, targets, the recommendation, table/JSON formatting and
the bits of parsing (Prometheus text, verification mail). Made-up figures, no processes."""

from __future__ import annotations

import dataclasses
import json
import math
from email.message import EmailMessage

import pytest

from native_bench.accounts import token_from_mail
from native_bench.promtext import parse_samples, queue_depth
from native_bench.report import document, render, table, write_json
from native_bench.stats import (
    CodecFigures,
    PipelineFigures,
    percentile,
    recommend,
    target_checks,
)
from native_bench.tune import best_counts


def codec(backend: str, workers: int, rate: float, cpu_ms: float, rss: float = 200.0, images: int = 10) -> CodecFigures:
    return CodecFigures(backend, workers, images, wall_s=images / rate, cpu_s=cpu_ms * images / 1000, peak_rss_mb=rss)


def pipeline(workers: int = 2, rate: float = 4.0, api_ms: tuple[float, ...] = (5.0,) * 99 + (30.0,)) -> PipelineFigures:
    return PipelineFigures(workers, clients=8, published=40, failed=0, wall_s=40 / rate,
                           e2e_s=tuple(i / 10 for i in range(1, 41)), api_s=tuple(ms / 1000 for ms in api_ms),
                           peak_queue=6)


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile([10.0], 99) == 10.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of input does not matter
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_codec_figures_derive_rate_and_cpu_per_image() -> None:
    run = CodecFigures("vips", 2, images=10, wall_s=4.0, cpu_s=3.0, peak_rss_mb=150.0)
    assert run.images_per_s == 2.5
    assert run.cpu_ms_per_image == 300.0
    assert math.isnan(CodecFigures("vips", 1, 0, 0.0, 0.0, 0.0).cpu_ms_per_image)


def test_targets_compare_at_the_same_worker_count() -> None:
    runs = [codec("vips", 1, 2.0, 400), codec("vips", 2, 3.8, 420), codec("naive", 1, 1.2, 700),
            codec("pillow", 2, 1.5, 900)]
    checks = {c.name: c for c in target_checks(runs, None)}
    assert checks["cpu_vs_naive"].value == pytest.approx(400 / 700)
    assert checks["cpu_vs_naive"].ok is True
    assert checks["speed_vs_pillow"].value == pytest.approx(3.8 / 1.5)
    assert checks["speed_vs_pillow"].ok is True
    slower = target_checks([codec("vips", 1, 1.0, 650), codec("naive", 1, 1.0, 700)], None)
    assert slower[0].ok is False  # 0.93 > 0.7


def test_pipeline_targets_use_codec_at_its_worker_count() -> None:
    runs = [codec("vips", 1, 2.0, 400), codec("vips", 2, 4.0, 400)]
    checks = {c.name: c for c in target_checks(runs, pipeline(workers=2, rate=3.6))}
    assert checks["pipeline_vs_codec"].value == pytest.approx(0.9)
    assert checks["pipeline_vs_codec"].ok is True
    assert checks["api_p99_ms"].ok is True
    slow_api = {c.name: c for c in target_checks(runs, pipeline(api_ms=(5.0,) * 90 + (80.0,) * 10))}
    assert slow_api["api_p99_ms"].ok is False
    assert "mix" not in checks["pipeline_vs_codec"].detail  # 40 uploads of 10 images: same mix
    few = PipelineFigures(2, 2, published=3, failed=0, wall_s=1.0, e2e_s=(1.0,), api_s=(0.01,), peak_queue=2)
    assert "image mix differs" in target_checks(runs, few)[0].detail
    unmatched = {c.name: c for c in target_checks([codec("vips", 1, 2.0, 400)], pipeline(workers=2))}
    assert unmatched["pipeline_vs_codec"].ok is None  # not measured is not a pass


def test_recommend_picks_fewest_workers_near_the_best() -> None:
    runs = [codec("vips", w, rate, 400) for w, rate in ((1, 2.0), (2, 3.9), (3, 4.0), (4, 3.7))]
    rec = recommend(runs, [], cores=4, memory_mb=16000)
    assert rec is not None
    assert rec.workers == 2  # 3.9 is within 5% of 4.0
    assert rec.vips_concurrency == 2  # two cores per worker left over
    assert rec.mailbox_size == 4  # the server's default: nothing measured says otherwise
    assert rec.backlog_high_water == math.ceil(3.9 * 120)
    assert rec.config_lines() == ["workers = 2", "mailbox_size = 4", "vips_concurrency = 2", "backlog_high_water = 468"]


def test_recommend_prefers_pipeline_figures_and_caps_by_memory() -> None:
    runs = [codec("vips", w, 2.0 * w, 400, rss=1000.0) for w in (1, 2, 4)]
    rec = recommend(runs, [pipeline(workers=2, rate=3.0), pipeline(workers=4, rate=3.1)], cores=4, memory_mb=16000)
    assert rec is not None and rec.workers == 2  # the pipeline saw little gain from 4
    capped = recommend(runs, [], cores=4, memory_mb=2000)  # 70% of 2 GB holds one 1 GB worker
    assert capped is not None and capped.workers == 1
    assert capped.throughput == pytest.approx(2.0)


def test_recommend_stages_more_jobs_when_the_pool_waited_for_work() -> None:
    runs = [codec("vips", 2, 4.0, 400)]
    busy = dataclasses.replace(pipeline(workers=2, rate=3.9), pool_busy_avg=1.98)
    idle = dataclasses.replace(pipeline(workers=2, rate=3.0), pool_busy_avg=1.5)
    rec_busy = recommend(runs, [busy], cores=2, memory_mb=None)
    rec_idle = recommend(runs, [idle], cores=2, memory_mb=None)
    assert rec_busy is not None and rec_busy.mailbox_size == 4
    assert rec_idle is not None and rec_idle.mailbox_size == 6
    assert any("1.50 of 2" in reason for reason in rec_idle.reasons)
    assert recommend([], [], cores=2, memory_mb=None) is None


def test_best_counts_ranks_by_rate_then_fewest_workers() -> None:
    runs = [codec("vips", 1, 2.0, 1), codec("vips", 2, 3.5, 1), codec("vips", 3, 3.5, 1), codec("naive", 4, 9.0, 1)]
    assert best_counts(runs, 2) == [2, 3]
    assert best_counts(runs, 1) == [2]


def test_table_aligns_columns() -> None:
    text = table(("name", "rate"), [("vips", 2.5), ("pillow", 123.4)])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "rate"]
    assert lines[2] == "vips    2.50"
    assert lines[3] == "pillow   123"
    assert len({len(line) for line in lines}) == 1


def test_render_and_json_carry_every_figure(tmp_path) -> None:
    runs = [dataclasses.replace(codec("vips", 1, 2.0, 400), cpu_s_by_image=(("a.jpg", 0.3), ("b.heif", 0.5))),
            dataclasses.replace(codec("naive", 1, 1.0, 800), cpu_s_by_image=(("a.jpg", 0.4), ("b.heif", 1.2)))]
    pipe = pipeline(workers=1, rate=1.8)
    checks = target_checks(runs, pipe)
    rec = recommend(runs, [pipe], cores=2, memory_mb=4000)
    text = render(runs, [pipe, pipeline(workers=2, rate=1.0)], checks, rec, "somewhere")
    assert "naive" in text and "cpu_vs_naive" in text and "workers = 1" in text
    assert [line.split() for line in text.splitlines() if line.startswith("b.heif")] == [["b.heif", "500", "1,200"]]
    out = tmp_path / "b.json"
    write_json(str(out), document(runs, [pipeline(workers=2, rate=1.0), pipe], checks, rec, {"cores": 2}))
    doc = json.loads(out.read_text())
    assert set(doc) >= {"codec", "pipeline", "recommendation"}
    assert set(doc["codec"][0]) >= {"backend", "workers", "images_per_s", "cpu_ms_per_image", "peak_rss_mb"}
    assert set(doc["pipeline"]) >= {"workers", "clients", "uploads_per_s", "e2e_ms", "api_ms", "peak_queue"}
    assert set(doc["pipeline"]["e2e_ms"]) == {"p50", "p95", "p99"}
    assert set(doc["pipeline"]["api_ms"]) == {"p50", "p99"}
    assert doc["pipeline"]["uploads_per_s"] == 1.8  # the best of the runs
    assert [p["workers"] for p in doc["pipeline_runs"]] == [2, 1]
    assert "Pipeline runs" in text
    runs_rows = [line.split() for line in text.splitlines() if line.startswith("      1 ")]
    assert runs_rows == [["1", "8", "40", "1.80", "0.90", "2,050", "3,805", "5.25"]]  # 1.8 vs codec 2.0
    assert set(doc["recommendation"]) >= {"workers", "mailbox_size", "vips_concurrency", "backlog_high_water"}


def test_json_turns_unmeasured_into_null(tmp_path) -> None:
    empty = CodecFigures("vips", 1, 0, 0.0, 0.0, 0.0)
    out = tmp_path / "b.json"
    write_json(str(out), document([empty], [], [], None, {}))
    assert json.loads(out.read_text())["codec"][0]["cpu_ms_per_image"] is None


def test_queue_depth_reads_a_gauge_and_ignores_counters() -> None:
    text = (
        "# HELP imagepipe_jobs_processed_total done\n# TYPE imagepipe_jobs_processed_total counter\n"
        "imagepipe_jobs_processed_total 99\n"
        'imagepipe_pipeline_queue_depth{instance="a"} 3\nimagepipe_pipeline_queue_depth{instance="b"} 4\n'
    )
    assert parse_samples(text)["imagepipe_pipeline_queue_depth"] == 7
    assert queue_depth(text) == 7
    by_state = 'imagepipe_jobs_queued{state="queued"} 5\nimagepipe_jobs_queued{state="running"} 2\n'
    assert queue_depth(by_state) == 5
    assert queue_depth("http_requests_total 5\n") is None


def test_token_from_mail_finds_the_link_token_for_that_recipient() -> None:
    message = EmailMessage()
    message["To"] = "bench_1@example.com"
    message["From"] = "imagepipe <no-reply@localhost>"
    message.set_content("open http://127.0.0.1:1/api/v1/auth/verify-email?token=abc-DEF_123%3D\nthanks")
    raw = bytes(message)
    assert token_from_mail(raw, "bench_1@example.com") == "abc-DEF_123="
    assert token_from_mail(raw, "someone@example.com") is None


def test_cpu_share_splits_the_machine_and_blames_the_rest_on_others() -> None:
    from native_bench.cpuprobe import ROLES, share

    before = {**dict.fromkeys(ROLES, 0.0), "machine": 0.0, "wall": 100.0}
    after = {"pool_workers": 10.0, "server": 2.0, "postgres": 1.0, "bench_client": 1.0, "machine": 18.0, "wall": 110.0}
    split = share(before, after, cores=2)
    assert split == {"pool_workers": 50.0, "server": 10.0, "postgres": 5.0, "bench_client": 5.0, "other": 20.0}
    assert share(before, {**after, "wall": 100.0}, cores=2) == {}


def test_progress_redraws_on_a_terminal_and_writes_one_line_elsewhere() -> None:
    import io

    from native_bench.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        bar = Progress("codec vips x1", 4, stream=stream)
        for _ in range(4):
            bar.advance()
        bar.close("2.00 images/s")
    assert tty.getvalue().count("\r") == 6 and "[" + "#" * 30 + "] 4/4" in tty.getvalue()
    assert log.getvalue().count("\n") == 1 and log.getvalue().startswith("codec vips x1: 4/4 in ")
    assert log.getvalue().rstrip().endswith("2.00 images/s")
