"""Fixtures for the reliability tests: moto S3 on a free port, the fault proxy in front of it."""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis.configuration import set_hypothesis_home_dir, storage_directory
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from prefect_faasr.s3client import s3_client
from prefect_faasr.testing.faultproxy import FaultProxy

from .upstream import EchoServer


@pytest.fixture(scope="module")
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis keeps caches (and would keep examples) in ./.hypothesis: ours go to the tmp dir."""
    before = storage_directory(intent_to_write=False).home_directory
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    try:
        yield
    finally:
        set_hypothesis_home_dir(before)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    access_log = logging.getLogger("werkzeug")  # one INFO line per request otherwise
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        access_log.setLevel(level)


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy.for_url(moto_endpoint) as running:
        yield running


class Clients:
    """Clients of a proxy that the test opens; all closed at teardown (no socket left to the GC)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack

    def s3(self, proxy: FaultProxy | str, retries: int = 0) -> Any:
        """A boto3 client; `retries` after the first attempt (botocore's `max_attempts`)."""
        url = proxy if isinstance(proxy, str) else proxy.endpoint_url
        client = s3_client(url, "us-east-1", "test", "test", max_attempts=retries)
        self._stack.callback(client.close)
        return client

    def http(self, proxy: FaultProxy, timeout: float = 10) -> http.client.HTTPConnection:
        return self._stack.enter_context(
            contextlib.closing(http.client.HTTPConnection(*proxy.address, timeout=timeout))
        )

    def socket(self, proxy: FaultProxy) -> socket.socket:
        return self._stack.enter_context(socket.create_connection(proxy.address, timeout=10))


@pytest.fixture
def clients() -> Iterator[Clients]:
    with contextlib.ExitStack() as stack:
        yield Clients(stack)


@pytest.fixture
def direct(moto_endpoint: str, clients: Clients) -> Any:
    """A client that talks to moto without the proxy: the truth about what reached S3."""
    return clients.s3(moto_endpoint)


@pytest.fixture
def bucket(direct: Any) -> str:
    name = f"rel-{uuid.uuid4().hex[:12]}"
    direct.create_bucket(Bucket=name)
    return name


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.fixture
def echo_proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(*echo.address) as running:
        yield running


# ---- a local runtime and the Prefect API, for the test runs of the flow (cancel, attach, S3 trouble) ----


@pytest.fixture(scope="module")
def faasr_local(prefect_api: str) -> Iterator[Any]:
    """One local FaaSr runtime per module, shared by its test runs as `local serve` would be."""
    from prefect_faasr.local import LocalFaaSr

    with LocalFaaSr(max_workers=6) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def faasr_state_file(faasr_local: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The runtime's state file, which `--local-state` and the flow's `local_state` take."""
    return str(faasr_local.write_state_file(tmp_path_factory.mktemp("local") / "state.json"))
