"""Validation of a FaaSr workflow JSON: every problem FaaSr 2.1.0 would reject or fail on.

The rules are those of FaaSr's schema, of its `check_dag`, and the keys the engine reads at run
time without a default (shared/faasr/contract.md §1, §5.2). Each problem names the JSON path of
the offending element. Warnings flag things FaaSr accepts but that do not do what they seem to.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect_faasr.errors import Problem
from prefect_faasr.graph import (
    Edge,
    adjacency,
    cycle_through,
    iter_edges,
    reachable,
    strongly_connected,
    topological_order,
)
from prefect_faasr.names import FUNCTION_NAME_RE, NAME_RE, TARGET_RE, TIMESTAMP_FORMAT, json_path, json_text

SECRET_NAME_RE = re.compile(r"^[A-Z][A-Z_0-9]*\Z")
ID_FROM_DATE_RE = re.compile(r"^%[YymdHMSjUWaAbBfzZ%-]([%YymdHMSjUWaAbBfzZ%-])*\Z")

FAAS_TYPES = ("GitHubActions", "Lambda", "OpenWhisk", "GoogleCloud", "SLURM", "Kubernetes")
ACTION_TYPES = ("Python", "R", "Julia")
FANIN_LISTING_LIMIT = 1000


@dataclass(frozen=True)
class Field:
    """What FaaSr's schema accepts for one key: a JSON type, maybe non-empty, maybe a minimum."""

    kind: str
    nonempty: bool = False
    minimum: float | None = None


_STR = Field("string")
_NONEMPTY = Field("string", nonempty=True)
_BOOL = Field("boolean")
_OBJECT = Field("object")
_INT_1 = Field("integer", minimum=1)
_NUM_1 = Field("number", minimum=1)
_SPECIAL = Field("special")  # checked by its own rule

TOP_LEVEL_REQUIRED = (
    "WorkflowName",
    "FunctionInvoke",
    "DefaultDataStore",
    "ActionList",
    "ComputeServers",
    "DataStores",
)
CODE_MAPS = (
    "FunctionGitRepo",
    "FunctionLocalFile",
    "PyPIPackageDownloads",
    "FunctionCRANPackage",
    "FunctionGitHubPackage",
    "PythonPackageGitHub",
    "PythonCondaPackage",
)
# Top-level keys FaaSr knows; others are ignored by the engine (the schema allows them).
TOP_LEVEL_KEYS = (
    *TOP_LEVEL_REQUIRED,
    "LoggingDataStore",
    "FaaSrLog",
    "InvocationID",
    "InvocationIDFromDate",
    "InvocationTimestamp",
    "FunctionRank",
    "ActionContainers",
    "RerunOnMatchedInvocationID",
    "Secrets",
    "VMConfig",
    *CODE_MAPS,
)
ACTION_FIELDS = {
    "FaaSServer": _NONEMPTY,
    "FunctionName": _NONEMPTY,
    "Type": _STR,
    "Arguments": _OBJECT,
    "InvokeNext": _SPECIAL,
    "RequiresVM": _BOOL,
    "_faasr_builtin": _BOOL,
    "MaxMemory": _NUM_1,
    "MaxRuntime": _NUM_1,
    "MaxStorage": _NUM_1,
    "Resources": _OBJECT,
}
RESOURCE_FIELDS = {
    "Nodes": _INT_1,
    "Tasks": _INT_1,
    "CPUsPerTask": _INT_1,
    "Memory": _INT_1,
    "TimeLimit": _INT_1,
    "Partition": _STR,
    "WorkingDirectory": _STR,
}
COMPUTE_SERVER_FIELDS = {
    "FaaSType": _SPECIAL,
    "Region": _NONEMPTY,
    "Endpoint": _NONEMPTY,
    "SchedulerEndpoint": _NONEMPTY,
    "Namespace": _NONEMPTY,
    "API.key": _NONEMPTY,
    "AccessKey": _NONEMPTY,
    "SecretKey": _NONEMPTY,
    "ClientEmail": _NONEMPTY,
    "TokenUri": _NONEMPTY,
    "UserName": _NONEMPTY,
    "ActionRepoName": _NONEMPTY,
    "Token": _NONEMPTY,
    "Branch": _STR,
    "APIVersion": _STR,
    "Partition": _STR,
    "UseSecretStore": _BOOL,
    "SecretsList": _SPECIAL,
    "AllowSelfSignedCertificate": _BOOL,
    "Nodes": _INT_1,
    "Tasks": _INT_1,
    "CPUsPerTask": _INT_1,
    "Memory": _INT_1,
    "TimeLimit": _INT_1,
    "WorkingDirectory": _STR,
    "MaxMemory": _NUM_1,
    "MaxRuntime": _NUM_1,
    "MaxStorage": _NUM_1,
    "MaxCPU": _NUM_1,
    "SSLCertificate": _STR,
    "AdditionalTimeToLive": _NUM_1,
    "NumberOfRetries": Field("number", minimum=0),
}
DATA_STORE_FIELDS = {
    "Bucket": _NONEMPTY,
    "Endpoint": _STR,
    "Region": _STR,
    "AccessKey": _NONEMPTY,
    "SecretKey": _NONEMPTY,
    "Writable": _NONEMPTY,
    "Anonymous": _NONEMPTY,
}
VM_CONFIG_FIELDS = {
    "Name": _NONEMPTY,
    "Provider": _STR,
    "InstanceId": _STR,
    "Region": _STR,
    "AccessKey": _STR,
    "SecretKey": _STR,
    "RunnerName": _STR,
}
# Keys the schema requires per FaaSType (contract §1.5).
FAAS_TYPE_REQUIRED = {
    "GitHubActions": ("UserName", "ActionRepoName"),
    "Lambda": ("Region",),
    "OpenWhisk": ("Endpoint", "Namespace"),
    "GoogleCloud": ("Namespace", "ClientEmail", "TokenUri", "Region"),
    "SLURM": ("Endpoint", "UserName", "APIVersion", "Partition"),
    "Kubernetes": ("Endpoint",),
}
# Keys the engine reads without a default although the schema does not require them.
FAAS_TYPE_RUNTIME_REQUIRED = {"GitHubActions": ("Branch",)}
# Unknown keys with a story worth telling.
KNOWN_STRAYS = {
    "SSL": "FaaSr reads SSL for GoogleCloud, but its schema rejects the key, so no action starts",
    "APIkey": "FaaSr 2.x spells the OpenWhisk key 'API.key' in the workflow file",
}
_KIND_WORDS = {
    "string": "a string",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "object": "an object",
    "array": "a list",
}
_FALSY_WORDS = ("false", "no", "0", "f", "n", "off")


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return True


def _field_ok(value: Any, rule: Field) -> bool:
    return (
        _kind_ok(value, rule.kind)
        and not (rule.nonempty and value == "")
        and (rule.minimum is None or value >= rule.minimum)
    )


def _describe(value: Any) -> str:
    try:
        text = json_text(value, default=repr)
    except (RecursionError, ValueError):  # nested deeper than the encoder goes (or circular)
        text = "[...]" if isinstance(value, list) else "{...}" if isinstance(value, dict) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(repr(x) for x in items[:5])
    return shown + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def _did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The one choice close to `word` (case-insensitive), or None when none or several are."""
    by_lower = {c.lower(): c for c in choices}
    scored = sorted(
        ((difflib.SequenceMatcher(None, word.lower(), c).ratio(), c) for c in by_lower), reverse=True
    )
    if not scored or scored[0][0] < cutoff or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return by_lower[scored[0][1]]


def suggest_name(value: str) -> str:
    """A valid workflow/action name close to `value`: `cross_platform bench` -> `cross-platform-bench`."""
    fixed = re.sub(r"[^a-zA-Z0-9-]+", "-", value.strip()).strip("-")
    if NAME_RE.match(fixed):
        return fixed
    return f"a-{fixed}" if fixed else "a"  # names must start with a letter


def suggest_function_name(value: str) -> str:
    """A valid FunctionName close to `value` (a Python/R identifier): `check-weather` -> `check_weather`."""
    fixed = re.sub(r"[^a-zA-Z0-9_]+", "_", value.strip()).strip("_")
    return fixed if FUNCTION_NAME_RE.match(fixed) else "_" + fixed


def _store_identity(store: Any) -> tuple[Any, ...]:
    if not isinstance(store, dict):
        return (id(store),)
    return (store.get("Bucket"), store.get("Endpoint") or "", store.get("Region") or "")


@dataclass
class _Checker:
    raw: Any
    problems: list[Problem] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, "error"))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, "warning"))

    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def run(self) -> list[Problem]:
        raw = self.raw
        if not isinstance(raw, dict):
            kind = {list: "a list", str: "a string", type(None): "null"}.get(type(raw), type(raw).__name__)
            self.error("$", f"a FaaSr workflow must be a JSON object ({{...}}), found {kind}")
            return self.problems
        if "FunctionList" in raw and "ActionList" not in raw:
            self.error(
                "$.FunctionList",
                "FaaSr 1.x format is not supported: this file lists its functions in FunctionList, "
                "while FaaSr 2.x (the engine this tool follows) reads ActionList with InvokeNext lists",
            )
            return self.problems
        self.top_level()
        self.data_stores()
        self.compute_servers()
        self.action_list()
        self.code_maps()
        self.graph()
        return self.problems

    # ---- shared helpers -----------------------------------------------------------------------

    def fields(
        self, spec: Mapping[str, Any], allowed: Mapping[str, Field], parts: tuple[str | int, ...], what: str
    ) -> None:
        """Unknown keys, JSON types, empty strings and minimums of one object."""
        for key, value in spec.items():
            rule = allowed.get(key)
            if rule is not None and (rule.kind == "special" or _field_ok(value, rule)):
                continue
            path = json_path(*parts, key)
            if rule is None:
                hint = KNOWN_STRAYS.get(key)
                if hint is None and (close := _did_you_mean(key, allowed)):
                    hint = f"did you mean {close!r}?"
                self.error(
                    path,
                    f"unknown key {key!r} in {what}: FaaSr's schema does not allow it"
                    + (f" ({hint})" if hint else ""),
                )
            elif not _kind_ok(value, rule.kind):
                self.error(path, f"must be {_KIND_WORDS[rule.kind]}, found {_describe(value)}")
            elif rule.nonempty and value == "":
                self.error(path, "must not be empty")
            elif rule.minimum is not None and value < rule.minimum:
                self.error(path, f"must be at least {rule.minimum:g}, found {_describe(value)}")

    def object_map(self, key: str, what: str) -> dict[str, Any]:
        """A top-level object keyed by name (ActionList, DataStores, ...), or {} when unusable."""
        if key not in self.raw:
            return {}
        value = self.raw[key]
        if not isinstance(value, dict):
            self.error(json_path(key), f"must be an object of {what} keyed by name, found {_describe(value)}")
            return {}
        if not value:
            self.error(json_path(key), f"must contain at least one {what.rstrip('s')}")
        if "" in value:
            self.error(json_path(key, ""), "a name must not be empty")
        return value

    def required_string(self, key: str) -> None:
        if key in self.raw and not (isinstance(self.raw[key], str) and self.raw[key]):
            self.error(json_path(key), f"must be a non-empty string, found {_describe(self.raw[key])}")

    # ---- top level ----------------------------------------------------------------------------

    def top_level(self) -> None:
        raw = self.raw
        for key in TOP_LEVEL_REQUIRED:
            if key not in raw:
                self.error(json_path(key), f"required key {key} is missing")
        name = raw.get("WorkflowName")
        if "WorkflowName" in raw:
            if not (isinstance(name, str) and name):
                self.error("$.WorkflowName", f"must be a non-empty string, found {_describe(name)}")
            elif not NAME_RE.match(name):
                self.error(
                    "$.WorkflowName",
                    f"{name!r} is not a valid workflow name: use letters, digits and '-' only, starting "
                    f"with a letter (e.g. {suggest_name(name)!r})",
                )
        self.required_string("FunctionInvoke")
        self.required_string("DefaultDataStore")
        self.runtime_string(
            "LoggingDataStore",
            "required at run time: the FaaSr engine reads LoggingDataStore directly (set it to the "
            "DefaultDataStore name)",
            empty="must name a data store: FaaSr looks it up in DataStores, so an empty name fails",
        )
        self.runtime_string(
            "FaaSrLog",
            'required at run time: the entry action reads FaaSrLog directly (use "FaaSrLog", the '
            "usual log folder)",
        )
        self.invocation_identity()
        if "FunctionRank" in raw:
            if not _kind_ok(raw["FunctionRank"], "integer"):
                self.error(
                    "$.FunctionRank", f"must be a whole number, found {_describe(raw['FunctionRank'])}"
                )
            self.warn(
                "$.FunctionRank",
                "FunctionRank is set by the FaaSr scheduler for ranked instances; a value in the workflow "
                "file looks like a captured run-time payload, remove it",
            )
        if "RerunOnMatchedInvocationID" in raw and not isinstance(raw["RerunOnMatchedInvocationID"], bool):
            self.error(
                "$.RerunOnMatchedInvocationID",
                f"must be true or false, found {_describe(raw['RerunOnMatchedInvocationID'])}",
            )
        self.secrets()
        self.vm_config()
        if "FunctionList" in raw:
            self.warn(
                "$.FunctionList",
                "FunctionList is the FaaSr 1.x list of functions; FaaSr 2.x ignores it and runs ActionList",
            )
        for key in raw:
            if key == "FunctionList":
                continue
            if key not in TOP_LEVEL_KEYS and (close := _did_you_mean(key, TOP_LEVEL_KEYS, 0.8)):
                self.warn(json_path(key), f"FaaSr ignores the unknown key {key!r}; did you mean {close!r}?")

    def runtime_string(self, key: str, missing: str, empty: str | None = None) -> None:
        if key not in self.raw:
            self.error(json_path(key), missing)
        elif not isinstance(self.raw[key], str):
            self.error(json_path(key), f"must be a string, found {_describe(self.raw[key])}")
        elif empty and not self.raw[key]:
            self.error(json_path(key), empty)

    def invocation_identity(self) -> None:
        raw = self.raw
        for key in ("InvocationID", "InvocationTimestamp"):
            if key in raw and not isinstance(raw[key], str):
                self.error(json_path(key), f"must be a string, found {_describe(raw[key])}")
        fixed = raw.get("InvocationID")
        if isinstance(fixed, str) and fixed.strip():
            self.warn(
                "$.InvocationID",
                f"every run reuses the fixed InvocationID {fixed!r}; runs are told apart only by their "
                "InvocationTimestamp (one per second), leave it empty to get a fresh UUID per run",
            )
        fmt = raw.get("InvocationIDFromDate")
        fmt_ok = isinstance(fmt, str) and bool(ID_FROM_DATE_RE.match(fmt))
        if "InvocationIDFromDate" in raw and not fmt_ok:
            self.error(
                "$.InvocationIDFromDate",
                f"{_describe(fmt)} is not a format FaaSr accepts: it must start with '%' and contain only "
                "'%', '-' and the letters Y y m d H M S j U W a A b B f z Z (e.g. '%Y-%m-%d-%H-%M-%S')",
            )
        ts = raw.get("InvocationTimestamp")
        if isinstance(ts, str) and ts:
            try:
                datetime.strptime(ts, TIMESTAMP_FORMAT)
                well_formed = True
            except ValueError:
                well_formed = False
            if not well_formed and fmt_ok:
                self.error(
                    "$.InvocationTimestamp",
                    f"{ts!r} is not in FaaSr's format YYYY-MM-DDTHH-MM-SS, so the entry crashes deriving "
                    "the InvocationID from InvocationIDFromDate; remove InvocationTimestamp",
                )
            else:
                self.warn(
                    "$.InvocationTimestamp",
                    "a fixed InvocationTimestamp (a captured run-time value) puts every run started "
                    "without one into the same log folder; remove it"
                    + ("" if well_formed else f" ({ts!r} is not even in FaaSr's format YYYY-MM-DDTHH-MM-SS)"),
                )

    def secrets(self) -> None:
        if "Secrets" not in self.raw:
            return
        secrets = self.raw["Secrets"]
        if not isinstance(secrets, list):
            self.error("$.Secrets", f"must be a list of secret names, found {_describe(secrets)}")
            return
        for i, s in enumerate(secrets):
            if not (isinstance(s, str) and SECRET_NAME_RE.match(s)):
                self.error(
                    json_path("Secrets", i),
                    f"{_describe(s)} is not a secret name FaaSr accepts: upper-case letters, digits and '_', "
                    "starting with a letter",
                )

    def vm_config(self) -> None:
        vm = self.raw.get("VMConfig")
        if "VMConfig" not in self.raw:
            return
        if not isinstance(vm, dict):
            self.error("$.VMConfig", f"must be an object, found {_describe(vm)}")
            return
        for key, value in vm.items():
            rule = VM_CONFIG_FIELDS.get(key)
            if rule and not _kind_ok(value, rule.kind):
                self.error(json_path("VMConfig", key), f"must be a string, found {_describe(value)}")
            elif rule and rule.nonempty and value == "":
                self.error(json_path("VMConfig", key), "must not be empty")
        for key in ("Name", "Provider", "InstanceId", "Region"):
            if key not in vm:
                self.error(json_path("VMConfig", key), f"required key {key} is missing")
        if "Provider" in vm and vm["Provider"] != "AWS":
            self.error(
                "$.VMConfig.Provider", f'{_describe(vm["Provider"])} is not supported; FaaSr knows only "AWS"'
            )

    # ---- stores and servers -------------------------------------------------------------------

    def data_stores(self) -> None:
        stores = self.object_map("DataStores", "data stores")
        for name, spec in stores.items():
            parts = ("DataStores", name)
            if not isinstance(spec, dict):
                self.error(json_path(*parts), f"a data store must be an object, found {_describe(spec)}")
                continue
            self.fields(spec, DATA_STORE_FIELDS, parts, "a data store")
            if "Bucket" not in spec:
                self.error(json_path(*parts, "Bucket"), "required key Bucket (the S3 bucket name) is missing")
            if "Region" not in spec:
                self.error(
                    json_path(*parts, "Region"),
                    'required at run time: FaaSr reads Region directly (use "" for us-east-1)',
                )
            endpoint = spec.get("Endpoint")
            if isinstance(endpoint, str) and endpoint and not endpoint.startswith("http"):
                self.error(
                    json_path(*parts, "Endpoint"),
                    f"{endpoint!r} must start with http:// or https:// (FaaSr stops with 'Invalid data "
                    f"store server endpoint {name}'); leave Endpoint out for AWS S3",
                )
            anon = spec.get("Anonymous")
            if isinstance(anon, str) and anon:
                if anon.strip().lower() in _FALSY_WORDS:
                    self.warn(
                        json_path(*parts, "Anonymous"),
                        f"{anon!r} turns anonymous access ON: FaaSr only checks that the string is not "
                        "empty, so logs, .done files and uploads go out unsigned; remove the key instead",
                    )
                else:
                    self.warn(
                        json_path(*parts, "Anonymous"),
                        "anonymous access: FaaSr sends unsigned S3 requests for logs, .done files and "
                        "uploads, which only a public-writable bucket accepts",
                    )
        if not isinstance(self.raw.get("DataStores"), dict):
            return
        for key in ("DefaultDataStore", "LoggingDataStore"):
            ref = self.raw.get(key)
            if isinstance(ref, str) and ref and ref not in stores:
                hint = _did_you_mean(ref, stores)
                self.error(
                    json_path(key),
                    f"names data store {ref!r}, which is not in DataStores "
                    f"(known: {_names(stores) or 'none'})" + (f"; did you mean {hint!r}?" if hint else ""),
                )

    def compute_servers(self) -> None:
        for name, spec in self.object_map("ComputeServers", "compute servers").items():
            parts = ("ComputeServers", name)
            if not isinstance(spec, dict):
                self.error(json_path(*parts), f"a compute server must be an object, found {_describe(spec)}")
                continue
            self.fields(spec, COMPUTE_SERVER_FIELDS, parts, "a compute server")
            secrets = spec.get("SecretsList")
            if "SecretsList" in spec and not (
                isinstance(secrets, dict) and all(isinstance(v, str) for v in secrets.values())
            ):
                self.error(
                    json_path(*parts, "SecretsList"),
                    f"must be an object of secret names to strings, found {_describe(secrets)}",
                )
            ftype = spec.get("FaaSType")
            if "FaaSType" not in spec:
                self.error(
                    json_path(*parts, "FaaSType"),
                    f"required at run time: FaaSr reads FaaSType to trigger actions on this server (one of "
                    f"{', '.join(FAAS_TYPES)})",
                )
                continue
            if ftype not in FAAS_TYPES:
                hint = _did_you_mean(ftype, FAAS_TYPES, 0.6) if isinstance(ftype, str) else None
                self.error(
                    json_path(*parts, "FaaSType"),
                    f"{_describe(ftype)} is not a FaaSType; use one of {', '.join(FAAS_TYPES)}"
                    + (f" (did you mean {hint!r}?)" if hint else ""),
                )
                continue
            for key in FAAS_TYPE_REQUIRED[ftype]:
                if key not in spec:
                    self.error(json_path(*parts, key), f"required key {key} is missing for FaaSType {ftype}")
            for key in FAAS_TYPE_RUNTIME_REQUIRED.get(ftype, ()):
                if key not in spec:
                    self.error(
                        json_path(*parts, key),
                        f'required at run time: FaaSr reads {key} directly for {ftype} (e.g. "main")',
                    )

    # ---- actions ------------------------------------------------------------------------------

    def action_list(self) -> None:
        actions = self.object_map("ActionList", "actions")
        servers = self.raw.get("ComputeServers")
        servers = servers if isinstance(servers, dict) else None
        for name, spec in actions.items():
            parts = ("ActionList", name)
            if name and not NAME_RE.match(name):
                self.error(
                    json_path(*parts),
                    f"{name!r} is not a valid action name: use letters, digits and '-' only, starting with a "
                    f"letter (e.g. {suggest_name(name)!r})",
                )
            if not isinstance(spec, dict):
                self.error(json_path(*parts), f"an action must be an object, found {_describe(spec)}")
                continue
            self.fields(spec, ACTION_FIELDS, parts, "an action")
            for key, what in (("FaaSServer", "the compute server"), ("FunctionName", "the function to run")):
                if key not in spec:
                    self.error(json_path(*parts, key), f"required key {key} ({what}) is missing")
            fn = spec.get("FunctionName")
            if isinstance(fn, str) and fn and not FUNCTION_NAME_RE.match(fn):
                self.error(
                    json_path(*parts, "FunctionName"),
                    f"{fn!r} is not a valid function name: use letters, digits and '_' only, not starting "
                    f"with a digit (e.g. {suggest_function_name(fn)!r})",
                )
            ftype = spec.get("Type")
            if "Type" not in spec:
                self.error(
                    json_path(*parts, "Type"),
                    "required at run time: the FaaSr executor reads Type (Python, R or Julia)",
                )
            elif isinstance(ftype, str) and ftype not in ACTION_TYPES:
                self.error(
                    json_path(*parts, "Type"),
                    f"{ftype!r} is not a function type FaaSr runs; use Python, R or Julia",
                )
            server = spec.get("FaaSServer")
            if isinstance(server, str) and server and servers is not None and server not in servers:
                hint = _did_you_mean(server, servers)
                self.error(
                    json_path(*parts, "FaaSServer"),
                    f"names compute server {server!r}, which is not in ComputeServers "
                    f"(known: {_names(servers) or 'none'})" + (f"; did you mean {hint!r}?" if hint else ""),
                )
            resources = spec.get("Resources")
            if isinstance(resources, dict):
                self.fields(resources, RESOURCE_FIELDS, (*parts, "Resources"), "Resources")
            if "InvokeNext" in spec:
                self.invoke_next(name, spec["InvokeNext"], actions)
        entry = self.raw.get("FunctionInvoke")
        if isinstance(entry, str) and entry and actions and entry not in actions:
            targets = {e.target for e in iter_edges(self.raw)}
            roots = [a for a in actions if a not in targets]
            if close := _did_you_mean(entry, actions):
                hint = f"; did you mean {close!r}?"
            elif len(roots) == 1:
                hint = f"; the action no other action invokes is {roots[0]!r}"
            else:
                hint = ""
            self.error(
                "$.FunctionInvoke",
                f"{entry!r} is not an action in ActionList, so FaaSr has nothing to start "
                f"('FunctionInvoke does not refer to a valid function'){hint}",
            )

    def invoke_next(self, src: str, value: Any, actions: Mapping[str, Any]) -> None:
        parts = ("ActionList", src, "InvokeNext")
        if isinstance(value, str):
            self.error(
                json_path(*parts),
                f"must be a list, e.g. [{json.dumps(value)}]; FaaSr's schema rejects a bare string",
            )
            return
        if not isinstance(value, list):
            self.error(
                json_path(*parts),
                f"must be a list of action names, found {_describe(value)} (use [] for no successors)",
            )
            return
        conditionals = 0
        for i, item in enumerate(value):
            if isinstance(item, str):
                self.target(item, actions, (*parts, i))
            elif isinstance(item, dict):
                conditionals += 1
                if conditionals == 2:
                    self.error(
                        json_path(*parts, i),
                        'a second conditional object: FaaSr allows one {"True": [...], "False": [...]} '
                        "per InvokeNext; merge their lists into the first",
                    )
                self.conditional(item, actions, (*parts, i))
            else:
                self.error(
                    json_path(*parts, i),
                    f"must be an action name or a conditional object, found {_describe(item)}",
                )

    def conditional(
        self, item: dict[str, Any], actions: Mapping[str, Any], parts: tuple[str | int, ...]
    ) -> None:
        if not item:
            self.error(json_path(*parts), 'an empty conditional: give it a "True" and/or a "False" list')
            return
        for key, targets in item.items():
            if key not in ("True", "False"):
                hint = (
                    f" (did you mean {close!r}?)" if (close := _did_you_mean(key, ("True", "False"))) else ""
                )
                self.error(
                    json_path(*parts, key),
                    f'a conditional may only have the keys "True" and "False", found {key!r}{hint}',
                )
                continue
            if isinstance(targets, str):
                self.error(
                    json_path(*parts, key),
                    f"must be a list, e.g. [{json.dumps(targets)}]; FaaSr's schema rejects a bare string",
                )
                continue
            if not isinstance(targets, list):
                self.error(
                    json_path(*parts, key), f"must be a list of action names, found {_describe(targets)}"
                )
                continue
            for j, t in enumerate(targets):
                self.target(t, actions, (*parts, key, j))
        present = [k for k in ("True", "False") if k in item]
        if len(present) == 1:
            missing = "False" if present == ["True"] else "True"
            self.warn(
                json_path(*parts),
                f'this conditional has no "{missing}" list: if the function returns {missing}, FaaSr '
                f'crashes after triggering the items before it and cuts off its log; add "{missing}": []',
            )

    def target(self, item: Any, actions: Mapping[str, Any], parts: tuple[str | int, ...]) -> None:
        path = json_path(*parts)
        if not isinstance(item, str):
            self.error(path, f"must be an action name, found {_describe(item)}")
            return
        m = TARGET_RE.match(item)
        if not m:
            self.error(
                path,
                f"{item!r} is not a valid InvokeNext target: an action name (letters, digits and '-'), "
                "optionally with a rank like name(3)",
            )
            return
        if m["rank"] is not None and int(m["rank"]) < 1:
            self.error(path, f"{item!r}: the rank N in name(N) must be at least 1")
        if m["name"] not in actions:
            hint = _did_you_mean(m["name"], (a for a in actions if a != parts[1]), 0.88)
            self.error(
                path,
                f"{m['name']!r} is not an action in ActionList, so triggering it fails at run time"
                + (f"; did you mean {hint!r}?" if hint else ""),
            )

    # ---- code and containers ------------------------------------------------------------------

    def code_maps(self) -> None:
        raw = self.raw
        for key in CODE_MAPS:
            if key not in raw:
                continue
            value = raw[key]
            if not isinstance(value, dict):
                self.error(
                    json_path(key), f"must be an object keyed by FunctionName, found {_describe(value)}"
                )
                continue
            if not value:
                self.error(
                    json_path(key), "must not be empty (FaaSr's schema needs one entry); remove the key"
                )
            for fn, v in value.items():
                path = json_path(key, fn)
                if not fn:
                    self.error(path, "a FunctionName key must not be empty")
                if key == "FunctionLocalFile":
                    if not (isinstance(v, str) and v):
                        self.error(path, f"must be a non-empty file path, found {_describe(v)}")
                elif not isinstance(v, str | list):
                    self.error(path, f"must be a string or a list, found {_describe(v)}")
                elif (
                    isinstance(v, str)
                    and v
                    and key in ("PyPIPackageDownloads", "FunctionCRANPackage", "FunctionGitHubPackage")
                ):
                    self.warn(
                        path,
                        f"FaaSr loops over this string character by character and installs each letter; "
                        f"write [{json.dumps(v)}]",
                    )
        git, local = raw.get("FunctionGitRepo"), raw.get("FunctionLocalFile")
        if isinstance(git, dict) and isinstance(local, dict):
            for fn in local:
                if git.get(fn) and local.get(fn):
                    self.error(
                        json_path("FunctionLocalFile", fn),
                        f"function {fn!r} is also in FunctionGitRepo; FaaSr stops with 'Cannot have both "
                        "FunctionGitRepo and FunctionLocalFile'",
                    )
        if "ActionContainers" not in raw:
            return
        containers = raw["ActionContainers"]
        if not isinstance(containers, dict):
            self.error(
                "$.ActionContainers", f"must be an object keyed by action name, found {_describe(containers)}"
            )
            return
        if not containers:
            self.error(
                "$.ActionContainers", "must not be empty (FaaSr's schema needs one entry); remove the key"
            )
        actions = raw.get("ActionList") if isinstance(raw.get("ActionList"), dict) else {}
        for action, image in containers.items():
            path = json_path("ActionContainers", action)
            if not (isinstance(image, str) and image):
                self.error(path, f"must be a container image name, found {_describe(image)}")
            elif actions and action not in actions:
                self.warn(path, f"{action!r} is not an action in ActionList; this image is never used")

    # ---- graph rules (check_dag, contract §5.2) -----------------------------------------------

    def graph(self) -> None:
        actions = self.raw.get("ActionList")
        if not isinstance(actions, dict) or not actions:
            return
        names = [a for a, s in actions.items() if isinstance(s, dict)]
        edges: list[Edge] = []
        for e in iter_edges(self.raw):
            if e.source == e.target:
                self.error(
                    e.path,
                    f"{e.source!r} invokes itself; FaaSr workflows must be acyclic ('Function loop found')",
                )
            else:
                edges.append(e)
        succ, pred = adjacency(names, edges)
        rank = {a: max((e.rank for e in pred[a]), default=1) for a in names}
        self.rank_rules(edges, pred, rank)
        self.conditional_rules(names, pred)
        self.shape_rules(names, succ, pred)
        self.store_rules(names, pred, rank)
        if self.has_errors():
            return
        self.duplicate_edges(edges)
        self.branch_merges(names, pred)
        self.size_rules(names, pred, rank)

    def rank_rules(
        self, edges: Sequence[Edge], pred: Mapping[str, list[Edge]], rank: Mapping[str, int]
    ) -> None:
        done: set[str] = set()
        for e in edges:
            if e.rank < 2:
                continue
            others = [o for o in pred[e.target] if o is not e]
            if others and e.target not in done:
                done.add(e.target)
                o = others[0]
                self.error(
                    e.path,
                    f"{e.label!r} is ranked, so {e.target!r} must have exactly one predecessor, but it is "
                    f"also invoked by {o.source!r} at {o.path} (FaaSr: 'Function with rank cannot have "
                    "multiple predecessors')",
                )
            if rank[e.source] > 1:
                self.error(
                    e.path,
                    f"{e.label!r} is ranked and so is its predecessor {e.source!r} ({rank[e.source]} "
                    "instances); FaaSr does not let a ranked action follow a ranked action: put an unranked "
                    "action between them",
                )

    def conditional_rules(self, names: Sequence[str], pred: Mapping[str, list[Edge]]) -> None:
        for t in names:
            cond = [e for e in pred[t] if e.conditional]
            if not cond:
                continue
            plain = [e for e in pred[t] if not e.conditional]
            if plain:
                c = cond[0]
                self.error(
                    plain[0].path,
                    f"{t!r} is invoked unconditionally here but on the {c.branch} branch of {c.source!r} "
                    f"({c.path}); FaaSr rejects an action whose predecessors mix conditional and "
                    "unconditional edges, because it would wait for a branch that may not run",
                )
            sources = list(dict.fromkeys(e.source for e in cond))
            if len(sources) > 1:
                second = next(e for e in cond if e.source == sources[1])
                self.error(
                    second.path,
                    f"{t!r} is a conditional target of {sources[0]!r} and also of {sources[1]!r}; FaaSr "
                    "allows conditional edges into an action from one action only",
                )

    def shape_rules(
        self, names: Sequence[str], succ: Mapping[str, list[Edge]], pred: Mapping[str, list[Edge]]
    ) -> None:
        """Cycles, a single start that is the entry, everything reachable from it."""
        for component in strongly_connected(names, succ):
            cycle = cycle_through(component[0], set(component), succ)
            loop = " -> ".join(
                a if a.isprintable() else repr(a) for a in [e.source for e in cycle] + [component[0]]
            )
            self.error(
                cycle[-1].path,
                f"this edge closes the cycle {loop}; FaaSr workflows must be acyclic ('Function loop found')",
            )
        roots = [a for a in names if not pred[a]]
        if not roots:
            self.error(
                "$.ActionList",
                "every action is invoked by another action, so the workflow has no start "
                "(FaaSr: 'Function loop found: no initial action')",
            )
            return
        entry = self.raw.get("FunctionInvoke")
        if not (isinstance(entry, str) and entry in pred):
            return
        for e in pred[entry]:
            self.error(
                e.path,
                f"invokes the entry action {entry!r} (FunctionInvoke); the entry must be the one action "
                "that no other action invokes",
            )
        others = [r for r in roots if r != entry]
        from_entry = reachable([entry], succ)
        for r in others:
            after = reachable([r], succ) - from_entry - {r}
            self.error(
                json_path("ActionList", r),
                f"no action invokes {r!r} and it is not the entry {entry!r}, so it never runs"
                + (f" (nor the {len(after)} action(s) only it leads to)" if after else "")
                + "; FaaSr allows exactly one action without predecessors, the entry",
            )
        reach = reachable([entry, *others], succ)
        for a in names:
            if a not in reach:
                self.error(
                    json_path("ActionList", a),
                    f"{a!r} can never run: it is only invoked from inside a cycle, not from the entry "
                    f"{entry!r}",
                )

    def store_rules(
        self, names: Sequence[str], pred: Mapping[str, list[Edge]], rank: Mapping[str, int]
    ) -> None:
        raw = self.raw
        stores = raw.get("DataStores")
        default, logging = raw.get("DefaultDataStore"), raw.get("LoggingDataStore")
        if not (isinstance(stores, dict) and isinstance(default, str) and isinstance(logging, str)):
            return  # a name of the wrong type is reported by top_level
        if not (default in stores and logging in stores and logging != default):
            return
        if _store_identity(stores[default]) == _store_identity(stores[logging]):
            return
        fan_ins = [a for a in names if sum(rank[e.source] for e in pred[a]) > 1]
        if fan_ins:
            self.error(
                "$.LoggingDataStore",
                f"{logging!r} is another bucket than DefaultDataStore {default!r}: FaaSr writes .done files "
                f"to DefaultDataStore but fan-in actions ({_names(fan_ins)}) look for them in "
                "LoggingDataStore, so they never run; use the same data store for both",
            )

    def duplicate_edges(self, edges: Sequence[Edge]) -> None:
        seen: set[tuple[str, str, bool | None]] = set()
        for e in edges:
            key = (e.source, e.target, e.branch)
            if key in seen and e.rank == 1:
                self.warn(
                    e.path,
                    f"{e.source!r} lists {e.target!r} twice: FaaSr then treats {e.target!r} as a fan-in, "
                    "sends two triggers and only one of them runs",
                )
            seen.add(key)

    def branch_merges(self, names: Sequence[str], pred: Mapping[str, list[Edge]]) -> None:
        """Warn about fan-ins whose predecessors sit on different branches of one conditional.

        The engine accepts them (contract §5.2) but the join waits forever for the untaken branch.
        Each action gets the set of (conditional action, branch) guards every path to it passes.
        """
        order = topological_order(names, pred)
        guards: dict[str, frozenset[tuple[str, bool]]] = {}
        for a in order:
            sets = [
                guards[e.source] | ({(e.source, e.branch)} if e.branch is not None else frozenset())
                for e in pred[a]
            ]
            guards[a] = frozenset.intersection(*sets) if sets else frozenset()
        for a in order:
            sources = dict.fromkeys(e.source for e in pred[a])
            if len(sources) < 2:
                continue
            held = {g for s in sources for g in guards[s]}
            for cond, branch in sorted(held):
                if (cond, not branch) in held:
                    self.warn(
                        json_path("ActionList", a),
                        f"{a!r} joins actions from both branches of conditional {cond!r}; only one branch "
                        "runs, so FaaSr's fan-in waits forever for the other and never runs it",
                    )
                    break

    def size_rules(
        self, names: Sequence[str], pred: Mapping[str, list[Edge]], rank: Mapping[str, int]
    ) -> None:
        actions = self.raw["ActionList"]
        for a in names:
            if rank[a] > 1 and actions[a].get("Type") == "R":
                self.warn(
                    json_path("ActionList", a, "Type"),
                    f"{a!r} is ranked and written in R, but faasr_rank() is broken for R in FaaSr 2.1.0 "
                    "(it returns the invocation ID)",
                )
        fan_ins = [a for a in names if sum(rank[e.source] for e in pred[a]) > 1]
        objects = 2 * sum(rank.values()) + len(fan_ins)
        if fan_ins and objects > FANIN_LISTING_LIMIT:
            self.warn(
                "$.ActionList",
                f"an invocation folder of this workflow holds about {objects} objects (a log and a .done per "
                f"instance), but FaaSr's fan-in check reads only the first {FANIN_LISTING_LIMIT} keys of "
                f"one listing, so fan-in actions ({_names(fan_ins)}) may never see every .done file",
            )


def validate(raw: Any, notes: list[Problem] | None = None) -> list[Problem]:
    """Every error and warning for a decoded workflow JSON (`notes`: problems found while decoding)."""
    return _Checker(raw, list(notes or [])).run()
