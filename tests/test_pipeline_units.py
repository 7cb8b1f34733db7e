"""Pure pipeline logic without a pool, a database or a server: failure verdicts, poison selection,
the suspect-runs-alone rule, slot accounting and config guards (the /metrics text: test_ops_metrics)."""

from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace

import asyncpg
import pytest

from actors.pipeline import PipelineConfig, variant_key
from server.storage.keys import post_variant_prefix, validate_key
from actors.pipeline.decisions import (
    DEFER, FINAL, POISON, RETRY, classify, may_submit, poison_verdict, split_poison, timeout_verdict,
)
from actors.pipeline.tracker import POOL, PUBLISH, Tracker
from actors.pipeline.pool import WorkerPool
from actors.transcode import TranscodeError


class StoreDown(Exception):
    pass


class Missing(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "kind", "code"),
    [
        (TranscodeError("image_too_small", "100x68 is too small"), FINAL, "image_too_small"),
        (TranscodeError("image_corrupt", "flaky decoder", final=False), RETRY, "image_corrupt"),
        (Missing("gone"), FINAL, "source_missing"),
        (StoreDown("503"), DEFER, "store_unavailable"),
        (ConnectionRefusedError(111, "refused"), DEFER, "db_unavailable"),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), DEFER, "db_unavailable"),
        (asyncpg.InterfaceError("connection is closed"), DEFER, "db_unavailable"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), DEFER,
         "db_unavailable"),
        # A programming error raises InterfaceError too: a bug, never to be waited out as an outage.
        (asyncpg.InterfaceError("the server expects 1 argument for this query, 2 were passed"), RETRY,
         "internal_error"),
        (asyncio.TimeoutError(), DEFER, "db_unavailable"),
        (BrokenProcessPool("gone"), DEFER, "pool_broken"),
        (ValueError("a bug"), RETRY, "internal_error"),
    ],
)
def test_classify(exc: BaseException, kind: str, code: str) -> None:
    verdict = classify(exc, not_found=(Missing,), store_errors=(StoreDown,))
    assert (verdict.kind, verdict.code) == (kind, code)
    assert verdict.message


def test_final_transcode_errors_keep_their_readable_message() -> None:
    verdict = classify(TranscodeError("image_too_small", "the image is 100x68; at least 150 px needed"))
    assert verdict.message == "the image is 100x68; at least 150 px needed"


def test_poison_and_timeout_verdicts() -> None:
    assert poison_verdict(3).kind == POISON and "3 times" in poison_verdict(3).message
    assert timeout_verdict(60).kind == RETRY and "60s" in timeout_verdict(60).message
    # the second timeout of one image is the image: no more attempts spent on it
    assert timeout_verdict(60, attempts=2).kind == FINAL and "2 attempts" in timeout_verdict(60, attempts=2).message


def test_split_poison_by_break_count() -> None:
    assert split_poison({1: 3, 2: 1, 3: 4, 4: 2}, 3) == ([1, 3], [2, 4])
    assert split_poison({}, 3) == ([], [])


def test_a_suspect_runs_alone() -> None:
    assert may_submit(False, [], 2)
    assert may_submit(True, [], 2)  # a suspect may start on an empty pool
    assert may_submit(False, [False], 2)
    assert not may_submit(True, [False], 2)  # ...but not beside others
    assert not may_submit(False, [True], 2)  # ...and nothing joins it
    assert not may_submit(False, [False, False], 2)  # the pool is full


def test_tracker_counts_slots_and_pokes_when_one_frees() -> None:
    pokes = []
    tracker = Tracker(3, on_free=lambda: pokes.append(1))
    for job_id in (1, 2):
        tracker.add(SimpleNamespace(id=job_id))
    assert tracker.free == 1 and tracker.ids() == [1, 2] and 2 in tracker
    tracker.move(2, PUBLISH)
    tracker.move(1, POOL)
    assert [j.id for j in tracker.in_stages(PUBLISH)] == [2]
    tracker.release(2)
    tracker.release(2)  # twice is harmless and pokes once
    assert pokes == [1] and tracker.free == 2


def test_config_refuses_fork_and_sizes_capacity() -> None:
    with pytest.raises(ValueError, match="spawn or forkserver"):
        PipelineConfig(start_method="fork")
    with pytest.raises(ValueError, match="fork"):
        WorkerPool(1, "fork", None)
    assert PipelineConfig(workers=3).capacity == 6
    assert PipelineConfig(workers=3, mailbox_size=4).capacity == 4
    assert PipelineConfig(lease_s=30).heartbeat_s == 10


def test_variant_keys_follow_the_layout() -> None:
    import uuid

    post = uuid.UUID(int=1)
    assert variant_key(post, 7, "thumbnail", "jpeg") == f"posts/{post}/7/thumbnail.jpg"
    assert variant_key(post, 8, "medium", "webp") == f"posts/{post}/8/medium.webp"
    assert validate_key(variant_key(post, 7, "original", "avif")) == f"posts/{post}/7/original.avif"
    assert variant_key(post, 7, "thumbnail", "jpeg").startswith(post_variant_prefix(post)), "a post's purge covers it"


def test_tracker_tells_a_stale_claim_from_the_live_one() -> None:
    tracker = Tracker(2)
    first = SimpleNamespace(id=7)
    tracker.add(first)
    assert tracker.holds(first)
    tracker.release(7)
    again = SimpleNamespace(id=7)  # claimed again after being given back
    tracker.add(again)
    assert tracker.holds(again) and not tracker.holds(first)


def test_only_one_live_process_may_claim_a_data_dirs_old_leases(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from server.pipeline_ctx import instance_prefix, lock_data_dir

    prefix = instance_prefix(tmp_path)
    assert prefix == instance_prefix(tmp_path) and prefix.endswith("/")  # stable across restarts
    first = lock_data_dir(tmp_path)
    assert first is not None
    assert lock_data_dir(tmp_path) is None  # a second live holder would steal live leases
    first.close()  # what the kernel does when the holder dies, even by SIGKILL
    again = lock_data_dir(tmp_path)
    assert again is not None
    again.close()
