"""The classifier interface and the per-process loader.

A classifier is anything with ``name``, ``flagged`` and ``scores(image)``. ``image`` is the upright,
8-bit, 3-band sRGB ``pyvips.Image`` the transcode already decoded (at a small size, never the full
photo); each implementation resizes it to what its model wants. Scores are 0..1 per label; the
policy looks at the highest score among ``flagged`` labels, so a model may report more labels than
count (NudeNet reports faces and feet too) and the post keeps them all for the reviewer.

``moderation = nudenet`` picks the built-in NudeNet detector; ``package.module:factory`` imports
``factory`` and calls it with no arguments, so an operator can plug in another model without
changing imagepipe.
"""

from __future__ import annotations

import importlib
import re
import threading
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

BUILTIN = ("nudenet",)
_IMPORT_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class ClassifierUnavailable(RuntimeError):
    """The configured classifier cannot be loaded here (extra not installed, model file missing)."""


@runtime_checkable
class Classifier(Protocol):
    name: str
    flagged: frozenset[str]

    def scores(self, image: Any) -> Mapping[str, float]: ...


def is_valid_spec(spec: str) -> bool:
    """A built-in name or ``module:factory``; pure, for config validation."""
    return spec in BUILTIN or bool(_IMPORT_SPEC.match(spec))


def _builtin(name: str) -> Callable[[], Classifier]:
    if name == "nudenet":
        from ._nudenet import NudeNetClassifier

        return NudeNetClassifier
    raise ClassifierUnavailable(f"no built-in classifier {name!r}")


def _factory(spec: str) -> Callable[[], Classifier]:
    if spec in BUILTIN:
        return _builtin(spec)
    if not _IMPORT_SPEC.match(spec):
        raise ClassifierUnavailable(f"{spec!r} is neither {', '.join(BUILTIN)} nor module:factory")
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ClassifierUnavailable(f"cannot import {module_name}: {exc}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ClassifierUnavailable(f"{spec}: {attr} is not a callable in {module_name}")
    return factory


def unavailable_reason(spec: str) -> str | None:
    """Why ``spec`` could not load in a worker, found without loading it (no model, no import of
    the operator's module), or None. The server checks this before it starts a pool."""
    if spec == "nudenet":
        import importlib.util

        from ._model_files import MODEL_ENV, nudenet_model_path

        if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("numpy") is None:
            return "moderation = nudenet needs onnxruntime and numpy: install imagepipe[moderation]"
        if nudenet_model_path() is None:
            return f"the NudeNet model (320n.onnx) was not found: install imagepipe[moderation] or set {MODEL_ENV}"
        return None
    if not is_valid_spec(spec):
        return f"{spec!r} is neither {', '.join(BUILTIN)} nor module:factory"
    import importlib.util

    module_name = spec.partition(":")[0]
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    return None if found is not None else f"cannot find module {module_name} (moderation = {spec})"


# One instance per worker process and spec: a model costs tens of MB and a few hundred ms to load.
_LOADED: dict[str, Classifier] = {}
_LOCK = threading.Lock()


def load_classifier(spec: str) -> Classifier:
    """The process's instance for ``spec``, loaded on first use; ClassifierUnavailable if it cannot be."""
    with _LOCK:
        found = _LOADED.get(spec)
        if found is None:
            try:
                found = _factory(spec)()
            except ClassifierUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - any loader failure means "not available here"
                raise ClassifierUnavailable(f"{spec}: {exc.__class__.__name__}: {exc}") from exc
            if not isinstance(found, Classifier):
                raise ClassifierUnavailable(f"{spec} did not make an object with name, flagged and scores()")
            _LOADED[spec] = found
        return found


def preload(spec: str | None) -> None:
    """Load the classifier now (pool initializer), so the first image does not pay for it and the
    worker's memory figure includes it. A failure is left for ``assess`` to report per image: an
    initializer that raises would break the whole pool, over and over."""
    if not spec:
        return
    try:
        load_classifier(spec)
    except ClassifierUnavailable:
        pass
