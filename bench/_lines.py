"""One JSON object per line between the benchmark and its child processes, read with a timeout."""

from __future__ import annotations

import json
import os
import selectors
import signal
import threading
import time
from typing import IO, Any


class LineReader:
    """Reads newline-terminated JSON objects from a child's stdout without blocking past a deadline."""

    def __init__(self, stream: IO[bytes], what: str) -> None:
        self._stream = stream
        self._what = what
        self._buffer = b""

    def read(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._stream, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._what} sent nothing within {timeout:.0f} s")
                if sel.select(left):
                    chunk = os.read(self._stream.fileno(), 1 << 16)
                    if not chunk:
                        raise RuntimeError(f"{self._what} exited before answering")
                    self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


def send(stream: IO[bytes], obj: Any) -> None:
    stream.write(json.dumps(obj).encode() + b"\n")
    stream.flush()


def exit_with_parent(interval: float = 0.5) -> None:
    """In a child: SIGTERM itself when the parent goes away (a benchmark killed halfway)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
