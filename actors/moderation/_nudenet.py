"""NudeNet's ``320n`` detector (a YOLOv8-style ONNX model) on onnxruntime, with our own
preprocessing in libvips and numpy instead of the wheel's OpenCV code.

What the wheel's ``_read_image`` does, and what we do instead (the test compares the two):
pad the picture at its right/bottom with black to a square, resize to 320x320, scale to 0..1,
channels first. Here: shrink the already decoded image so its longer side is 320 (libvips), embed it
at the top left of a black 320x320 canvas (the same square padding, scaled), then numpy.
Channel order: RGB, as the model was trained (Ultralytics YOLOv8). nudenet 3.4.2's own code hands
the model BGR by mistake (``cv2.imread`` gives BGR, ``COLOR_RGBA2BGR`` swaps it to RGB, then
``blobFromImage(swapRB=True)`` swaps it back; upstream issue notAI-tech/NudeNet#203, where the
previous release was RGB), so we match the wheel's pipeline in everything but that swap.

The output is ``(1, 4 + 18, anchors)``: a box and 18 class scores per anchor. A label's score is its
highest score over all anchors; the wheel's own threshold (0.2) and non-maximum suppression only
drop boxes, never change that maximum, so they are not needed for a score per label.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

import numpy as np
import pyvips

from ._classifier import ClassifierUnavailable
from ._model_files import nudenet_model_path

INPUT_SIDE = 320
LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
# Explicit nudity: what a general photo service keeps off its public pages. A bare male chest, a
# belly or a face is reported to the reviewer but decides nothing.
FLAGGED = frozenset({
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
})


def model_input(image: pyvips.Image, side: int = INPUT_SIDE) -> np.ndarray:
    """``(1, 3, side, side)`` float32 RGB in 0..1: the picture scaled so its longer side is ``side``
    (up or down, as the wheel does), black padding right and bottom."""
    scaled = image.thumbnail_image(side, height=side, size="both", no_rotate=True)
    if scaled.bands != 3 or scaled.format != "uchar":  # the transcode hands sRGB uchar; be sure
        scaled = scaled.colourspace("srgb").cast("uchar")[:3]
    square = scaled.embed(0, 0, side, side, extend="black")
    pixels = np.frombuffer(square.write_to_memory(), dtype=np.uint8).reshape(side, side, 3)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis], dtype=np.float32) / np.float32(255.0)


def label_scores(output: np.ndarray) -> dict[str, float]:
    """Per label, the highest class score over every anchor of a ``(1, 22, anchors)`` output."""
    classes = output[0, 4:, :]
    if classes.shape[0] != len(LABELS):
        raise ValueError(f"model gave {classes.shape[0]} classes, expected {len(LABELS)}")
    best = classes.max(axis=1)
    return {label: round(float(min(max(value, 0.0), 1.0)), 4) for label, value in zip(LABELS, best)}


class NudeNetClassifier:
    """One onnxruntime session per process, single-threaded: the pool already runs one worker per
    core, and more threads would only fight over them."""

    name = "nudenet-320n"
    flagged = FLAGGED

    def __init__(self, model_path: str | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise ClassifierUnavailable(
                "moderation = nudenet needs onnxruntime: install imagepipe[moderation]") from exc
        path = model_path or nudenet_model_path()
        if path is None:
            raise ClassifierUnavailable(
                "the NudeNet model (320n.onnx) was not found: install imagepipe[moderation] "
                "or set IMAGEPIPE_NUDENET_MODEL to the file")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # The arena keeps its peak allocation for the process's life; one small input does not need it.
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3  # warnings about unused initializers are not the operator's concern
        self._ort = onnxruntime
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._run_options: Any = None
        self._guard = threading.Lock()

    def scores(self, image: Any) -> Mapping[str, float]:
        tensor = model_input(image)
        run_options = self._ort.RunOptions()
        with self._guard:
            self._run_options = run_options
        try:
            (output, *_) = self._session.run(None, {self._input: tensor}, run_options)
        finally:
            with self._guard:
                self._run_options = None
        return label_scores(output)

    def cancel(self) -> None:
        """Ask a running inference to stop (called from another thread when it ran out of time)."""
        with self._guard:
            if self._run_options is not None:
                self._run_options.terminate = True
