"""The local S3 endpoint: moto's server in its own process on 127.0.0.1, a free port, real HTTP.

Run in its own interpreter by `S3Server` (see procs.py for the start protocol).
moto accepts any credentials; the runtime still generates a key pair so clients sign like on AWS.
"""

from __future__ import annotations

import signal
import sys
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
