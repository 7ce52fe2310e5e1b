"""The local S3 endpoint: moto's server in its own process on 127.0.0.1, a free port, real HTTP.

Run in its own interpreter by `S3Server` (see procs.py for the start protocol).
moto accepts any credentials; the runtime still generates a key pair so clients sign like on AWS.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect_faasr.local.procs import ServerProcess, exit_with_parent, read_config, report_port

MODULE = "prefect_faasr.local.s3server"


class S3Server:
    """Handle on the running moto server."""

    def __init__(self, log_file: Path, *, timeout: float = 60.0) -> None:
        self._proc = ServerProcess(MODULE, {"log_file": str(log_file)}, log_file, timeout=timeout)
        self.endpoint = f"http://127.0.0.1:{self._proc.port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        self._proc.stop()


def iso_first(parse: Callable[[Any], datetime]) -> Callable[[Any], datetime]:
    """`parse` (botocore's timestamp parser) with ISO 8601 text parsed by the standard library first.

    moto's response serializer parses every stored `LastModified` text again with botocore's
    dateutil-based parser; in a listing of 1000 keys that was a third of the server's CPU, and a
    1000-rank fan-in lists 1000 keys a thousand times. Anything `fromisoformat` does not read (epoch
    numbers, HTTP dates, datetimes) still goes to `parse`; text without an offset is UTC, as there.
    """

    def parse_iso_first(value: Any) -> datetime:
        if isinstance(value, str) and value[4:5] == "-":  # YYYY-...: not an epoch number
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return parse(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return parse(value)

    return parse_iso_first


def _fast_timestamps() -> None:
    from moto.core import serialize

    slow = getattr(serialize, "parse_to_aware_datetime", None)
    if slow is not None:  # a moto that no longer has it keeps its own way
        serialize.parse_to_aware_datetime = iso_first(slow)


def moto_server(wrap: Callable[[Any], Any] | None = None) -> Any:
    """A waitress server for moto's S3 app (wrapped in `wrap`, a WSGI middleware, if given) on
    127.0.0.1 and a free port (`effective_port`); `run()` serves until the process ends.

    waitress rather than werkzeug's development server: it keeps HTTP/1.1 connections alive as S3 does
    (werkzeug closes each after one response, so every request paid a TCP connect on both sides) and
    serves from a fixed pool of threads. Many clients (1000 activations of a fan-out) may hold
    connections at once, hence the high connection limit and poll() instead of select().
    """
    import waitress
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    _fast_timestamps()
    app = DomainDispatcherApplication(create_backend_app)
    server = waitress.create_server(
        wrap(app) if wrap else app,
        host="127.0.0.1",
        port=0,
        threads=8,
        connection_limit=4096,
        asyncore_use_poll=True,
        channel_timeout=60,
        ident="moto",
    )
    server.channel_class = _channel_class()
    return server


def _channel_class() -> type:
    """waitress's connection handler, with empty requests that say `Expect: 100-continue` answered.

    botocore sends that header with `Content-Length: 0` on every empty PutObject (FaaSr's fan-in lock
    flags); waitress 3.0 answers the headers with 100 Continue and in doing so marks the request, which
    is already complete, incomplete again, so it is never served. With no body to wait for, the final
    answer is the right one (RFC 9110 §10.1.1 lets a server skip 100 Continue).
    """
    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser

    class BodylessExpectParser(HTTPRequestParser):
        def parse_header(self, header_plus: bytes) -> None:
            super().parse_header(header_plus)
            if not self.chunked and self.content_length == 0:
                self.expect_continue = False

    class Channel(HTTPChannel):
        parser_class = BodylessExpectParser

    return Channel


def main() -> None:
    config = read_config()
    exit_with_parent()
    server = moto_server()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    report_port(server.effective_port, Path(config.get("log_file") or "/dev/null"))
    server.run()


if __name__ == "__main__":
    main()
