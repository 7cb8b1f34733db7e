"""Password strength: zxcvbn's estimate of how many guesses a password takes, not our own list.

zxcvbn (Dropbox's estimator; the maintained Python port ``zxcvbn`` on PyPI, MIT, pure Python so it
freezes into the executable) knows ~30k common passwords, English words, names, keyboard walks,
repeats, sequences and dates, and is told the account's own email and username so "alice2024!" is
weak for alice. A score of ``password_min_score`` (default 3, "safely unguessable" against online
and slow offline attacks) or more is required when a password is chosen: at sign-up and reset.
Estimating a long random password costs ~100 ms of CPU, so it runs off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Sequence

from zxcvbn import zxcvbn

from ..http import ApiError


def weakness(password: str, user_inputs: Sequence[str], min_score: int) -> ApiError | None:
    """The 400 ``weak_password`` to answer, or None if the password is strong enough. Pure."""
    inputs = [part for value in user_inputs for part in (value, value.split("@")[0]) if part]
    result = zxcvbn(password, user_inputs=inputs)
    if result["score"] >= min_score:
        return None
    feedback = result.get("feedback") or {}
    warning = feedback.get("warning") or "this password is too easy to guess"
    return ApiError(
        400, "weak_password", f"password is too weak: {warning}",
        details={"field": "password", "score": result["score"], "min_score": min_score,
                 "suggestions": list(feedback.get("suggestions") or [])},
    )


async def require_strong(password: str, user_inputs: Sequence[str], min_score: int) -> None:
    problem = await asyncio.to_thread(weakness, password, user_inputs, min_score)
    if problem is not None:
        raise problem
