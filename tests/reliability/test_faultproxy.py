"""The fault proxy in front of a real moto S3 server, driven by real boto3 clients (and raw sockets
where the exact bytes on a connection matter)."""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import psutil
import pytest
from botocore.retries.standard import RetryEventAdapter, ThrottlingErrorDetector

from prefect_faasr.testing.faultproxy import FaultProxy

from .conftest import Clients
from .upstream import EchoServer, TcpEcho

pytestmark = pytest.mark.timeout(60)

CONNECTION_FAILURES = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


class Attempts:
    """Every attempt botocore makes (its needs-retry event) and whether it saw a throttling error."""

    def __init__(self, s3: Any) -> None:
        self.throttled: list[bool] = []
        detector = ThrottlingErrorDetector(RetryEventAdapter())

        def record(**kwargs: Any) -> None:
            self.throttled.append(detector.is_throttling_error(**kwargs))

        s3.meta.events.register_first("needs-retry.s3", record)

    def __len__(self) -> int:
        return len(self.throttled)


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def get(conn: http.client.HTTPConnection, path: str, method: str = "GET", **kwargs: Any) -> tuple[int, Any]:
    conn.request(method, path, **kwargs)
    response = conn.getresponse()
    body = response.read()
    if response.getheader("Content-Type") == "application/json":
        return response.status, json.loads(body)
    return response.status, body


# ---- pass-through ---------------------------------------------------------------------------------


def test_pass_through_put_get_list(proxy: FaultProxy, bucket: str, direct: Any, clients: Clients) -> None:
    s3 = clients.s3(proxy)
    big = bytes(range(256)) * 4096  # 1 MiB: many reads and writes through the proxy
    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"hello")
    s3.put_object(Bucket=bucket, Key="big.bin", Body=io.BytesIO(big))  # Expect: 100-continue
    assert s3.get_object(Bucket=bucket, Key="small.txt")["Body"].read() == b"hello"
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big
    assert s3.get_object(Bucket=bucket, Key="big.bin", Range="bytes=10-19")["Body"].read() == big[10:20]
    assert keys(s3, bucket) == ["big.bin", "small.txt"]
    assert keys(direct, bucket) == ["big.bin", "small.txt"]
    stats = proxy.stats
    assert (stats.requests, stats.forwarded, stats.faults) == (6, 6, 0)
    assert proxy.mode == "pass_through"


def test_pass_through_keeps_connections_alive_and_frames_chunked_bodies(
    echo_proxy: FaultProxy, clients: Clients
) -> None:
    conn = clients.http(echo_proxy)
    status, first = get(conn, "/a")
    assert (status, first["connection"], first["request"]) == (200, 1, 1)
    chunks = iter([b"abc", b"", b"defgh", b"x" * 70000])  # an empty chunk is skipped by http.client
    status, second = get(conn, "/b", "POST", body=chunks, encode_chunked=True)
    assert (status, second["body"]) == (200, "abcdefgh" + "x" * 70000)
    status, third = get(conn, "/c", "PUT", body=b"plain")
    assert (status, third["body"], third["connection"], third["request"]) == (200, "plain", 1, 3)
    conn.close()
    assert (echo_proxy.stats.connections, echo_proxy.stats.forwarded) == (1, 3)


def test_non_http_bytes_are_piped_unchanged(clients: Clients) -> None:
    with TcpEcho() as upstream, FaultProxy(*upstream.address) as proxy:
        with clients.socket(proxy) as sock:
            sock.sendall(b"SSH-2.0-not-http\r\n\r\n\x00\xff")
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data == b"SSH-2.0-not-http\r\n\r\n\x00\xff"
        assert (proxy.stats.requests, proxy.stats.connections) == (0, 1)


# ---- outage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["reset", "close", "refuse"])
def test_outage_fails_calls_and_recovery_works(
    proxy: FaultProxy, bucket: str, direct: Any, how: str, clients: Clients
) -> None:
    s3 = clients.s3(proxy)
    s3.put_object(Bucket=bucket, Key="before", Body=b"1")
    fault = proxy.outage(how=how)  # type: ignore[arg-type]
    assert proxy.mode == "outage" and fault.active
    for _ in range(2):
        with pytest.raises(CONNECTION_FAILURES):
            s3.put_object(Bucket=bucket, Key="during", Body=b"2")
    if how == "refuse":
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=5).close()
    else:
        assert proxy.stats.dropped >= 2
    proxy.pass_through()
    assert not fault.active
    s3.put_object(Bucket=bucket, Key="after", Body=b"3")
    assert keys(direct, bucket) == ["after", "before"]


def test_outage_drops_existing_connections(echo_proxy: FaultProxy, clients: Clients) -> None:
    reset = clients.socket(echo_proxy)
    closed = clients.http(echo_proxy)
    assert get(closed, "/")[0] == 200
    reset.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a request head: the proxy waits for the rest
    with echo_proxy.outage(how="reset"), pytest.raises(ConnectionResetError):
        reset.recv(1)
    with echo_proxy.outage(how="close"), pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(closed, "/")
    reset.close()
    closed.close()
    assert get(clients.http(echo_proxy), "/")[0] == 200


def test_outage_with_times_drops_that_many_connections(
    proxy: FaultProxy, bucket: str, clients: Clients
) -> None:
    fault = proxy.outage(times=2)
    s3 = clients.s3(proxy, retries=2)
    attempts = Attempts(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")  # two attempts fail, the third gets through
    assert len(attempts) == 3
    assert (fault.injected, fault.active, proxy.mode) == (2, False, "pass_through")


def test_outage_ends_by_itself(proxy: FaultProxy, bucket: str, clients: Clients) -> None:
    proxy.outage(seconds=0.3, how="refuse")
    assert proxy.wait_pass_through(timeout=20)
    assert proxy.mode == "pass_through"
    clients.s3(proxy).put_object(Bucket=bucket, Key="k", Body=b"v")


# ---- HTTP errors ----------------------------------------------------------------------------------


def test_slowdown_is_a_throttling_error_that_botocore_retries(
    proxy: FaultProxy, bucket: str, direct: Any, clients: Clients
) -> None:
    s3 = clients.s3(proxy, retries=2)
    attempts = Attempts(s3)
    proxy.http_errors(503, code="SlowDown")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"never stored")
    response = info.value.response
    assert response["Error"] == {"Code": "SlowDown", "Message": "Please reduce your request rate."}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert response["ResponseMetadata"]["RequestId"]  # parsed from the XML body
    assert attempts.throttled == [True, True, True]
    stats = proxy.stats
    assert (stats.requests, stats.errors, stats.forwarded) == (3, 3, 0)
    assert stats.connections == 1  # each error kept the connection alive and the retries reused it
    assert keys(direct, bucket) == []  # the upstream never saw the request


def test_internal_error_once_then_the_retry_succeeds(
    proxy: FaultProxy, bucket: str, direct: Any, clients: Clients
) -> None:
    s3 = clients.s3(proxy, retries=2)
    attempts = Attempts(s3)
    fault = proxy.http_errors(500, times=1)
    assert (fault.code, fault.message) == (
        "InternalError",
        "We encountered an internal error. Please try again.",
    )
    response = s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert attempts.throttled == [False, False]  # transient, not throttling; the second needs no retry
    assert (fault.injected, fault.active, proxy.mode) == (1, False, "pass_through")
    assert direct.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_errors_on_one_kept_alive_connection(echo_proxy: FaultProxy, clients: Clients) -> None:
    """HEAD (no body), chunked and Content-Length bodies, then pass-through again: one connection."""
    conn = clients.http(echo_proxy)
    assert get(conn, "/first")[1]["request"] == 1
    with echo_proxy.http_errors(503, code="ServiceUnavailable"):
        conn.request("HEAD", "/h")
        head = conn.getresponse()
        assert (head.status, head.read(), head.getheader("Connection")) == (503, b"", "keep-alive")
        status, body = get(conn, "/c", "PUT", body=iter([b"abc", b"def"]), encode_chunked=True)
        assert status == 503 and b"<Code>ServiceUnavailable</Code>" in body
        assert b"<Message>Service is unable to handle request.</Message>" in body
        status, body = get(conn, "/l", "POST", body=b"x" * 100_000)
        assert status == 503 and body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>')
    status, last = get(conn, "/last", "POST", body=b"after")
    assert (status, last["body"], last["connection"], last["request"]) == (200, "after", 1, 2)
    conn.close()
    stats = echo_proxy.stats
    assert (stats.connections, stats.requests, stats.errors, stats.forwarded) == (1, 5, 3, 2)


def test_error_with_connection_close(echo_proxy: FaultProxy, clients: Clients) -> None:
    echo_proxy.http_errors(403, close_connection=True)
    with clients.socket(echo_proxy) as sock:
        sock.sendall(b"PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):  # the proxy closes after one answer
            data += chunk
    assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Connection: close\r\n" in data and b"<Code>AccessDenied</Code>" in data
    assert data.count(b"HTTP/1.1") == 1
    assert echo_proxy.stats.errors == 1


@pytest.mark.parametrize("close", [False, True])
def test_expect_100_continue(
    proxy: FaultProxy, bucket: str, direct: Any, close: bool, clients: Clients
) -> None:
    """boto3 sends every PutObject with `Expect: 100-continue`: the proxy either lets the body come
    (100 Continue), reads it and keeps the connection, or answers at once and closes."""
    s3 = clients.s3(proxy, retries=1)
    proxy.http_errors(503, close_connection=close)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"some body")
    assert info.value.response["Error"]["Code"] == "SlowDown"
    assert (proxy.stats.errors, proxy.stats.connections) == (2, 2 if close else 1)
    proxy.pass_through()
    s3.put_object(Bucket=bucket, Key="k", Body=io.BytesIO(b"file-like body"))
    assert direct.get_object(Bucket=bucket, Key="k")["Body"].read() == b"file-like body"


def test_http_errors_end_by_themselves(proxy: FaultProxy, bucket: str, clients: Clients) -> None:
    s3 = clients.s3(proxy)
    with proxy.http_errors(503, seconds=60) as long, pytest.raises(botocore.exceptions.ClientError):
        s3.list_objects_v2(Bucket=bucket)
    assert not long.active and proxy.mode == "pass_through"
    short = proxy.http_errors(503, code="SlowDown", seconds=0.3)
    assert proxy.wait_pass_through(timeout=20)
    assert not short.active
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_new_mode_replaces_the_old_one(proxy: FaultProxy, bucket: str, clients: Clients) -> None:
    s3 = clients.s3(proxy)
    first = proxy.http_errors(500, seconds=60)
    second = proxy.http_errors(503)
    assert not first.active and second.active
    first.end()  # ending a replaced fault leaves the current one alone
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.list_objects_v2(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == "SlowDown"
    second.end()
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# ---- latency ----------------------------------------------------------------------------------------


def test_latency_delays_requests_that_still_succeed(proxy: FaultProxy, bucket: str, clients: Clients) -> None:
    s3 = clients.s3(proxy)
    with proxy.latency(0.2, times=2) as fault:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
        assert not fault.active  # used up
    assert proxy.stats.delayed == 2


def test_latency_longer_than_the_read_timeout(echo_proxy: FaultProxy, clients: Clients) -> None:
    slow = clients.http(echo_proxy, timeout=0.5)
    with echo_proxy.latency(30), pytest.raises(TimeoutError):
        get(slow, "/")
    slow.close()
    assert get(clients.http(echo_proxy), "/")[0] == 200


# ---- raw TCP ------------------------------------------------------------------------------------


def test_raw_tcp_mode(moto_endpoint: str, bucket: str, clients: Clients) -> None:
    with FaultProxy.for_url(moto_endpoint, http=False) as raw:
        s3 = clients.s3(raw)
        s3.put_object(Bucket=bucket, Key="k", Body=b"v")
        with pytest.raises(ValueError, match="HTTP proxy"):
            raw.http_errors(503)
        with raw.outage(), pytest.raises(CONNECTION_FAILURES):
            s3.get_object(Bucket=bucket, Key="k")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
        assert raw.stats.requests == 0 and raw.stats.forwarded >= 2


# ---- API checks, threads, shutdown --------------------------------------------------------------


def test_bad_arguments(proxy: FaultProxy) -> None:
    for call, message in [
        (lambda: proxy.outage(how="explode"), "how must be one of"),  # type: ignore[arg-type]
        (lambda: proxy.outage(how="refuse", times=1), "use seconds"),
        (lambda: proxy.outage(seconds=0), "seconds must be > 0"),
        (lambda: proxy.http_errors(200), "400-599"),
        (lambda: proxy.http_errors(times=0), "times must be >= 1"),
        (lambda: proxy.latency(-1), "delay must be >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
    assert proxy.mode == "pass_through"
    with pytest.raises(ValueError, match="http://host:port"):
        FaultProxy.for_url("https://s3.amazonaws.com")


def test_switching_modes_from_threads_while_traffic_flows(
    proxy: FaultProxy, bucket: str, clients: Clients
) -> None:
    stop = threading.Event()
    unexpected: list[BaseException] = []

    def traffic() -> None:
        s3 = clients.s3(proxy)
        while not stop.is_set():
            try:
                s3.list_objects_v2(Bucket=bucket)
            except (botocore.exceptions.ClientError, *CONNECTION_FAILURES):
                pass
            except BaseException as exc:
                unexpected.append(exc)

    def switcher(n: int) -> None:
        try:
            switch(n)
        except BaseException as exc:
            unexpected.append(exc)

    def switch(n: int) -> None:
        modes = [
            lambda: proxy.outage(),
            lambda: proxy.http_errors(503),
            lambda: proxy.outage(seconds=0.01, how="refuse"),
            lambda: proxy.latency(0.01, times=3),
            proxy.pass_through,
        ]
        for i in range(15):
            modes[(i + n) % len(modes)]()

    workers = [threading.Thread(target=traffic) for _ in range(2)]
    switchers = [threading.Thread(target=switcher, args=(n,)) for n in range(3)]
    for t in workers + switchers:
        t.start()
    for t in switchers:
        t.join()
    stop.set()
    for t in workers:
        t.join()
    assert unexpected == []
    proxy.pass_through()
    assert clients.s3(proxy).list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def eventually(check: Callable[[], bool], timeout: float = 10) -> bool:
    """Whether `check` holds within `timeout` seconds (for what the proxy's thread does on its own)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("faultproxy")]


def _sockets(port: int) -> list[Any]:
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if port in (c.laddr.port, c.raddr and c.raddr.port)
    ]


@pytest.fixture
def quiet_echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def test_close_leaves_no_threads_or_sockets(quiet_echo: EchoServer, clients: Clients) -> None:
    before = set(threading.enumerate())
    proxy = FaultProxy(*quiet_echo.address).start()
    port = proxy.port
    conns = [clients.http(proxy) for _ in range(3)]
    for c in conns:
        assert get(c, "/")[0] == 200  # three kept-alive client and upstream connections
    held = clients.socket(proxy)
    held.sendall(b"GET / HTTP/1.1\r\n")  # one connection in the middle of a request head
    proxy.latency(30)
    pending = clients.socket(proxy)
    pending.sendall(b"GET / HTTP/1.1\r\n\r\n")  # one request asleep in the proxy
    assert eventually(lambda: (proxy.stats.connections, proxy.stats.delayed) == (5, 1))
    proxy.close()
    proxy.close()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert _proxy_threads() == []
    assert set(threading.enumerate()) <= before | {
        t
        for t in threading.enumerate()
        if t.name.startswith("Thread-")  # echo handler threads ending
    }
    owned = [c for c in _sockets(port) if c.laddr.port == port]  # the proxy's own ends
    assert owned == []
    upstream_port = quiet_echo.address[1]
    to_upstream = [
        c
        for c in _sockets(upstream_port)
        if c.raddr and c.raddr.port == upstream_port and c.status == "ESTABLISHED"
    ]
    assert to_upstream == []
    for sock in (held, pending, *conns):
        sock.close()
    with pytest.raises(RuntimeError, match="not running"):
        proxy.outage()
    with proxy:  # a closed proxy starts again, on a new free port
        with proxy.outage(how="refuse"), pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=5).close()
        assert get(clients.http(proxy), "/")[0] == 200
    assert _proxy_threads() == []
