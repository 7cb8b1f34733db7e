"""The page's Content-Security-Policy and other security headers; pure functions of the settings.

The policy allows no inline script or style and no eval, so an injected string can never run; DOM
writes that take HTML are refused outright (Trusted Types with no policy), which the app never uses:
it builds every node with ``createElement``/``textContent``. The only other origins it may reach
are the store's (where the browser PUTs the bytes and reads variants) and the CDN's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import Settings


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def store_origins(settings: Settings) -> list[str]:
    """Where presigned upload URLs (and, without a CDN, S3 variant URLs) point."""
    if settings.storage == "s3":
        if settings.s3_endpoint_url:
            return [o for o in [origin(settings.s3_endpoint_url)] if o]
        return [f"https://{settings.s3_bucket}.s3.{settings.s3_region}.amazonaws.com"]
    return [o for o in [origin(settings.effective_public_base_url)] if o]


def media_origins(settings: Settings) -> list[str]:
    """Where variant URLs point: the CDN if one is set, else the store (local: this server's /media)."""
    cdn = settings.cdn_base_url if settings.storage == "s3" else settings.effective_cdn_base_url
    found = [origin(cdn)] if cdn else []
    return [o for o in found if o] + store_origins(settings)


def _sources(*sources: str) -> str:
    return " ".join(dict.fromkeys(sources))  # ordered, without repeats


def content_security_policy(settings: Settings) -> str:
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        # blob: is the local preview of the photo being uploaded.
        "img-src": _sources("'self'", "blob:", *media_origins(settings)),
        # 'self' covers the API and its notification stream.
        "connect-src": _sources("'self'", *store_origins(settings)),
        "base-uri": "'none'",
        "form-action": "'none'",  # forms are sent by script, never navigated
        "frame-ancestors": "'none'",
        "require-trusted-types-for": "'script'",
        "trusted-types": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def page_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Variant URLs and the API never need to know which page asked; the page has no tokens in its URL anyway.
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
