"""Pure image transcoding for imagepipe, run inside ProcessPoolExecutor workers.

No aiohttp/asyncpg here: `transcode` is a picklable top-level function over bytes, and
`worker_init` prepares each worker process (cache off, loaders restricted, memory capped).

Bench yardsticks (same outputs, other strategies): `naive.transcode_naive` (one libvips
thumbnail_buffer per variant) and `pillow_backend.transcode_pillow`; `python -m
actors.transcode.cpu_compare FILE...` prints their CPU time per image beside ours.
"""

from .errors import TranscodeError
from .options import DEFAULT_VARIANTS, Rendition, TranscodeOptions, TranscodeResult, VariantSpec
from .vips_transcode import transcode
from .worker import worker_init

__all__ = [
    "DEFAULT_VARIANTS",
    "Rendition",
    "TranscodeError",
    "TranscodeOptions",
    "TranscodeResult",
    "VariantSpec",
    "transcode",
    "worker_init",
]
