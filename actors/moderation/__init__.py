"""Automatic image moderation, run inside the pool worker on the already decoded image.

Importable without aiohttp or asyncpg (and without onnxruntime until a model is loaded). What it offers:

- ``Classifier``: the small interface a model implements, ``scores(image) -> {label: 0..1}`` plus
  the labels that count (``flagged``), so operators can plug in another model (``module:factory``).
- ``load_classifier`` / ``preload``: one instance per worker process, loaded once, not per image.
- ``assess``: run the classifier on one image within a time limit; a crash or a hang becomes an
  ``Assessment`` with an ``error`` (the caller then holds the post for review), never an exception.
- ``decide``: the policy, pure: publish, hold for review or reject, from an assessment and two scores;
  ``moderate_result`` applies it to a transcode result (the pipeline's ``moderate`` hook).
- ``nudenet_model_path`` / ``nudenet_licence``: where the default model sits and what its wheel says
  about its licence, found without importing ``nudenet`` (which would import OpenCV).
"""

from ._classifier import (
    Classifier, ClassifierUnavailable, is_valid_spec, load_classifier, preload, unavailable_reason,
)
from ._model_files import nudenet_licence, nudenet_model_path
from ._stage import Assessment, ModerationOptions, assess
from .policy import PUBLISH, REJECT, REVIEW, Decision, decide, moderate_result

__all__ = [
    "PUBLISH",
    "REJECT",
    "REVIEW",
    "Assessment",
    "Classifier",
    "ClassifierUnavailable",
    "Decision",
    "ModerationOptions",
    "assess",
    "decide",
    "is_valid_spec",
    "load_classifier",
    "moderate_result",
    "nudenet_licence",
    "nudenet_model_path",
    "preload",
    "unavailable_reason",
]
