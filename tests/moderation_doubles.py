"""Classifiers that misbehave on purpose, plugged in through ``moderation = module:factory``
(no tests here). They live under tests/ so spawned pool workers can import them by name, the way an
operator's own classifier module would be imported."""

from __future__ import annotations

import time
from typing import Any, Mapping


class _Base:
    flagged = frozenset({"explicit"})

    def __init__(self, name: str) -> None:
        self.name = name


class Crashing(_Base):
    def scores(self, image: Any) -> Mapping[str, float]:
        raise RuntimeError("the model fell over")


class Hanging(_Base):
    """Never answers, like a model stuck in a native call (sleeping releases the GIL, as one would)."""

    def scores(self, image: Any) -> Mapping[str, float]:
        while True:
            time.sleep(0.05)


class Explicit(_Base):
    """Scores every picture as certain: exercises the reject path end to end."""

    def scores(self, image: Any) -> Mapping[str, float]:
        return {"explicit": 1.0, "image_width": min(1.0, image.width / 10_000)}


class Bogus(_Base):
    def scores(self, image: Any) -> Mapping[str, float]:
        return {"explicit": float("nan")}


def crashing() -> Crashing:
    return Crashing("crashing")


def hanging() -> Hanging:
    return Hanging("hanging")


def explicit() -> Explicit:
    return Explicit("explicit")


def bogus() -> Bogus:
    return Bogus("bogus")


def broken_loader() -> None:
    raise OSError("model file is unreadable")


class Dying(_Base):
    """Takes its worker process down, as a segfault in a native model would."""

    def scores(self, image: Any) -> Mapping[str, float]:
        import os

        os._exit(70)


def dying() -> Dying:
    return Dying("dying")
