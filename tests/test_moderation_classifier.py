"""The classifier stage on its own: the real NudeNet model on the real corpus, its preprocessing
against the wheel's reference code, and the fail-safe paths (crash, hang, missing model)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import pyvips

from actors.moderation import (
    ModerationOptions, assess, decide, load_classifier, nudenet_licence, nudenet_model_path,
)
from actors.moderation._nudenet import FLAGGED, LABELS, model_input
from actors.moderation.policy import PUBLISH, REJECT, REVIEW
from conftest import corpus_file
from server.config import Settings

PHOTOS = ("camera-with-gps.jpg", "phone-3264x2448.jpg", "phone-landscape-4608x1976.jpg", "phone-4608x1976.heif")


def decoded(name: str, side: int = 600) -> pyvips.Image:
    """What the transcode hands the classifier: the decoded photo at a small size, in memory."""
    from actors.transcode.probe import read_header
    from actors.transcode.vips_transcode import decode_source
    from actors.transcode import TranscodeOptions

    source = corpus_file(name).read_bytes()
    header = read_header(source, TranscodeOptions())
    return decode_source(source, header, side).copy_memory()


@pytest.mark.parametrize("name", PHOTOS)
def test_every_corpus_photo_gets_a_score_per_label_and_none_is_flagged(name: str) -> None:
    result = assess(decoded(name), ModerationOptions("nudenet"))
    assert result.error is None, result.message
    assert result.model == "nudenet-320n" and result.cpu_ms > 0
    assert set(result.scores) == set(LABELS)
    assert all(0.0 <= v <= 1.0 for v in result.scores.values())
    assert result.score == max(result.scores[label] for label in FLAGGED)
    # Ordinary photos: no false positive at the default review threshold.
    assert result.score < Settings().moderation_review_score
    assert decide(result, Settings().moderation_review_score, Settings().moderation_reject_score).action == PUBLISH


def test_preprocessing_matches_the_wheels_reference_except_its_channel_swap() -> None:
    """The wheel's own (OpenCV) preprocessing of the same pixels, with its BGR mistake undone
    (notAI-tech/NudeNet#203), must give our tensor up to resampling differences. A wrong channel
    order, scale or padding side moves the mean difference far past the bound."""
    reference_read = pytest.importorskip("nudenet.nudenet")._read_image  # imports cv2: tests only
    for name in ("camera-with-gps.jpg", "phone-landscape-4608x1976.jpg"):
        full = pyvips.Image.new_from_file(str(corpus_file(name))).autorot()
        rgb = np.ndarray(buffer=full.write_to_memory(), dtype=np.uint8, shape=(full.height, full.width, 3))
        reference = reference_read(rgb[:, :, ::-1].copy(), 320)[0]  # cv2 callers hand it BGR
        ours = model_input(decoded(name))
        assert ours.shape == reference.shape == (1, 3, 320, 320)
        assert ours.dtype == np.float32 and 0.0 <= ours.min() and ours.max() <= 1.0
        assert np.abs(ours - reference[:, ::-1]).mean() < 0.02
        assert np.abs(ours - reference).mean() > 0.03  # ...and the swap really is there to undo


def test_the_model_is_found_and_loaded_without_importing_opencv_or_nudenet() -> None:
    code = (
        "import sys, pyvips\n"
        "from actors.moderation import assess, ModerationOptions\n"
        f"image = pyvips.Image.thumbnail({str(corpus_file('phone-3264x2448.jpg'))!r}, 600).copy_memory()\n"
        "result = assess(image, ModerationOptions('nudenet'))\n"
        "print(result.error, 'cv2' in sys.modules, 'nudenet' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["None", "False", "False"], out.stdout + out.stderr


def test_the_model_path_and_both_licence_statements_come_from_the_installed_wheel() -> None:
    path = nudenet_model_path()
    assert path is not None and path.name == "320n.onnx" and path.stat().st_size > 1_000_000
    facts = nudenet_licence()
    assert facts is not None
    assert "MIT" in facts.metadata_licence
    assert "AFFERO" in facts.licence_file_title.upper()


def test_the_model_is_loaded_once_per_process() -> None:
    assert load_classifier("nudenet") is load_classifier("nudenet")


def test_a_crashing_classifier_is_an_error_not_an_exception() -> None:
    result = assess(decoded("camera-with-gps.jpg"), ModerationOptions("moderation_doubles:crashing"))
    assert result.error == "classifier_failed" and "fell over" in result.message
    assert result.score is None
    assert decide(result, 0.5, 0.9).action == REVIEW


def test_a_classifier_returning_nonsense_is_an_error() -> None:
    result = assess(decoded("camera-with-gps.jpg"), ModerationOptions("moderation_doubles:bogus"))
    assert result.error == "classifier_failed"


@pytest.mark.parametrize("spec", ["moderation_doubles:broken_loader", "no_such_module:factory", "moderation_doubles:nothing"])
def test_a_classifier_that_cannot_load_is_unavailable(spec: str) -> None:
    result = assess(decoded("camera-with-gps.jpg"), ModerationOptions(spec))
    assert result.error == "classifier_unavailable" and result.score is None
    assert decide(result, 0.5, 0.9).action == REVIEW


def test_a_hanging_classifier_times_out_and_the_worker_does_not_start_another() -> None:
    code = (
        "import json, time, pyvips\n"
        "from actors.moderation import assess, ModerationOptions\n"
        "image = pyvips.Image.black(400, 300, bands=3).copy_memory()\n"
        "start = time.monotonic(); first = assess(image, ModerationOptions('moderation_doubles:hanging', 0.5))\n"
        "took = time.monotonic() - start\n"
        "second = assess(image, ModerationOptions('moderation_doubles:hanging', 0.5))\n"
        "print(json.dumps([first.error, took, second.error]))\n"
    )
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env)
    first, took, second = json.loads(out.stdout)
    assert first == "classifier_timeout" and took < 5
    assert second == "classifier_unavailable"  # the stuck thread is not joined by a second one


def test_the_policy_thresholds_are_inclusive_and_ordered() -> None:
    from actors.moderation import Assessment

    def at(score: float) -> str:
        return decide(Assessment("m", {"x": score}, score), 0.5, 0.9).action

    assert at(0.0) == PUBLISH and at(0.49) == PUBLISH
    assert at(0.5) == REVIEW and at(0.89) == REVIEW
    assert at(0.9) == REJECT and at(1.0) == REJECT
    assert decide(Assessment("m", {}, 0.0), 0.0, 1.0).action == REVIEW  # review score 0 holds everything
    assert decide(None, 0.0, 0.0).action == PUBLISH  # moderation off

