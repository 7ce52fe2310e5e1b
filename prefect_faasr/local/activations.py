"""Activations of the local compute server and their OpenWhisk-shaped records.

A record has OpenWhisk's fields (activationId, name, namespace, start, end, duration, statusCode,
response{status, statusCode, success, result}, logs, annotations). Unlike OpenWhisk, queued and
running activations have a record too (`end` 0, `response` null). Everything OpenWhisk does not
have is in one extension object, `faasr`:

    state          queued | running | succeeded | failed
    exitCode       the activation process's exit code (negative: killed by that signal), or null
    invocationId   OVERWRITTEN.InvocationID (or the one the entry generated), action, rank (FunctionRank)
    invocationTimestamp  OVERWRITTEN.InvocationTimestamp (or the one the entry generated); with the
                   InvocationID it names the invocation: IDs repeat (a fixed `InvocationID`, a coarse
                   `InvocationIDFromDate`), the invocation folder `{WF}/{TS}/{ID}` does not
    workflow       the WorkflowName (the action name `{WF}-{A}` without `-{A}`)
    seq            submission order; submitted (ms)
    killed         true when stopped by a kill request or runtime shutdown; pid: the process id
    outcome        what the engine did: completed, fan-in: lost the candidate race, duplicate ID, ...
    functionResult the user function's coerced return value, when it got that far
    stdout, stderr the process's output (full records only)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

State = Literal["queued", "running", "succeeded", "failed"]
ACTIVE = frozenset({"queued", "running"})


@dataclass
class Activation:
    activation_id: str
    seq: int
    namespace: str
    name: str
    directory: Path
    invocation_id: str | None
    action: str | None
    rank: int | None
    invocation_timestamp: str | None = None
    workflow: str | None = None
    state: State = "queued"
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    pid: int | None = None
    killed: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    _final_outcome: dict[str, Any] | None = field(default=None, repr=False)

    def outcome(self) -> dict[str, Any]:
        """What the engine reported (`outcome.json`); read once more after the process ended, then kept,
        so listing thousands of finished activations does not read thousands of files."""
        if self._final_outcome is not None:
            return self._final_outcome
        ended = self.done.is_set()
        try:
            data = json.loads((self.directory / "outcome.json").read_text())
        except (OSError, ValueError):
            data = {}
        if ended:
            self._final_outcome = data
        return data

    def effective_invocation_id(self) -> str | None:
        if self.invocation_id is None:
            self.invocation_id = self.outcome().get("invocationId")
        return self.invocation_id

    def effective_invocation_timestamp(self) -> str | None:
        if self.invocation_timestamp is None:
            self.invocation_timestamp = self.outcome().get("invocationTimestamp")
        return self.invocation_timestamp

    def output(self, name: str) -> str:
        try:
            return (self.directory / name).read_text(errors="replace")
        except OSError:
            return ""

    def finish(self, exit_code: int | None) -> None:
        self.exit_code = exit_code
        self.ended = time.time()
        self.state = "succeeded" if exit_code == 0 and not self.killed else "failed"
        self.done.set()


@dataclass(frozen=True)
class Scope:
    """The invocation(s) a request means: an InvocationID, narrowed by its InvocationTimestamp and
    WorkflowName when given (None: any). Only all three name one invocation, as its folder
    `{FaaSrLog}/{WF}/{TS}/{ID}` does: IDs repeat (a fixed `InvocationID`, a coarse
    `InvocationIDFromDate`), and two workflows can start in the same second."""

    invocation_id: str
    timestamp: str | None = None
    workflow: str | None = None

    def covers(self, invocation_id: str | None, timestamp: str | None, workflow: str | None) -> bool:
        return (
            invocation_id == self.invocation_id
            and self.timestamp in (None, timestamp)
            and self.workflow in (None, workflow)
        )

    def matches(self, act: Activation) -> bool:
        if act.effective_invocation_id() != self.invocation_id:
            return False
        if self.timestamp is not None and act.effective_invocation_timestamp() != self.timestamp:
            return False
        return self.workflow is None or act.workflow == self.workflow

    @property
    def narrowness(self) -> int:
        return (self.timestamp is not None) + (self.workflow is not None)


def _ms(t: float | None) -> int:
    return int(t * 1000) if t else 0


def _log_lines(text: str, stream: str, when: float | None) -> list[str]:
    stamp = datetime.fromtimestamp(when or time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [f"{stamp} {stream}: {line}" for line in text.splitlines()]


def record(act: Activation, *, docs: bool = True) -> dict[str, Any]:
    """The OpenWhisk-shaped record of an activation (`docs=False`: without logs and output)."""
    outcome = act.outcome()
    invocation_id = act.effective_invocation_id()
    timestamp = act.effective_invocation_timestamp()
    response: dict[str, Any] | None = None
    status_code = 0
    if act.state == "succeeded":
        response = {"status": "success", "statusCode": 0, "success": True, "result": outcome}
    elif act.state == "failed":
        if act.killed:
            status_code, status, error = 3, "whisk internal error", "The activation was killed."
        else:
            status_code, status = 2, "action developer error"
            error = f"The action exited with code {act.exit_code}."
        response = {
            "status": status,
            "statusCode": status_code,
            "success": False,
            "result": {"error": error, **outcome},
        }
    start, end = _ms(act.started), _ms(act.ended)
    rec: dict[str, Any] = {
        "activationId": act.activation_id,
        "name": act.name,
        "namespace": act.namespace,
        "subject": act.namespace,
        "version": "0.0.1",
        "publish": False,
        "start": start,
        "end": end,
        "duration": end - start if end and start else 0,
        "statusCode": status_code,
        "response": response,
        "logs": [],
        "annotations": [
            {"key": "path", "value": f"{act.namespace}/{act.name}"},
            {"key": "kind", "value": "blackbox"},
            {"key": "waitTime", "value": max(0, start - _ms(act.submitted)) if start else 0},
            {"key": "timeout", "value": False},
        ],
        "faasr": {
            "state": act.state,
            "exitCode": act.exit_code,
            "invocationId": invocation_id,
            "invocationTimestamp": timestamp,
            "workflow": act.workflow,
            "action": act.action,
            "rank": act.rank,
            "seq": act.seq,
            "submitted": _ms(act.submitted),
            "killed": act.killed,
            "pid": act.pid,
            "outcome": outcome.get("outcome"),
            "functionResult": outcome.get("functionResult"),
        },
    }
    if docs:
        stdout, stderr = act.output("stdout.txt"), act.output("stderr.txt")
        rec["logs"] = _log_lines(stdout, "stdout", act.started) + _log_lines(stderr, "stderr", act.started)
        rec["faasr"]["stdout"] = stdout
        rec["faasr"]["stderr"] = stderr
    return rec
