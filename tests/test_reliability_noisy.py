"""Issue 13's must-show, through HTTP on embedded PostgreSQL: while one account has 60 jobs queued,
another account's single upload is published within twice its time on an idle server plus one
transcode. (A ratio within one run on one machine, not a timed target: ``bench pipeline
--noisy-neighbour`` reports the same figures.)

"One transcode" is one job as the pipeline runs it under that backlog: the backlog's drain time
divided by the jobs it held, measured right after. A transcode timed alone leaves out what every
job ahead costs besides its pixels (fetching the source, writing and fsyncing three variants, the
commit), which on a busy 2-core machine is as long as the transcode of a small photo."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from actors.transcode import transcode
from conftest import corpus_file
from serverproc import ServerProcess, free_port, server_env
from test_pipeline_hooks import HttpApi, make_small_jpeg, wait_for

pytestmark = pytest.mark.fault
NOISY_JOBS = 60


def _publish_time(api: HttpApi, photo: bytes) -> float:
    """Seconds from ``upload/complete`` answering to the post being seen published."""
    post_id = api.complete(api.put_source(photo))
    completed = time.monotonic()
    wait_for(lambda: api.post(post_id)["status"] == "published", 120, 0.01)
    return time.monotonic() - completed


@pytest.mark.timeout(600)
def test_a_backlog_of_one_account_does_not_starve_another(tmp_path: Path) -> None:
    photo = make_small_jpeg(corpus_file("phone-3264x2448.jpg"), 1600)
    one_transcode = min(_timed(lambda: transcode(photo)) for _ in range(3))
    data_dir = tmp_path / "data"
    # The per-minute upload cap is a defence of its own (tested with the accounts rules); lifted here,
    # where one account must get 60 jobs queued at once for fair claiming to be what is shown.
    env = server_env(IMAGEPIPE_WORKERS="1", IMAGEPIPE_MAX_OPEN_UPLOADS_PER_USER=str(NOISY_JOBS + 10),
                     IMAGEPIPE_UPLOADS_PER_USER_PER_MIN="1000")
    with ServerProcess(data_dir, free_port(), env).start() as server:
        noisy = HttpApi(server.base_url).signup(data_dir, "noisy")
        quiet = HttpApi(server.base_url).signup(data_dir, "quiet")
        _publish_time(quiet, photo + b"warm")  # the pool's first image pays its imports
        idle = statistics.median(_publish_time(quiet, photo + bytes([i])) for i in range(3))

        backlog = noisy.upload_many([photo + i.to_bytes(4, "big") for i in range(NOISY_JOBS)])
        queued = NOISY_JOBS - sum(v for k, v in noisy.statuses(backlog).items() if k != "processing")
        busy = _publish_time(quiet, photo + b"late")
        left = sum(v for k, v in noisy.statuses(backlog).items() if k == "processing")
        drain_start = time.monotonic()
        wait_for(lambda: noisy.statuses(backlog) == {"published": NOISY_JOBS}, 300, 0.05)
        one_job = (time.monotonic() - drain_start) / max(left, 1)
        print(f"\n  idle {idle:.3f}s, one transcode {one_transcode:.3f}s alone, {one_job:.3f}s per job under the "
              f"backlog; with {queued} of the other account's jobs waiting {busy:.3f}s ({left} still waiting "
              f"when it was published)")
        assert queued >= NOISY_JOBS // 2, "the other account's backlog was there when the upload came"
        assert left >= NOISY_JOBS // 4, "and was still there when it was published"
        assert busy <= 2 * idle + one_job
        assert server.terminate() == 0


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    fn()
    return time.monotonic() - start
