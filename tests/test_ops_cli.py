"""The command line: shared options in any position, commands that read data refuse to create a
database where there is none, ``--version``, and a helpful ``--help`` for every command and mode."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from conftest import with_database
from native_bench.cli import build_parser as bench_parser
from server import __version__
from server.cli import build_parser, main, split_shared
from serverproc import REPO, server_env


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args], cwd=REPO, env=server_env(**env),
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("argv", [
    ["--data-dir", "D", "jobs", "list"],
    ["jobs", "--data-dir", "D", "list"],
    ["jobs", "list", "--data-dir", "D"],
    ["jobs", "list", "--status", "dead", "--data-dir=D"],
])
def test_shared_options_work_in_any_position(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.data_dir == "D" and args.jobs_command == "list"


def test_a_shared_option_given_once_is_not_reset_by_another_level() -> None:
    args = build_parser().parse_args(["--config", "c.toml", "jobs", "retry", "7", "--data-dir", "D"])
    assert (args.config, args.data_dir, args.job_id) == ("c.toml", "D", 7)
    assert not hasattr(build_parser().parse_args(["jobs", "list"]), "data_dir")  # unset: the default applies


def test_split_shared_hands_bench_its_arguments() -> None:
    assert split_shared(["--data-dir", "D", "--config=c", "bench", "codec", "--workers", "1"]) == (
        {"data_dir": "D", "config": "c"}, ["bench", "codec", "--workers", "1"],
    )
    assert split_shared(["jobs", "--data-dir", "D"]) == ({}, ["jobs", "--data-dir", "D"])


def test_jobs_list_refuses_a_data_dir_without_a_database(tmp_path: Path) -> None:
    empty = tmp_path / "typo"
    empty.mkdir()
    done = cli("jobs", "list", "--data-dir", str(empty))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"imagepipe: no database in {empty / 'pg'}; is --data-dir (or IMAGEPIPE_DATA_DIR) right? "
        "'imagepipe serve' or 'imagepipe migrate' creates one"
    ]
    assert list(empty.iterdir()) == []  # nothing created: no PostgreSQL cluster, no files
    gone = cli("jobs", "retry-dead", "--data-dir", str(tmp_path / "nowhere"))
    assert gone.returncode == 2 and "does not exist" in gone.stderr
    assert not (tmp_path / "nowhere").exists()


async def test_jobs_list_refuses_an_external_database_imagepipe_never_migrated(pg_server, tmp_path: Path) -> None:
    import asyncio
    import uuid

    name = f"t_empty_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server.uri)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        dsn = with_database(pg_server.uri, name)
        done = await asyncio.to_thread(cli, "jobs", "list", "--data-dir", str(tmp_path), IMAGEPIPE_DATABASE_URL=dsn)
        assert done.returncode == 2 and "has no imagepipe tables" in done.stderr, done.stderr
        assert dsn not in done.stderr and "postgresql://" not in done.stderr  # the URL may hold a password
        conn = await asyncpg.connect(dsn)
        try:
            tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await conn.close()
        assert tables == 0  # no migration ran
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"imagepipe {__version__}\n"


def test_no_command_shows_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: imagepipe" in err and "serve" in err and "jobs" in err and "bench" in err


def _leaf_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                paths += _leaf_paths(child, (*prefix, name))
    return paths


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_every_command_has_a_helpful_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [p for p in _leaf_paths(build_parser()) if p and p[0] != "bench"]
    assert ("jobs", "retry-dead") in paths and ("serve",) in paths
    for path in paths:
        text = _help(list(path), capsys)
        usage, _, body = text.partition("\n\n")
        assert usage.startswith(f"usage: imagepipe {' '.join(path)}"), text
        description = body.split("\n\n")[0]
        assert len(description) > 40 and not description.startswith("options:"), f"{path}: no description\n{text}"
        assert "--data-dir" in text, path  # the shared options are offered at every level


def test_every_bench_mode_has_a_helpful_help(capsys: pytest.CaptureFixture[str]) -> None:
    modes = [p for p in _leaf_paths(bench_parser()) if p]
    assert modes == [("codec",), ("pipeline",), ("queue",), ("posts",), ("social",), ("tune",)]
    top = _help(["bench"], capsys)
    assert "usage: imagepipe bench" in top and "examples:" in top
    for (mode,) in modes:
        text = _help(["bench", mode], capsys)
        body = text.partition("\n\n")[2]
        assert text.startswith(f"usage: imagepipe bench {mode}") and len(body.split("\n\n")[0]) > 80, text
    assert _help(["--data-dir", "x", "bench", "codec"], capsys).startswith("usage: imagepipe bench codec")
