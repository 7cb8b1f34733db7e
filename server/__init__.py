"""imagepipe server: the process that owns HTTP, PostgreSQL access, storage and the pipeline.

Public surface: ``create_app`` (aiohttp application factory), ``load_settings`` / ``Settings``.
"""

__version__ = "0.1.0"

from .config import ConfigError, Settings, load_settings  # noqa: E402

__all__ = ["__version__", "ConfigError", "Settings", "load_settings", "create_app"]


def __getattr__(name: str):  # lazy: `python -m server version` should not import aiohttp
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
