"""One image through the classifier, inside the pool worker, within a time limit.

The classifier runs on a helper thread that the worker waits for at most ``timeout_s``: a model
that raises, or never returns, must not fail the transcode nor hold the worker past the job's own
timeout (which would kill the whole pool). Either way the answer is an ``Assessment`` carrying an
error, and the policy holds such a post for a human.

One helper thread per worker process, for its whole life, rather than one per image: every thread
that allocates gets a malloc arena of its own, and a thread per image made the worker's resident
memory grow by tens of MB. A call that never returned keeps that thread; while it does, the worker
does not queue another (nothing would run it) and answers at once that the classifier is
unavailable, until the pool's periodic recycling replaces the worker.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from ._classifier import ClassifierUnavailable, load_classifier

# The smallest side the classifier should see: the model input (NudeNet: 320). The transcode hands
# in the smallest variant it made that is at least this large, so the resize here is cheap.
MIN_SIDE = 320
ERROR_FAILED = "classifier_failed"
ERROR_TIMEOUT = "classifier_timeout"
ERROR_UNAVAILABLE = "classifier_unavailable"


@dataclass(frozen=True)
class ModerationOptions:
    """What the worker needs to assess an image (plain values: they cross the process boundary)."""

    classifier: str = "nudenet"
    timeout_s: float = 10.0
    min_side: int = MIN_SIDE


@dataclass(frozen=True)
class Assessment:
    """The classifier's answer for one image. ``score`` is the highest score of a flagged label;
    ``error`` is set (and ``score`` None) when there is no answer to trust."""

    model: str
    scores: Mapping[str, float] = field(default_factory=dict)
    score: float | None = None
    error: str | None = None
    message: str = ""
    cpu_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "scores": dict(self.scores), "score": self.score}
        if self.error:
            body["error"] = {"code": self.error, "message": self.message}
        return body


class _Call:
    """One image handed to the helper thread; ``done`` is set when its ``result`` is there."""

    def __init__(self, image: Any, options: ModerationOptions) -> None:
        self.image, self.options = image, options
        self.done = threading.Event()
        self.classifier: Any = None
        self.result: Assessment | None = None

    def run(self) -> None:
        start = time.thread_time()
        try:
            self.classifier = load_classifier(self.options.classifier)
            scores = _clean(self.classifier.scores(self.image))
            flagged = [scores[label] for label in self.classifier.flagged if label in scores]
            found = Assessment(getattr(self.classifier, "name", self.options.classifier), scores,
                               max(flagged, default=0.0))
        except ClassifierUnavailable as exc:
            found = Assessment(self.options.classifier, error=ERROR_UNAVAILABLE, message=str(exc)[:300])
        except BaseException as exc:  # noqa: BLE001 - a model's bug must not fail the transcode
            found = Assessment(self.options.classifier, error=ERROR_FAILED,
                               message=f"{exc.__class__.__name__}: {str(exc)[:300]}")
        cpu_ms = round((time.thread_time() - start) * 1000, 2)
        self.result = Assessment(found.model, found.scores, found.score, found.error, found.message, cpu_ms)
        self.done.set()


class _Helper:
    """The process's classifier thread and the call it is on."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self.current: _Call | None = None
        self.pid = os.getpid()
        threading.Thread(target=self._serve, name="classifier", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self.calls.get().run()


_helper: _Helper | None = None
_helper_lock = threading.Lock()


def _the_helper() -> _Helper:
    global _helper
    with _helper_lock:
        if _helper is None or _helper.pid != os.getpid():  # threads do not survive a fork
            _helper = _Helper()
        return _helper


def _clean(scores: Mapping[str, Any]) -> dict[str, float]:
    """Scores as plain floats clamped to 0..1; anything else is the classifier's bug."""
    out: dict[str, float] = {}
    for label, value in scores.items():
        number = float(value)
        if number != number:  # NaN
            raise ValueError(f"score of {label!r} is not a number")
        out[str(label)] = min(max(number, 0.0), 1.0)
    return out


def assess(image: Any, options: ModerationOptions) -> Assessment:
    """Scores for ``image``; never raises (every failure is an Assessment with ``error``)."""
    helper = _the_helper()
    if helper.current is not None and not helper.current.done.is_set():
        return Assessment(options.classifier, error=ERROR_UNAVAILABLE,
                          message="an earlier classification in this worker has not returned")
    call = helper.current = _Call(image, options)
    helper.calls.put(call)
    if not call.done.wait(options.timeout_s):
        cancel = getattr(call.classifier, "cancel", None)
        if callable(cancel):
            try:
                cancel()
            except Exception:  # noqa: BLE001 - best effort; the call is abandoned either way
                pass
        return Assessment(options.classifier, error=ERROR_TIMEOUT,
                          message=f"the classifier did not answer within {options.timeout_s:g}s")
    assert call.result is not None
    return call.result
