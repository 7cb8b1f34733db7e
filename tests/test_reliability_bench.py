"""``bench pipeline --overload`` and ``--noisy-neighbour`` end to end on their own server, tiny: the
wiring and the accounting, not the figures (those are reported by the bench, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import native_bench
from native_bench.samples import write_samples


def test_overload_mode_accounts_for_every_arrival(tmp_path: Path) -> None:
    write_samples(tmp_path / "images", [("a.jpg", 800, 600, 1, 1)])
    out = tmp_path / "overload.json"
    code = native_bench.main(["pipeline", "--overload", "--duration", "5", "--workers", "1", "--quiet",
                              "--images", str(tmp_path / "images"), "--json", str(out),
                              "--data-dir", str(tmp_path / "bench")])
    report = json.loads(out.read_text())
    assert report["mode"] == "overload" and report["capacity_uploads_per_s"] > 0
    assert abs(report["offered_uploads_per_s"] - 2 * report["capacity_uploads_per_s"]) < 0.02
    assert report["arrivals"] == report["accepted"] + report["refused_503_backlog"] + sum(report["other_errors"].values())
    assert report["other_errors"] == {} and report["lost"] == 0
    assert report["published"] == report["accepted"] > 0
    assert report["api_samples"] > 0
    assert code == 0 and report["verdict"] in ("ok", "FAILED")  # the bench measures; it never fails a run


def test_noisy_neighbour_mode_reports_the_bound_beside_the_figure(tmp_path: Path) -> None:
    write_samples(tmp_path / "images", [("a.jpg", 800, 600, 1, 1)])
    out = tmp_path / "noisy.json"
    code = native_bench.main(["pipeline", "--noisy-neighbour", "--workers", "1", "--quiet",
                              "--images", str(tmp_path / "images"), "--json", str(out),
                              "--data-dir", str(tmp_path / "bench")])
    report = json.loads(out.read_text())
    assert report["backlog_jobs"] == 60 and report["idle_s"] > 0 and report["with_backlog_s"] > 0
    assert abs(report["bound_s"] - (2 * report["idle_s"] + report["one_job_s"])) < 0.005
    assert code == 0 and report["verdict"] in ("ok", "FAILED")  # the bench measures; it never fails a run
