"""moto's S3 server in a child process, counting requests and response bytes per client, server side.

Clients say who they are with an `x-bench-client` header (`tag_client`); the count for a tag is every
HTTP request that reached the server with it (retries included) and the bytes of the response bodies
it was sent (HEAD responses carry none). `GET /__bench__/counters` returns them as JSON, with the
bytes per operation and the number of error answers (e.g. `GetObject 412`).

The parent runs `python -m bench._s3counted`; the child binds 127.0.0.1 port 0 and prints
`{"port": N}` on its first stdout line, then serves until SIGTERM or until its parent goes away.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import requests

from bench._lines import LineReader, exit_with_parent

HEADER = "x-bench-client"
ACCESS_KEY, SECRET_KEY = "bench-access", "bench-secret"  # moto accepts any pair; clients still sign
COUNTERS_PATH = "/__bench__/counters"
ROOT = Path(__file__).resolve().parents[1]


def tag_client(client: Any, tag: str) -> None:
    """Make every request of a boto3 S3 client carry `tag` (signed like any other header)."""

    def add(request: Any, **_: Any) -> None:
        request.headers[HEADER] = tag

    client.meta.events.register("request-created.s3", add, unique_id=f"bench-tag-{tag}")


class CountingS3:
    """Handle on the child server: `endpoint`, `pid`, `counters()`, `stop()` (also a context manager)."""

    def __init__(self, timeout: float = 60.0) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench._s3counted"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert self._proc.stdout is not None
            port = LineReader(self._proc.stdout, "the counting S3 server").read(timeout)["port"]
        except Exception:
            self.stop()
            raise
        self.endpoint = f"http://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def counters(self) -> dict[str, dict[str, Any]]:
        """tag -> {"requests": {operation: n}, "bytes": n}."""
        return requests.get(self.endpoint + COUNTERS_PATH, timeout=10).json()

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> CountingS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the child process ------------------------------------------------------------------------


def operation(method: str, path: str, query: str) -> str:
    """S3 operation name of a path-style request (only the ones this benchmark makes)."""
    has_key = path.strip("/").count("/") >= 1
    if method == "GET" and not has_key:
        return "ListObjectsV2" if "list-type=2" in query else "ListObjects"
    names = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
    if not has_key:
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket"}.get(method, method)
    return names.get(method, method)


class _Counts:
    """Per client tag: requests and response body bytes by operation, and answers that were errors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, Counter[str]] = defaultdict(Counter)
        self.bytes: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: dict[str, Counter[str]] = defaultdict(Counter)

    def request(self, tag: str, op: str) -> None:
        with self._lock:
            self.requests[tag][op] += 1

    def answer(self, tag: str, op: str, status: int, body: int) -> None:
        with self._lock:
            self.bytes[tag][op] += body
            if status >= 300:
                self.errors[tag][f"{op} {status}"] += 1

    def as_json(self) -> bytes:
        with self._lock:
            return json.dumps(
                {
                    tag: {
                        "requests": dict(ops),
                        "bytes": sum(self.bytes[tag].values()),
                        "bytes_by_op": dict(self.bytes[tag]),
                        "errors": dict(self.errors[tag]),
                    }
                    for tag, ops in self.requests.items()
                }
            ).encode()


def counting_app(app: Any, counts: _Counts) -> Any:
    """WSGI middleware around moto: counts each request, its status and the body bytes of its response."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == COUNTERS_PATH:
            body = counts.as_json()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        tag = environ.get("HTTP_" + HEADER.upper().replace("-", "_"), "-")
        method = environ.get("REQUEST_METHOD", "")
        op = operation(method, path, environ.get("QUERY_STRING", ""))
        counts.request(tag, op)
        status = [0]

        def start(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        result = app(environ, start)
        return _measured(result, method != "HEAD", lambda n: counts.answer(tag, op, status[0], n))

    return wrapped


def _measured(result: Iterable[bytes], has_body: bool, done: Any) -> Iterator[bytes]:
    """The response as it is sent; `done(bytes)` once it has gone (HEAD answers carry no body)."""
    n = 0
    try:
        for chunk in result:
            n += len(chunk)
            yield chunk
    finally:
        done(n if has_body else 0)
        close = getattr(result, "close", None)
        if close is not None:
            close()


def serve() -> None:
    from prefect_faasr.local.s3server import moto_server

    counts = _Counts()
    server = moto_server(lambda app: counting_app(app, counts))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    exit_with_parent()
    sys.stdout.write(json.dumps({"port": server.effective_port}) + "\n")
    sys.stdout.flush()
    server.run()


if __name__ == "__main__":
    serve()


__all__ = ["CountingS3", "counting_app", "operation", "tag_client"]
