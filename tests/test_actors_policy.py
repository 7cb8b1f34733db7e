"""The pure supervision decisions, without an event loop."""

from __future__ import annotations

import pytest

from actors.runtime.policy import Backoff, RestartIntensity, restart_group, should_restart


@pytest.mark.parametrize(
    "restart, abnormal, expected",
    [
        ("permanent", False, True),
        ("permanent", True, True),
        ("transient", False, False),
        ("transient", True, True),
        ("temporary", False, False),
        ("temporary", True, False),
    ],
)
def test_should_restart_follows_otp_restart_types(restart, abnormal, expected) -> None:
    assert should_restart(restart, abnormal) is expected


def test_should_restart_rejects_unknown_type() -> None:
    with pytest.raises(ValueError):
        should_restart("sometimes", True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "strategy, failed, expected",
    [
        ("one_for_one", "b", ["b"]),
        ("one_for_all", "b", ["a", "b", "c", "d"]),
        ("rest_for_one", "b", ["b", "c", "d"]),
        ("rest_for_one", "a", ["a", "b", "c", "d"]),
        ("rest_for_one", "d", ["d"]),
    ],
)
def test_restart_group(strategy, failed, expected) -> None:
    assert restart_group(strategy, ["a", "b", "c", "d"], failed) == expected


def test_restart_group_rejects_unknown_child_and_strategy() -> None:
    with pytest.raises(ValueError):
        restart_group("one_for_one", ["a"], "z")
    with pytest.raises(ValueError):
        restart_group("all_for_none", ["a"], "a")  # type: ignore[arg-type]


def test_intensity_allows_max_restarts_then_overflows() -> None:
    intensity = RestartIntensity(max_restarts=3, max_seconds=5.0)
    assert [intensity.record(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert intensity.record(3.0) is False


def test_intensity_window_slides() -> None:
    intensity = RestartIntensity(max_restarts=2, max_seconds=5.0)
    assert intensity.record(0.0) and intensity.record(1.0)
    assert intensity.record(6.5)  # 0.0 and 1.0 left the window
    assert intensity.recent == 1
    assert intensity.record(7.0)
    assert not intensity.record(8.0)


def test_intensity_window_edge_is_inclusive_like_otp() -> None:
    intensity = RestartIntensity(max_restarts=1, max_seconds=5.0)
    assert intensity.record(0.0)
    assert not intensity.record(5.0)  # exactly max_seconds apart still counts
    fresh = RestartIntensity(max_restarts=1, max_seconds=5.0)
    assert fresh.record(0.0) and fresh.record(5.01)


def test_zero_intensity_escalates_on_first_crash() -> None:
    assert RestartIntensity(max_restarts=0, max_seconds=1.0).record(0.0) is False


def test_backoff_doubles_and_caps() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, reset_after=10.0)
    backoff.up(0.0)
    delays = [backoff.next_delay(0.5 + i * 0.01) for i in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_resets_after_a_quiet_period_of_uptime() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, reset_after=10.0)
    backoff.up(0.0)
    assert backoff.next_delay(1.0) == pytest.approx(0.1)
    backoff.up(1.1)
    assert backoff.next_delay(2.0) == pytest.approx(0.2)  # crashed again soon: keeps growing
    backoff.up(2.2)
    assert backoff.next_delay(12.2) == pytest.approx(0.1)  # up for 10s: healthy again


def test_backoff_never_overflows() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, reset_after=1.0)
    for _ in range(5000):
        delay = backoff.next_delay(0.0)
    assert delay == 30.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: Backoff(-1.0, 1.0, 1.0),
        lambda: Backoff(2.0, 1.0, 1.0),
        lambda: Backoff(0.1, 1.0, 0.0),
        lambda: RestartIntensity(-1, 1.0),
        lambda: RestartIntensity(1, 0.0),
    ],
)
def test_bad_numbers_are_refused(make) -> None:
    with pytest.raises(ValueError):
        make()
