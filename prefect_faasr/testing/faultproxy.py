"""A TCP/HTTP fault proxy for reliability tests: put it in front of an S3 server and break things on cue.

Example (each call replaces the mode in force; `pass_through()` or leaving a `with` ends it):
    ```python
    with FaultProxy.for_url(moto_url) as proxy:
        s3 = s3_client(proxy.endpoint_url, "us-east-1", "test", "test")
        proxy.outage(seconds=10)                          # connections reset for 10 s, then pass-through
        proxy.http_errors(503, code="SlowDown", times=2)  # the next two requests get 503 SlowDown
        with proxy.latency(0.5):                          # every request held 0.5 s inside the block
            s3.list_buckets()
        proxy.stats.errors, proxy.stats.requests
    ```

One asyncio event loop in one background thread serves every connection; mode switches are
synchronous (when `outage()` returns, existing connections are gone and new ones fail) and may be
made from any thread but the proxy's own.

In HTTP mode the proxy frames each request on a kept-alive connection (request head, then a
Content-Length or chunked body) so that it can answer any one of them itself. Forwarded requests go
upstream byte for byte (SigV4 signatures and `Expect: 100-continue` stay untouched) and responses
come back as an unparsed byte stream. Anything that does not look like HTTP/1.x is piped as raw TCP.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import logging
import re
import secrets
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

Mode = Literal["pass_through", "outage", "http_error", "latency"]
OutageKind = Literal["reset", "close", "refuse"]
OUTAGE_KINDS: tuple[OutageKind, ...] = ("reset", "close", "refuse")

# S3 error codes with the status and message S3 sends for them.
S3_ERRORS: dict[str, tuple[int, str]] = {
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "SlowDown": (503, "Please reduce your request rate."),
    "ServiceUnavailable": (503, "Service is unable to handle request."),
    "AccessDenied": (403, "Access Denied"),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "RequestTimeout": (
        400,
        "Your socket connection to the server was not read from or written to within the timeout "
        "period. Idle connections will be closed.",
    ),
}
_CODE_FOR_STATUS = {500: "InternalError", 503: "SlowDown", 403: "AccessDenied", 404: "NoSuchKey"}

_CHUNK = 64 * 1024
_HEAD_LIMIT = 64 * 1024  # longest request head (and chunk-size line) read before giving up on HTTP
_LINGER = 2.0  # seconds to drain a client's unread bytes before closing after a final error response
_CALL_TIMEOUT = 30.0
_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/(\d)\.(\d)\r\n")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ProxyStats:
    """Counters since start (or `reset_stats()`). Connections refused while the listener is closed
    (`outage(how="refuse")`) never reach the proxy, so they are not counted."""

    connections: int = 0  # client connections accepted, dropped ones included
    open_connections: int = 0  # client connections open now
    requests: int = 0  # HTTP requests read from clients
    forwarded: int = 0  # requests passed upstream (raw TCP: connections)
    errors: int = 0  # HTTP error responses the proxy answered itself
    dropped: int = 0  # connections reset or closed by an outage
    delayed: int = 0  # requests (raw TCP: chunks) held back by latency
    upstream_failures: int = 0  # connections to the upstream that could not be opened

    @property
    def faults(self) -> int:
        """Every fault injected: error responses, dropped connections and delays."""
        return self.errors + self.dropped + self.delayed


@dataclass(eq=False)
class Fault:
    """A fault in force on the proxy, as returned by `outage()`, `http_errors()` and `latency()`.

    It ends after `seconds`, after `times` injections, on `end()`, when another mode is set, or when
    a `with` block around it is left. `injected` counts how often it struck.
    """

    kind: Literal["outage", "http_error", "latency"]
    seconds: float | None = None
    times: int | None = None
    how: OutageKind = "reset"
    status: int = 503
    code: str = "SlowDown"
    message: str = ""
    close_connection: bool = False
    delay: float = 0.0
    injected: int = 0
    _proxy: FaultProxy | None = field(default=None, repr=False)
    _ended: bool = field(default=False, repr=False)
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        """Whether the proxy still injects this fault."""
        return self._live()

    def end(self) -> None:
        """Back to pass-through, unless another mode has replaced this fault already."""
        if self._proxy is not None:
            self._proxy._end(self)

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    def _live(self) -> bool:
        return not self._ended and (self.times is None or self.injected < self.times)

    def describe(self) -> str:
        if self.kind == "outage":
            what = f"outage ({self.how})"
        elif self.kind == "http_error":
            what = f"HTTP {self.status} {self.code}"
        else:
            what = f"latency {self.delay:g} s"
        limits = [f"{self.seconds:g} s"] if self.seconds is not None else []
        limits += [f"{self.times} times"] if self.times is not None else []
        return what + (f" for {', '.join(limits)}" if limits else "")


class _Conn:
    """One client connection and, once something was forwarded, its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None  # serving the client
        self.pump: asyncio.Task[None] | None = None  # upstream bytes to the client

    def drop(self, reset: bool) -> None:
        _close(self.client, reset)
        if self.upstream is not None:
            _close(self.upstream, True)


@dataclass(frozen=True)
class _Request:
    method: str
    version: tuple[int, int]
    headers: dict[str, str]

    @property
    def chunked(self) -> bool:
        return self.headers.get("transfer-encoding", "").replace(" ", "").lower().endswith("chunked")

    @property
    def length(self) -> int | None:
        """Body length when framed by Content-Length (0 when there is no body), None when unframable."""
        if "transfer-encoding" in self.headers:
            return None
        value = self.headers.get("content-length", "0").strip()
        return int(value) if value.isdigit() else None

    @property
    def framable(self) -> bool:
        return self.chunked or self.length is not None

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        return "keep-alive" in tokens if self.version < (1, 1) else "close" not in tokens

    @property
    def expects_continue(self) -> bool:
        return self.headers.get("expect", "").strip().lower() == "100-continue"


class _Unframable(Exception):
    """A request body whose end cannot be found (bad chunk size)."""


class FaultProxy:
    """A local TCP proxy in front of `upstream_host:upstream_port` that injects faults on demand.

    Modes: pass-through (default), `outage()`, `http_errors()`, `latency()`; `pass_through()` ends any.
    Listens on `host` at a free port (`endpoint_url`). Use it as a context manager, or `start()` and
    `close()`; closing ends every connection and the proxy's thread.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        http: bool = True,
        connect_timeout: float = 5.0,
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self.http = http
        self.connect_timeout = connect_timeout
        self._port = 0
        self._cond = threading.Condition()
        self._fault: Fault | None = None
        self._counts: dict[str, int] = dict.fromkeys(ProxyStats.__dataclass_fields__, 0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._switching = asyncio.Lock()
        self._closing = False

    @classmethod
    def for_url(cls, url: str, **kwargs: Any) -> FaultProxy:
        """A proxy for an `http://host:port` endpoint (TLS would hide the HTTP it needs to see)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"FaultProxy needs an http://host:port URL, got {url!r}")
        return cls(parts.hostname, parts.port or 80, **kwargs)

    # ---- where it listens -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the proxy is not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start listening (a free port) and serving in a background thread."""
        if self._thread is not None:
            raise RuntimeError("the proxy is already started")
        self._closing = False
        self._port = 0
        self._switching = asyncio.Lock()  # binds to the loop of its first use: one per run
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self._stop_loop()
            raise
        self._thread.name = f"faultproxy-{self.host}:{self._port}"
        log.debug("fault proxy %s -> %s:%s", self.endpoint_url, self.upstream_host, self.upstream_port)
        return self

    def close(self) -> None:
        """Stop listening, end every connection and the thread. Safe to call twice."""
        if self._loop is None:
            return
        try:
            if self._loop.is_running():
                self._call(self._shutdown())
        finally:
            self._stop_loop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.endpoint_url if self._port else "not started"
        return f"FaultProxy({where} -> {self.upstream_host}:{self.upstream_port}, {self.mode})"

    # ---- modes ------------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        fault = self.fault
        return fault.kind if fault is not None else "pass_through"

    @property
    def fault(self) -> Fault | None:
        """The fault in force, None in pass-through."""
        with self._cond:
            fault = self._fault
            return fault if fault is not None and fault._live() else None

    def pass_through(self) -> None:
        """End any fault: forward everything again."""
        self._call(self._switch(None))

    def outage(
        self, seconds: float | None = None, *, how: OutageKind = "reset", times: int | None = None
    ) -> Fault:
        """The upstream is unreachable: existing connections are dropped and new ones fail.

        `how`: "reset" accepts and resets (RST), "close" accepts and closes (FIN, the client sees the
        server hang up), "refuse" stops listening (connection refused) until the outage ends. `times`
        limits it to that many new connections or requests (not with "refuse").
        """
        if how not in OUTAGE_KINDS:
            raise ValueError(f"how must be one of {', '.join(OUTAGE_KINDS)}, not {how!r}")
        if how == "refuse" and times is not None:
            raise ValueError('an outage with how="refuse" refuses connections it never sees: use seconds')
        return self._begin(Fault("outage", seconds, times, how=how))

    def http_errors(
        self,
        status: int = 503,
        *,
        code: str | None = None,
        message: str | None = None,
        seconds: float | None = None,
        times: int | None = None,
        close_connection: bool = False,
    ) -> Fault:
        """Answer every HTTP request with `status` and an S3 XML error body, without asking upstream.

        `code` defaults to S3's code for the status (503 SlowDown, 500 InternalError, ...), `message`
        to S3's message for the code. The request body is read (after a `100 Continue` when the client
        expects one) and the connection stays alive; with `close_connection` the answer comes at once,
        before any body, with `Connection: close`.
        """
        if not self.http:
            raise ValueError("http_errors needs an HTTP proxy (FaultProxy(..., http=True))")
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), not {status}")
        code = code or _CODE_FOR_STATUS.get(status) or _phrase(status).replace(" ", "").replace("-", "")
        message = message if message is not None else S3_ERRORS.get(code, (status, _phrase(status)))[1]
        fault = Fault(
            "http_error", seconds, times, status=status, code=code, message=message,
            close_connection=close_connection,
        )  # fmt: skip
        return self._begin(fault)

    def latency(self, delay: float, *, seconds: float | None = None, times: int | None = None) -> Fault:
        """Hold every request `delay` seconds before forwarding it (raw TCP: every chunk)."""
        if delay < 0:
            raise ValueError(f"delay must be >= 0, not {delay}")
        return self._begin(Fault("latency", seconds, times, delay=delay))

    def wait_pass_through(self, timeout: float) -> bool:
        """Wait until no fault is in force (a timed one ended); False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._fault is not None and self._fault._live():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # ---- counters ---------------------------------------------------------------------------------

    @property
    def stats(self) -> ProxyStats:
        with self._cond:
            return ProxyStats(**{**self._counts, "open_connections": len(self._conns)})

    def reset_stats(self) -> None:
        with self._cond:
            self._counts = dict.fromkeys(self._counts, 0)

    # ---- internals: calls into the loop -----------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        loop = self._loop
        if loop is None or not loop.is_running():
            coro.close()
            raise RuntimeError("the proxy is not running: use it as a context manager or call start()")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("switch modes from the test's thread, not from the proxy's own")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(_CALL_TIMEOUT)

    def _begin(self, fault: Fault) -> Fault:
        if fault.seconds is not None and fault.seconds <= 0:
            raise ValueError(f"seconds must be > 0, not {fault.seconds}")
        if fault.times is not None and fault.times < 1:
            raise ValueError(f"times must be >= 1, not {fault.times}")
        fault._proxy = self
        self._call(self._switch(fault))
        return fault

    def _end(self, fault: Fault) -> None:
        if self._loop is not None and self._loop.is_running() and not self._closing:
            self._call(self._switch(None, only_if=fault))

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        self._loop = self._thread = None

    # ---- internals: in the loop -------------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self._port, reuse_address=True, limit=_HEAD_LIMIT
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _switch(self, new: Fault | None, only_if: Fault | None = None) -> None:
        """Make `new` the fault in force (None: pass-through) and apply what it does at once."""
        async with self._switching:  # one at a time: closing and reopening the listener take awaits
            await self._switch_now(new, only_if)

    async def _switch_now(self, new: Fault | None, only_if: Fault | None) -> None:
        if only_if is not None and self._fault is not only_if:
            return  # ended or replaced already
        refusing = new is not None and new.kind == "outage" and new.how == "refuse"
        if not refusing and self._server is None and not self._closing:
            await self._listen()  # an outage that refused connections is over: listen on the same port
        with self._cond:
            old, self._fault = self._fault, new
            if old is not None:
                old._ended = True
            self._cond.notify_all()
        if old is not None and old._timer is not None:
            old._timer.cancel()
        log.info("fault proxy %s: %s", self._port, new.describe() if new else "pass-through")
        if new is None:
            return
        if new.seconds is not None:
            new._timer = asyncio.get_running_loop().call_later(new.seconds, self._expire, new)
        if new.kind == "outage":
            for conn in list(self._conns):
                conn.drop(reset=new.how != "close")
                self._count("dropped")
        if refusing and self._server is not None:
            server, self._server = self._server, None
            server.close()
            await server.wait_closed()

    def _expire(self, fault: Fault) -> None:
        if self._fault is fault and not self._closing:
            self._spawn(self._switch(None, only_if=fault))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _take(self, *kinds: str) -> Fault | None:
        """The fault of one of `kinds` to inject now (counted against its `times`), else None."""
        with self._cond:
            fault = self._fault
            if fault is None or not fault._live() or fault.kind not in kinds:
                return None
            fault.injected += 1
            if not fault._live():
                self._cond.notify_all()
                self._spawn(self._switch(None, only_if=fault))
            return fault

    def _count(self, name: str) -> None:
        with self._cond:
            self._counts[name] += 1

    async def _shutdown(self) -> None:
        self._closing = True
        with self._cond:
            fault, self._fault = self._fault, None
            if fault is not None:
                fault._ended = True
            self._cond.notify_all()
        if fault is not None and fault._timer is not None:
            fault._timer.cancel()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        ours = [*self._background]
        for conn in list(self._conns):
            conn.drop(reset=True)
            ours += [t for t in (conn.task, conn.pump) if t is not None]
        for task in ours:
            task.cancel()
        # Only our own tasks are cancelled: asyncio's accept tasks still hand their connections to
        # `_accept`, which drops them (a cancelled one would leak its socket).
        me = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not me]
        if others:
            await asyncio.wait(others, timeout=_CALL_TIMEOUT / 3)
        if server is not None:
            await server.wait_closed()
        for _ in range(3):  # let aborted transports run their connection_lost (which closes the socket)
            await asyncio.sleep(0)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Synchronous (asyncio calls it from connection_made), so every connection is registered
        # before anything else runs: shutdown and outages see them all, even ones not yet served.
        conn = _Conn(writer)
        with self._cond:
            self._counts["connections"] += 1
        fault = self._take("outage")
        if fault is not None or self._closing:
            self._count("dropped")
            conn.drop(reset=fault is None or fault.how != "close")
            return
        with self._cond:
            self._conns.add(conn)
        conn.task = asyncio.get_running_loop().create_task(self._serve(conn, reader))

    async def _serve(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        try:
            if self.http:
                await self._serve_http(conn, reader)
            else:
                await self._pipe_raw(conn, reader, b"")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, _Unframable):
            pass  # a side hung up or sent a body whose end cannot be found: close both sides
        except Exception:
            log.exception("fault proxy %s: connection failed", self._port)
        finally:
            with self._cond:
                self._conns.discard(conn)
            conn.drop(reset=False)
            if conn.pump is not None:
                conn.pump.cancel()

    async def _serve_http(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return await self._client_done(conn)
            except asyncio.LimitOverrunError:
                return await self._pipe_raw(conn, reader, b"")
            request = _parse_head(head)
            if request is None:
                return await self._pipe_raw(conn, reader, head)
            self._count("requests")
            fault = self._take("outage", "http_error", "latency")
            if fault is not None and fault.kind == "outage":
                self._count("dropped")
                conn.drop(reset=fault.how != "close")
                return
            if fault is not None and fault.kind == "http_error":
                self._count("errors")
                if not await self._answer(conn, reader, request, fault):
                    return
                continue
            if fault is not None:
                self._count("delayed")
                await asyncio.sleep(fault.delay)
            if not await self._connect_upstream(conn):
                conn.drop(reset=True)
                return
            assert conn.upstream is not None
            conn.upstream.write(head)
            self._count("forwarded")
            if not request.framable:
                return await self._pipe_raw(conn, reader, b"")
            await _copy_body(reader, conn.upstream, request)

    async def _answer(
        self, conn: _Conn, reader: asyncio.StreamReader, request: _Request, fault: Fault
    ) -> bool:
        """Send the fault's error response; True when the connection stays open for the next request."""
        keep = request.keep_alive and request.framable and not fault.close_connection
        if keep:
            if request.expects_continue:  # it holds its body back until told to send it
                conn.client.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            try:
                await _copy_body(reader, None, request)
            except _Unframable:
                keep = False
        conn.client.write(_error_response(fault, request, keep))
        await conn.client.drain()
        if not keep:
            # Lingering close: a client still sending its body must not get an RST before our answer.
            conn.client.write_eof()
            with contextlib.suppress(TimeoutError, ConnectionError, OSError):
                async with asyncio.timeout(_LINGER):
                    while await reader.read(_CHUNK):
                        pass
            conn.client.close()
        return keep

    async def _pipe_raw(self, conn: _Conn, reader: asyncio.StreamReader, first: bytes) -> None:
        if not await self._connect_upstream(conn):
            conn.drop(reset=True)
            return
        assert conn.upstream is not None
        if not self.http:
            self._count("forwarded")
        data = first
        while True:
            if data:
                fault = self._take("outage", "http_error", "latency")
                if fault is not None and fault.kind == "latency":
                    self._count("delayed")
                    await asyncio.sleep(fault.delay)
                elif fault is not None:  # raw bytes cannot get an HTTP answer: an error is a reset too
                    self._count("dropped")
                    conn.drop(reset=fault.how != "close")
                    return
                conn.upstream.write(data)
                await conn.upstream.drain()
            data = await reader.read(_CHUNK)
            if not data:
                return await self._client_done(conn)

    async def _client_done(self, conn: _Conn) -> None:
        """The client sent EOF: pass it on and let the upstream finish its answer (a half-close)."""
        if conn.upstream is None or conn.pump is None or conn.upstream.is_closing():
            return
        with contextlib.suppress(OSError):
            conn.upstream.write_eof()
        await conn.pump

    async def _connect_upstream(self, conn: _Conn) -> bool:
        if conn.upstream is not None:
            return not conn.upstream.is_closing()
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except (OSError, TimeoutError) as exc:
            self._count("upstream_failures")
            log.warning("fault proxy %s: cannot reach upstream: %s", self._port, exc)
            return False
        conn.upstream = writer
        conn.pump = asyncio.get_running_loop().create_task(_pump(reader, conn.client))
        return True


async def _pump(reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
    """Upstream bytes to the client, unparsed; when the upstream hangs up, so does the client's side."""
    try:
        while data := await reader.read(_CHUNK):
            client.write(data)
            await client.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        client.close()


async def _copy_body(reader: asyncio.StreamReader, dst: asyncio.StreamWriter | None, req: _Request) -> None:
    """Copy (or, without `dst`, read and discard) one request body exactly to its end."""
    if not req.chunked:
        await _copy_exact(reader, dst, req.length or 0)
        return
    while True:
        line = await reader.readuntil(b"\r\n")
        _write(dst, line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _Unframable(f"bad chunk size line {line[:40]!r}") from None
        if size == 0:
            break
        await _copy_exact(reader, dst, size + 2)  # the chunk and its CRLF
        if dst is not None:
            await dst.drain()
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":  # trailer fields, then an empty line
        _write(dst, line)
    _write(dst, line)
    if dst is not None:
        await dst.drain()


async def _copy_exact(reader: asyncio.StreamReader, dst: asyncio.StreamWriter | None, n: int) -> None:
    while n > 0:
        data = await reader.read(min(n, _CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", n)
        n -= len(data)
        if dst is not None:
            dst.write(data)
            await dst.drain()


def _write(dst: asyncio.StreamWriter | None, data: bytes) -> None:
    if dst is not None:
        dst.write(data)


def _close(writer: asyncio.StreamWriter, reset: bool) -> None:
    if writer.is_closing():
        return
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # linger 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


def _parse_head(head: bytes) -> _Request | None:
    """The request line and headers of an HTTP/1.x request head; None when it is not one."""
    m = _REQUEST_LINE.match(head)
    if m is None:
        return None
    headers: dict[str, str] = {}
    for line in head[m.end() :].decode("latin-1").split("\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return _Request(m[1].decode("ascii"), (int(m[3]), int(m[4])), headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _error_response(fault: Fault, request: _Request, keep_alive: bool) -> bytes:
    """An error response as S3 sends it: XML body with Code, Message, RequestId and HostId."""
    request_id = secrets.token_hex(8).upper()
    host_id = base64.b64encode(secrets.token_bytes(48)).decode()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(fault.code)}</Code><Message>{escape(fault.message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
    ).encode()
    if request.method == "HEAD":
        body = b""  # a HEAD response has no body; the status alone tells the client
    headers = [
        f"HTTP/1.1 {fault.status} {_phrase(fault.status)}",
        f"x-amz-request-id: {request_id}",
        f"x-amz-id-2: {host_id}",
        "Content-Type: application/xml",
        f"Content-Length: {len(body)}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        "Server: AmazonS3",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body
