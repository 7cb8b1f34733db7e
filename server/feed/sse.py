"""Server-Sent Events framing (the WHATWG ``text/event-stream`` format); pure, bytes out.

Data is one line of JSON (``json.dumps`` escapes every newline), so a field can never break the
framing, whatever a caption or comment contains.
"""

from __future__ import annotations

import json
from typing import Any

CONTENT_TYPE = "text/event-stream"


def event(event_id: str, name: str, data: Any) -> bytes:
    """One event; EventSource remembers ``event_id`` and sends it back as ``Last-Event-ID``."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event_id}\nevent: {name}\ndata: {payload}\n\n".encode("utf-8")


def position(event_id: str, retry_ms: int) -> bytes:
    """No event, only the reconnection delay and the id to resume from: sent when a stream opens,
    so a client that hears nothing before losing the connection still resumes where it began."""
    return f"retry: {retry_ms}\nid: {event_id}\n\n".encode("ascii")


def retry(retry_ms: int) -> bytes:
    """The reconnection delay alone: the last thing a draining instance sends."""
    return f"retry: {retry_ms}\n\n".encode("ascii")


def comment(text: str) -> bytes:
    """Ignored by clients; keeps proxies from closing an idle stream."""
    return f": {text}\n\n".encode("ascii")
