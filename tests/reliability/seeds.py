"""Fuzzing seeds: real photos from the shared corpus, made small (fast to decode, so the fuzzer
spends its time on many inputs) and re-encoded into every format we accept, with the variations
their decoders branch on (progressive JPEG, palette/alpha/16-bit PNG, lossy and lossless WebP,
animated GIF and WebP, AVIF, HEVC HEIF)."""

from __future__ import annotations

import io
from pathlib import Path

# Beside the checkout (/work/shared beside /work/main), or one level up from a worktree (/work/wt/<name>).
CORPUS = next((p / "shared" / "corpus" for p in Path(__file__).resolve().parents[3:5]
               if (p / "shared" / "corpus").is_dir()), Path(__file__).resolve().parents[3] / "shared" / "corpus")
SIDE = 200


def _small(name: str, side: int = SIDE):  # type: ignore[no-untyped-def]
    import pyvips

    return pyvips.Image.thumbnail(str(CORPUS / name), side).copy_memory()


def build_seeds(corpus: Path = CORPUS) -> dict[str, bytes]:
    """name -> bytes. Needs the corpus (the caller skips when it is absent)."""
    import pillow_heif
    import pyvips
    from PIL import Image

    if not (corpus / "phone-3264x2448.jpg").exists():
        raise FileNotFoundError(f"no corpus at {corpus}")
    phone = _small("phone-3264x2448.jpg")
    gps = _small("camera-with-gps.jpg", 240)
    landscape = _small("phone-landscape-4608x1976.jpg", 260)
    alpha = phone.bandjoin(phone.extract_band(1))
    frames = pyvips.Image.arrayjoin([phone, phone.flip("horizontal"), phone.invert()], across=1)
    frames = frames.copy()
    frames.set_type(pyvips.GValue.gint_type, "page-height", phone.height)
    frames.set_type(pyvips.GValue.array_int_type, "delay", [40, 40, 40])
    seeds = {
        "jpeg-exif-gps.jpg": (CORPUS / "camera-with-gps.jpg").read_bytes()
        if (CORPUS / "camera-with-gps.jpg").stat().st_size < 400_000 else gps.jpegsave_buffer(Q=85),
        "jpeg-baseline.jpg": phone.jpegsave_buffer(Q=85, keep="none"),
        "jpeg-progressive.jpg": landscape.jpegsave_buffer(Q=80, interlace=True, keep="none"),
        "jpeg-420-restart.jpg": gps.jpegsave_buffer(Q=70, subsample_mode="on", restart_interval=2),
        "png-rgb.png": landscape.pngsave_buffer(compression=6),
        "png-rgba.png": alpha.pngsave_buffer(),
        "png-palette.png": phone.pngsave_buffer(palette=True),
        "png-16bit-interlaced.png": phone.cast("ushort").linear(257, 0).cast("ushort").copy(interpretation="rgb16").pngsave_buffer(interlace=True),
        "png-grey.png": phone.colourspace("b-w").pngsave_buffer(),
        "webp-lossy.webp": landscape.webpsave_buffer(Q=70),
        "webp-lossless-alpha.webp": alpha.webpsave_buffer(lossless=True),
        "webp-animated.webp": frames.webpsave_buffer(Q=60),
        "gif-still.gif": phone.gifsave_buffer(),
        "gif-animated.gif": frames.gifsave_buffer(),
        "avif.avif": landscape.heifsave_buffer(compression="av1", Q=45, effort=0),
    }
    # HEVC HEIF (what phones send): libvips here cannot encode HEVC, pillow-heif can.
    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(phone.jpegsave_buffer(Q=90))) as picture:
        out = io.BytesIO()
        picture.save(out, format="HEIF", quality=60)
        seeds["heif-hevc.heic"] = out.getvalue()
    # The corpus' own phone HEIF, re-encoded small but keeping its container's habits.
    real = pillow_heif.open_heif(str(CORPUS / "phone-4608x1976.heif"))
    with real.to_pillow() as picture:
        picture.thumbnail((SIDE, SIDE))
        out = io.BytesIO()
        picture.save(out, format="HEIF", quality=50, exif=real.info.get("exif"))
        seeds["heif-phone.heic"] = out.getvalue()
    return seeds


def by_kind(seeds: dict[str, bytes]) -> dict[str, list[bytes]]:
    from .mutate import sniff_kind

    kinds: dict[str, list[bytes]] = {}
    for data in seeds.values():
        kinds.setdefault(sniff_kind(data), []).append(data)
    return kinds
