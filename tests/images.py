"""Generators of test pictures (and two pool-worker probes) for the transcode tests.

Pictures are built with Pillow, not libvips, so the code under test never checks its own work:
EXIF orientation follows Pillow's `exif_transpose` semantics, the Adobe RGB reference colour comes
from Pillow's LittleCMS binding, and the PNG bomb is written byte by byte with zlib.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zlib

import pyvips
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageStat

# Pillow transpose that maps a stored picture to its upright view, per EXIF orientation.
_DISPLAY = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# ...and the inverse, to store an upright picture so that a viewer shows it upright.
_STORE = {**_DISPLAY, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def upright(width: int = 480, height: int = 320) -> Image.Image:
    """An asymmetric picture: any wrong rotation or mirror moves its coloured corners."""
    image = Image.new("RGB", (width, height), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    w, h = width, height
    draw.rectangle((0, 0, w // 2, h // 3), fill=(220, 30, 30))  # top-left red bar
    draw.rectangle((w * 3 // 4, h // 2, w - 1, h - 1), fill=(30, 60, 200))  # bottom-right blue
    draw.ellipse((w // 8, h // 2, w // 3, h - h // 8), fill=(20, 160, 40))  # lower-left green
    return image


def jpeg(image: Image.Image, quality: int = 92, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **save)
    return out.getvalue()


def oriented_jpeg(orientation: int, picture: Image.Image, fmt: str = "JPEG") -> bytes:
    """A file whose pixels are stored so that applying `orientation` shows `picture` upright."""
    stored = picture.transpose(_STORE[orientation]) if orientation != 1 else picture
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, fmt, exif=exif.tobytes(), **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def noise(width: int, height: int, seed: int = 7) -> Image.Image:
    """Detail-heavy picture: costs many bytes per pixel, so byte budgets really bind."""
    rnd = random.Random(seed)
    return Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))


def cmyk_jpeg() -> bytes:
    """Left half pure cyan, right half pure yellow, stored as (Adobe-style) CMYK JPEG."""
    image = Image.new("CMYK", (400, 300), (255, 0, 0, 0))
    image.paste((0, 0, 255, 0), (200, 0, 400, 300))
    return jpeg(image)


def adobe_rgb_profile() -> bytes:
    """A minimal ICC v2 Adobe RGB (1998) profile: D50-adapted primaries, gamma 2.2 (563/256)."""

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + struct.pack(">3i", *(round(v * 65536) for v in (x, y, z)))

    def text(kind: bytes, value: str) -> bytes:
        raw = value.encode("ascii") + b"\0"
        if kind == b"desc":
            body = struct.pack(">I", len(raw)) + raw + b"\0" * 12 + b"\0" * 67
            return b"desc\0\0\0\0" + body
        return b"text\0\0\0\0" + raw

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 563) + b"\0\0"
    tags = [
        (b"desc", text(b"desc", "Adobe RGB (1998)")),
        (b"cprt", text(b"text", "public domain test profile")),
        (b"wtpt", xyz(0.96420, 1.0, 0.82491)),
        (b"rXYZ", xyz(0.60974, 0.31111, 0.01947)),
        (b"gXYZ", xyz(0.20528, 0.62567, 0.06087)),
        (b"bXYZ", xyz(0.14919, 0.06322, 0.74457)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table, data = b"", b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s", size, b"none", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
    header += struct.pack(">3i", *(round(v * 65536) for v in (0.9642, 1.0, 0.82491)))
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_rgb_jpeg(color: tuple[int, int, int]) -> tuple[bytes, tuple[int, int, int]]:
    """A flat Adobe RGB JPEG and the sRGB colour it should show, per Pillow's LittleCMS."""
    profile = adobe_rgb_profile()
    image = Image.new("RGB", (300, 200), color)
    to_srgb = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), color),
        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
        ImageCms.createProfile("sRGB"),
    )
    return jpeg(image, quality=95, icc_profile=profile), to_srgb.getpixel((0, 0))


def png16(color16: tuple[int, int, int]) -> bytes:
    """A flat 16-bit-per-channel RGB PNG, written by hand (Pillow cannot save 48-bit RGB)."""
    width, height = 320, 200
    row = b"\0" + struct.pack(">3H", *color16) * width
    return png_file(width, height, 16, 2, zlib.compress(row * height))


def rgba_png() -> bytes:
    """Left half fully transparent, right half opaque red."""
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    image.paste((200, 20, 20, 255), (200, 0, 400, 300))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def animated(fmt: str, frames: int = 3) -> bytes:
    """First frame red, later frames blue: a still of the first frame must be red."""
    # Later frames differ from each other too: Pillow merges identical consecutive frames.
    colors = [(220, 20, 20)] + [(20, 20, 150 + 10 * i) for i in range(frames - 1)]
    images = [Image.new("RGB", (320, 240), c) for c in colors]
    out = io.BytesIO()
    images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def png_file(width: int, height: int, depth: int, color_type: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_bomb(side: int = 30000) -> bytes:
    """A real side x side 8-bit grey PNG of zeros (900 MB of pixels) in well under 1 MB.

    Deflate is done for one block of rows only: after a full flush the compressor's state is reset,
    so the block's compressed bytes can be repeated verbatim; the Adler-32 of n zero bytes is
    (n mod 65521) << 16 | 1.
    """
    rows_per_block = 1000
    assert side % rows_per_block == 0
    block = b"\0" * ((side + 1) * rows_per_block)  # filter byte 0 + zero pixels per row
    comp = zlib.compressobj(9)
    head = comp.compress(b"") + comp.flush(zlib.Z_SYNC_FLUSH)  # the 2-byte zlib header
    body = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.flush(zlib.Z_FINISH)[:-4]  # final empty block, without the Adler-32 of one block
    total = len(block) * (side // rows_per_block)
    adler = ((total % 65521) << 16) | 1
    idat = head + body * (side // rows_per_block) + tail + struct.pack(">I", adler)
    return png_file(side, side, 8, 0, idat)


def broken_exif_jpeg() -> bytes:
    """A good picture whose APP1 Exif segment is garbage (a TIFF header pointing nowhere)."""
    good = jpeg(upright())
    junk = b"Exif\0\0II*\0\xff\xff\xff\x7f" + bytes(range(256)) * 2
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    return good[:2] + app1 + good[2:]


# --- judging outputs as pictures ---

METADATA_FIELD = re.compile(r"^(exif-|xmp-|iptc-|icc-|gps|orientation$)", re.IGNORECASE)


def pil(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel (0-255) after bringing `b` to `a`'s size."""
    b = b.convert("RGB").resize(a.size, Image.Resampling.BILINEAR)
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b)).mean) / 3


def assert_clean(data: bytes) -> None:
    """No EXIF, GPS, XMP, IPTC or ICC left, per libvips and per Pillow and in the raw bytes."""
    fields = [f for f in pyvips.Image.new_from_buffer(data, "").get_fields() if METADATA_FIELD.match(f)]
    assert fields == []
    image = pil(data)
    assert len(image.getexif()) == 0
    assert "icc_profile" not in image.info and "exif" not in image.info
    for marker in (b"Exif\0\0", b"http://ns.adobe.com/xap", b"Photoshop 3.0", b"ICC_PROFILE"):
        assert marker not in data


# --- run inside spawned pool workers (importable by module name "images") ---


def transcode_in_worker(source: bytes) -> tuple[str, object, int]:
    """Transcode in a pool worker; report ("ok", variant sizes) or ("error", code) and peak RSS KiB."""
    import resource

    from actors.transcode import TranscodeError, transcode

    try:
        result = transcode(source)
        outcome: tuple[str, object] = ("ok", [(r.variant, r.width, r.height) for r in result.renditions])
    except TranscodeError as exc:
        outcome = ("error", exc.code)
    return outcome[0], outcome[1], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def load_in_worker(source: bytes) -> str:
    """Ask libvips itself (bypassing our magic-byte sniffing) to decode; name the loader or fail."""
    import pyvips

    try:
        image = pyvips.Image.new_from_buffer(source, "")
        image.avg()
        return str(image.get("vips-loader"))
    except pyvips.Error:
        return "blocked"


def worker_state() -> tuple[int, int, bool]:
    """Run in a pool worker: (libvips cache size, nice value, orphan watchdog running)."""
    import os
    import threading

    return pyvips.cache_get_max(), os.nice(0), any(t.name == "orphan-watchdog" for t in threading.enumerate())


def own_a_pool(conn) -> None:
    """Run in a spawned child: start a prepared pool, report its worker's pid, then wait to be killed."""
    import multiprocessing
    import os
    import time
    from concurrent.futures import ProcessPoolExecutor

    from actors.transcode import worker_init

    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=worker_init,
                                   initargs=(1, None))
    conn.send(executor.submit(os.getpid).result(timeout=60))
    time.sleep(120)
