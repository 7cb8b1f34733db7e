"""Test session fixtures: one real embedded PostgreSQL for the whole session, a fresh database per
test cloned from a migrated template (fast), and an aiohttp test client on the real app."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from server.config import Settings, load_settings
from server.db import migrate
from server.db.embedded import EmbeddedPostgres, start_embedded

pytest_plugins = ["s3server"]  # moto S3 server fixtures: s3_server, s3_bucket

# The shared corpus sits beside the checkout (/work/shared beside /work/main); a worktree one level
# deeper (/work/wt/<name>) finds it too, instead of silently skipping every test that needs it.
# IMAGEPIPE_TEST_CORPUS points elsewhere (a clone in another place, a corpus of your own).
CORPUS = Path(os.environ["IMAGEPIPE_TEST_CORPUS"]) if os.environ.get("IMAGEPIPE_TEST_CORPUS") else next(
    (p / "shared" / "corpus" for p in Path(__file__).resolve().parents[2:4] if (p / "shared" / "corpus").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "corpus")
TEMPLATE_DB = "imagepipe_template"


def pytest_configure(config: pytest.Config) -> None:
    # Every response from our servers is checked against the OpenAPI document (openapi_check.py).
    openapi_check.install_aiohttp_hook()
    openapi_check.install_urllib_hook()
    # The embedded PostgreSQL runs as the `pgserver` user when we are root, so it must be able to
    # traverse to its data dir. pytest re-tightens /tmp/pytest-of-<user> to 0700 whenever any
    # session starts; a base temp dir of our own per session cannot be changed under us.
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="imagepipe-pytest-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    record = openapi_check.RECORD
    terminalreporter.write_line(
        f"OpenAPI: {record.checked} responses checked against the document, {len(record.failures)} did not conform"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN_BASETEMP, None)
    if own:
        shutil.rmtree(own, ignore_errors=True)


_OWN_BASETEMP = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--skip-slow", action="store_true", help="skip tests marked slow (the executable build)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--skip-slow"):
        return
    skip = pytest.mark.skip(reason="--skip-slow given")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """The session's PostgreSQL, from the same embedded package the service uses."""
    root = Path(tempfile.mkdtemp(prefix="imagepipe-pg-"))
    server = start_embedded(root / "pg")
    try:
        asyncio.run(_create_template(server.uri))
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _create_template(admin_dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_database(admin_dsn, TEMPLATE_DB))
    try:
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture
async def db_dsn(pg_server: EmbeddedPostgres) -> AsyncIterator[str]:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server.uri)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    finally:
        await admin.close()
    yield with_database(pg_server.uri, name)
    admin = await asyncpg.connect(pg_server.uri)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def db_pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    from server.db import create_pool

    pool = await create_pool(db_dsn, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, db_dsn: str) -> Settings:
    """Settings for an in-process app: low bcrypt cost (speed), generous rate limits."""
    return load_settings(
        cli={"data_dir": str(data_dir), "database_url": db_dsn, "bcrypt_rounds": 4, "workers": 1},
        environ={},
    )


@pytest.fixture(autouse=True)
def _responses_match_openapi() -> Iterator[None]:
    """Fails the test if any answer it received from our servers broke the OpenAPI document, even
    one a helper caught and ignored."""
    before = len(openapi_check.RECORD.failures)
    yield
    drift = openapi_check.RECORD.failures[before:]
    if drift:
        pytest.fail("responses that break the OpenAPI document:\n" + "\n".join(drift), pytrace=False)


def _registering(factory, started: list[str]):  # type: ignore[no-untyped-def]
    """A pytest-aiohttp factory whose servers' origins are registered for the OpenAPI checks."""

    async def start(*args, **kwargs):  # type: ignore[no-untyped-def]
        made = await factory(*args, **kwargs)
        started.append(str(made.make_url("/")))
        openapi_check.register_origin(started[-1])
        return made

    return start


@pytest.fixture
def aiohttp_server(aiohttp_server):  # type: ignore[no-untyped-def]
    started: list[str] = []
    yield _registering(aiohttp_server, started)
    for url in started:  # closed with the test: a later test's server may get the same port
        openapi_check.forget_origin(url)


@pytest.fixture
def aiohttp_client(aiohttp_client):  # type: ignore[no-untyped-def]
    started: list[str] = []
    yield _registering(aiohttp_client, started)
    for url in started:
        openapi_check.forget_origin(url)


@pytest.fixture
async def client(aiohttp_client, settings: Settings, db_pool: asyncpg.Pool):
    """The real app on a fresh database, pipeline off (API-level tests)."""
    from server.app import create_app

    app = create_app(settings, pool=db_pool, pipeline=False)
    return await aiohttp_client(app)


def corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return path


# Let tests import small helpers (serverproc) that live beside them.
import sys as _sys  # noqa: E402

_sys.path.insert(0, str(Path(__file__).parent))
import openapi_check  # noqa: E402
