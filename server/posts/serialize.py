"""A post as the API shows it (DESIGN.md's shape); pure: rows in, JSON-ready dict out.

URLs come from a function (the store's ``public_url``) so the same code serves local and CDN bases.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ..http import rfc3339

VARIANT_NAMES = ("thumbnail", "medium", "original")
PRIMARY_FORMAT = "jpeg"  # always produced; other formats (webp, avif) are offered alongside it

# Readable defaults for failure codes, for rows written without a message.
_ERROR_MESSAGES = {
    "upload_expired": "the upload was not completed before its session expired",
}


def _rendition(image: Mapping[str, Any], url_for: Callable[[str], str]) -> dict[str, Any]:
    return {
        "url": url_for(image["storage_key"]),
        "width": image["width"],
        "height": image["height"],
        "bytes": image["bytes"],
        "format": image["format"],
    }


def variants_json(
    images: Iterable[Mapping[str, Any]], url_for: Callable[[str], str]
) -> dict[str, dict[str, Any] | None]:
    """One entry per variant: the JPEG rendition at top level, others under ``formats``.
    The three standard variants are always present as keys (null until published)."""
    by_variant: dict[str, list[Mapping[str, Any]]] = {}
    for image in images:
        by_variant.setdefault(image["variant"], []).append(image)
    out: dict[str, dict[str, Any] | None] = {name: None for name in VARIANT_NAMES}
    for name, renditions in by_variant.items():
        renditions.sort(key=lambda r: (r["format"] != PRIMARY_FORMAT, r["format"]))
        primary, *others = renditions
        entry = _rendition(primary, url_for)
        if others:
            entry["formats"] = {r["format"]: _rendition(r, url_for) for r in others}
        out[name] = entry
    return out


def post_json(
    post: Mapping[str, Any], images: Iterable[Mapping[str, Any]], url_for: Callable[[str], str]
) -> dict[str, Any]:
    variants = variants_json(images, url_for)
    metadata = post["metadata"] or {}
    body: dict[str, Any] = {
        "id": str(post["id"]),
        "user_id": str(post["user_id"]),
        "caption": post["caption"],
        "status": post["status"],
        "width": post["width"],
        "height": post["height"],
        "variants": variants,
        "thumbnail_url": variants["thumbnail"]["url"] if variants["thumbnail"] else None,
        "medium_url": variants["medium"]["url"] if variants["medium"] else None,
        "original_url": variants["original"]["url"] if variants["original"] else None,
        "like_count": post["like_count"] or 0,
        "comment_count": post["comment_count"] or 0,
        "view_count": post["view_count"] or 0,
        "created_at": rfc3339(post["created_at"]),
        "published_at": rfc3339(post["published_at"]),
    }
    liked = post.get("liked_by_me")
    if liked is not None:  # only asked for (and only meaningful) when the caller sent a Bearer
        body["liked_by_me"] = liked
    for key in ("placeholder", "dominant_color"):
        if metadata.get(key):
            body[key] = metadata[key]
    if post["status"] == "failed":
        code = post["error"] or "failed"
        body["error"] = {"code": code, "message": post["error_message"] or _ERROR_MESSAGES.get(code, code)}
    return body
