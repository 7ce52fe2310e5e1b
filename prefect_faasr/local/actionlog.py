"""An action's log as the FaaSr engine writes it (contract §4).

Engine records `[t] [LEVEL] [file] msg` (t = seconds since the handler started, rounded to 3 digits,
Python float repr) are buffered in memory and appended to `{F}/{A}.txt` by read-modify-write of the
whole object on each flush; ERROR and CRITICAL records flush at once. User `faasr_log` lines are
appended raw. Before `attach` nothing reaches S3 (the engine's pre-handler records are stdout only).
Records of level INFO and above are also printed to stdout as `[LEVEL] [file] msg`.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any, TextIO

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

# Source files the real engine's records name (the `[file]` part of a line).
ENTRY = "faasr_entry.py"
EXECUTOR = "executor.py"
SCHEDULER = "scheduler.py"
SERVER = "faasr_server.py"
PAYLOAD = "faasr_payload.py"
LOCK = "faasr_lock.py"
LOG = "log.py"
HELPER = "faasr_start_invoke_helper.py"
FUNC_HELPER = "py_func_helper.py"
UPLOADED = "Log succesfully uploaded"  # sic: the engine's spelling


class ActionLog:
    """Buffer and flusher of one action's S3 log."""

    def __init__(self, t0: float, *, out: TextIO | None = None) -> None:
        self._t0 = t0
        self._out = out
        self._buffer: list[str] = []
        self._target: tuple[Any, str, str] | None = None

    @property
    def attached(self) -> bool:
        return self._target is not None

    def attach(self, client: Any, bucket: str, key: str) -> None:
        """Start sending records to `s3://bucket/key` (the engine's S3 handler attachment)."""
        self._target = (client, bucket, key)

    def rebind(self, client: Any) -> None:
        """In a forked child: use the child's own S3 client and start with an empty buffer."""
        self._buffer = []
        if self._target:
            self._target = (client, *self._target[1:])

    def elapsed(self) -> float:
        return round(time.monotonic() - self._t0, 3)

    def record(
        self, level: str, file: str, message: str, *, exc: BaseException | None = None, stack: bool = False
    ) -> None:
        text = message
        if exc is not None:
            text += "\n" + "".join(traceback.format_exception(exc)).rstrip("\n")
        if stack:
            # Only the runtime's own frames: the forkserver/multiprocessing ones say nothing useful.
            frames = [f for f in traceback.format_stack()[:-2] if "prefect_faasr" in f]
            text += "\nStack (most recent call last):\n" + "".join(frames).rstrip("\n")
        if LEVELS[level] >= LEVELS["INFO"]:
            console(f"[{level}] [{file}] {text}", self._out)
        if self._target is None:
            return
        self._buffer.append(f"[{self.elapsed()}] [{level}] [{file}] {text}")
        if LEVELS[level] >= LEVELS["ERROR"]:
            self.flush()

    def debug(self, file: str, message: str) -> None:
        self.record("DEBUG", file, message)

    def info(self, file: str, message: str) -> None:
        self.record("INFO", file, message)

    def warning(self, file: str, message: str) -> None:
        self.record("WARNING", file, message)

    def error(self, file: str, message: str, **kw: Any) -> None:
        self.record("ERROR", file, message, **kw)

    def flush(self) -> None:
        """Append the buffered records to the S3 log; the upload echo goes into the next batch."""
        if not self._buffer or self._target is None:
            return
        text = "\n".join(self._buffer)
        self._buffer = []
        self._append(text)
        self.debug(LOG, UPLOADED)

    def append_user(self, message: str) -> None:
        """A `faasr_log` line: appended to the S3 log at once, without prefix."""
        self._append(message)
        self.debug(LOG, UPLOADED)

    def _append(self, text: str) -> None:
        if self._target is None:
            raise RuntimeError("the S3 log is not attached yet")
        client, bucket, key = self._target
        old = read_text(client, bucket, key) or ""
        client.put_object(Bucket=bucket, Key=key, Body=(old + text + "\n").encode("utf-8"))


def console(line: str, stream: TextIO | None = None) -> None:
    """A line on the activation's stdout (the platform's log, what the engine prints; never S3)."""
    out = stream or sys.stdout
    out.write(line + "\n")
    out.flush()


def read_text(client: Any, bucket: str, key: str) -> str | None:
    """An object's text, or None when it does not exist."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return body.decode("utf-8", errors="replace")
