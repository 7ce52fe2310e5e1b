"""Validation of a FaaSr workflow JSON: every problem FaaSr 2.1.0 would reject or fail on.

The rules are those of FaaSr's schema, of its `check_dag`, and the keys the engine reads at run
time without a default (shared/faasr/contract.md §1, §5.2). Each problem names its JSON path.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect_faasr.errors import Problem
from prefect_faasr.graph import Edge, find_cycle, iter_edges, reachable, topological_order
from prefect_faasr.names import FUNCTION_NAME_RE, NAME_RE, TARGET_RE, TIMESTAMP_FORMAT, json_path

SECRET_NAME_RE = re.compile(r"^[A-Z][A-Z_0-9]*$")
ID_FROM_DATE_RE = re.compile(r"^%[YymdHMSjUWaAbBfzZ%-]([%YymdHMSjUWaAbBfzZ%-])*$")

FAAS_TYPES = ("GitHubActions", "Lambda", "OpenWhisk", "GoogleCloud", "SLURM", "Kubernetes")
ACTION_TYPES = ("Python", "R", "Julia")
TOP_LEVEL_REQUIRED = (
    "WorkflowName",
    "FunctionInvoke",
    "DefaultDataStore",
    "ActionList",
    "ComputeServers",
    "DataStores",
)
ACTION_KEYS = {
    "FaaSServer": str,
    "FunctionName": str,
    "Type": str,
    "Arguments": (dict, type(None)),
    "InvokeNext": (list, type(None)),
    "RequiresVM": bool,
    "_faasr_builtin": bool,
    "MaxMemory": (int, float),
    "MaxRuntime": (int, float),
    "MaxStorage": (int, float),
    "Resources": dict,
}
RESOURCE_KEYS = {
    "Nodes": int,
    "Tasks": int,
    "CPUsPerTask": int,
    "Memory": int,
    "TimeLimit": int,
    "Partition": str,
    "WorkingDirectory": str,
}
COMPUTE_SERVER_KEYS = {
    "FaaSType": str,
    "Region": str,
    "Endpoint": str,
    "SchedulerEndpoint": str,
    "Namespace": str,
    "API.key": str,
    "AccessKey": str,
    "SecretKey": str,
    "ClientEmail": str,
    "TokenUri": str,
    "UserName": str,
    "ActionRepoName": str,
    "Token": str,
    "Branch": str,
    "APIVersion": str,
    "Partition": str,
    "UseSecretStore": bool,
    "SecretsList": dict,
    "AllowSelfSignedCertificate": bool,
    "Nodes": int,
    "Tasks": int,
    "CPUsPerTask": int,
    "Memory": int,
    "TimeLimit": int,
    "WorkingDirectory": str,
    "MaxMemory": (int, float),
    "MaxRuntime": (int, float),
    "MaxStorage": (int, float),
    "MaxCPU": (int, float),
    "SSLCertificate": str,
    "AdditionalTimeToLive": (int, float),
    "NumberOfRetries": (int, float),
}
# Keys the schema requires per FaaSType, then keys the engine reads without a default (contract §1.5).
FAAS_TYPE_REQUIRED = {
    "GitHubActions": ("UserName", "ActionRepoName"),
    "Lambda": ("Region",),
    "OpenWhisk": ("Endpoint", "Namespace"),
    "GoogleCloud": ("Namespace", "ClientEmail", "TokenUri", "Region"),
    "SLURM": ("Endpoint", "UserName", "APIVersion", "Partition"),
    "Kubernetes": ("Endpoint",),
}
FAAS_TYPE_RUNTIME_REQUIRED = {"GitHubActions": ("Branch",)}
DATA_STORE_KEYS = {
    "Bucket": str,
    "Endpoint": str,
    "Region": str,
    "AccessKey": str,
    "SecretKey": str,
    "Writable": str,
    "Anonymous": str,
}
CODE_MAPS = (
    "FunctionGitRepo",
    "FunctionLocalFile",
    "PyPIPackageDownloads",
    "FunctionCRANPackage",
    "FunctionGitHubPackage",
    "PythonPackageGitHub",
    "PythonCondaPackage",
)
FANIN_LISTING_LIMIT = 1000


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        bool: "true or false",
        int: "an integer",
        float: "a number",
        dict: "an object",
        list: "a list",
        type(None): "null",
    }
    ts = t if isinstance(t, tuple) else (t,)
    if set(ts) == {int, float}:
        return "a number"
    return " or ".join(names.get(x, x.__name__) for x in ts)


def _is(value: Any, t: type | tuple[type, ...]) -> bool:
    ts = t if isinstance(t, tuple) else (t,)
    if isinstance(value, bool) and bool not in ts:
        return False
    return isinstance(value, ts)


def _describe(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class _Checker:
    raw: Any
    problems: list[Problem] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, "error"))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, "warning"))

    def run(self) -> list[Problem]:
        raw = self.raw
        if not isinstance(raw, dict):
            self.error("$", f"a FaaSr workflow must be a JSON object, found {type(raw).__name__}")
            return self.problems
        if "FunctionList" in raw and "ActionList" not in raw:
            self.error(
                "$.FunctionList",
                "FaaSr 1.x format is not supported: this file has FunctionList; "
                "FaaSr 2.x workflows describe their functions in ActionList",
            )
            return self.problems
        self.top_level()
        self.data_stores()
        self.compute_servers()
        self.action_list()
        self.code_maps()
        self.graph()
        return self.problems

    # ---- top level --------------------------------------------------------------------------------

    def top_level(self) -> None:
        raw = self.raw
        for key in TOP_LEVEL_REQUIRED:
            if key not in raw:
                self.error(json_path(key), f"required key {key} is missing")
        if "WorkflowName" in raw:
            self.name_field(
                "WorkflowName",
                raw["WorkflowName"],
                NAME_RE,
                "letters, digits and '-' only, starting with a letter (no '_' or '.')",
            )
        for key in ("FunctionInvoke", "DefaultDataStore"):
            if key in raw and not (isinstance(raw[key], str) and raw[key]):
                self.error(json_path(key), f"must be a non-empty string, found {_describe(raw[key])}")
        if "LoggingDataStore" not in raw:
            self.error(
                "$.LoggingDataStore",
                "required at run time: the FaaSr engine reads LoggingDataStore "
                "directly (set it to the DefaultDataStore name)",
            )
        elif not isinstance(raw["LoggingDataStore"], str):
            self.error("$.LoggingDataStore", f"must be a string, found {_describe(raw['LoggingDataStore'])}")
        if "FaaSrLog" not in raw:
            self.error(
                "$.FaaSrLog",
                "required at run time: the entry action reads FaaSrLog directly "
                '(use "FaaSrLog" for the default log folder)',
            )
        elif not isinstance(raw["FaaSrLog"], str):
            self.error("$.FaaSrLog", f"must be a string, found {_describe(raw['FaaSrLog'])}")
        for key in ("InvocationID", "InvocationTimestamp"):
            if key in raw and not isinstance(raw[key], str):
                self.error(json_path(key), f"must be a string, found {_describe(raw[key])}")
        if "InvocationID" in raw and isinstance(raw["InvocationID"], str) and raw["InvocationID"].strip():
            self.warn(
                "$.InvocationID",
                "a fixed InvocationID is reused by every run; runs are told apart "
                "only by their InvocationTimestamp (one per second)",
            )
        ts = raw.get("InvocationTimestamp")
        if isinstance(ts, str) and ts:
            try:
                datetime.strptime(ts, TIMESTAMP_FORMAT)
            except ValueError:
                self.error("$.InvocationTimestamp", f"{ts!r} is not in FaaSr's format YYYY-MM-DDTHH-MM-SS")
        fmt = raw.get("InvocationIDFromDate")
        if fmt is not None and not (isinstance(fmt, str) and ID_FROM_DATE_RE.match(fmt)):
            self.error(
                "$.InvocationIDFromDate",
                f"{_describe(fmt)} is not an allowed strftime format: it must start with '%' and use "
                "only %Y %y %m %d %H %M %S %j %U %W %a %A %b %B %f %z %Z, '%' and '-'",
            )
        if "FunctionRank" in raw:
            self.warn(
                "$.FunctionRank",
                "FunctionRank is set by the FaaSr scheduler at run time; a value in "
                "the workflow file is a captured runtime payload",
            )
        if "Secrets" in raw:
            secrets = raw["Secrets"]
            if not isinstance(secrets, list):
                self.error("$.Secrets", "must be a list of secret names")
            else:
                for i, s in enumerate(secrets):
                    if not (isinstance(s, str) and SECRET_NAME_RE.match(s)):
                        self.error(
                            json_path("Secrets", i),
                            f"{_describe(s)} is not a secret name "
                            "(upper-case letters, digits and '_', starting with a letter)",
                        )
        if "RerunOnMatchedInvocationID" in raw and not isinstance(raw["RerunOnMatchedInvocationID"], bool):
            self.error("$.RerunOnMatchedInvocationID", "must be true or false")
        vm = raw.get("VMConfig")
        if vm is not None:
            if not isinstance(vm, dict):
                self.error("$.VMConfig", "must be an object")
            else:
                for key in ("Name", "Provider", "InstanceId", "Region"):
                    if key not in vm:
                        self.error(json_path("VMConfig", key), f"required key {key} is missing")
                if "Provider" in vm and vm["Provider"] != "AWS":
                    self.error(
                        "$.VMConfig.Provider",
                        f'{_describe(vm["Provider"])} is not supported; FaaSr knows only "AWS"',
                    )

    def name_field(self, key: str, value: Any, pattern: re.Pattern[str], rule: str) -> None:
        if not isinstance(value, str) or not value:
            self.error(json_path(key), f"must be a non-empty string, found {_describe(value)}")
        elif not pattern.match(value):
            self.error(json_path(key), f"{value!r} is not a valid name: {rule}")

    # ---- stores and servers -----------------------------------------------------------------------

    def object_map(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key)
        if key not in self.raw:
            return {}
        if not isinstance(value, dict):
            self.error(json_path(key), f"must be an object keyed by name, found {_describe(value)}")
            return {}
        if not value:
            self.error(json_path(key), "must name at least one entry")
        return value

    def check_keys(
        self, spec: dict[str, Any], allowed: Mapping[str, Any], parts: tuple[str, ...], what: str
    ) -> None:
        for k, v in spec.items():
            if k not in allowed:
                hint = " (FaaSr 2.x spells it 'API.key')" if k == "APIkey" else ""
                self.error(json_path(*parts, k), f"unknown key {k!r} in {what}{hint}")
            elif not _is(v, allowed[k]):
                self.error(json_path(*parts, k), f"must be {_type_name(allowed[k])}, found {_describe(v)}")
            elif (
                isinstance(v, str)
                and not v
                and k
                not in (
                    "Branch",
                    "APIVersion",
                    "Partition",
                    "WorkingDirectory",
                    "Region",
                    "Endpoint",
                    "SSLCertificate",
                )
            ):
                self.error(json_path(*parts, k), "must not be empty")

    def data_stores(self) -> None:
        stores = self.object_map("DataStores")
        for name, spec in stores.items():
            parts = ("DataStores", name)
            if not isinstance(spec, dict):
                self.error(json_path(*parts), "a data store must be an object")
                continue
            self.check_keys(spec, DATA_STORE_KEYS, parts, "a data store")
            if "Bucket" not in spec:
                self.error(json_path(*parts, "Bucket"), "required key Bucket is missing")
            if "Region" not in spec:
                self.error(
                    json_path(*parts, "Region"),
                    'required at run time: FaaSr reads Region directly (use "" for us-east-1)',
                )
            endpoint = spec.get("Endpoint")
            if isinstance(endpoint, str) and endpoint and not endpoint.startswith("http"):
                self.error(json_path(*parts, "Endpoint"), f"{endpoint!r} must start with http:// or https://")
            anon = spec.get("Anonymous")
            if isinstance(anon, str) and anon:
                if anon.strip().lower() in ("false", "no", "0", "f", "n"):
                    self.warn(
                        json_path(*parts, "Anonymous"),
                        f"{anon!r} turns anonymous access ON: FaaSr tests this string for truthiness, "
                        "so any non-empty value means anonymous; remove the key instead",
                    )
                else:
                    self.warn(
                        json_path(*parts, "Anonymous"),
                        "anonymous access: logs, .done files and uploads use unsigned S3 requests",
                    )
        for key in ("DefaultDataStore", "LoggingDataStore"):
            ref = self.raw.get(key)
            if (
                isinstance(ref, str)
                and ref
                and isinstance(self.raw.get("DataStores"), dict)
                and ref not in stores
            ):
                known = ", ".join(map(repr, stores)) or "none"
                self.error(
                    json_path(key), f"names data store {ref!r}, which is not in DataStores (known: {known})"
                )
        default, logging = self.raw.get("DefaultDataStore"), self.raw.get("LoggingDataStore")
        if isinstance(default, str) and isinstance(logging, str) and logging and logging != default:
            self.warn(
                "$.LoggingDataStore",
                "differs from DefaultDataStore: FaaSr writes .done files to "
                "DefaultDataStore but fan-in checks list LoggingDataStore, so "
                "fan-in actions never proceed",
            )

    def compute_servers(self) -> None:
        for name, spec in self.object_map("ComputeServers").items():
            parts = ("ComputeServers", name)
            if not isinstance(spec, dict):
                self.error(json_path(*parts), "a compute server must be an object")
                continue
            self.check_keys(spec, COMPUTE_SERVER_KEYS, parts, "a compute server")
            ftype = spec.get("FaaSType")
            if ftype is None:
                self.error(
                    json_path(*parts, "FaaSType"),
                    f"required key FaaSType is missing (one of {', '.join(FAAS_TYPES)})",
                )
                continue
            if ftype not in FAAS_TYPES:
                self.error(
                    json_path(*parts, "FaaSType"),
                    f"{_describe(ftype)} is not a FaaSType; use one of {', '.join(FAAS_TYPES)}",
                )
                continue
            for key in FAAS_TYPE_REQUIRED[ftype]:
                if key not in spec:
                    self.error(json_path(*parts, key), f"required key {key} is missing for {ftype}")
            for key in FAAS_TYPE_RUNTIME_REQUIRED.get(ftype, ()):
                if key not in spec:
                    self.error(
                        json_path(*parts, key),
                        f'required at run time: FaaSr reads {key} directly for {ftype} (e.g. "main")',
                    )

    # ---- actions ------------------------------------------------------------------------------------

    def action_list(self) -> None:
        actions = self.object_map("ActionList")
        servers = self.raw.get("ComputeServers") if isinstance(self.raw.get("ComputeServers"), dict) else {}
        for name, spec in actions.items():
            parts = ("ActionList", name)
            if not NAME_RE.match(name):
                self.error(
                    json_path(*parts),
                    f"{name!r} is not a valid action name: letters, digits and '-' "
                    "only, starting with a letter (no '_')",
                )
            if not isinstance(spec, dict):
                self.error(json_path(*parts), "an action must be an object")
                continue
            self.check_keys(spec, ACTION_KEYS, parts, "an action")
            for key in ("FaaSServer", "FunctionName"):
                if key not in spec:
                    self.error(json_path(*parts, key), f"required key {key} is missing")
            fn = spec.get("FunctionName")
            if isinstance(fn, str) and fn and not FUNCTION_NAME_RE.match(fn):
                self.error(
                    json_path(*parts, "FunctionName"),
                    f"{fn!r} is not a valid function name: letters, digits and '_' only, not "
                    "starting with a digit (no '-')",
                )
            if "Type" not in spec:
                self.error(
                    json_path(*parts, "Type"),
                    "required at run time: the FaaSr executor reads Type (Python, R or Julia)",
                )
            elif isinstance(spec["Type"], str) and spec["Type"] not in ACTION_TYPES:
                self.error(
                    json_path(*parts, "Type"),
                    f"{spec['Type']!r} is not a function type FaaSr runs; use Python, R or Julia",
                )
            server = spec.get("FaaSServer")
            if isinstance(server, str) and server and isinstance(servers, dict) and server not in servers:
                known = ", ".join(map(repr, servers)) or "none"
                self.error(
                    json_path(*parts, "FaaSServer"),
                    f"names compute server {server!r}, which is not in ComputeServers (known: {known})",
                )
            resources = spec.get("Resources")
            if isinstance(resources, dict):
                self.check_keys(resources, RESOURCE_KEYS, (*parts, "Resources"), "Resources")
            if "InvokeNext" in spec:
                self.invoke_next(name, spec["InvokeNext"], actions)
        entry = self.raw.get("FunctionInvoke")
        if isinstance(entry, str) and entry and actions and entry not in actions:
            self.error("$.FunctionInvoke", f"{entry!r} is not an action in ActionList")

    def invoke_next(self, src: str, value: Any, actions: Mapping[str, Any]) -> None:
        parts = ("ActionList", src, "InvokeNext")
        if value is None:
            return
        if isinstance(value, str):
            self.error(
                json_path(*parts),
                f"must be a list, e.g. [{json.dumps(value)}]; a bare string is rejected by the FaaSr schema",
            )
            return
        if not isinstance(value, list):
            self.error(json_path(*parts), f"must be a list of action names, found {_describe(value)}")
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
                        'only one conditional object {"True": [...], '
                        '"False": [...]} is allowed per InvokeNext',
                    )
                if not item:
                    self.error(json_path(*parts, i), 'a conditional needs a "True" or "False" list')
                for key, targets in item.items():
                    if key not in ("True", "False"):
                        self.error(
                            json_path(*parts, i, key),
                            f'conditional keys must be "True" or "False", found {key!r}',
                        )
                        continue
                    if isinstance(targets, str):
                        self.error(
                            json_path(*parts, i, key),
                            f"must be a list, e.g. [{json.dumps(targets)}]; a "
                            "string would be read character by character",
                        )
                        continue
                    if not isinstance(targets, list):
                        self.error(
                            json_path(*parts, i, key),
                            f"must be a list of action names, found {_describe(targets)}",
                        )
                        continue
                    for j, t in enumerate(targets):
                        self.target(t, actions, (*parts, i, key, j))
            else:
                self.error(
                    json_path(*parts, i),
                    f"must be an action name or a conditional object, found {_describe(item)}",
                )

    def target(self, item: Any, actions: Mapping[str, Any], parts: tuple[str | int, ...]) -> None:
        if not isinstance(item, str):
            self.error(json_path(*parts), f"must be an action name, found {_describe(item)}")
            return
        m = TARGET_RE.match(item)
        if not m:
            self.error(json_path(*parts), f"{item!r} is not an action name or a ranked name like name(3)")
            return
        if m["rank"] is not None and int(m["rank"]) < 1:
            self.error(json_path(*parts), f"{item!r}: the rank in name(N) must be at least 1")
        if m["name"] not in actions:
            self.error(json_path(*parts), f"{m['name']!r} is not an action in ActionList")

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
                    json_path(key),
                    "must not be empty (the FaaSr schema needs at least one entry); remove the key instead",
                )
            for fn, v in value.items():
                if key == "FunctionLocalFile":
                    if not (isinstance(v, str) and v):
                        self.error(json_path(key, fn), "must be a non-empty file path")
                elif not isinstance(v, str | list):
                    self.error(json_path(key, fn), f"must be a string or a list, found {_describe(v)}")
                elif key == "PyPIPackageDownloads" and isinstance(v, str):
                    self.warn(
                        json_path(key, fn),
                        f"a string is installed character by character by FaaSr; write [{json.dumps(v)}]",
                    )
        git, local = raw.get("FunctionGitRepo"), raw.get("FunctionLocalFile")
        if isinstance(git, dict) and isinstance(local, dict):
            for fn in sorted(set(git) & set(local)):
                self.error(
                    json_path("FunctionLocalFile", fn),
                    f"function {fn!r} is also in FunctionGitRepo; FaaSr stops when a function has both",
                )
        containers = raw.get("ActionContainers")
        if containers is not None and not isinstance(containers, dict):
            self.error("$.ActionContainers", "must be an object keyed by action name")
        elif isinstance(containers, dict):
            if not containers:
                self.error(
                    "$.ActionContainers",
                    "must not be empty (the FaaSr schema needs at least one entry); remove the key instead",
                )
            for action, image in containers.items():
                if not (isinstance(image, str) and image):
                    self.error(json_path("ActionContainers", action), "must be a container image name")

    # ---- graph rules (check_dag, contract §5.2) --------------------------------------------------------

    def graph(self) -> None:
        actions = self.raw.get("ActionList")
        if not isinstance(actions, dict) or not actions:
            return
        names = [a for a, s in actions.items() if isinstance(s, dict)]
        edges = list(iter_edges(self.raw))
        pred: dict[str, list[Edge]] = defaultdict(list)
        succ: dict[str, list[Edge]] = defaultdict(list)
        for e in edges:
            if e.source == e.target:
                self.error(e.path, f"{e.source!r} invokes itself; FaaSr workflows must be acyclic")
                continue
            pred[e.target].append(e)
            succ[e.source].append(e)
        seen_pairs: set[tuple[str, str, bool | None]] = set()
        for e in edges:
            key = (e.source, e.target, e.branch)
            if key in seen_pairs:
                self.warn(e.path, f"{e.source!r} invokes {e.target!r} twice; it will run twice")
            seen_pairs.add(key)

        # Ranked actions: one predecessor edge, and that predecessor is not ranked itself.
        ranked = {e.target for e in edges if e.rank > 1}
        for t in ranked:
            if len(pred[t]) > 1:
                srcs = ", ".join(sorted({repr(e.source) for e in pred[t]}))
                self.error(
                    json_path("ActionList", t),
                    f"ranked action {t!r} has several predecessor "
                    f"edges ({srcs}); a ranked action must have exactly one",
                )
            for e in pred[t]:
                if e.source in ranked:
                    self.error(
                        e.path,
                        f"ranked action {t!r} cannot follow ranked action {e.source!r}; put an "
                        "unranked action between them",
                    )
        # Conditional predecessors: all or none, and from a single source.
        for t in names:
            kinds = {e.conditional for e in pred[t]}
            if kinds == {True, False}:
                srcs = ", ".join(
                    sorted({f"{e.source!r}" + (" (conditional)" if e.conditional else "") for e in pred[t]})
                )
                self.error(
                    json_path("ActionList", t),
                    f"{t!r} is reached both conditionally and "
                    f"unconditionally ({srcs}); FaaSr rejects mixed "
                    "predecessor types",
                )
            cond_sources = {e.source for e in pred[t] if e.conditional}
            if len(cond_sources) > 1:
                self.error(
                    json_path("ActionList", t),
                    f"{t!r} is a conditional target of several actions "
                    f"({', '.join(sorted(map(repr, cond_sources)))}); "
                    "FaaSr allows one conditional source",
                )
        # Roots, entry, cycles, reachability.
        roots = [a for a in names if not pred[a]]
        entry = self.raw.get("FunctionInvoke")
        entry_ok = isinstance(entry, str) and entry in actions
        cycle = find_cycle(names, succ)
        if cycle:
            self.error(
                json_path("ActionList", cycle[0]),
                "cycle: " + " -> ".join(cycle) + "; FaaSr workflows must be acyclic",
            )
        if not roots:
            self.error(
                "$.ActionList",
                "no action is without predecessors, so the workflow has no start "
                "(every action is in a cycle)",
            )
        elif entry_ok:
            if entry not in roots:
                srcs = ", ".join(sorted({repr(e.source) for e in pred[entry]}))
                self.error(
                    "$.FunctionInvoke",
                    f"entry {entry!r} is invoked by {srcs}; the entry must be the "
                    "only action without predecessors",
                )
            others = [r for r in roots if r != entry]
            if others:
                self.error(
                    "$.ActionList",
                    "actions without predecessors besides the entry can never run: "
                    + ", ".join(map(repr, others))
                    + "; FaaSr accepts a single start action",
                )
            reach = reachable(entry, succ)
            unreachable = [a for a in names if a not in reach and a not in others]
            if unreachable:
                self.error(
                    "$.ActionList",
                    f"not reachable from entry {entry!r}: " + ", ".join(map(repr, unreachable)),
                )
        if cycle or self._has_errors():
            return
        self.branch_merges(names, pred)
        for t in names:
            n = sum(self._rank_of(e.source, pred) for e in pred[t])
            if n > FANIN_LISTING_LIMIT // 2:
                self.warn(
                    json_path("ActionList", t),
                    f"fan-in over {n} instances: FaaSr's fan-in check lists at most "
                    f"{FANIN_LISTING_LIMIT} keys of the invocation folder, so on real FaaSr "
                    f"{t!r} may never see every .done file",
                )

    @staticmethod
    def _rank_of(action: str, pred: Mapping[str, list[Edge]]) -> int:
        return max((e.rank for e in pred.get(action, ())), default=1)

    def _has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def branch_merges(self, names: list[str], pred: Mapping[str, list[Edge]]) -> None:
        """Warn about fan-ins whose predecessors sit on different branches of one conditional.

        The engine accepts them (contract §5.2) but the join waits forever for the untaken branch.
        Each action gets the set of (conditional action, branch) guards every path to it passes.
        """
        order = topological_order(names, pred)
        guards: dict[str, frozenset[tuple[str, bool]]] = {}
        for a in order:
            sets = [
                guards[e.source] | ({(e.source, e.branch)} if e.branch is not None else set())
                for e in pred.get(a, ())
            ]
            guards[a] = frozenset.intersection(*map(frozenset, sets)) if sets else frozenset()
        for a in order:
            sources = {e.source for e in pred.get(a, ())}
            if len(sources) < 2:
                continue
            held = {g for s in sources for g in guards[s]}
            for cond, branch in sorted(held):
                if (cond, not branch) in held:
                    self.warn(
                        json_path("ActionList", a),
                        f"{a!r} joins actions from both branches of conditional {cond!r}; only one "
                        "branch runs, so FaaSr's fan-in waits forever and it never runs",
                    )
                    break


def validate(raw: Any, notes: list[Problem] | None = None) -> list[Problem]:
    """Every error and warning for a decoded workflow JSON (`notes`: problems found while decoding)."""
    return _Checker(raw, list(notes or [])).run()
