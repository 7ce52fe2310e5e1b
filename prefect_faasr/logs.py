"""Parse FaaSr S3 logs: records, levels, errors and the trigger lines of every FaaSType.

A FaaSr log (contract §4) holds engine records `[t] [LEVEL] [file] message`, their continuation
lines (tracebacks, stack sections) and raw user lines written by `faasr_log`. Lines are neither
chronological nor unique, so nothing here assumes either.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
USER = "USER"
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})

RECORD_RE = re.compile(
    r"^\[(?P<t>-?\d+(?:\.\d+)?(?:e-?\d+)?)\] \[(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\] "
    r"\[(?P<file>[^\]]*)\] ?(?P<msg>.*)\Z"
)
_TRACEBACK = "Traceback (most recent call last):"
_STACK = "Stack (most recent call last):"
_CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
# The last line of a traceback: `ValueError: msg`, `KeyError`, `botocore.exceptions.ClientError: ...`.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::\s.*|:)?\Z")

_NAME = r"(?P<name>[A-Za-z][A-Za-z0-9-]*)"
# Trigger success lines per FaaSType (contract §4.3). The name is the bare action name except for
# GoogleCloud, which prefixes the workflow name; Kubernetes logs a tuple, hence its repr.
_TRIGGERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GitHubActions", re.compile(rf"^GitHub Action: Successfully invoked: {_NAME}\Z")),
    ("Lambda", re.compile(rf"^Lambda: Successfully invoked: {_NAME}\Z")),
    ("OpenWhisk", re.compile(rf"^OpenWhisk: (?:Succesfully|Successfully) invoked {_NAME}\Z")),
    ("GoogleCloud", re.compile(rf"^GoogleCloud: Successfully invoked {_NAME}\Z")),
    ("SLURM", re.compile(rf"^SLURM: Successfully submitted job: {_NAME} \(Job ID: [^)]*\)\Z")),
    (
        "Kubernetes",
        re.compile(
            rf"^\(['\"]Kubernetes: Successfully submitted jobs: {_NAME} \(Job ID: [^)]*\)['\"], .*\)\Z"
        ),
    ),
    ("Simulated", re.compile(rf"^SIMULATED TRIGGER: {_NAME}(?:\.(?P<rank>[1-9][0-9]*))?\Z")),
)
_RESULT_RE = re.compile(r"^Finished execution of (?P<action>\S+) with result (?P<result>.*)\Z")


@dataclass(frozen=True)
class LogRecord:
    """One record: an engine line with its continuation lines, or one raw user line (level USER)."""

    level: str
    message: str
    time: float | None = None
    file: str | None = None
    continuation: tuple[str, ...] = ()
    line: int = 0

    @property
    def is_error(self) -> bool:
        return self.level in ERROR_LEVELS

    @property
    def is_user(self) -> bool:
        return self.level == USER

    @property
    def text(self) -> str:
        """The message with its continuation lines, as one string."""
        return "\n".join((self.message, *self.continuation)).rstrip("\n")

    def __str__(self) -> str:
        if self.is_user:
            return self.message
        return f"[{self.time:g}] [{self.level}] [{self.file}] {self.text}"


@dataclass(frozen=True)
class TriggerLine:
    """A successful trigger of `action` logged by its predecessor."""

    action: str
    faas_type: str
    rank: int | None
    record: LogRecord


class _Block(Enum):
    """Where a line stands relative to the engine record above it."""

    NONE = 0  # plain record: only a traceback or stack header continues it
    FRAMES = 1  # inside `Traceback (most recent call last):`, until the exception line
    EXCEPTION = 2  # right after the exception line: a chained traceback or a stack may follow
    STACK = 3  # inside `Stack (most recent call last):` (indented frames only)


def _continues(line: str, block: _Block) -> _Block | None:
    """The block state after `line` if it continues the current engine record, else None."""
    if line == _TRACEBACK:
        return _Block.FRAMES
    if line == _STACK:
        return _Block.STACK
    indented = line[:1].isspace()
    if block is _Block.FRAMES:
        if indented:
            return _Block.FRAMES
        return _Block.EXCEPTION if _EXCEPTION_LINE.match(line) else None
    if block is _Block.EXCEPTION:
        return _Block.EXCEPTION if indented or not line or line in _CHAINED else None
    if block is _Block.STACK:
        return _Block.STACK if indented else None
    return None


def _parse(lines: list[str], first_line: int) -> list[tuple[LogRecord, int]]:
    """Records with the index (into `lines`) where each starts."""
    out: list[tuple[LogRecord, int]] = []
    head: dict[str, Any] | None = None
    head_index = 0
    cont: list[str] = []
    block = _Block.NONE

    def close() -> None:
        if head is not None:
            out.append((LogRecord(**head, continuation=tuple(cont)), head_index))

    for i, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith("\r") else raw
        m = RECORD_RE.match(line)
        if m:
            close()
            head = {
                "level": m["level"],
                "message": m["msg"],
                "time": float(m["t"]),
                "file": m["file"],
                "line": first_line + i,
            }
            head_index, cont = i, []
            block = _Block.FRAMES if m["msg"].endswith(_TRACEBACK) else _Block.NONE
            continue
        nxt = _continues(line, block) if head is not None else None
        if nxt is not None:
            cont.append(line)
            block = nxt
            continue
        close()
        head, cont, block = None, [], _Block.NONE
        out.append((LogRecord(level=USER, message=line, line=first_line + i), i))
    close()
    return out


def parse_log(text: str | bytes) -> list[LogRecord]:
    """All records of a log, in file order (duplicates kept: FaaSr writes server lines twice)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [r for r, _ in _parse(lines, 1)]


class LogTail:
    """Incremental parser for a log that grows by appends (what the observer reads with ranged GETs).

    `feed(chunk)` takes text or raw bytes (a UTF-8 character split across two chunks is fine) and
    returns the records that became final: every record but the last one, which may still get
    continuation lines. `flush()` finalises the rest. Fed the same text in any chunks, the records
    equal `parse_log(text)`.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []  # lines of the record that is not final yet
        self._partial = ""  # text after the last newline
        self._next_line = 1
        self.records: list[LogRecord] = []

    def feed(self, chunk: str | bytes) -> list[LogRecord]:
        if isinstance(chunk, bytes):
            chunk = self._decoder.decode(chunk)
        *complete, self._partial = (self._partial + chunk).split("\n")
        self._pending.extend(complete)
        parsed = _parse(self._pending, self._next_line)
        if len(parsed) <= 1:
            return []
        keep_from = parsed[-1][1]
        final = [r for r, _ in parsed[:-1]]
        self._next_line += keep_from
        self._pending = self._pending[keep_from:]
        self.records.extend(final)
        return final

    def peek(self) -> list[LogRecord]:
        """The records that are not final yet (usually just the last one), as they stand now:
        `records + peek()` equals `parse_log` of everything fed so far (a UTF-8 character still
        incomplete at the end is left out). Nothing is consumed."""
        lines = self._pending + ([self._partial] if self._partial else [])
        return [r for r, _ in _parse(lines, self._next_line)]

    def flush(self) -> list[LogRecord]:
        """Finalise everything fed so far (call once the log is complete)."""
        self._partial += self._decoder.decode(b"", final=True)
        lines = self._pending + ([self._partial] if self._partial else [])
        final = [r for r, _ in _parse(lines, self._next_line)]
        self._pending, self._partial = [], ""
        self._next_line += len(lines)
        self.records.extend(final)
        return final


def errors(records: Iterable[LogRecord]) -> list[LogRecord]:
    """ERROR and CRITICAL records (what makes a FaaSr function failed)."""
    return [r for r in records if r.is_error]


def trigger_lines(records: Iterable[LogRecord], workflow_name: str | None = None) -> list[TriggerLine]:
    """Every successful-trigger line (one per triggered instance), with the action it names.

    GoogleCloud lines name `{WorkflowName}-{action}`; pass `workflow_name` to get the bare action.
    """
    out = []
    for r in records:
        if r.is_user or r.level != "INFO":
            continue
        for faas_type, pattern in _TRIGGERS:
            m = pattern.match(r.message)
            if not m:
                continue
            name = m["name"]
            if faas_type == "GoogleCloud" and workflow_name and name.startswith(workflow_name + "-"):
                name = name[len(workflow_name) + 1 :]
            rank = int(m["rank"]) if "rank" in pattern.groupindex and m["rank"] else None
            out.append(TriggerLine(name, faas_type, rank, r))
            break
    return out


def triggered(records: Iterable[LogRecord], workflow_name: str | None = None) -> Counter[str]:
    """How many times each action was triggered (a ranked `x(3)` counts 3)."""
    return Counter(t.action for t in trigger_lines(records, workflow_name))


def function_result(records: Iterable[LogRecord]) -> str | None:
    """The return value the engine logged (`True`, `False`, `None`, ...), if the log has it."""
    for r in records:
        if not r.is_user and (m := _RESULT_RE.match(r.message)):
            return m["result"]
    return None
