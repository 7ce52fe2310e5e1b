"""Parse FaaSr S3 logs: records, levels, errors and the trigger lines of every FaaSType.

A FaaSr log (contract §4) holds engine records `[t] [LEVEL] [file] message`, their continuation
lines (tracebacks, stack sections) and raw user lines written by `faasr_log`. Lines are neither
chronological nor unique, so nothing here assumes either.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
USER = "USER"
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})

RECORD_RE = re.compile(
    r"^\[(?P<t>-?\d+(?:\.\d+)?(?:e-?\d+)?)\] \[(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\] "
    r"\[(?P<file>[^\]]*)\] ?(?P<msg>.*)$"
)
_BLOCK_START = ("Traceback (most recent call last):", "Stack (most recent call last):")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::\s.*|:)?$")

# Trigger success lines per FaaSType (contract §4.3). `X` is the bare action name except for
# GoogleCloud, which prefixes the workflow name.
_TRIGGERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GitHubActions", re.compile(r"^GitHub Action: Successfully invoked: (?P<name>\S+)$")),
    ("Lambda", re.compile(r"^Lambda: Successfully invoked: (?P<name>\S+)$")),
    ("OpenWhisk", re.compile(r"^OpenWhisk: (?:Successfully|Succesfully) invoked (?P<name>\S+)$")),
    ("GoogleCloud", re.compile(r"^GoogleCloud: Successfully invoked (?P<name>\S+)$")),
    ("SLURM", re.compile(r"^SLURM: Successfully submitted job: (?P<name>\S+) \(Job ID: [^)]*\)$")),
    (
        "Kubernetes",
        re.compile(r"^\('Kubernetes: Successfully submitted jobs: (?P<name>\S+) \(Job ID: [^)]*\)',.*\)$"),
    ),
    ("Simulated", re.compile(r"^SIMULATED TRIGGER: (?P<name>[A-Za-z][A-Za-z0-9-]*)(?:\.(?P<rank>\d+))?$")),
)
_RESULT_RE = re.compile(r"^Finished execution of (?P<action>\S+) with result (?P<result>.*)$")


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


def _parse(lines: list[str], first_line: int) -> list[tuple[LogRecord, int]]:
    """Records with the index (into `lines`) where each starts."""
    out: list[tuple[LogRecord, int]] = []
    head: dict | None = None
    cont: list[str] = []
    block = False  # inside a traceback / stack section of the current engine record

    def close() -> None:
        if head is not None:
            out.append((LogRecord(**head, continuation=tuple(cont)), head_index))

    head_index = 0
    for i, line in enumerate(lines):
        m = RECORD_RE.match(line)
        if m:
            close()
            msg = m["msg"]
            head = {
                "level": m["level"],
                "message": msg,
                "time": float(m["t"]),
                "file": m["file"],
                "line": first_line + i,
            }
            head_index = i
            cont = []
            block = msg.endswith(_BLOCK_START)
            continue
        is_continuation = head is not None and (
            line.startswith(_BLOCK_START)
            or (block and (not line or line[0].isspace() or _EXCEPTION_LINE.match(line)))
        )
        if is_continuation:
            cont.append(line)
            block = True
            continue
        close()
        head = None
        cont = []
        block = False
        out.append((LogRecord(level=USER, message=line, line=first_line + i), i))
    close()
    return out


def parse_log(text: str) -> list[LogRecord]:
    """All records of a log, in file order. Trailing empty lines are dropped."""
    lines = text.split("\n")
    while lines and not lines[-1]:
        lines.pop()
    return [r for r, _ in _parse(lines, 1)]


class LogTail:
    """Incremental parser for a log that grows by appends (what the observer reads with ranged GETs).

    `feed(chunk)` returns the records that became final: every record but the last one, which may
    still get continuation lines, and an unterminated last line. `flush()` finalises the rest.
    """

    def __init__(self) -> None:
        self._pending: list[str] = []  # lines of the records not yet final
        self._partial = ""  # text after the last newline
        self._next_line = 1
        self.records: list[LogRecord] = []

    def feed(self, chunk: str) -> list[LogRecord]:
        text = self._partial + chunk
        *complete, self._partial = text.split("\n")
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

    def flush(self) -> list[LogRecord]:
        lines = self._pending + ([self._partial] if self._partial else [])
        while lines and not lines[-1]:
            lines.pop()
        final = [r for r, _ in _parse(lines, self._next_line)]
        self._pending, self._partial = [], ""
        self._next_line += len(lines)
        self.records.extend(final)
        return final


def errors(records: Iterable[LogRecord]) -> list[LogRecord]:
    """ERROR and CRITICAL records (what makes a FaaSr function failed)."""
    return [r for r in records if r.is_error]


def trigger_lines(records: Iterable[LogRecord], workflow_name: str | None = None) -> list[TriggerLine]:
    """Every successful-trigger line, with the bare action name it names."""
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
