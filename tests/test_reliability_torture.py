"""The crash torture at CI size, and its end-state rules on hand-made rows.

The full run (``make torture N=10000 FAULTS=100``) publishes the figure in the README; this one is
300 uploads and 15 faults (three of each kind) on the same code.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import corpus_file
from reliability.checks import judge
from reliability.faults import KINDS, schedule
from reliability.torture import Run, Torture

POST, JOB_CLAIM = "p1", 7
GOOD_ROWS = [{"post_id": POST, "variant": v, "storage_key": f"posts/{POST}/{JOB_CLAIM}/{v}.jpg", "bytes": 3}
             for v in ("thumbnail", "medium", "original")]
DISK = {r["storage_key"]: (3, "h") for r in GOOD_ROWS}
LEDGER = {k: ["h"] for k in DISK}


def _job(**kw):  # type: ignore[no-untyped-def]
    return {"post_id": POST, "status": "succeeded", "attempts": 1, "max_attempts": 5, "claim": JOB_CLAIM,
            "last_error_code": None, **kw}


def _judge(post=None, job=None, rows=GOOD_ROWS, disk=DISK, ledger=LEDGER, good=True):  # type: ignore[no-untyped-def]
    post = post or {"status": "published", "error": None, "error_message": None}
    return judge([(POST, good)], {POST: post}, [job or _job()], rows, disk, ledger).violations


def test_a_clean_end_state_passes() -> None:
    assert _judge() == []


def test_each_rule_of_the_end_state_catches_its_violation() -> None:
    stale = [dict(r, storage_key=r["storage_key"].replace("/7/", "/6/")) for r in GOOD_ROWS]
    assert any("points at claim 6" in v for v in _judge(rows=stale, disk={r["storage_key"]: (3, "h") for r in stale},
                                                            ledger={}))
    assert any("stuck in processing" in v for v in _judge(post={"status": "processing"}, job=_job(status="running"), rows=[]))
    assert any("without a reason" in v for v in _judge(post={"status": "failed", "error": None, "error_message": None},
                                                       job=_job(status="failed"), rows=[], good=False))
    assert any("corrupt upload was published" in v for v in _judge(good=False))
    assert any("attempts" in v for v in _judge(job=_job(attempts=6)))
    assert any("missing from the store" in v for v in _judge(disk={}))
    assert any("written 2 times" in v for v in _judge(ledger={**LEDGER, GOOD_ROWS[0]["storage_key"]: ["h", "x"]}))
    assert any("failed with image_corrupt" in v for v in _judge(
        post={"status": "failed", "error": "image_corrupt", "error_message": "m"}, job=_job(status="failed"), rows=[]))


def test_the_schedule_is_seeded_and_spreads_every_kind() -> None:
    plan = schedule(1, 15, 300)
    assert plan == schedule(1, 15, 300) and plan != schedule(2, 15, 300)
    assert sorted(p.kind for p in plan) == sorted(KINDS * 3)


@pytest.mark.fault
@pytest.mark.timeout(900)
def test_300_uploads_through_15_faults_on_two_instances() -> None:
    corpus_file("phone-3264x2448.jpg")
    root = Path(tempfile.mkdtemp(prefix="imagepipe-torture-"))
    os.chmod(root, 0o755)
    try:
        report = asyncio.run(Torture(Run(uploads=300, faults=15, seed=1, lease_s=5.0), root).execute(progress=False))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary = {k: report[k] for k in ("violations", "client_errors", "servers_exited_by_themselves", "counts",
                                      "fault_kinds", "fencing", "reclaim_s", "settled")}
    print(summary)
    assert report["settled"], summary
    assert report["violations"] == [] and report["client_errors"] == [], summary
    assert report["accepted"] == 300
    assert report["fault_kinds"] == {k: 3 for k in KINDS}, summary
    assert report["fencing"]["zombie_jobs_reclaimed"] >= 1, "a paused server's jobs were claimed again"
    assert report["exit_codes"] == {"a": 0, "b": 0}
