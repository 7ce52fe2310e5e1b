"""FaaSr workflow model: parse a workflow JSON, walk its graph, name its function instances and S3 keys.

`FaaSrWorkflow.parse` accepts a path, JSON text or a dict and either returns a validated model or
raises `WorkflowValidationError` listing every problem with its JSON path (see validation.py).
"""

from __future__ import annotations

import copy
import json
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from prefect_faasr.errors import Problem, WorkflowValidationError
from prefect_faasr.graph import Edge, adjacency, iter_edges, topological_order
from prefect_faasr.names import (
    INSTANCE_RE,
    NAME_RE,
    TIMESTAMP_FORMAT,
    instance_name,
    json_path,
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


_DONE_RE = re.compile(r"^(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?:\.(?P<rank>[1-9][0-9]*))?\Z")


@dataclass(frozen=True)
class InvocationKeys:
    """S3 keys of one invocation (contract §3): folder `{FaaSrLog}/{WF}/{TS}/{ID}` and what is in it.

    Example:
        ```python
        keys = InvocationKeys("FaaSrLog", "WF", "2026-11-21T09-36-32", "ID")
        keys.log_key("worker(2)")    # 'FaaSrLog/WF/2026-11-21T09-36-32/ID/worker(2).txt'
        keys.done_key("worker(2)")   # 'FaaSrLog/WF/2026-11-21T09-36-32/ID/function_completions/worker.2.done'
        ```
    """

    faasr_log: str
    workflow_name: str
    timestamp: str
    invocation_id: str

    @property
    def folder(self) -> str:
        # The engine joins the parts with pathlib, which drops empty and "." parts and doubled slashes.
        return PurePosixPath(
            self.faasr_log, self.workflow_name, self.timestamp, self.invocation_id
        ).as_posix()

    def log_key(self, instance: str) -> str:
        """Log of a function instance, `{F}/{A}.txt` or `{F}/{A}({r}).txt` (LoggingDataStore)."""
        split_instance(instance)
        return f"{self.folder}/{instance}.txt"

    def done_key(self, instance: str) -> str:
        """Completion flag, `{F}/function_completions/{A}.done` or `{A}.{r}.done` (DefaultDataStore)."""
        action, rank = split_instance(instance)
        stem = f"{action}.{rank}" if rank else action
        return f"{self.folder}/function_completions/{stem}.done"

    def candidate_key(self, action: str) -> str:
        """Fan-in candidate list of an action (LoggingDataStore)."""
        return f"{self.folder}/{action}.candidate"

    def lock_key(self, action: str) -> str:
        """Fan-in lock of an action (LoggingDataStore, transient)."""
        return f"{self.folder}/{action}/lock"

    def flag_prefix(self, action: str) -> str:
        """Prefix of the lock-intent flags of an action (LoggingDataStore, transient)."""
        return f"{self.folder}/{action}/flag/"

    def classify(self, key: str) -> tuple[str, str] | None:
        """Which FaaSr object a key is: ("log"|"done", instance) or ("candidate"|"lock"|"flag", action).

        None for keys outside this invocation folder and for anything FaaSr does not write.
        """
        prefix = self.folder + "/"
        if not key.startswith(prefix):
            return None
        rest = key[len(prefix) :]
        if rest.startswith("function_completions/") and rest.endswith(".done"):
            m = _DONE_RE.match(rest[len("function_completions/") : -len(".done")])
            return ("done", instance_name(m["name"], int(m["rank"]) if m["rank"] else None)) if m else None
        head, sep, tail = rest.partition("/")
        if sep:
            if not NAME_RE.match(head):
                return None
            if tail == "lock":
                return "lock", head
            flag, _, number = tail.partition("/")
            return ("flag", head) if flag == "flag" and number and "/" not in number else None
        if rest.endswith(".txt") and INSTANCE_RE.match(rest[:-4]):
            return "log", rest[:-4]
        if rest.endswith(".candidate") and NAME_RE.match(rest[: -len(".candidate")]):
            return "candidate", rest[: -len(".candidate")]
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
        wf = FaaSrWorkflow.parse("workflow.json")     # WorkflowValidationError lists every problem
        wf.entry, wf.instances()                      # 'start', ['start', 'prep', 'worker(1)', ...]
        [(e.target, e.branch) for e in wf.successors("prep")]   # [('left', True), ('never', False)]
        inv = wf.new_invocation()                     # InvocationID + InvocationTimestamp to send
        wf.keys(inv).done_key("worker(2)")            # '.../function_completions/worker.2.done'
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
        succ, pred = adjacency(self.actions, edges)
        self._succ = {a: tuple(succ[a]) for a in self.actions}
        self._pred = {a: tuple(pred[a]) for a in self.actions}
        self._rank = {a: max((e.rank for e in self._pred[a]), default=1) for a in self.actions}

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, source: str | Path | Mapping[str, Any], *, origin: str | None = None) -> FaaSrWorkflow:
        """Parse and validate a workflow from a path, JSON text or dict.

        Raises `WorkflowValidationError` with every problem found (each with its JSON path).
        """
        raw, notes, origin = _load(source, origin)
        problems = validate(raw, notes)
        if any(p.severity == "error" for p in problems):
            raise WorkflowValidationError(problems, origin)
        if isinstance(source, Mapping):
            raw = copy.deepcopy(raw)  # the caller keeps the original; decoded text is ours alone
        edges = list(iter_edges(raw))
        return cls(raw, edges, [p for p in problems if p.severity == "warning"], origin)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the workflow JSON."""
        return copy.deepcopy(self.raw)

    # ---- graph ----------------------------------------------------------------------------------

    def successors(self, action: str) -> tuple[Edge, ...]:
        """Edges out of an action in InvokeNext order; `edge.branch` is True/False on a conditional."""
        return self._succ[action]

    def predecessors(self, action: str) -> tuple[Edge, ...]:
        """Edges into an action, in ActionList then InvokeNext order."""
        return self._pred[action]

    def predecessor_instances(self, action: str) -> list[str]:
        """Instances whose `.done` a fan-in gate waits for (ranked predecessors expanded)."""
        return [inst for e in self._pred[action] for inst in self.instances(e.source)]

    def rank(self, action: str) -> int:
        """Number of instances of an action: N for an action triggered as `name(N)`, else 1."""
        return self._rank[action]

    def is_conditional(self, action: str) -> bool:
        """Whether the action's InvokeNext has a True/False object (its function must return a bool)."""
        return any(e.conditional for e in self._succ[action])

    def is_fan_in(self, action: str) -> bool:
        """Whether FaaSr gates the action on several `.done` files (contract §5.3)."""
        return len(self.predecessor_instances(action)) > 1

    def instances(self, action: str | None = None) -> list[str]:
        """Function instances of one action, or of the whole workflow in topological order."""
        if action is None:
            return list(self._all_instances)
        return list(self._instances[action])

    @cached_property
    def _instances(self) -> dict[str, tuple[str, ...]]:
        return {
            a: tuple(instance_name(a, r) for r in range(1, n + 1)) if n > 1 else (a,)
            for a, n in self._rank.items()
        }

    @cached_property
    def _all_instances(self) -> tuple[str, ...]:
        return tuple(i for a in self._topo for i in self._instances[a])

    def topological_order(self) -> list[str]:
        """Actions so that every action comes after its predecessors (ties in ActionList order)."""
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

    def keys(self, invocation_id: str | Invocation, timestamp: str | None = None) -> InvocationKeys:
        """S3 keys of one invocation: `keys(invocation)` or `keys(invocation_id, timestamp)`."""
        if isinstance(invocation_id, Invocation):
            invocation_id, timestamp = invocation_id.invocation_id, invocation_id.timestamp
        if timestamp is None:
            raise TypeError("keys(invocation_id, timestamp) needs the InvocationTimestamp")
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
) -> tuple[Any, list[Problem], str | None]:
    if isinstance(source, Mapping):
        return dict(source), [], origin
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith(("{", "["))):
        path = Path(source)
        origin = origin or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise WorkflowValidationError([Problem("$", "file not found")], origin) from None
        except IsADirectoryError:
            raise WorkflowValidationError([Problem("$", "is a directory, not a file")], origin) from None
        except UnicodeDecodeError as exc:
            msg = f"not UTF-8 text (byte {exc.start}): FaaSr reads workflow files as UTF-8 JSON"
            raise WorkflowValidationError([Problem("$", msg)], origin) from None
        except OSError as exc:
            msg = f"cannot read file: {exc.strerror or exc}"
            raise WorkflowValidationError([Problem("$", msg)], origin) from None
        except ValueError:  # a NUL character: no file can have this name
            raise WorkflowValidationError([Problem("$", "not a file name (it has a NUL)")], origin) from None
    else:
        text = source
    return *_decode(text, origin), origin


def _decode(text: str, origin: str | None) -> tuple[Any, list[Problem]]:
    """JSON text -> data plus a warning per duplicated key (json.loads keeps the last value silently)."""
    duplicated: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for k, v in items:
            if k in obj:
                duplicated.setdefault(id(obj), []).append(k)
            obj[k] = v
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise WorkflowValidationError([Problem("$", _syntax_message(text, exc))], origin) from None
    except RecursionError:
        msg = "not a workflow: its JSON is nested too deeply to read (a workflow is a few levels deep)"
        raise WorkflowValidationError([Problem("$", msg)], origin) from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        limit = sys.get_int_max_str_digits()
        run = re.search(rf"\d{{{limit + 1},}}", text) if limit else None
        where = f" at line {text.count(chr(10), 0, run.start()) + 1}" if run else ""
        msg = f"not valid JSON{where}: a number with more than {limit} digits"
        raise WorkflowValidationError([Problem("$", msg)], origin) from None
    problems = (
        [
            Problem(
                json_path(*parts, key),
                "this key appears twice in one object; FaaSr uses the last value",
                "warning",
            )
            for parts, obj in _walk(data)
            for key in duplicated.get(id(obj), ())
        ]
        if duplicated
        else []
    )
    return data, problems


def _walk(value: Any, parts: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every JSON object in `value` with its path parts (iterative, any depth)."""
    stack = [(parts, value)]
    while stack:
        parts, value = stack.pop()
        if isinstance(value, dict):
            yield parts, value
            stack.extend(((*parts, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*parts, i), v) for i, v in enumerate(value))


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    reason = exc.msg.removesuffix(" at")  # "Invalid control character at" reads badly before "line"
    lines = text.splitlines() or [""]
    line = lines[min(exc.lineno, len(lines)) - 1]
    start = max(0, exc.colno - 31)
    snippet = line[start : exc.colno + 20].strip()
    near = f"; near: {snippet}" if snippet else ""
    return f"not valid JSON at line {exc.lineno}, column {exc.colno}: {reason}{near}"
