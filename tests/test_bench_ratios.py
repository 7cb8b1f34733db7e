"""The arithmetic of an interleaved run, on made-up CPU times."""

from __future__ import annotations

import pytest

from native_bench.ratios import VS_FLOOR_MAX, VS_SHARP_MAX, medians, paired, targets


def test_ratios_pair_calls_of_the_same_round() -> None:
    # The second round ran on a busy machine: both backends slowed, their ratio did not.
    cpu = {"vips": {"a.jpg": [1.0, 2.0, 1.1]}, "floor": {"a.jpg": [0.98, 1.96, 1.0]}}
    [r] = paired(cpu, "vips", "floor")
    assert r.rounds == 3
    assert r.median == pytest.approx(2.0 / 1.96)
    assert (r.low, r.high) == (pytest.approx(1.0 / 0.98), pytest.approx(1.1))
    assert medians(cpu)["vips"]["a.jpg"] == 1.1


def test_targets_judge_the_worst_image_and_sharp_only_on_jpegs() -> None:
    cpu = {
        "vips": {"a.jpg": [1.0], "b.jpg": [1.0], "c.heif": [1.0]},
        "floor": {"a.jpg": [1.0], "b.jpg": [0.95], "c.heif": [0.99]},
        "sharp": {"a.jpg": [1.1], "b.jpg": [1.04], "c.heif": [0.5]},  # 0.5: a HEIF sharp never decoded
    }
    by_name = {t.name: t for t in targets(cpu)}
    floor, sharp = by_name["vips_vs_floor"], by_name["vips_vs_sharp"]
    assert floor.worst.image == "b.jpg" and floor.ok is (1 / 0.95 <= VS_FLOOR_MAX)
    assert floor.ok is False
    assert sharp.worst.image == "b.jpg" and sharp.ok is (1 / 1.04 <= VS_SHARP_MAX)
    assert sharp.ok is True


def test_no_target_without_the_backends_it_compares() -> None:
    assert targets({"vips": {"a.jpg": [1.0]}}) == []
    [only] = targets({"vips": {"a.jpg": [1.0]}, "sharp": {"x.heif": [1.0]}})
    assert only.worst is None and only.ok is None
