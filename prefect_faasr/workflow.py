"""FaaSr workflow model: parse a workflow JSON, walk its graph, name its function instances and S3 keys.

`FaaSrWorkflow.parse` accepts a path, JSON text or a dict and either returns a validated model or
raises `WorkflowValidationError` listing every problem with its JSON path (see validation.py).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from prefect_faasr.errors import Problem, WorkflowValidationError
from prefect_faasr.graph import Edge, iter_edges, topological_order
from prefect_faasr.names import (
    INSTANCE_RE,
    NAME_RE,
    TIMESTAMP_FORMAT,
    instance_name,
    new_timestamp,
    split_instance,
)
from prefect_faasr.validation import validate


@dataclass(frozen=True)
class Action:
    """One entry of ActionList."""

    name: str
    function_name: str
    faas_server: str
    type: str
    arguments: Mapping[str, Any]
    invoke_next: tuple[Any, ...]


@dataclass(frozen=True)
class InvocationKeys:
    """S3 keys of one invocation (contract §3): folder `{FaaSrLog}/{WF}/{TS}/{ID}` and what is in it."""

    faasr_log: str
    workflow_name: str
    timestamp: str
    invocation_id: str

    @property
    def folder(self) -> str:
        return f"{self.faasr_log}/{self.workflow_name}/{self.timestamp}/{self.invocation_id}"

    def log_key(self, instance: str) -> str:
        """Log of a function instance, `{F}/{A}.txt` or `{F}/{A}({r}).txt` (LoggingDataStore)."""
        return f"{self.folder}/{instance}.txt"

    def done_key(self, instance: str) -> str:
        """Completion flag, `{F}/function_completions/{A}.done` or `{A}.{r}.done` (DefaultDataStore)."""
        action, rank = split_instance(instance)
        stem = f"{action}.{rank}" if rank else action
        return f"{self.folder}/function_completions/{stem}.done"

    def candidate_key(self, action: str) -> str:
        return f"{self.folder}/{action}.candidate"

    def lock_key(self, action: str) -> str:
        return f"{self.folder}/{action}/lock"

    def flag_prefix(self, action: str) -> str:
        return f"{self.folder}/{action}/flag/"

    def classify(self, key: str) -> tuple[str, str] | None:
        """Which FaaSr object a key in this folder is: ("log"|"done"|"candidate", instance or action)."""
        prefix = self.folder + "/"
        if not key.startswith(prefix):
            return None
        rest = key[len(prefix) :]
        if rest.startswith("function_completions/") and rest.endswith(".done"):
            stem = rest[len("function_completions/") : -len(".done")]
            action, _, rank = stem.partition(".")
            if rank.isdigit() and NAME_RE.match(action):
                return "done", instance_name(action, int(rank))
            if not rank and NAME_RE.match(action):
                return "done", action
            return None
        if "/" in rest:
            return None
        if rest.endswith(".txt") and INSTANCE_RE.match(rest[:-4]):
            return "log", rest[:-4]
        if rest.endswith(".candidate") and NAME_RE.match(rest[:-10]):
            return "candidate", rest[:-10]
        return None


@dataclass(frozen=True)
class Invocation:
    """Identity of one invocation: what the harness sends in the entry's OVERWRITTEN."""

    invocation_id: str
    timestamp: str


class FaaSrWorkflow:
    """A validated FaaSr workflow and its graph.

    Example:
        ```python
        wf = FaaSrWorkflow.parse("workflow.json")
        wf.entry, wf.instances()             # 'start', ['start', 'prep', 'worker(1)', ...]
        wf.keys("ID", "2026-11-21T09-36-32").done_key("worker(2)")
        ```
    """

    def __init__(
        self, raw: dict[str, Any], edges: list[Edge], warnings: list[Problem], source: str | None
    ) -> None:
        self.raw = raw
        self.source = source
        self.warnings = tuple(warnings)
        self.name: str = raw["WorkflowName"]
        self.entry: str = raw["FunctionInvoke"]
        self.actions: dict[str, Action] = {
            name: Action(
                name=name,
                function_name=spec["FunctionName"],
                faas_server=spec["FaaSServer"],
                type=spec["Type"],
                arguments=dict(spec.get("Arguments") or {}),
                invoke_next=tuple(spec.get("InvokeNext") or ()),
            )
            for name, spec in raw["ActionList"].items()
        }
        self.edges = tuple(edges)
        succ: dict[str, list[Edge]] = defaultdict(list)
        pred: dict[str, list[Edge]] = defaultdict(list)
        for e in edges:
            succ[e.source].append(e)
            pred[e.target].append(e)
        self._succ = {a: tuple(succ.get(a, ())) for a in self.actions}
        self._pred = {a: tuple(pred.get(a, ())) for a in self.actions}
        self._rank = {a: max((e.rank for e in self._pred[a]), default=1) for a in self.actions}

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, source: str | Path | Mapping[str, Any], *, origin: str | None = None) -> FaaSrWorkflow:
        """Parse and validate a workflow from a path, JSON text or dict.

        Raises `WorkflowValidationError` with every problem found (each with its JSON path).
        """
        raw, origin, notes = _load(source, origin)
        problems = validate(raw, notes)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise WorkflowValidationError(problems, origin)
        edges = list(iter_edges(raw))
        return cls(copy.deepcopy(raw), edges, [p for p in problems if p.severity == "warning"], origin)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the workflow JSON."""
        return copy.deepcopy(self.raw)

    # ---- graph ----------------------------------------------------------------------------------

    def successors(self, action: str) -> tuple[Edge, ...]:
        return self._succ[action]

    def predecessors(self, action: str) -> tuple[Edge, ...]:
        return self._pred[action]

    def predecessor_instances(self, action: str) -> list[str]:
        """Instances whose `.done` a fan-in gate waits for (ranked predecessors expanded)."""
        return [inst for e in self._pred[action] for inst in self.instances(e.source)]

    def rank(self, action: str) -> int:
        """Number of instances of an action: N for an action triggered as `name(N)`, else 1."""
        return self._rank[action]

    def is_conditional(self, action: str) -> bool:
        return any(e.conditional for e in self._succ[action])

    def is_fan_in(self, action: str) -> bool:
        return len(self.predecessor_instances(action)) > 1

    def instances(self, action: str | None = None) -> list[str]:
        """Function instances of one action, or of the whole workflow in topological order."""
        if action is None:
            return [i for a in self.topological_order() for i in self.instances(a)]
        n = self._rank[action]
        return [instance_name(action, r) for r in range(1, n + 1)] if n > 1 else [action]

    def topological_order(self) -> list[str]:
        return list(self._topo)

    @cached_property
    def _topo(self) -> tuple[str, ...]:
        return tuple(topological_order(list(self.actions), self._pred))

    # ---- servers and stores -------------------------------------------------------------------

    def compute_server(self, action: str) -> dict[str, Any]:
        return self.raw["ComputeServers"][self.actions[action].faas_server]

    def faas_type(self, action: str) -> str:
        return self.compute_server(action)["FaaSType"]

    @property
    def default_store(self) -> str:
        return self.raw["DefaultDataStore"]

    @property
    def logging_store(self) -> str:
        return self.raw.get("LoggingDataStore") or self.raw["DefaultDataStore"]

    def data_store(self, name: str) -> dict[str, Any]:
        return self.raw["DataStores"][name]

    @property
    def faasr_log(self) -> str:
        return self.raw.get("FaaSrLog") or "FaaSrLog"

    # ---- invocation identity and keys -----------------------------------------------------------

    def keys(self, invocation_id: str, timestamp: str) -> InvocationKeys:
        return InvocationKeys(self.faasr_log, self.name, timestamp, invocation_id)

    def new_invocation(self, now: datetime | None = None) -> Invocation:
        """Identity the entry would generate (contract §2.4), made by the harness before triggering."""
        now = now or datetime.now(UTC)
        ts = new_timestamp(now)
        fixed = (self.raw.get("InvocationID") or "").strip()
        if fixed:
            return Invocation(fixed, ts)
        fmt = self.raw.get("InvocationIDFromDate")
        if fmt:
            return Invocation(datetime.strptime(ts, TIMESTAMP_FORMAT).strftime(fmt), ts)
        return Invocation(str(uuid.uuid4()), ts)

    def __repr__(self) -> str:
        return f"FaaSrWorkflow({self.name!r}, entry={self.entry!r}, actions={len(self.actions)})"


def _load(
    source: str | Path | Mapping[str, Any], origin: str | None
) -> tuple[Any, str | None, list[Problem]]:
    if isinstance(source, Mapping):
        return dict(source), origin, []
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise WorkflowValidationError([Problem("$", "file not found")], str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkflowValidationError([Problem("$", f"cannot read file: {exc}")], str(path)) from None
        origin = origin or str(path)
    else:
        text = source
    dup: list[Problem] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for k, v in items:
            if k in seen:
                dup.append(
                    Problem("$", f"key {k!r} appears twice in one object; the last value wins", "warning")
                )
            seen[k] = v
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise WorkflowValidationError(
            [Problem("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")], origin
        ) from None
    return data, origin, dup
