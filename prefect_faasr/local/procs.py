"""Starting and stopping the runtime's server processes, and the helpers those processes share.

A server process runs `<module>.main()` in a fresh interpreter: it reads its configuration as JSON
on stdin (secrets never go on the command line), binds 127.0.0.1 port 0, prints `{"port": N}` on
stdout, then sends its own output to a log file. The parent reads that one line, so the port is
known without a race.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil


class ServerStartError(RuntimeError):
    """A runtime server process did not come up."""


class ServerProcess:
    """One child server process of the local runtime."""

    def __init__(self, module: str, config: dict[str, Any], log_file: Path, *, timeout: float = 60.0) -> None:
        self.module = module
        self.log_file = log_file
        with open(log_file, "ab") as err:
            self._proc = subprocess.Popen(
                # `-c` rather than `-m`: with a named __main__, every forkserver child would re-run it.
                [sys.executable, "-c", f"from {module} import main; main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                close_fds=True,
            )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(config).encode())
        self._proc.stdin.close()
        try:
            self.port = int(_read_line(self._proc.stdout, timeout)["port"])
        except Exception as exc:
            self.stop()
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise ServerStartError(f"{module} did not start: {exc}\n{tail}".rstrip()) from None
        finally:
            self._proc.stdout.close()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def stop(self, timeout: float = 10.0, *, graceful: bool = True) -> None:
        """SIGTERM, wait, then SIGKILL (`graceful=False`: SIGKILL at once, as a crash would end it);
        afterwards kill any descendant that outlived it."""
        if self._proc.poll() is None:
            try:
                descendants = psutil.Process(self._proc.pid).children(recursive=True)
            except psutil.Error:
                descendants = []
            if graceful:
                self._proc.terminate()
            else:
                self._proc.kill()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            for proc in descendants:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            wait_gone(descendants, timeout=5)


def wait_gone(procs: list[psutil.Process], timeout: float) -> None:
    """Wait until processes are gone or zombies (orphans are reaped by init, sometimes slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
        if not alive:
            return
        procs = alive
        time.sleep(0.02)


def _read_line(stream: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no port reported within {timeout:.0f} s")
            if not sel.select(left):
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                raise EOFError("the process exited before reporting its port")
            data += chunk
    return json.loads(data.split(b"\n", 1)[0])


# ---- used inside the server processes ------------------------------------------------------------


def read_config() -> dict[str, Any]:
    return json.loads(sys.stdin.read())


def report_port(port: int, log_file: Path) -> None:
    """Tell the parent the port, then send stdout/stderr to the log file."""
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def exit_with_parent(interval: float = 0.5) -> None:
    """SIGTERM this process when its parent goes away (the runtime's owner died without cleaning up)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
