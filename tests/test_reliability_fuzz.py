"""Decoder fuzzing at CI size: 3,000 mutated real photos (JPEG, PNG, WebP, GIF, HEIF, AVIF) through
the real transcode in the real WorkerPool, and the fuzzer's own handling of a crashing and a
hanging input. ``make fuzz N=1000000`` is the long run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import corpus_file
from reliability.fuzz import Fuzzer, Input, inputs
from reliability.fuzzwork import CRASH_MARKER, HANG_MARKER, crash_or_hang_on_marker
from reliability.mutate import mutate, sniff_kind
from reliability.seeds import build_seeds, by_kind


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    corpus_file("phone-3264x2448.jpg")
    return build_seeds()


def test_mutations_are_seeded_and_keep_to_their_family(seeds: dict[str, bytes]) -> None:
    import random

    kinds = by_kind(seeds)
    assert set(kinds) == {"jpeg", "png", "webp", "gif", "heif", "avif"}
    first = [mutate(seeds[name], random.Random(f"1:{name}"), kinds) for name in sorted(seeds)]
    again = [mutate(seeds[name], random.Random(f"1:{name}"), kinds) for name in sorted(seeds)]
    assert first == again
    assert all(data != seeds[name] for (data, _), name in zip(first, sorted(seeds)))


@pytest.mark.timeout(900)
def test_3000_mutated_photos_end_as_a_result_or_a_reason(seeds: dict[str, bytes], tmp_path: Path) -> None:
    tally = asyncio.run(Fuzzer(2, 20.0, tmp_path).run(inputs(3000, 1, seeds)))
    print(tally.as_dict(20.0))
    assert tally.inputs == 3000
    assert tally.findings == [], tally.findings
    assert tally.outcomes["published"] > 0 and tally.outcomes["rejected:image_corrupt"] > 0
    assert {k for k in tally.by_kind if "(" not in k} == {"jpeg", "png", "webp", "gif", "heif", "avif"}
    assert tally.max_seconds < 20.0 and 0 < tally.max_rss_kb < 3 * 1024 * 1024


def test_a_crashing_and_a_hanging_input_are_kept_and_the_run_goes_on(seeds: dict[str, bytes], tmp_path: Path) -> None:
    photo = seeds["jpeg-baseline.jpg"]
    items = [Input(i, photo + marker, "jpeg-baseline.jpg", "marker")
             for i, marker in enumerate([b"", CRASH_MARKER, b"1", HANG_MARKER, b"2", b"3"])]
    fuzzer = Fuzzer(2, 3.0, tmp_path, function=crash_or_hang_on_marker)
    tally = asyncio.run(fuzzer.run(iter(items)))
    assert tally.inputs == 6
    assert tally.outcomes == {"published": 4, "crash": 1, "hang": 1}, tally.outcomes
    kept = sorted(p.name.split("-")[0] for p in tmp_path.iterdir() if not p.name.endswith(".txt"))
    assert kept == ["crash", "hang"]
    assert all(sniff_kind(p.read_bytes()) == "jpeg" for p in tmp_path.iterdir() if not p.name.endswith(".txt"))
