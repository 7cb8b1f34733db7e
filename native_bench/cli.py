"""``imagepipe bench codec|pipeline|tune``: argument parsing and running one mode end to end."""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import psutil

from server.config import ConfigError, Settings, load_settings

from .codec import BACKENDS, INTERLEAVED_ONLY, run_codec, transcode_options
from .cpuprobe import cores
from .errors import BenchError
from .pipeline import run_pipeline
from .progress import say
from .report import document, render, write_json
from .samples import resolve_images
from .social_bench import add_parser as add_social_parser
from .stats import CodecFigures, PipelineFigures, best_pipeline, recommend, target_checks

EXIT_ERROR = 1
EXIT_USAGE = 2


def _int_list(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("worker counts must be 1 or more")
    return values


def _backends(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in BACKENDS + INTERLEAVED_ONLY]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"backends are {', '.join(BACKENDS + INTERLEAVED_ONLY)}; got {text!r}")
    return list(dict.fromkeys(names))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


_RAW = argparse.RawDescriptionHelpFormatter

BENCH_EPILOG = """\
examples:
  imagepipe bench codec --workers 1,2 --backend vips,naive,pillow --json codec.json
  imagepipe bench pipeline                 # starts its own server on a temporary data dir
  imagepipe bench pipeline --url http://127.0.0.1:8080 --data-dir var
  imagepipe bench tune                     # ends with settings to paste into the config file
  imagepipe bench queue --jobs 20000       # the job queue alone: jobs/s and an exactly-once check
  imagepipe bench posts                    # what a page of a profile's posts costs PostgreSQL

A progress bar goes to stderr, the table to stdout; 'imagepipe bench MODE --help' for each mode."""

CODEC_HELP = """\
Transcode every image with the real transcode in a spawned process pool, once per worker count
and backend: images/s, CPU ms per image (measured inside the workers) and peak RSS per worker.
'naive' (one libvips thumbnail call per variant) and 'pillow' are yardsticks for the targets."""

PIPELINE_HELP = """\
Drive uploads end to end through the real HTTP API: N clients register, verify through the outbox,
log in, then upload -> complete -> poll until published, one upload at a time each. Reports
uploads/s, complete-to-published latency, API latency while the pool is saturated, peak queue
depth and where the CPU went. Starts its own server on a temporary data dir unless --url is given."""

QUEUE_HELP = """\
Push no-op jobs through the real claim, heartbeat and fenced-success SQL with many concurrent
claimers, in a database of its own on the embedded PostgreSQL (or --dsn): jobs/s, claim latency,
PostgreSQL and claimer CPU per job, and an exactly-once check (exit code 1 if it fails)."""

POSTS_HELP = """\
Seed accounts with published posts, then load pages of a profile's posts (the list and renditions
queries) from concurrent clients: pages/s, latency, PostgreSQL CPU per page and bytes per post."""

TUNE_HELP = """\
Run the codec at 1..cores workers and the pipeline at the best few, then print workers,
mailbox_size, vips_concurrency and backlog_high_water lines that paste into the config file."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagepipe bench", formatter_class=_RAW, epilog=BENCH_EPILOG, description=(
        "Measure transcoding and pipeline throughput on this machine and recommend settings.\n"
        "It measures; it never fails a run for being slow."))
    sub = parser.add_subparsers(dest="mode", metavar="MODE", title="modes", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--images", help="folder of images (default: ../shared/corpus if present, "
                                        "else built-in samples)")
        p.add_argument("--json", dest="json_path", metavar="FILE", help="also write the figures as JSON")
        p.add_argument("--repeat", type=_positive, default=2,
                       help="passes over the images per codec run (default 2; at least 2 calls per worker)")
        p.add_argument("--vips-concurrency", type=_positive, default=1, help="libvips threads per worker (default 1)")
        p.add_argument("--quiet", action="store_true", help="no progress on stderr")
        p.add_argument("--data-dir", help="parent of the bench server's temporary data dir; "
                                          "with --url, the target's data dir (to read its outbox)")
        p.add_argument("--config", help="TOML config: transcode options, and the bench server's settings")

    def pipeline_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--clients", type=_positive,
                       help="concurrent clients (default 4 x workers: keeps the pool saturated)")
        p.add_argument("--uploads", type=_positive, default=4, help="uploads per client (default 4)")
        p.add_argument("--url", help="drive this running server instead of starting one")
        p.add_argument("--token", help="with --url: a verified user's access token, "
                                       "when the target's outbox is not readable here")

    codec = sub.add_parser("codec", help="transcode throughput per worker count and backend",
                           description=CODEC_HELP, formatter_class=_RAW)
    common(codec)
    codec.add_argument("--workers", type=_int_list, default=None,
                       help="worker counts, e.g. 1,2,4 (default 1 and all cores)")
    codec.add_argument("--backend", type=_backends, default=["vips"],
                       help=f"comma-separated: {', '.join(BACKENDS)} (default vips); floor is the least work "
                            f"for the same files; with --interleave also {', '.join(INTERLEAVED_ONLY)}")
    codec.add_argument("--interleave", action="store_true",
                       help="one worker per backend, all on one core, called in turn image by image: ratios "
                            "that hold on a busy machine, plus output quality (SSIM) and budget cost")
    codec.add_argument("--rounds", type=_positive, default=5, help="timed rounds with --interleave (default 5)")
    codec.add_argument("--cpu", type=int, default=None,
                       help="core to pin the --interleave workers to (default the last one)")
    codec.add_argument("--sharp-dir", help="folder whose node_modules holds sharp (npm install --prefix DIR sharp)")

    pipe = sub.add_parser("pipeline", help="end-to-end uploads through the real HTTP API",
                          description=PIPELINE_HELP, formatter_class=_RAW)
    common(pipe)
    pipe.add_argument("--workers", type=_positive, default=None,
                      help="pool workers of the server (default all cores; with --url, the target's count)")
    pipeline_args(pipe)
    pipe.add_argument("--no-codec", action="store_true", help="skip the codec run used for the pipeline/codec ratio")
    pipe.add_argument("--social", action="store_true",
                      help="also time like, unlike and comment round trips while the pool is saturated")

    queue = sub.add_parser("queue", help="no-op jobs through the real claim/renew/complete SQL: jobs/s, "
                                         "claim latency, exactly-once check",
                           description=QUEUE_HELP, formatter_class=_RAW)
    queue.add_argument("--jobs", type=_positive, default=20_000, help="jobs to seed and drain (default 20000)")
    queue.add_argument("--claimers", type=_positive, default=32, help="concurrent claimers in all (default 32)")
    queue.add_argument("--processes", type=_positive, default=None,
                       help="processes the claimers are spread over (default: cores)")
    queue.add_argument("--batch", type=_positive, default=8, help="jobs per claim (default 8)")
    queue.add_argument("--accounts", type=_positive, default=100, help="accounts the jobs belong to (default 100)")
    queue.add_argument("--pool-size", type=_positive, default=8, help="connections per process (default 8)")
    queue.add_argument("--dsn", help="PostgreSQL server to use (a database is created there and dropped); "
                                     "default: the embedded PostgreSQL in a temporary folder")
    queue.add_argument("--json", dest="json_path", metavar="FILE", help="also write the figures as JSON")
    queue.add_argument("--quiet", action="store_true", help="no progress on stderr")
    queue.add_argument("--data-dir", help="parent of the temporary folder of the embedded PostgreSQL")
    queue.add_argument("--config", help="unused by this mode; accepted like the others")

    posts = sub.add_parser("posts", help="one page of a profile's posts (the list and renditions queries): "
                                         "pages/s, latency, PostgreSQL CPU per page",
                           description=POSTS_HELP, formatter_class=_RAW)
    posts.add_argument("--accounts", type=_positive, default=200, help="accounts to seed (default 200)")
    posts.add_argument("--posts-per-account", type=_positive, default=500, help="published posts each (default 500)")
    posts.add_argument("--clients", type=_positive, default=16, help="concurrent clients (default 16)")
    posts.add_argument("--pages", type=_positive, default=5000, help="pages to load in all (default 5000)")
    posts.add_argument("--dsn", help="PostgreSQL server to use (a database is created there and dropped)")
    posts.add_argument("--json", dest="json_path", metavar="FILE", help="also write the figures as JSON")
    posts.add_argument("--quiet", action="store_true", help="no progress on stderr")
    posts.add_argument("--data-dir", help="parent of the temporary folder of the embedded PostgreSQL")
    posts.add_argument("--config", help="unused by this mode; accepted like the others")

    add_social_parser(sub)  # bench social: a module of its own

    tune = sub.add_parser("tune", help="codec at 1..cores workers, pipeline at the best few: recommended settings",
                          description=TUNE_HELP, formatter_class=_RAW)
    common(tune)
    tune.add_argument("--max-workers", type=_positive, default=None,
                      help="highest worker count to try (default all cores)")
    tune.add_argument("--top", type=_positive, default=2,
                      help="pipeline runs at this many best worker counts (default 2)")
    tune.add_argument("--no-pipeline", action="store_true", help="codec only (no server is started)")
    pipeline_args(tune)
    return parser


@dataclass
class Context:
    """What every mode needs: the images, the server settings they imply, the machine."""

    args: argparse.Namespace
    images: list[Path]
    source: str
    settings: Settings

    @property
    def progress(self) -> bool:
        return not self.args.quiet

    @property
    def options(self) -> Any:
        return transcode_options(self.settings)

    def codec(self, backend: str, workers: int) -> CodecFigures:
        return run_codec(self.images, backend, workers, self.args.repeat, self.args.vips_concurrency,
                         self.options, self.progress)

    def pipeline(self, workers: int, good: Sequence[Path]) -> PipelineFigures:
        a = self.args
        return run_pipeline(good, workers, a.clients or 4 * workers, a.uploads, a.url, a.token, a.data_dir,
                            a.config, self.progress, social=getattr(a, "social", False))


def good_images(ctx: Context, runs: Sequence[CodecFigures]) -> list[Path]:
    """The images our transcode accepts: a failing one would only measure error handling."""
    failed = {name for c in runs if c.backend == "vips" for name, _ in c.failures}
    good = [p for p in ctx.images if p.name not in failed]
    if not good:
        raise BenchError("no image in the set transcodes; nothing to upload")
    return good


def machine() -> dict:
    info = {"cores": cores(), "memory_mb": round(psutil.virtual_memory().total / 2**20),
            "python": platform.python_version(), "platform": platform.platform()}
    try:
        import pyvips

        info["libvips"] = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    except Exception:  # the table is still worth printing without it
        info["libvips"] = None
    return info


def _load_settings(config: str | None) -> Settings:
    """The server's settings (file and environment): the transcode options to bench with."""
    return load_settings(cli={"config": config} if config else {})


def run_mode(ctx: Context) -> tuple[list[CodecFigures], list[PipelineFigures], bool]:
    """The runs of one mode; the flag says whether to print the recommendation."""
    a = ctx.args
    if a.mode == "codec" and a.interleave:
        return [], [], False
    if a.mode == "codec":
        sharp = [b for b in a.backend if b in INTERLEAVED_ONLY]
        if sharp:
            raise BenchError(f"backend {sharp[0]} runs only with --interleave")
        counts = a.workers or sorted({1, cores()})
        return [ctx.codec(b, w) for b in a.backend for w in counts], [], False
    if a.mode == "pipeline":
        workers = a.workers or cores()
        codec = [] if a.no_codec else [ctx.codec("vips", workers)]
        good = good_images(ctx, codec) if codec else ctx.images
        return codec, [ctx.pipeline(workers, good)], False
    from .tune import tune

    codec, pipelines = tune(ctx, a.max_workers or cores(), a.top, not a.no_pipeline)
    return codec, pipelines, True


def _interleaved(ctx: Context) -> int:
    from .interleave import default_cpu, run_interleaved
    from .report import interleaved_document, interleaved_text

    a = ctx.args
    cpu = a.cpu if a.cpu is not None else default_cpu()
    run = run_interleaved(ctx.images, a.backend, a.rounds, cpu, a.vips_concurrency, ctx.options, a.sharp_dir,
                          ctx.progress)
    print(f"Images: {ctx.source}\n\n" + interleaved_text(run), end="")
    if a.json_path:
        write_json(a.json_path, interleaved_document(run, machine()))
    return 0


def _database_mode(args: argparse.Namespace, key: str, run: Any, render: Any, ok: Any = lambda f: True) -> int:
    """Run a bench of the database (queue, posts): print it, write it, and exit 1 on a broken check."""
    try:
        figures = run()
    except BenchError as exc:
        print(f"imagepipe bench: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(render(figures), end="")
    if args.json_path:
        write_json(args.json_path, {key: figures.to_dict(), "machine": machine()})
    return 0 if ok(figures) else EXIT_ERROR


def _queue(args: argparse.Namespace) -> int:
    from .queue import QueueOptions, run_queue
    from .report import queue_text

    options = QueueOptions(jobs=args.jobs, claimers=args.claimers, processes=args.processes or cores(),
                           batch=args.batch, accounts=args.accounts, pool_size=args.pool_size)
    return _database_mode(args, "queue", lambda: run_queue(options, args.dsn, args.data_dir, not args.quiet),
                          queue_text, lambda f: f.exactly_once)


def _posts(args: argparse.Namespace) -> int:
    from .posts_list import PostsOptions, run_posts
    from .report import posts_text

    options = PostsOptions(accounts=args.accounts, posts_per_account=args.posts_per_account,
                           clients=args.clients, pages=args.pages)
    return _database_mode(args, "posts", lambda: run_posts(options, args.dsn, args.data_dir, not args.quiet),
                          posts_text)


def main(argv: Sequence[str], data_dir: str | None = None, config: str | None = None) -> int:
    parser = build_parser()
    if not argv:  # a bare 'imagepipe bench' deserves the list of modes, not a terse usage error
        parser.print_help()
        return EXIT_USAGE
    args = parser.parse_args(list(argv))
    args.data_dir = args.data_dir or data_dir
    args.config = args.config or config
    try:
        settings = _load_settings(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"imagepipe bench: config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.mode == "queue":
        return _queue(args)
    if args.mode == "posts":
        return _posts(args)
    if args.mode == "social":
        from .social_bench import main as social_main

        return social_main(args)
    try:
        images, source = resolve_images(args.images)
        ctx = Context(args, images, source, settings)
        say(f"bench {args.mode}: {len(images)} image(s) from {source}", ctx.progress)
        if args.mode == "codec" and args.interleave:
            return _interleaved(ctx)
        codec, pipelines, show_rec = run_mode(ctx)
    except BenchError as exc:
        print(f"imagepipe bench: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("imagepipe bench: interrupted", file=sys.stderr)
        return 130
    host = machine()
    checks = target_checks(codec, best_pipeline(pipelines))
    rec = recommend(codec, pipelines, host["cores"], host["memory_mb"])
    print(render(codec, pipelines, checks, rec if show_rec else None, source), end="")
    if args.json_path:
        write_json(args.json_path, document(codec, pipelines, checks, rec, host))
    return 0
