"""What an upload really is, from its first bytes (magic numbers), whatever the client declared.

The transcoder would refuse a non-image later anyway; sniffing at ``complete`` keeps junk out of the
job queue and gives the client an immediate, precise answer.
"""

from __future__ import annotations

SNIFF_BYTES = 64  # enough for every signature below, including an ISO-BMFF ftyp box with brands

# ISO-BMFF (HEIF family) brands, major or compatible, that mean "a still image libvips can read".
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _ftyp_brands(prefix: bytes) -> list[bytes]:
    """Major brand then compatible brands of a leading ``ftyp`` box, as far as the prefix holds."""
    if len(prefix) < 12 or prefix[4:8] != b"ftyp":
        return []
    box_size = int.from_bytes(prefix[0:4], "big")
    if box_size < 16:  # size + "ftyp" + major + minor version is the least a valid box holds
        return []
    end = min(box_size, len(prefix))
    brands = [prefix[8:12]]
    brands.extend(prefix[i:i + 4] for i in range(16, end - 3, 4))
    return brands


def sniff_image_type(prefix: bytes) -> str | None:
    """The image MIME type the bytes start with, or None if they are not an image we accept.

    AVIF wins over HEIF when both brand sets appear (AVIF files usually list mif1 too)."""
    if prefix.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if prefix.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if prefix.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(prefix) >= 12 and prefix[0:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return "image/webp"
    brands = _ftyp_brands(prefix)
    if any(b in _AVIF_BRANDS for b in brands):
        return "image/avif"
    if any(b in _HEIF_BRANDS for b in brands):
        return "image/heif" if brands[0] in (b"mif1", b"msf1") else "image/heic"
    return None
