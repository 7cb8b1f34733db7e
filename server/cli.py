"""The command line: ``imagepipe serve|migrate|bench|jobs|moderation|users|version`` (same as ``python -m server``).

Commands import what they need lazily so ``version`` and ``--help`` stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Callable, Sequence

from .config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", dest="data_dir", help="data directory (default ./var)")
    parser.add_argument("--config", dest="config", help="TOML config file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagepipe", description="Photo upload and transcoding backend.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP server and the pipeline")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    _add_common(serve)

    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    _add_common(migrate)

    jobs = sub.add_parser("jobs", help="inspect and replay processing jobs")
    _add_common(jobs)
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_list = jobs_sub.add_parser("list", help="list jobs")
    jobs_list.add_argument("--status", help="only jobs with this status (queued, running, dead, ...)")
    jobs_list.add_argument("--limit", type=int, default=50)
    jobs_retry = jobs_sub.add_parser("retry", help="queue one job again")
    jobs_retry.add_argument("job_id", type=int)
    jobs_sub.add_parser("retry-dead", help="queue every dead job again")

    bench = sub.add_parser("bench", help="measure throughput and recommend settings")
    _add_common(bench)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="codec | pipeline | tune, and their options")

    _add_moderation(sub)

    sub.add_parser("version", help="print versions of imagepipe and what it embeds")
    return parser


def _add_moderation(sub: argparse._SubParsersAction) -> None:
    """``moderation list|approve|remove|audit`` and ``users grant-admin|revoke-admin`` (server/moderation)."""
    moderation = sub.add_parser("moderation", help="the review queue: list, approve, remove, audit")
    _add_common(moderation)
    mod_sub = moderation.add_subparsers(dest="moderation_command", required=True)
    mod_sub.add_parser("list", help="posts waiting for review, oldest first").add_argument("--limit", type=int, default=50)
    mod_sub.add_parser("approve", help="publish a post in review").add_argument("post_id")
    remove = mod_sub.add_parser("remove", help="remove a post for everyone but its owner")
    remove.add_argument("post_id")
    remove.add_argument("--reason", required=True, help="shown to the owner")
    audit = mod_sub.add_parser("audit", help="recorded decisions, newest first")
    audit.add_argument("--post", dest="post_id", help="only this post's, oldest first")
    audit.add_argument("--limit", type=int, default=50)
    users = sub.add_parser("users", help="account roles")
    _add_common(users)
    users_sub = users.add_subparsers(dest="users_command", required=True)
    users_sub.add_parser("grant-admin", help="make an account an admin").add_argument("login", help="username or email")
    users_sub.add_parser("revoke-admin", help="take the admin role away").add_argument("login", help="username or email")


def settings_from_args(args: argparse.Namespace) -> Settings:
    cli: dict[str, Any] = {}
    for name in ("host", "port", "data_dir", "config"):
        value = getattr(args, name, None)
        if value is not None:
            cli[name] = value
    return load_settings(cli=cli)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        from .version import print_version

        print_version()
        return 0
    if args.command == "bench":
        from native_bench import main as bench_main

        return bench_main(list(args.bench_args), data_dir=args.data_dir, config=args.config)
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"imagepipe: config error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    from .logs import setup_logging

    setup_logging(settings.log_level)
    handlers: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
        "serve": _serve,
        "migrate": _migrate,
        "jobs": _jobs,
        "moderation": _moderation,
        "users": _users,
    }
    return handlers[args.command](settings, args)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from .serve import serve

    return serve(settings)


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from .admin import run_migrate

    return asyncio.run(run_migrate(settings))


def _jobs(settings: Settings, args: argparse.Namespace) -> int:
    from .admin import run_jobs

    return asyncio.run(run_jobs(settings, args))


def _moderation(settings: Settings, args: argparse.Namespace) -> int:
    from .admin import run_moderation

    return asyncio.run(run_moderation(settings, args))


def _users(settings: Settings, args: argparse.Namespace) -> int:
    from .admin import run_users

    return asyncio.run(run_users(settings, args))


__all__ = ["main", "build_parser"]
