"""Operations of a real ``python -m server serve`` process: the access log (JSON format), request
and user ids on every line a request causes, and /metrics on its own port behind a token, scraped
after a real upload went through the pipeline."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import corpus_file
from openapi_check import forget_origin, register_origin
from native_bench.promtext import gauge, queue_depth
from serverproc import ServerProcess, free_port, server_env
from test_pipeline_hooks import HttpApi, make_small_jpeg, wait_for

METRICS_TOKEN = "scrape-me-" + "x" * 22
SECRET = "SECRET0123456789abcdef"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    root = tmp_path_factory.mktemp("ops-served")
    metrics_port = free_port()
    env = server_env(
        IMAGEPIPE_LOG_FORMAT="json", IMAGEPIPE_METRICS_PORT=str(metrics_port),
        IMAGEPIPE_METRICS_TOKEN=METRICS_TOKEN, IMAGEPIPE_WORKERS="1",
    )
    server = ServerProcess(root / "data", free_port(), env).start()
    register_origin(f"http://127.0.0.1:{metrics_port}")  # its answers are checked against the OpenAPI document too
    try:
        api = HttpApi(server.base_url).signup(server.data_dir, username="opsuser")
        yield SimpleNamespace(server=server, api=api, metrics_url=f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        forget_origin(f"http://127.0.0.1:{metrics_port}")
        assert server.terminate() == 0, server.log_text()


def log_entries(server: ServerProcess) -> list[dict]:
    """Every line of the server's output, each of which must be one JSON object."""
    lines = [line for line in server.log_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def wait_for_entry(server: ServerProcess, **match: object) -> dict:
    def find() -> dict | None:
        for entry in log_entries(server):
            if all(entry.get(k) == v for k, v in match.items()):
                return entry
        return None

    return wait_for(find, 10, 0.05)


def scrape(url: str, token: str | None = METRICS_TOKEN) -> tuple[int, str, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Parsed by prometheus-client's own parser: what a Prometheus server would read."""
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list, name: str, **labels: str) -> float:
    matches = [v for n, lab, v in found if n == name and all(lab.get(k) == w for k, w in labels.items())]
    assert matches, f"no sample {name}{labels}"
    return sum(matches)


def test_every_request_gets_one_access_line_with_its_ids(served: SimpleNamespace) -> None:
    api: HttpApi = served.api
    status, me, _ = api.call("GET", "/api/v1/auth/me", headers={"X-Request-Id": "ops-me-1"})
    assert status == 200, me
    line = wait_for_entry(served.server, logger="imagepipe.access", request_id="ops-me-1")
    assert line["method"] == "GET" and line["path"] == "/api/v1/auth/me" and line["status"] == 200
    assert line["route"] == "/api/v1/auth/me" and line["user_id"] == me["id"]
    assert line["bytes"] > 0 and 0 <= line["duration_ms"] < 10_000 and line["level"] == "info"
    assert line["time"].endswith("Z")
    ones = [e for e in log_entries(served.server) if e.get("request_id") == "ops-me-1" and e["logger"] == "imagepipe.access"]
    assert len(ones) == 1


def test_query_secrets_never_reach_the_log(served: SimpleNamespace) -> None:
    anonymous = HttpApi(served.server.base_url)
    status, body, _ = anonymous.call(  # the page a mailed link opens: the token is in its URL
        "GET", f"/account/verify-email?token={SECRET}&limit=5", headers={"X-Request-Id": "ops-verify-1"},
    )
    assert status == 200, body
    line = wait_for_entry(served.server, logger="imagepipe.access", request_id="ops-verify-1")
    assert line["path"] == "/account/verify-email?token=***&limit=5" and line["status"] == 200
    assert "user_id" not in line  # anonymous: JSON lines leave out what is unknown
    assert SECRET not in served.server.log_text()


def test_lines_a_request_causes_carry_its_request_id(served: SimpleNamespace) -> None:
    anonymous = HttpApi(served.server.base_url)
    status, body, _ = anonymous.call(
        "POST", "/api/v1/auth/register",
        {"email": "second@example.org", "username": "second", "password": "a long enough password"},
        headers={"X-Request-Id": "ops-register-1"},
    )
    assert status == 201, body
    caused = wait_for_entry(served.server, logger="server.auth.handlers", request_id="ops-register-1")
    assert caused["message"] == "sign-up answered for a new username"
    # Lines outside any request (start-up, the pipeline) carry no request id.
    ready = wait_for_entry(served.server, logger="imagepipe")
    assert ready["message"].startswith("ready on ") and "request_id" not in ready


def test_metrics_moved_to_their_own_port_and_need_the_token(served: SimpleNamespace) -> None:
    status, body, _ = scrape(f"{served.server.base_url}/metrics")
    assert status == 404, body  # not on the API port any more
    status, body, headers = scrape(served.metrics_url, token=None)
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_metrics_token"
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert headers["X-Request-Id"], "the metrics port tags its answers like the API port"
    status, body, _ = scrape(served.metrics_url, token="scrape-me-" + "y" * 22)
    assert status == 401
    status, body, headers = scrape(served.metrics_url)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert value(samples(body), "imagepipe_ready") == 1


def test_metrics_count_routes_transcodes_and_publishing(served: SimpleNamespace) -> None:
    api: HttpApi = served.api
    data = make_small_jpeg(corpus_file("phone-3264x2448.jpg"))
    post_id = api.complete(api.put_source(data))
    wait_for(lambda: api.post(post_id)["status"] == "published", 60, 0.2)
    unmatched_before = sum(v for n, lab, v in samples(scrape(served.metrics_url)[1])
                           if n == "imagepipe_http_requests_total" and lab["route"] == "unmatched")
    missing, _, _ = api.call("GET", "/no/such/path/" + post_id)
    assert missing == 404

    status, text, _ = scrape(served.metrics_url)
    assert status == 200
    found = samples(text)
    # HTTP: by route template and status; a post id never becomes a label value.
    assert value(found, "imagepipe_http_requests_total", method="GET", route="/api/v1/posts/{post_id}", status="200") >= 1
    assert value(found, "imagepipe_http_request_duration_seconds_count",
                 route="/api/v1/posts/upload/complete", status="200") == 1
    assert value(found, "imagepipe_http_requests_total", route="unmatched", status="404") == unmatched_before + 1
    assert not [lab for _, lab, _ in found if any(post_id in v for v in lab.values())]
    # Transcode cost per variant (one job) and the upload-to-published latency.
    for variant in ("decode", "thumbnail", "medium", "original"):
        assert value(found, "imagepipe_transcode_wall_seconds_count", variant=variant) == 1
        assert value(found, "imagepipe_transcode_cpu_seconds_count", variant=variant) == 1
        assert value(found, "imagepipe_transcode_wall_seconds_sum", variant=variant) > 0
    assert value(found, "imagepipe_upload_to_published_seconds_count") == 1
    assert 0 < value(found, "imagepipe_upload_to_published_seconds_sum") < 60
    # Queue and pool gauges, under the names dashboards and the bench already read.
    assert value(found, "imagepipe_jobs", status="succeeded") == 1
    assert value(found, "imagepipe_jobs_succeeded_total") == 1
    assert value(found, "imagepipe_pool_workers") == 1 and value(found, "imagepipe_pool_busy_workers") == 0
    assert queue_depth(text) == 0 and gauge(text, "imagepipe_pool_busy_workers") == 0


def test_access_line_counts_the_body_of_a_served_file(served: SimpleNamespace) -> None:
    api: HttpApi = served.api
    post_id = api.complete(api.put_source(make_small_jpeg(corpus_file("phone-3264x2448.jpg"), width=700)))
    wait_for(lambda: api.post(post_id)["status"] == "published", 60, 0.2)
    url = api.post(post_id)["variants"]["medium"]["url"]
    with urllib.request.urlopen(urllib.request.Request(url, headers={"X-Request-Id": "ops-media-1"}), timeout=10) as resp:
        body = resp.read()
    line = wait_for_entry(served.server, logger="imagepipe.access", request_id="ops-media-1")
    assert line["route"] == "/media/{key}" and line["bytes"] == len(body) > 1000  # sent by sendfile
