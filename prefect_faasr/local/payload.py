"""The workflow one action sees: the base JSON from PAYLOAD_URL with OVERWRITTEN on top (contract §2.3).

Reads prefer OVERWRITTEN; writes go to OVERWRITTEN, which is what the scheduler forwards to the
successors. Secrets are filled into the base workflow, as the engine does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

_SERVER_SECRETS = {
    "GitHubActions": (("PAT", "Token"),),
    "Lambda": (("AccessKey", "AccessKey"), ("SecretKey", "SecretKey")),
    "GoogleCloud": (("SecretKey", "SecretKey"),),
    "SLURM": (("Token", "Token"),),
    "OpenWhisk": (("APIkey", "APIkey"),),
    "Kubernetes": (("Token", "Token"),),
}


class Payload:
    def __init__(self, base: Mapping[str, Any], overwritten: Mapping[str, Any], url: str) -> None:
        self.base: dict[str, Any] = copy.deepcopy(dict(base))
        self.overwritten: dict[str, Any] = copy.deepcopy(dict(overwritten))
        self.url = url
        # Fixed at start like the engine's log_file: a truthy FunctionRank in OVERWRITTEN.
        rank = self.overwritten.get("FunctionRank")
        self.log_name = f"{self['FunctionInvoke']}({rank})" if rank else self["FunctionInvoke"]

    def __getitem__(self, key: str) -> Any:
        if key in self.overwritten:
            return self.overwritten[key]
        return self.base[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.overwritten[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self.overwritten or key in self.base

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.overwritten:
            return self.overwritten[key]
        return self.base.get(key, default)

    def delete(self, key: str) -> None:
        self.overwritten.pop(key, None)
        self.base.pop(key, None)

    def merged(self) -> dict[str, Any]:
        return {**self.base, **self.overwritten}

    # ---- names and keys -----------------------------------------------------------------------

    @property
    def action(self) -> str:
        return self["FunctionInvoke"]

    @property
    def rank(self) -> int | None:
        return self.get("FunctionRank") or None

    @property
    def default_store(self) -> str:
        return self["DefaultDataStore"]

    @property
    def logging_store(self) -> str:
        return self.get("LoggingDataStore") or self.default_store

    @property
    def folder(self) -> str:
        faasr_log = self.get("FaaSrLog") or "FaaSrLog"
        return f"{faasr_log}/{self['WorkflowName']}/{self['InvocationTimestamp']}/{self['InvocationID']}"

    @property
    def log_key(self) -> str:
        return f"{self.folder}/{self.log_name}.txt"

    @property
    def done_name(self) -> str:
        """`function_completions/{A}.done`, or `{A}.{r}.done` when FunctionRank is present."""
        if "FunctionRank" in self:
            return f"function_completions/{self.action}.{self['FunctionRank']}.done"
        return f"function_completions/{self.action}.done"

    # ---- secrets ------------------------------------------------------------------------------

    def replace_secrets(self, secrets: Mapping[str, str], warn: Callable[[str], None]) -> None:
        """Fill credentials from `{Server}_{Secret}` / `{DataStore}_AccessKey|SecretKey` (contract §1.7)."""

        def get(key: str) -> str | None:
            value = secrets.get(key)
            if value is None:
                warn(f"{key} is missing from provided secrets")
            return value

        base_servers = self.base.setdefault("ComputeServers", {})
        for name, fields in self["ComputeServers"].items():
            pairs = _SERVER_SECRETS.get(fields.get("FaaSType"))
            if pairs is None:
                warn(f"Unknown FaaSType for {name}: {fields.get('FaaSType')}")
                continue
            for suffix, field in pairs:
                base_servers.setdefault(name, dict(fields))[field] = get(f"{name}_{suffix}")
        base_stores = self.base.setdefault("DataStores", {})
        for name, fields in self["DataStores"].items():
            store = base_stores.setdefault(name, dict(fields))
            store["AccessKey"] = get(f"{name}_AccessKey")
            store["SecretKey"] = get(f"{name}_SecretKey")


def secret_env(payload: Payload, s3_access_key: str, s3_secret_key: str, api_key: str) -> dict[str, str]:
    """What the local platform's secret store holds for this workflow, under FaaSr's names.

    Every data store points at the one local S3 and every compute server at the local compute
    server, so each name gets the runtime's credentials.
    """
    env = {}
    for name in payload["DataStores"]:
        env[f"{name}_AccessKey"] = s3_access_key
        env[f"{name}_SecretKey"] = s3_secret_key
    for name, fields in payload["ComputeServers"].items():
        if fields.get("FaaSType") == "OpenWhisk":
            env[f"{name}_APIkey"] = api_key
    return env
