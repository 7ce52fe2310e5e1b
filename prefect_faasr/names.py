"""Names in FaaSr's world: action and function-instance names, InvokeNext targets, JSON paths."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# `\Z`, not `$`: `$` would also accept a trailing newline, which has no place in an S3 key.
NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*\Z")
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
TARGET_RE = re.compile(r"^(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?:\((?P<rank>[0-9]+)\))?\Z")
INSTANCE_RE = re.compile(r"^(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?:\((?P<rank>[1-9][0-9]*)\))?\Z")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H-%M-%S"


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+").fullmatch
# Characters json.dumps(ensure_ascii=False) leaves raw although they end a line (str.splitlines).
_LINE_ENDS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def json_text(value: object, default: Callable[[Any], Any] | None = None) -> str:
    """`value` as JSON that stays on one line and keeps non-ASCII letters readable."""
    return json.dumps(value, ensure_ascii=False, default=default).translate(_LINE_ENDS)


def json_path(*parts: str | int) -> str:
    """`json_path("ActionList", "a-b", "InvokeNext", 0)` -> `$.ActionList.a-b.InvokeNext[0]`.

    Keys with other characters are quoted: `json_path("ComputeServers", "OW", "API.key")` ->
    `$.ComputeServers.OW["API.key"]`.
    """
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY(part):
            out.append("." + part)
        else:
            out.append("[" + json_text(part) + "]")
    return "".join(out)


def instance_name(action: str, rank: int | None = None) -> str:
    """Name of one function instance: `action` when unranked, `action(r)` for rank r."""
    return f"{action}({rank})" if rank else action


def split_instance(instance: str) -> tuple[str, int | None]:
    """Inverse of `instance_name`: `"worker(2)"` -> `("worker", 2)`, `"start"` -> `("start", None)`."""
    m = INSTANCE_RE.match(instance)
    if not m:
        raise ValueError(f"not a FaaSr function instance name: {instance!r}")
    return m["name"], int(m["rank"]) if m["rank"] else None


def parse_target(item: str) -> tuple[str, int]:
    """An InvokeNext item `name` or `name(N)` -> (name, N); N is 1 when absent."""
    m = TARGET_RE.match(item)
    if not m:
        raise ValueError(f"not an InvokeNext target: {item!r}")
    return m["name"], int(m["rank"]) if m["rank"] else 1


def new_timestamp(now: datetime | None = None) -> str:
    """An InvocationTimestamp in FaaSr's format, from `now` (default: current UTC time)."""
    return (now or datetime.now(UTC)).strftime(TIMESTAMP_FORMAT)
