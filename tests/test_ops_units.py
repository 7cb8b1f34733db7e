"""Pure parts of operations: log formats and context, the loggable target, metric names, route
labels, the metrics token, and the per-variant timings a transcode reports."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace

import pytest

from server.http.access_log import loggable_target
from server.http.metrics import check_token
from server.logs import JsonFormatter, RequestContextFilter, TextFormatter, bind_user, request_id_var, setup_logging
from server.metrics import Metrics, StateSnapshot, render, route_label


def _record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("server.x", logging.INFO, __file__, 1, message, args or ("world",), None)
    for key, value in extra.items():
        setattr(record, key, value)
    RequestContextFilter().filter(record)
    return record


def test_text_lines_carry_the_request_id_inside_a_request_only() -> None:
    outside = TextFormatter().format(_record())
    assert outside.endswith(" INFO server.x: hello world")

    async def in_request() -> str:
        request_id_var.set("req-42")
        return TextFormatter().format(_record())

    assert asyncio.run(in_request()).endswith(" INFO server.x [req-42]: hello world")
    assert request_id_var.get() is None  # the task's context ended with it


def test_json_lines_are_one_object_with_context_and_extras() -> None:
    async def in_request() -> dict:
        request_id_var.set("req-7")
        bind_user("u-1")
        return json.loads(JsonFormatter().format(_record("GET %s", "/x", method="GET", status=200)))

    entry = asyncio.run(in_request())
    assert entry["message"] == "GET /x" and entry["level"] == "info" and entry["logger"] == "server.x"
    assert entry["request_id"] == "req-7" and entry["user_id"] == "u-1"
    assert entry["method"] == "GET" and entry["status"] == 200 and entry["time"].endswith("Z")
    assert "request_tag" not in entry and "args" not in entry and "msg" not in entry


def test_json_lines_keep_tracebacks_inside_the_object() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RequestContextFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


def test_setup_logging_picks_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging("info", "json")
        logging.getLogger("imagepipe.test").info("one %d", 1)
        assert json.loads(capsys.readouterr().err)["message"] == "one 1"
        setup_logging("warning", "text")
        logging.getLogger("imagepipe.test").info("hidden")
        assert capsys.readouterr().err == ""
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize("raw_path, query, logged", [
    ("/api/v1/auth/verify-email", "token=abc123", "/api/v1/auth/verify-email?token=***"),
    ("/media/upload/uploads/u/p/source", "expires=1&size=9&sig=f00d", "/media/upload/uploads/u/p/source?expires=***&size=***&sig=***"),
    ("/api/v1/feed", "limit=20&cursor=eyJ0", "/api/v1/feed?limit=20&cursor=eyJ0"),
    ("/api/v1/feed", "flag", "/api/v1/feed?flag"),
    ("/a b\nINFO forged", "", "/a%20b%0AINFO%20forged"),
    ("/caf\u00e9", "", "/caf%C3%A9"),
    ("", "", "/"),
])
def test_loggable_target(raw_path: str, query: str, logged: str) -> None:
    assert loggable_target(raw_path, query) == logged


def test_loggable_target_is_capped() -> None:
    assert len(loggable_target("/" + "a" * 10_000, "")) == 512


def test_metric_names_are_the_ones_dashboards_read() -> None:
    text = render(StateSnapshot({"queued": 3, "running": 2, "dead": 1}, ready=False, pipeline={
        "in_flight": 2, "pool_workers": 4, "pool_busy": 1, "jobs_claimed": 9, "jobs_succeeded": 7,
        "pool_restarts": 2,
    }))
    lines = text.splitlines()
    assert 'imagepipe_jobs{status="queued"} 3.0' in lines and 'imagepipe_jobs{status="succeeded"} 0.0' in lines
    assert "imagepipe_queue_depth 5.0" in lines and "imagepipe_ready 0.0" in lines
    assert "# TYPE imagepipe_pool_restarts_total counter" in lines and "imagepipe_pool_restarts_total 2.0" in lines
    assert "imagepipe_pool_workers 4.0" in lines and "imagepipe_jobs_succeeded_total 7.0" in lines
    assert not [line for line in lines if "_created" in line]
    assert "imagepipe_pool_busy_workers" not in render(StateSnapshot({}, ready=True, pipeline=None))


def test_route_labels_are_templates() -> None:
    resource = SimpleNamespace(canonical="/api/v1/posts/{post_id}")
    matched = SimpleNamespace(_match_info=SimpleNamespace(route=SimpleNamespace(resource=resource)))
    assert route_label(matched) == "/api/v1/posts/{post_id}"
    assert route_label(SimpleNamespace(_match_info=SimpleNamespace(route=SimpleNamespace(resource=None)))) == "unmatched"
    assert route_label(SimpleNamespace()) == "unmatched"


def test_unusual_methods_share_one_label() -> None:
    metrics = Metrics()
    metrics.observe_request("BREW", "unmatched", 405, 0.001)
    metrics.observe_request("GET", "/healthz", 200, 0.001)
    assert metrics.registry.get_sample_value(
        "imagepipe_http_requests_total", {"method": "other", "route": "unmatched", "status": "405"}) == 1
    assert metrics.registry.get_sample_value(
        "imagepipe_http_requests_total", {"method": "GET", "route": "/healthz", "status": "200"}) == 1


def test_metrics_token_check() -> None:
    token = "t" * 24
    assert check_token("", "")  # no token configured: open
    assert check_token(f"Bearer {token}", token) and check_token(f"bearer  {token} ", token)
    assert not check_token("", token) and not check_token(f"Basic {token}", token)
    assert not check_token(f"Bearer {token[:-1]}", token)


def test_transcode_reports_time_per_variant() -> None:
    from actors.transcode import transcode
    from conftest import corpus_file
    from test_pipeline_hooks import make_small_jpeg

    result = transcode(make_small_jpeg(corpus_file("phone-3264x2448.jpg")))
    steps = [name for name, _, _ in result.timings]
    assert steps == ["decode", "original", "medium", "thumbnail"]  # each variant is cut from the previous
    assert all(wall > 0 and cpu >= 0 for _, wall, cpu in result.timings)
    assert sum(cpu for _, _, cpu in result.timings) > 0
    metrics = Metrics()
    metrics.observe_transcode(result)
    assert metrics.registry.get_sample_value("imagepipe_transcode_cpu_seconds_count", {"variant": "medium"}) == 1


def test_body_bytes_counts_the_body_only() -> None:
    from server.http.access_log import body_bytes

    assert body_bytes("GET", 200, "7026", 339) == 7026  # a sendfile'd variant: aiohttp saw only headers
    assert body_bytes("HEAD", 200, "7026", 200) == 0 and body_bytes("GET", 304, None, 150) == 0
    assert body_bytes("GET", 200, None, 5000) == 5000  # chunked stream: what was written
