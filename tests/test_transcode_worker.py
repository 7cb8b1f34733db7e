"""Transcoding inside real spawned pool workers prepared by worker_init (cache off, loaders
restricted, address space capped), as the pipeline runs it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

import psutil
import pyvips
import pytest

import images
from actors.transcode import TranscodeError, TranscodeResult, transcode, worker_init
from conftest import corpus_file

MEMORY_LIMIT = 1024**3  # tighter than the default, to show a real photo still fits


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=worker_init, initargs=(1, MEMORY_LIMIT)) as executor:
        yield executor


def test_phone_photo_transcodes_under_the_memory_cap(pool) -> None:
    source = corpus_file("phone-landscape-4608x1976.jpg").read_bytes()
    status, sizes, _ = pool.submit(images.transcode_in_worker, source).result(timeout=60)
    assert status == "ok"
    assert sizes == [("thumbnail", 150, 64), ("medium", 600, 257), ("original", 4000, 1715)]


def test_heif_photo_transcodes_under_the_memory_cap(pool) -> None:
    source = corpus_file("phone-4608x1976.heif").read_bytes()
    status, sizes, _ = pool.submit(images.transcode_in_worker, source).result(timeout=60)
    assert status == "ok" and sizes[-1][0] == "original"


def test_png_bomb_is_refused_without_allocating_its_pixels(pool) -> None:
    bomb = images.png_bomb()
    _, _, rss_before = pool.submit(images.transcode_in_worker, images.jpeg(images.upright())).result(timeout=60)
    status, code, rss_after = pool.submit(images.transcode_in_worker, bomb).result(timeout=60)
    assert (status, code) == ("error", "image_too_large")
    assert rss_after - rss_before < 50 * 1024  # KiB: nowhere near the 900 MB of pixels


def test_only_the_accepted_loaders_run_in_a_worker(pool) -> None:
    picture = pyvips.Image.black(64, 48, bands=3) + [10, 200, 30]
    picture = picture.cast("uchar").copy(interpretation="srgb")
    assert pool.submit(images.load_in_worker, picture.tiffsave_buffer()).result(timeout=60) == "blocked"
    assert pool.submit(images.load_in_worker, picture.pngsave_buffer()).result(timeout=60).startswith("pngload")
    assert pool.submit(images.load_in_worker, picture.jpegsave_buffer()).result(timeout=60).startswith("jpegload")


def test_worker_init_turns_the_cache_off_and_lowers_priority(pool) -> None:
    cache_max, niceness, watchdog = pool.submit(images.worker_state).result(timeout=60)
    assert cache_max == 0
    assert niceness > os.nice(0)  # below the parent's priority, so the API wins contended cores
    assert watchdog


def test_worker_exits_when_its_parent_is_killed() -> None:
    """SIGKILL the process that owns the pool: its worker must not live on as an orphan."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    owner = context.Process(target=images.own_a_pool, args=(sender,))
    owner.start()
    try:
        assert receiver.poll(60), "the pool owner never reported its worker"
        worker = psutil.Process(receiver.recv())
        os.kill(owner.pid, signal.SIGKILL)
        owner.join(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.1)
        assert not _alive(worker), "the orphaned worker is still running"
    finally:
        if owner.is_alive():
            owner.kill()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_errors_and_results_cross_the_process_boundary(pool) -> None:
    with pytest.raises(TranscodeError) as err:
        pool.submit(transcode, images.png_bomb()).result(timeout=60)
    assert err.value.code == "image_too_large" and err.value.final
    result = pool.submit(transcode, images.jpeg(images.upright())).result(timeout=60)
    assert isinstance(result, TranscodeResult)
    assert [r.variant for r in result.renditions] == ["thumbnail", "medium", "original"]
