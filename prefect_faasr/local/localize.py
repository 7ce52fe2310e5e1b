"""Rewriting a workflow so that it runs on the local runtime.

Every ComputeServer becomes the local OpenWhisk-compatible compute server and every DataStore points
at the local S3; server, store and bucket names stay, so the S3 layout is exactly what the real
backends would produce. Credentials are not written into the JSON: activations get them from the
runtime's secret store under FaaSr's names (`{Server}_APIkey`, `{Store}_AccessKey`, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# Data-store keys that keep their meaning locally (Anonymous changes how the engine signs requests).
_KEPT_STORE_KEYS = ("Bucket", "Writable", "Anonymous")


def localize(
    raw: Mapping[str, Any],
    *,
    compute_endpoint: str,
    namespace: str,
    s3_endpoint: str,
    s3_region: str = "us-east-1",
) -> dict[str, Any]:
    """A copy of a workflow JSON whose servers and stores are the local ones."""
    out = copy.deepcopy(dict(raw))
    out["ComputeServers"] = {
        name: {
            "FaaSType": "OpenWhisk",
            "Endpoint": compute_endpoint,
            "Namespace": namespace,
            "UseSecretStore": True,
            "AllowSelfSignedCertificate": True,
        }
        for name in raw.get("ComputeServers") or {}
    }
    stores = {}
    for name, store in (raw.get("DataStores") or {}).items():
        local = {k: store[k] for k in _KEPT_STORE_KEYS if k in store}
        local.update(Endpoint=s3_endpoint, Region=s3_region)
        stores[name] = local
    out["DataStores"] = stores
    return out


def is_localized(raw: Mapping[str, Any], compute_endpoint: str, s3_endpoint: str) -> bool:
    """True when every server and store already points at this runtime."""
    servers = (raw.get("ComputeServers") or {}).values()
    stores = (raw.get("DataStores") or {}).values()
    return all(
        s.get("Endpoint") == compute_endpoint and s.get("FaaSType") == "OpenWhisk" for s in servers
    ) and all(s.get("Endpoint") == s3_endpoint for s in stores)
