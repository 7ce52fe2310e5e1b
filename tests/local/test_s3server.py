"""The local S3 endpoint speaks HTTP/1.1 like S3: kept-alive connections, every request answered."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from prefect_faasr.local.s3server import S3Server
from prefect_faasr.s3client import s3_client


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = S3Server(tmp_path_factory.mktemp("s3") / "s3.log")
    try:
        yield server.endpoint
    finally:
        server.stop()


def test_empty_put_with_expect_continue_is_answered(endpoint: str) -> None:
    # botocore sends `Expect: 100-continue` with `Content-Length: 0` for an empty body (FaaSr's lock flags)
    s3 = s3_client(endpoint, "us-east-1", "k", "s", max_attempts=1)  # a hang fails on the read timeout
    s3.create_bucket(Bucket="expect-bucket")
    s3.put_object(Bucket="expect-bucket", Key="flag/1", Body=b"")
    s3.put_object(Bucket="expect-bucket", Key="data", Body=b"x" * 70_000)
    sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="expect-bucket")["Contents"]}
    assert sizes == {"flag/1": 0, "data": 70_000}


def test_connections_are_kept_alive(endpoint: str) -> None:
    s3 = s3_client(endpoint, "us-east-1", "k", "s")
    s3.create_bucket(Bucket="alive-bucket")
    s3.put_object(Bucket="alive-bucket", Key="k", Body=b"hello", ACL="public-read")
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        for _ in range(3):  # the same socket each time: http.client would reconnect after a close
            conn.request("GET", "/alive-bucket/k")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"hello")
            assert response.getheader("Connection", "").lower() != "close"
            assert not response.will_close
    finally:
        conn.close()
