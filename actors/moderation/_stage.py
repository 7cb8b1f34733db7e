"""One image through the classifier, inside the pool worker, within a time limit.

The classifier runs on a helper thread that the worker waits for at most ``timeout_s``: a model
that raises, or never returns, must not fail the transcode nor hold the worker past the job's own
timeout (which would kill the whole pool). Either way the answer is an ``Assessment`` carrying an
error, and the policy holds such a post for a human. A thread that never returned is remembered:
while it lives the worker does not start another (at most one stuck thread per process), and the
pool's periodic recycling replaces the worker.
"""

from __future__ import annotations

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


_stuck: threading.Thread | None = None


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
    global _stuck
    if _stuck is not None:
        if _stuck.is_alive():
            return Assessment(options.classifier, error=ERROR_UNAVAILABLE,
                              message="an earlier classification in this worker has not returned")
        _stuck = None
    box: dict[str, Any] = {}

    def run() -> None:
        start = time.thread_time()
        try:
            classifier = load_classifier(options.classifier)
            box["classifier"] = classifier
            scores = _clean(classifier.scores(image))
            flagged = [scores[label] for label in classifier.flagged if label in scores]
            box["result"] = Assessment(
                getattr(classifier, "name", options.classifier), scores, max(flagged, default=0.0))
        except ClassifierUnavailable as exc:
            box["result"] = Assessment(options.classifier, error=ERROR_UNAVAILABLE, message=str(exc)[:300])
        except BaseException as exc:  # noqa: BLE001 - a model's bug must not fail the transcode
            box["result"] = Assessment(options.classifier, error=ERROR_FAILED,
                                       message=f"{exc.__class__.__name__}: {str(exc)[:300]}")
        box["cpu_ms"] = (time.thread_time() - start) * 1000

    worker = threading.Thread(target=run, name="classifier", daemon=True)
    worker.start()
    worker.join(options.timeout_s)
    if worker.is_alive():
        _stuck = worker
        cancel = getattr(box.get("classifier"), "cancel", None)
        if callable(cancel):
            try:
                cancel()
            except Exception:  # noqa: BLE001 - best effort; the thread is abandoned either way
                pass
        return Assessment(options.classifier, error=ERROR_TIMEOUT,
                          message=f"the classifier did not answer within {options.timeout_s:g}s")
    result: Assessment = box["result"]
    return Assessment(result.model, result.scores, result.score, result.error, result.message,
                      round(box.get("cpu_ms", 0.0), 2))
