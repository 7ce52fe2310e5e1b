"""boto3 S3 clients with the timeouts a watcher needs (Prefect cannot interrupt a blocked call)."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import boto3
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10


def parse_timestamp(value: Any) -> datetime:
    """Timestamps in S3 answers, e.g. every key's `LastModified` in a listing, as aware datetimes.

    botocore's default parser goes through dateutil and is most of the client CPU a listing costs
    (about 60% for 2000 keys); ISO 8601 text (listings) and HTTP dates (headers) are parsed by the
    standard library instead, anything else still by botocore.
    """
    if isinstance(value, str):
        for parse in (datetime.fromisoformat, parsedate_to_datetime):
            try:
                parsed = parse(value)
            except (TypeError, ValueError):
                continue
            if parsed.tzinfo is not None:  # naive results are left to botocore's rules
                return parsed
    return DEFAULT_TIMESTAMP_PARSER(value)


def s3_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    *,
    anonymous: bool = False,
    max_attempts: int = 2,
    max_pool_connections: int = 10,
) -> Any:
    """An S3 client for one FaaSr DataStore: endpoint, region ("" -> us-east-1) and keys.

    Custom endpoints (MinIO, moto, OSN) get path-style addressing, as FaaSr uses. Timestamps come back
    as timezone-aware datetimes like boto3's own (`parse_timestamp`), only cheaper to parse.
    """
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path"} if endpoint_url else {},
        signature_version=UNSIGNED if anonymous else None,
    )
    core = botocore.session.Session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    return boto3.session.Session(botocore_session=core).client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or "us-east-1",
        aws_access_key_id=None if anonymous else access_key,
        aws_secret_access_key=None if anonymous else secret_key,
        config=config,
    )
