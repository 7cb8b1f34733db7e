"""Hostile HTTP: each test is an attack that cost a 500, a traceback, a version string or the whole
process before its fix. In-process tests first, then a real ``serve`` process for what only the
connection level sees (header limits, slow sockets, the connection cap)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest

from serverproc import ServerProcess, free_port, server_env
from server.http.jsonbody import check_json_content_type, decode_json_object
from server.http import ApiError

LOGIN = "/api/v1/auth/login"
JSON = {"Content-Type": "application/json"}


def _no_version(server_header: str) -> None:
    assert server_header == "imagepipe", server_header


# -- pure ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b'{"a": ' + b"9" * 5000 + b"}", b'{"a": 1' + b"0" * 50 + b".5}",
                                 b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": 1e' + b"9" * 60 + b"}"])
def test_numbers_no_field_needs_are_invalid_json(raw: bytes) -> None:
    with pytest.raises(ApiError) as info:
        decode_json_object(raw)
    assert (info.value.status, info.value.code) == (400, "invalid_json")


def test_ordinary_numbers_still_decode() -> None:
    assert decode_json_object(b'{"file_size": 52428800, "x": -1.5}') == {"file_size": 52428800, "x": -1.5}


@pytest.mark.parametrize("ctype, charset", [("text/plain", None), ("application/x-www-form-urlencoded", None),
                                            ("multipart/form-data", None), ("application/json", "latin-1"),
                                            ("application/octet-stream", None)])
def test_other_media_types_are_415(ctype: str, charset: str | None) -> None:
    with pytest.raises(ApiError) as info:
        check_json_content_type(ctype, charset)
    assert (info.value.status, info.value.code) == (415, "unsupported_media_type")


def test_json_and_json_suffix_types_are_accepted() -> None:
    check_json_content_type("application/json", "utf-8")
    check_json_content_type("application/merge-patch+json", None)


# -- in-process, through the app ------------------------------------------------------------------

async def test_a_thousand_digit_integer_is_a_400_without_a_traceback(client, caplog) -> None:
    """CPython raised ValueError (int digit limit) inside json.loads: a 500 and a logged traceback."""
    with caplog.at_level(logging.ERROR):
        resp = await client.post(LOGIN, data=b'{"login": "x", "password": ' + b"1" * 5000 + b"}", headers=JSON)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"]["code"] == "invalid_json"
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("headers, body", [
    ({"Content-Type": "text/plain"}, b'{"login": "x", "password": "y"}'),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"login=x&password=y"),
    ({}, b'{"login": "x", "password": "y"}'),
])
async def test_json_endpoints_refuse_other_content_types(client, db_pool, headers, body) -> None:
    resp = await client.post("/api/v1/auth/register", data=body, headers=headers)
    assert resp.status == 415, await resp.text()
    assert (await resp.json())["error"]["code"] == "unsupported_media_type"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0


async def test_no_version_in_the_server_header_of_answers_and_errors(client) -> None:
    for resp in (await client.get("/healthz"), await client.get("/no/such/path"),
                 await client.post(LOGIN, data=b"{", headers=JSON)):
        _no_version(resp.headers["Server"])
        assert "aiohttp" not in await resp.text() and "Python" not in await resp.text()


class TestSlowJsonBody:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(http_body_timeout_s=0.5)

    async def test_a_body_that_trickles_in_is_cut_with_408(self, client) -> None:
        async def trickle():
            yield b'{"login": "'
            for _ in range(20):
                await asyncio.sleep(0.1)
                yield b"a"
            yield b'", "password": "x"}'

        started = time.monotonic()
        resp = await client.post(LOGIN, data=trickle(), headers=JSON)
        assert resp.status == 408, await resp.text()
        assert (await resp.json())["error"]["code"] == "request_timeout"
        assert time.monotonic() - started < 1.9, "cut at the deadline, not when the body ended"


# -- a real server process -----------------------------------------------------------------------

MAX_CONNECTIONS = 40
HEADER_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    env = server_env(IMAGEPIPE_HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
                     IMAGEPIPE_HTTP_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S), IMAGEPIPE_WORKERS="1")
    with ServerProcess(data_dir, free_port(), env).start() as proc:
        yield proc


def raw_request(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in b"".join(chunks):
                return b"".join(chunks)


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def get(port: int, path: str = "/healthz", extra: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    return parse(raw_request(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode() + extra + b"\r\n"))


@pytest.mark.parametrize("extra, status", [
    (b"X-Big: " + b"a" * 9000 + b"\r\n", 431),
    (b"".join(b"X-H%d: v\r\n" % i for i in range(200)), 431),
    (b"Bad Header Line\r\n", 400),
])
def test_unparseable_requests_are_json_errors_without_a_traceback(server: ServerProcess, extra: bytes, status: int) -> None:
    got, headers, body = get(server.port, extra=extra)
    assert got == status, body
    assert json.loads(body)["error"]["code"] in ("headers_too_large", "bad_request")
    _no_version(headers["Server"])
    assert b"aaaa" not in body, "the input is not echoed back"
    log = server.log_text()
    assert "Traceback" not in log and "LineTooLong" not in log, log[-2000:]


def test_an_over_long_url_is_414(server: ServerProcess) -> None:
    got, headers, body = get(server.port, path="/" + "a" * 9000)
    assert got == 414 and json.loads(body)["error"]["code"] == "uri_too_long"
    _no_version(headers["Server"])


def _slow_sockets(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
        socks.append(sock)
    return socks


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except (TimeoutError, BlockingIOError):
        return False
    except ConnectionResetError:
        return True


def _fds(pid: int) -> int:
    return psutil.Process(pid).num_fds()


def test_slow_sockets_past_the_cap_neither_exhaust_the_process_nor_lock_others_out(server: ServerProcess) -> None:
    """Hundreds of slow-loris sockets: aiohttp kept every one open (75 s keep-alive, no cap), so a
    few hundred used up the process's file descriptors and nobody else was served."""
    assert server.proc is not None
    baseline = _fds(server.proc.pid)
    socks = _slow_sockets(server.port, 300)
    try:
        time.sleep(0.3)
        assert _fds(server.proc.pid) <= baseline + MAX_CONNECTIONS + 5, "open connections are capped"
        got, _, _ = get(server.port)
        assert got == 200, "a real client still gets through: the longest-idle slow socket made room"
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 5
        while time.monotonic() < deadline and not all(_closed_by_server(s) for s in socks[-MAX_CONNECTIONS // 2:]):
            time.sleep(0.2)
        assert all(_closed_by_server(s) for s in socks), "every slow socket is cut by the header deadline"
    finally:
        for sock in socks:
            sock.close()


def test_a_slow_loris_alone_is_cut_at_the_header_deadline(server: ServerProcess) -> None:
    [sock] = _slow_sockets(server.port, 1)
    try:
        started = time.monotonic()
        for _ in range(40):  # a byte every 0.2 s: never idle, never done
            if _closed_by_server(sock):
                break
            try:
                sock.sendall(b"a")
            except OSError:
                break
            time.sleep(0.15)
        assert _closed_by_server(sock)
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 2
    finally:
        sock.close()


def test_the_server_still_answers_normally(server: ServerProcess) -> None:
    got, headers, body = get(server.port, "/readyz")
    assert got == 200 and json.loads(body)["status"] == "ready"
    _no_version(headers["Server"])
    assert Path(server.data_dir).exists()
