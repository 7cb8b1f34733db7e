"""Every timestamp the API returns, in one format: RFC 3339 in UTC with a ``Z`` and milliseconds
(``2024-05-01T12:34:56.789Z``), the shape JavaScript's ``Date.toISOString`` writes.

One helper so no response can drift to ``+00:00`` (``datetime.isoformat``), which the seed's
clients do not parse. Milliseconds because microseconds trip some clients' fixed formats; the
exact value, where it matters (paging), travels in opaque cursors instead.
"""

from __future__ import annotations

from datetime import datetime, timezone


def rfc3339(value: datetime | None) -> str | None:
    """``value`` as RFC 3339 UTC ending in ``Z``; None stays None. A naive datetime is taken as
    UTC (asyncpg returns ``timestamptz`` aware, so that only happens to hand-made values)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
