"""The default model's file and licence facts, read from the installed ``nudenet`` distribution
without importing it: ``nudenet/__init__.py`` imports OpenCV (``cv2``) at once, which we neither
need nor want in every pool worker (about 60 MB of shared libraries for a resize we do in libvips).

``importlib.util.find_spec`` locates a top-level package without executing it, and
``importlib.metadata`` reads the wheel's METADATA and licence file the same way.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

DISTRIBUTION = "nudenet"
MODEL_FILE = "320n.onnx"
# Set to a 320n.onnx anywhere on disk to run without the nudenet wheel installed.
MODEL_ENV = "IMAGEPIPE_NUDENET_MODEL"


def nudenet_model_path() -> Path | None:
    """The 320n.onnx file to load, or None when neither the environment nor an install has one.

    In the frozen executable build.spec puts the file at ``nudenet/320n.onnx`` under the
    extraction dir (``sys._MEIPASS``), the same relative place as in site-packages."""
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override) if Path(override).is_file() else None
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        bundled = Path(frozen_root) / DISTRIBUTION / MODEL_FILE
        if bundled.is_file():
            return bundled
    try:
        spec = importlib.util.find_spec(DISTRIBUTION)  # finds, does not import
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class LicenceFacts:
    """What the installed wheel says about its licence, in its own two places."""

    version: str
    metadata_licence: str  # the METADATA ``License:`` field and classifiers
    licence_file_title: str  # the first line of the LICENSE file shipped in the wheel


def nudenet_licence() -> LicenceFacts | None:
    """Both statements of the installed nudenet wheel (they disagree: MIT vs AGPL-3.0 text)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    meta = dist.metadata
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    stated = "; ".join(filter(None, [meta.get("License"), *classifiers]))
    title = ""
    for file in dist.files or []:
        if file.name.upper().startswith("LICENSE"):
            text = file.locate().read_text(encoding="utf-8", errors="replace")
            title = next((line.strip() for line in text.splitlines() if line.strip()), "")
            break
    return LicenceFacts(version=dist.version, metadata_licence=stated, licence_file_title=title)
