"""Which images the benchmark feeds: a folder the operator names, the shared corpus when it sits next
to the checkout, or a small built-in set generated once with libvips.

The built-in photos are synthetic but photo-sized (8-12 MP), with gradients, texture and noise so
JPEG has real work to do, and an EXIF orientation so auto-rotation is exercised. They are generated
deterministically (fixed noise seeds) so figures from two machines describe the same input.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

from .errors import BenchError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff", ".gif"}
SAMPLES_VERSION = "v1"
# (name, width, height, EXIF orientation, noise seed)
BUILTIN = (
    ("builtin-12mp-landscape.jpg", 4000, 3000, 1, 11),
    ("builtin-8mp-rotated.jpg", 3264, 2448, 6, 12),
    ("builtin-9mp-wide.jpg", 4608, 1976, 3, 13),
)


def list_images(folder: Path) -> list[Path]:
    """Image files in a folder (not recursive), sorted so runs are repeatable."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def shared_corpus() -> Path | None:
    """``../shared/corpus`` beside the checkout (or the working directory), when present."""
    candidates = [Path.cwd() / ".." / "shared" / "corpus", Path(__file__).resolve().parents[2] / "shared" / "corpus"]
    for path in candidates:
        if path.is_dir() and list_images(path):
            return path.resolve()
    return None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache" if Path.home().is_dir() else None)
    root = Path(base) if base else Path(tempfile.gettempdir())
    return root / "imagepipe" / f"bench-samples-{SAMPLES_VERSION}"


def synthetic_photo(path: Path, width: int, height: int, orientation: int, seed: int, quality: int = 88) -> Path:
    """Write one photo-like JPEG: colour gradients, a ripple texture and sensor-like noise."""
    import pyvips

    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    red = x * (200.0 / width) + 30
    green = y * (180.0 / height) + 40
    blue = (x + y) * (-200.0 / (width + height)) + 220
    ripple = ((x * 0.02).sin() + (y * 0.013).sin()) * 18  # edges, so the encoder cannot coast
    noise = pyvips.Image.gaussnoise(width, height, sigma=7, mean=0, seed=seed)
    image = (red.bandjoin([green, blue]) + ripple + noise).cast("uchar").copy(interpretation="srgb")
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    tmp = path.with_suffix(".part")
    image.jpegsave(str(tmp), Q=quality)
    tmp.replace(path)  # atomic: a concurrent or interrupted run never sees half a file
    return path


def write_samples(folder: Path, specs: Sequence[tuple[str, int, int, int, int]]) -> list[Path]:
    """Generate each (name, width, height, orientation, seed) photo that is not there yet."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, width, height, orientation, seed in specs:
        path = folder / name
        if not path.exists():
            synthetic_photo(path, width, height, orientation, seed)
        paths.append(path)
    return paths


def builtin_samples(folder: Path | None = None) -> list[Path]:
    """The built-in set, generated at first use and cached."""
    return write_samples(folder or cache_dir(), BUILTIN)


def resolve_images(folder: str | None) -> tuple[list[Path], str]:
    """The images to use and a short description of where they came from."""
    if folder:
        path = Path(folder)
        if not path.is_dir():
            raise BenchError(f"--images {folder}: not a directory")
        images = list_images(path)
        if not images:
            raise BenchError(f"--images {folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return images, str(path)
    corpus = shared_corpus()
    if corpus:
        return list_images(corpus), str(corpus)
    return builtin_samples(), f"built-in samples ({cache_dir()})"
