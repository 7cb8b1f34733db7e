"""Useful facts from the source's EXIF, read tolerantly: broken EXIF never fails a good photo.

The variants themselves carry no metadata at all; these facts go to the database instead, and GPS
only when the operator opted in (`store_gps`).
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from typing import Any

from PIL import Image

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_MAKE, _MODEL, _DATETIME = 0x010F, 0x0110, 0x0132
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x9003, 0x9011
_EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


def extract(exif_blob: bytes | None, width: int, height: int, store_gps: bool) -> dict[str, Any]:
    """Metadata dict for TranscodeResult; every EXIF field falls back to None on any error."""
    meta: dict[str, Any] = {
        "taken_at": None,
        "camera_make": None,
        "camera_model": None,
        "original_width": width,
        "original_height": height,
    }
    if not exif_blob:
        return meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on corrupt EXIF; we already tolerate it
        return _fill(meta, exif_blob, store_gps)


def _fill(meta: dict[str, Any], exif_blob: bytes, store_gps: bool) -> dict[str, Any]:
    try:
        exif = Image.Exif()
        exif.load(exif_blob)
    except Exception:  # noqa: BLE001 - any parser failure just means "no EXIF"
        return meta
    meta["camera_make"] = _text(_safe(lambda: exif.get(_MAKE)))
    meta["camera_model"] = _text(_safe(lambda: exif.get(_MODEL)))
    sub = _safe(lambda: exif.get_ifd(_EXIF_IFD)) or {}
    meta["taken_at"] = _taken_at(
        _safe(lambda: sub.get(_DATETIME_ORIGINAL)) or _safe(lambda: exif.get(_DATETIME)),
        _safe(lambda: sub.get(_OFFSET_ORIGINAL)),
    )
    if store_gps:
        meta["gps"] = _safe(lambda: _gps(exif.get_ifd(_GPS_IFD)))
    return meta


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - tolerate any malformed tag
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:200] or None


def _taken_at(value: Any, offset: Any) -> str | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" (+ optional "+02:00") as ISO 8601; nonsense dates give None."""
    text = _text(value)
    match = _EXIF_DATE.match(text or "")
    if not match:
        return None
    try:
        moment = datetime(*(int(g) for g in match.groups()))
    except ValueError:
        return None
    iso = moment.isoformat()
    offset_text = _text(offset)
    if offset_text and re.fullmatch(r"[+-]\d{2}:\d{2}", offset_text):
        iso += offset_text
    return iso


def _gps(ifd: dict) -> dict[str, float] | None:
    lat, lon = _degrees(ifd.get(2), ifd.get(1)), _degrees(ifd.get(4), ifd.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    gps = {"latitude": round(lat, 7), "longitude": round(lon, 7)}
    altitude = ifd.get(6)
    if altitude is not None:
        sign = -1 if ifd.get(5) in (1, b"\x01") else 1
        gps["altitude"] = round(sign * float(altitude), 2)
    return gps


def _degrees(dms: Any, ref: Any) -> float | None:
    if not dms or len(dms) != 3:
        return None
    value = float(dms[0]) + float(dms[1]) / 60 + float(dms[2]) / 3600
    if _text(ref) in ("S", "W"):
        value = -value
    return value
