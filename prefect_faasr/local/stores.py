"""S3 clients for a payload's data stores, configured the way the FaaSr engine configures them.

All clients of a process come from one boto3 session, so the S3 service model is parsed once
(in the forkserver, before activations are forked from it). Its response timestamps are parsed with
`prefect_faasr.s3client.parse_timestamp` (no dateutil for ISO text): a fan-in gate's listing of 1000
keys spent most of its client CPU parsing `LastModified` values nothing in the runtime reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

from prefect_faasr.s3client import parse_timestamp

_session: boto3.session.Session | None = None


def session() -> boto3.session.Session:
    global _session
    if _session is None:
        core = botocore.session.Session()
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
        _session = boto3.session.Session(botocore_session=core)
    return _session


def warm_up() -> None:
    """Load botocore's S3 model now (called where activations are forked from)."""
    session().client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def store_client(store: Mapping[str, Any]) -> Any:
    """A client for one DataStore entry. `Anonymous` is tested for truthiness, as the engine does."""
    endpoint = store.get("Endpoint") or None
    anonymous = bool(store.get("Anonymous"))
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint else {},
        signature_version=UNSIGNED if anonymous else None,
    )
    return session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=store.get("Region") or "us-east-1",
        aws_access_key_id=None if anonymous else store.get("AccessKey"),
        aws_secret_access_key=None if anonymous else store.get("SecretKey"),
        config=config,
    )


class Stores:
    """Lazily built clients, one per data store name."""

    def __init__(self, data_stores: Mapping[str, Mapping[str, Any]]) -> None:
        self._stores = data_stores
        self._clients: dict[str, Any] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._stores

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = store_client(self._stores[name])
        return self._clients[name]

    def bucket(self, name: str) -> str:
        return self._stores[name]["Bucket"]
