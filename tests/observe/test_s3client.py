"""s3_client: timestamps are still timezone-aware datetimes, parsed without dateutil where possible."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

from prefect_faasr.s3client import parse_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-21T12:11:25.000Z",  # listings
        "2026-11-21T12:11:25Z",
        "Sat, 21 Nov 2026 12:11:25 GMT",  # Last-Modified headers
        1795263085,  # epoch seconds (other protocols): left to botocore
        "1795263085",
    ],
)
def test_timestamps_parse_as_botocore_would(value: Any) -> None:
    parsed = parse_timestamp(value)
    assert parsed == DEFAULT_TIMESTAMP_PARSER(value)
    assert parsed.utcoffset() is not None and parsed == datetime(2026, 11, 21, 12, 11, 25, tzinfo=UTC)


def test_listings_and_heads_give_aware_datetimes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"x")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="a/")["Contents"][0]["LastModified"]
    head = s3.head_object(Bucket=bucket, Key="a/b.txt")["LastModified"]
    assert isinstance(listed, datetime) and listed.utcoffset() is not None
    assert listed == head  # the listing's ISO text and the header's HTTP date agree
    assert abs((datetime.now(UTC) - listed).total_seconds()) < 3600
