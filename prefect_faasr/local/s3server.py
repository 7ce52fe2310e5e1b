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


def main() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    config = read_config()
    exit_with_parent()
    _fast_timestamps()
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=QuietHandler,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    report_port(server.port, Path(config.get("log_file") or "/dev/null"))
    server.serve_forever()


if __name__ == "__main__":
    main()
