"""LocalRuntimeClient against a compute server that drops connections without answering (what a
request sent on a connection the server is closing for idleness meets)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from prefect_faasr.local import LocalRuntimeClient
from prefect_faasr.local.client import LocalRuntimeError
from prefect_faasr.local.state import RuntimeInfo


class DroppingServer:
    """Reads each request whole; drops the first `drop` connections unanswered, answers the rest 200."""

    def __init__(self, drop: int) -> None:
        self.drop = drop
        self.requests: list[str] = []  # request lines, in arrival order
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                self.requests.append(head.split(b"\r\n", 1)[0].decode())
                if self.drop > 0:
                    self.drop -= 1
                    continue
                body = b'{"activationId": "a1"}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def dropping() -> Iterator[DroppingServer]:
    server = DroppingServer(drop=1)
    yield server
    server.close()


def client_for(server: DroppingServer, tmp_path: Path) -> LocalRuntimeClient:
    info = RuntimeInfo(
        compute_endpoint=server.endpoint,
        api_key=SecretStr("user:pass"),
        s3_endpoint="http://127.0.0.1:1",
        s3_access_key=SecretStr("k"),
        s3_secret_key=SecretStr("s"),
        state_dir=tmp_path,
    )
    return LocalRuntimeClient(info, timeout=5)


def test_idempotent_request_is_sent_again_when_its_answer_is_lost(
    dropping: DroppingServer, tmp_path: Path
) -> None:
    client = client_for(dropping, tmp_path)
    client.health()
    assert dropping.requests == ["GET /api/v1 HTTP/1.1"] * 2


def test_trigger_is_never_sent_twice(dropping: DroppingServer, tmp_path: Path) -> None:
    client = client_for(dropping, tmp_path)
    with pytest.raises(LocalRuntimeError, match="not reachable"):
        client.invoke("WF-a", {"FunctionInvoke": "a"}, "http://127.0.0.1:1/payload.json")
    assert [line.split(" ")[0] for line in dropping.requests] == ["POST"]
