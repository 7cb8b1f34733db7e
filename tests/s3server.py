"""pytest plugin: a real S3 protocol server (moto in server mode) on loopback for the whole session,
a fresh bucket per test, and ``stop()``/``start()`` for fault tests.

moto keeps its state in process-global backends, so objects survive a stop/start, like a real S3
outage. Stopping really cuts things: the listening socket is closed (new connections are refused)
and every open keep-alive connection is shut down, so a client cannot keep talking to a "stopped"
server through its connection pool.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from serverproc import free_port

REGION = "us-east-1"
# moto accepts any credentials; the standard variables are what the store's credential chain reads.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


class S3Server(ThreadedMotoServer):
    """ThreadedMotoServer that can be stopped and started again on the same port."""

    def __init__(self, port: int) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.running = False

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _server_entry(self) -> None:
        from moto.moto_server.threaded_moto_server import MotoRequestHandler

        server = self

        class TrackedHandler(MotoRequestHandler):  # type: ignore[misc,valid-type]
            def setup(self) -> None:
                with server._lock:
                    server._connections.add(self.request)
                super().setup()

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with server._lock:
                        server._connections.discard(self.request)

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=TrackedHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        super().start()
        self.running = True

    def stop(self) -> None:
        super().stop()
        assert self._server is not None
        self._server.server_close()  # ThreadedMotoServer leaves the socket listening
        with self._lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.running = False


@dataclass(frozen=True)
class S3Bucket:
    name: str
    endpoint_url: str
    region: str = REGION

    def client(self):
        """A plain sync boto3 client, for arranging and inspecting from tests."""
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    def settings_overrides(self) -> dict[str, str]:
        """Pass to ``Settings.with_overrides(**...)`` to point the app at this bucket."""
        return {
            "storage": "s3",
            "s3_bucket": self.name,
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": self.region,
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    saved = {name: os.environ.get(name) for name in AWS_ENV}
    os.environ.update(AWS_ENV)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per S3 call otherwise
    server = S3Server(free_port())
    server.start()
    try:
        yield server
    finally:
        if server.running:
            server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[S3Bucket]:
    """A fresh, empty bucket for one test; emptied and removed afterwards."""
    if not s3_server.running:  # a fault test that failed midway must not break the next test
        s3_server.start()
    bucket = S3Bucket(name=f"t-{uuid.uuid4().hex[:16]}", endpoint_url=s3_server.endpoint_url)
    client = bucket.client()
    client.create_bucket(Bucket=bucket.name)
    yield bucket
    if not s3_server.running:
        s3_server.start()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket.name, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket.name)
    client.close()
