"""The command line: ``imagepipe serve|migrate|bench|jobs|moderation|users|version`` (same as ``python -m server``).

Shared options (``--data-dir``, ``--config``) are accepted anywhere: before the command, after it,
or after a sub-command (``imagepipe jobs list --data-dir D``). Each level declares them with a
suppressed default, so a level where they are absent never overwrites a value given at another.
``bench`` hands everything after its name to its own parser (``native_bench/cli.py``), which has
the same options and the help for each mode.

Commands import what they need lazily so ``version`` and ``--help`` stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Callable, Sequence

from . import __version__
from .config import ConfigError, Settings, load_settings

EXIT_CONFIG = 2
_SHARED = ("--data-dir", "--config")

DESCRIPTION = """\
Photo upload and transcoding backend: an HTTP API, a transcoding pipeline, and tools around them.

Settings come from, in order: command-line flags, IMAGEPIPE_<NAME> environment variables, the TOML
file given by --config (or IMAGEPIPE_CONFIG), then defaults. With nothing set, everything lives in
the data dir (./var): an embedded PostgreSQL, the object store and the mail outbox."""

EPILOG = """\
examples:
  imagepipe serve                          API and pipeline on http://127.0.0.1:8080, data in ./var
  imagepipe serve --port 9000 --data-dir /srv/imagepipe
  imagepipe jobs list --status dead --data-dir /srv/imagepipe
  imagepipe bench pipeline --help

exit codes: 0 done, 1 the command failed, 2 bad usage, settings, port or data dir.
'imagepipe COMMAND --help' tells more about each command."""


def _shared(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("shared options (accepted before or after any command)")
    group.add_argument("--data-dir", dest="data_dir", metavar="DIR", default=argparse.SUPPRESS,
                       help="data directory: embedded PostgreSQL, objects, outbox (default ./var)")
    group.add_argument("--config", dest="config", metavar="FILE", default=argparse.SUPPRESS,
                       help="TOML config file (default: $IMAGEPIPE_CONFIG, if set)")


def _command(sub: Any, name: str, summary: str, description: str, epilog: str = "") -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name, help=summary, description=description, epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _shared(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagepipe", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"imagepipe {__version__}",
                        help="print the version and exit ('imagepipe version' lists the embedded parts)")
    _shared(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    serve = _command(
        sub, "serve", "run the HTTP API and the transcoding pipeline",
        "Run the HTTP API and the pipeline until SIGTERM or Ctrl-C, then finish the jobs in hand\n"
        "(drain_timeout_s) and exit 0. Says 'ready on http://HOST:PORT' once everything is up.\n"
        "A port already in use is reported before anything starts, with exit code 2.",
        "examples:\n  imagepipe serve\n  imagepipe serve --host 0.0.0.0 --port 8080 --data-dir /var/lib/imagepipe\n"
        "  IMAGEPIPE_LOG_FORMAT=json imagepipe serve",
    )
    serve.add_argument("--host", default=argparse.SUPPRESS, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=argparse.SUPPRESS, help="port (default 8080)")

    _command(
        sub, "migrate", "apply database migrations and exit",
        "Apply the database migrations this version has and list every applied one. 'serve' does\n"
        "this at start too; run it alone to upgrade the schema before switching traffic. With the\n"
        "embedded PostgreSQL it creates the database in DATA_DIR/pg if there is none.",
    )

    jobs = _command(
        sub, "jobs", "inspect and replay processing jobs",
        "Look at the transcoding queue and replay jobs that gave up. Reads an existing database\n"
        "only: it refuses to create one in a data dir that has none.",
        "examples:\n  imagepipe jobs list --status dead\n  imagepipe jobs retry 42\n  imagepipe jobs retry-dead",
    )
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="JOBS_COMMAND", title="jobs commands", required=True)
    jobs_list = _command(jobs_sub, "list", "list jobs, newest first",
                         "List jobs with their status, attempts, pool breaks and last error.")
    jobs_list.add_argument("--status", help="only jobs with this status: queued, running, succeeded, failed, dead")
    jobs_list.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    jobs_retry = _command(jobs_sub, "retry", "queue one dead or failed job again",
                          "Give a dead or failed job fresh attempts and put its post back in processing.")
    jobs_retry.add_argument("job_id", type=int, help="the job's id (from 'jobs list')")
    _command(jobs_sub, "retry-dead", "queue every dead job again",
             "Give every dead job fresh attempts and put their posts back in processing.")

    # Listed for --help only: main() hands 'bench' and what follows to native_bench's own parser.
    sub.add_parser(
        "bench", help="measure throughput and recommend settings (modes: codec, pipeline, tune)",
        add_help=False,
    )

    _add_moderation(sub)

    _command(sub, "version", "print versions of imagepipe and of what it embeds",
             "Print the versions of imagepipe, Python, libvips and the embedded PostgreSQL.")
    return parser


def _add_moderation(sub: Any) -> None:
    """``moderation list|approve|remove|audit`` and ``users grant-admin|revoke-admin`` (server/moderation)."""
    moderation = _command(
        sub, "moderation", "the review queue: list, approve, remove, audit",
        "Posts held for review (by the classifier or by reports), and the decisions on them. Each\n"
        "decision is recorded in the audit as cli:<your OS user>.",
        "examples:\n  imagepipe moderation list\n  imagepipe moderation approve POST_ID\n"
        "  imagepipe moderation remove POST_ID --reason 'nudity'\n  imagepipe moderation audit --post POST_ID",
    )
    mod_sub = moderation.add_subparsers(dest="moderation_command", metavar="MODERATION_COMMAND", required=True)
    _command(mod_sub, "list", "posts waiting for review, oldest first",
             "The review queue: each post held for review, since when and why (classifier or reports),\n"
             "its highest classifier score and how many accounts reported it.").add_argument(
        "--limit", type=int, default=50, help="at most this many (default 50)")
    _command(mod_sub, "approve", "publish a post in review",
             "Publish a post in review: it becomes public again and its open reports are closed.") \
        .add_argument("post_id", help="the post's id")
    remove = _command(mod_sub, "remove", "remove a post for everyone but its owner",
                      "Remove a post in review or published: its source and variants are deleted, and only its\n"
                      "owner still sees it, with the reason.")
    remove.add_argument("post_id", help="the post's id")
    remove.add_argument("--reason", required=True, help="shown to the owner")
    audit = _command(mod_sub, "audit", "recorded decisions, newest first",
                     "Every moderation decision as recorded: who decided what, when and why, newest first.")
    audit.add_argument("--post", dest="post_id", help="only this post's, oldest first")
    audit.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    users = _command(sub, "users", "account roles: grant or revoke admin",
                     "Give an account the admin role (the moderation API) or take it away; it acts at once.")
    users_sub = users.add_subparsers(dest="users_command", metavar="USERS_COMMAND", required=True)
    for name, summary in (("grant-admin", "make an account an admin"), ("revoke-admin", "take the admin role away")):
        _command(users_sub, name, summary, f"{summary[0].upper()}{summary[1:]}, by username or email; recorded in the "
                 "moderation audit.").add_argument("login", help="username or email")


def split_shared(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Leading shared options (``--data-dir D``, ``--config=F``) and the rest, unparsed. Pure."""
    shared: dict[str, str] = {}
    rest = list(argv)
    while rest:
        head = rest[0]
        name, eq, value = head.partition("=")
        if name not in _SHARED:
            break
        if not eq:
            if len(rest) < 2:
                break
            value = rest[1]
            rest = rest[1:]
        shared[name[2:].replace("-", "_")] = value
        rest = rest[1:]
    return shared, rest


def settings_from_args(args: argparse.Namespace) -> Settings:
    cli: dict[str, Any] = {}
    for name in ("host", "port", "data_dir", "config"):
        value = getattr(args, name, None)
        if value is not None:
            cli[name] = value
    return load_settings(cli=cli)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    shared, rest = split_shared(argv)
    if rest[:1] == ["bench"]:
        from native_bench import main as bench_main

        return bench_main(rest[1:], data_dir=shared.get("data_dir"), config=shared.get("config"))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    if args.command == "version":
        from .version import print_version

        print_version()
        return 0
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"imagepipe: config error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    from .logs import setup_logging

    setup_logging(settings.log_level, settings.log_format)
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

    if settings.moderation != "off":  # a pool of workers that cannot load it would hold every upload
        from actors.moderation import unavailable_reason

        problem = unavailable_reason(settings.moderation)
        if problem:
            print(f"imagepipe: config error: moderation: {problem}", file=sys.stderr)
            return EXIT_CONFIG

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


__all__ = ["main", "build_parser", "split_shared"]
