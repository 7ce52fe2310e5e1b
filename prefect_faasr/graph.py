"""Graph primitives of a FaaSr workflow: edges from InvokeNext, cycles, reachability, order.

Everything here is iterative (no recursion limit) and linear in actions + edges, and every
result is deterministic: ties follow ActionList order, then InvokeNext order.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prefect_faasr.names import TARGET_RE, json_path

_LOOSE_TARGET_RE = re.compile(r"^(?P<name>[^()]+?)(?:\((?P<rank>[^()]*)\))?\Z")


@dataclass(frozen=True)
class Edge:
    """One InvokeNext item: `source` triggers `target` (`rank` instances), maybe on a branch."""

    source: str
    target: str
    rank: int = 1
    branch: bool | None = None
    path: str = ""

    @property
    def conditional(self) -> bool:
        return self.branch is not None

    @property
    def label(self) -> str:
        """The item as written in InvokeNext: `target` or `target(N)`."""
        return f"{self.target}({self.rank})" if self.rank > 1 else self.target


def iter_edges(raw: Mapping[str, Any]) -> Iterator[Edge]:
    """Every edge between two actions, in InvokeNext order (malformed and dangling items are left out)."""
    actions = raw.get("ActionList")
    if not isinstance(actions, dict):
        return
    for src, spec in actions.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("InvokeNext"), list):
            continue
        for i, item in enumerate(spec["InvokeNext"]):
            if isinstance(item, str):
                yield from _edge(actions, src, item, None, ("ActionList", src, "InvokeNext", i))
            elif isinstance(item, dict):
                for key, branch in (("True", True), ("False", False)):
                    targets = item.get(key)
                    if isinstance(targets, list):
                        for j, t in enumerate(targets):
                            if isinstance(t, str):
                                parts = ("ActionList", src, "InvokeNext", i, key, j)
                                yield from _edge(actions, src, t, branch, parts)


def _edge(
    actions: Mapping[str, Any], src: str, item: str, branch: bool | None, parts: tuple[str | int, ...]
) -> Iterator[Edge]:
    # Lenient like FaaSr's check_dag: a target whose name breaks the naming rules still makes an
    # edge when it names an action (the name itself is reported by validation).
    m = TARGET_RE.match(item) or _LOOSE_TARGET_RE.match(item)
    if m and m["name"] in actions and isinstance(actions[m["name"]], dict):
        rank = int(m["rank"]) if m["rank"] and m["rank"].isdigit() else 1
        if rank >= 1:
            yield Edge(src, m["name"], rank, branch, json_path(*parts))


def adjacency(
    names: Iterable[str], edges: Iterable[Edge]
) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
    """(successor edges, predecessor edges) per action, in InvokeNext order."""
    succ: dict[str, list[Edge]] = {a: [] for a in names}
    pred: dict[str, list[Edge]] = {a: [] for a in succ}
    for e in edges:
        succ.setdefault(e.source, []).append(e)
        pred.setdefault(e.target, []).append(e)
    return succ, pred


def reachable(starts: Iterable[str], succ: Mapping[str, Sequence[Edge]]) -> set[str]:
    """Every action reachable from `starts` (included)."""
    seen = set(starts)
    stack = list(seen)
    while stack:
        for e in succ.get(stack.pop(), ()):
            if e.target not in seen:
                seen.add(e.target)
                stack.append(e.target)
    return seen


def strongly_connected(names: Sequence[str], succ: Mapping[str, Sequence[Edge]]) -> list[list[str]]:
    """Strongly connected components with more than one action (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    order = {a: i for i, a in enumerate(names)}
    for root in names:
        if root in index:
            continue
        work: list[tuple[str, Iterator[Edge]]] = [(root, iter(succ.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for e in it:
                t = e.target
                if t not in index:
                    index[t] = low[t] = len(index)
                    stack.append(t)
                    on_stack.add(t)
                    work.append((t, iter(succ.get(t, ()))))
                    advanced = True
                    break
                if t in on_stack:
                    low[node] = min(low[node], index[t])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component, key=lambda a: order.get(a, len(order))))
    return out


def cycle_through(start: str, members: set[str], succ: Mapping[str, Sequence[Edge]]) -> list[Edge]:
    """A shortest cycle `start -> ... -> start` inside one strongly connected component, as edges."""
    came: dict[str, Edge] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for e in succ.get(node, ()):
            if e.target not in members or e.target == node:
                continue
            if e.target == start:
                path = [e]
                while path[0].source != start:
                    path.insert(0, came[path[0].source])
                return path
            if e.target not in came:
                came[e.target] = e
                queue.append(e.target)
    return []


def topological_order(names: Sequence[str], pred: Mapping[str, Sequence[Edge]]) -> list[str]:
    """Kahn's algorithm; actions on a cycle are left out. Ties follow `names` order."""
    indeg = {a: len({e.source for e in pred.get(a, ())}) for a in names}
    succ: dict[str, dict[str, None]] = {a: {} for a in names}
    for a in names:
        for e in pred.get(a, ()):
            if e.source in succ:
                succ[e.source][a] = None
    queue = deque(a for a in names if indeg[a] == 0)
    out: list[str] = []
    while queue:
        a = queue.popleft()
        out.append(a)
        for t in succ[a]:
            indeg[t] -= 1
            if indeg[t] == 0:
                queue.append(t)
    return out
