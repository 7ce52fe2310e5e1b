"""Fixtures for the observer tests: a real moto S3 server on a free port, a flaky front for it, a clock."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from prefect_faasr.s3client import s3_client

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "faasr"
REAL_RUN = SHARED / "real-run"
WORKFLOWS = REAL_RUN / "workflows" / "workflows"


class FakeClock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    access_log = logging.getLogger("werkzeug")  # one INFO line per request otherwise
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    access_log.setLevel(level)


class FlakyS3:
    """The same moto backend behind a second HTTP server that answers 503 SlowDown while `failing`."""

    def __init__(self) -> None:
        self.failing = False
        self.refused = 0
        app = DomainDispatcherApplication(create_backend_app)

        def front(environ: dict[str, Any], start_response: Any) -> Any:
            if self.failing:
                self.refused += 1
                body = (
                    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                    b"<Message>Please reduce your request rate.</Message></Error>"
                )
                start_response("503 Slow Down", [("Content-Type", "application/xml")])
                return [body]
            return app(environ, start_response)

        self._server = make_server("127.0.0.1", 0, front, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()


@pytest.fixture
def flaky_s3() -> Iterator[FlakyS3]:
    server = FlakyS3()
    yield server
    server.close()


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return s3_client(moto_endpoint, "us-east-1", "test", "test")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"obs-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
