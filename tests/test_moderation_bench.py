"""The moderation figures of ``bench codec``: the arithmetic of the targets and which classifier is
measured (pure). The measuring itself runs real pools and the real model: ``imagepipe bench codec``."""

from __future__ import annotations

import math

from native_bench.moderation import EXTRA_RSS_MAX_MB, SHARE_MAX, ModerationFigures, default_classifier


def figures(off: float, on: float, without: float, with_: float) -> ModerationFigures:
    return ModerationFigures("nudenet", 5, 17.5, off, on, 17.5, without, with_)


def test_the_share_counts_everything_the_classifier_adds_to_a_12mp_transcode() -> None:
    f = figures(off=450.0, on=490.0, without=280.0, with_=330.0)
    assert f.added_12mp_cpu_ms == 40.0
    assert math.isclose(f.share_of_12mp, 40 / 450)  # not the classifier thread's 17.5 ms alone
    assert f.extra_rss_mb == 50.0
    share, rss = f.checks()
    assert (share.bound, rss.bound) == (SHARE_MAX, EXTRA_RSS_MAX_MB)
    assert share.ok is True and rss.ok is True
    slow = figures(off=100.0, on=120.0, without=280.0, with_=400.0)
    assert [c.ok for c in slow.checks()] == [False, False]
    doc = f.to_dict()
    assert doc["share_of_12mp_transcode"] == round(40 / 450, 4) and doc["extra_rss_mb"] == 50.0


def test_which_classifier_is_measured() -> None:
    assert default_classifier("off", "nudenet") is None
    assert default_classifier("pkg.mod:make", "off") == "pkg.mod:make"
    assert default_classifier(None, "pkg.mod:make") == "pkg.mod:make"
    assert default_classifier(None, "off") == "nudenet"  # the test extra installs it
