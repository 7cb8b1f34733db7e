"""The pipeline benchmark against real servers with tiny numbers: the bench's own server (register,
mail in the outbox, verify, login, upload, publish), and ``--url`` against a server it did not start."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import native_bench
from native_bench.launch import start_server
from native_bench.samples import write_samples

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("actors.pipeline") is None,
    reason="actors.pipeline has not landed yet: no server would publish posts",
)


@pytest.fixture
def small_images(tmp_path: Path) -> Path:
    write_samples(tmp_path / "images", [("a.jpg", 1600, 1200, 1, 1), ("b.jpg", 1200, 900, 6, 2)])
    return tmp_path / "images"


def test_pipeline_bench_on_its_own_server(small_images: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.json"
    code = native_bench.main([
        "pipeline", "--images", str(small_images), "--workers", "1", "--clients", "2", "--uploads", "2",
        "--repeat", "1", "--json", str(out), "--data-dir", str(tmp_path / "bench"),
    ])
    assert code == 0
    doc = json.loads(out.read_text())
    pipe = doc["pipeline"]
    assert {"workers", "clients", "uploads_per_s", "e2e_ms", "api_ms", "peak_queue"} <= set(pipe)
    assert (pipe["workers"], pipe["clients"], pipe["published"], pipe["failed"]) == (1, 2, 4, 0)
    assert pipe["uploads_per_s"] > 0
    assert 0 < pipe["e2e_ms"]["p50"] <= pipe["e2e_ms"]["p95"] <= pipe["e2e_ms"]["p99"]
    assert pipe["api_samples"] > 0 and pipe["api_ms"]["p50"] > 0
    # Sampled every few hundred ms over a run of ~2 s: whether a sample lands while a job waits is
    # timing, so only its type is pinned here; the source below proves it is the server's gauge.
    assert isinstance(pipe["peak_queue"], int) and pipe["peak_queue"] >= 0
    assert pipe["queue_source"] == "metrics"  # read from the server's imagepipe_queue_depth gauge
    assert pipe["cpu_share_pct"]["pool_workers"] > 0  # the probe found the server's pool
    assert set(doc["targets"]) >= {"pipeline_vs_codec", "api_p99_ms"}
    assert doc["targets"]["pipeline_vs_codec"]["value"] > 0
    assert list((tmp_path / "bench").iterdir()) == []  # the server's data dir was removed
    assert "uploads/s" in capsys.readouterr().out


def test_pipeline_bench_against_a_running_server(small_images: Path, tmp_path: Path, capsys) -> None:
    server = start_server(1, parent_dir=str(tmp_path))
    args = ["pipeline", "--url", server.base_url, "--images", str(small_images), "--workers", "1",
            "--clients", "1", "--uploads", "1", "--no-codec", "--quiet"]
    try:
        # Without its outbox the accounts cannot be verified: the error says what to pass.
        assert native_bench.main(args) == 1
        assert "--token" in capsys.readouterr().err

        out = tmp_path / "out.json"
        assert native_bench.main([*args, "--data-dir", str(server.data_dir), "--json", str(out)]) == 0
        doc = json.loads(out.read_text())
        assert doc["pipeline"]["published"] == 1
        assert doc["codec"] == []
    finally:
        assert server.stop() == 0  # drained and exited cleanly after being driven
