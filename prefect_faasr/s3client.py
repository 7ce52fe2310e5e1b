"""boto3 S3 clients with the timeouts a watcher needs (Prefect cannot interrupt a blocked call)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10


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

    Custom endpoints (MinIO, moto, OSN) get path-style addressing, as FaaSr uses.
    """
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path"} if endpoint_url else {},
        signature_version=UNSIGNED if anonymous else None,
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or "us-east-1",
        aws_access_key_id=None if anonymous else access_key,
        aws_secret_access_key=None if anonymous else secret_key,
        config=config,
    )
