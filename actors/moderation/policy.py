"""The moderation policy as a pure function: what happens to a post given its assessment.

Thresholds compare with ``>=``: a review score of 0 holds every upload, a reject score of 1 rejects
only certainty. No assessment to trust (the classifier crashed, hung or is missing) holds the post
for a human: failing safe means never publishing what nobody looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PUBLISH, REVIEW, REJECT = "publish", "review", "reject"
REJECT_CODE = "rejected_by_moderation"


@dataclass(frozen=True)
class Decision:
    """What happens to a post; carries the assessment so the publisher's transaction can keep the
    scores (``holds`` / ``rejects`` are all the pipeline itself reads)."""

    action: str  # publish | review | reject
    why: str  # classifier | classifier_error | off
    message: str = ""
    assessment: Any = None

    @property
    def holds(self) -> bool:
        return self.action == REVIEW

    @property
    def rejects(self) -> bool:
        return self.action == REJECT

    @property
    def code(self) -> str:
        return REJECT_CODE


def decide(assessment: Any, review_score: float, reject_score: float) -> Decision:
    """``assessment`` is an ``Assessment`` or None (moderation off: publish)."""
    if assessment is None:
        return Decision(PUBLISH, "off")
    if assessment.error or assessment.score is None:
        return Decision(REVIEW, "classifier_error",
                        f"the classifier gave no answer ({assessment.error}): held for a person to look at",
                        assessment)
    if assessment.score >= reject_score:
        return Decision(REJECT, "classifier",
                        f"the image was rejected by automatic moderation (score {assessment.score:.2f})", assessment)
    if assessment.score >= review_score:
        return Decision(REVIEW, "classifier", f"held for review (score {assessment.score:.2f})", assessment)
    return Decision(PUBLISH, "classifier", "", assessment)


def moderate_result(result: Any, review_score: float, reject_score: float) -> Decision:
    """``PipelineConfig.moderate``: the decision on a transcode result. A result without an
    assessment while moderation is on (a transcode function that skipped it) is held, not published."""
    assessment = getattr(result, "moderation", None)
    if assessment is None:
        from ._stage import ERROR_UNAVAILABLE, Assessment

        assessment = Assessment("none", error=ERROR_UNAVAILABLE, message="the transcode returned no assessment")
    return decide(assessment, review_score, reject_score)
