"""Graph primitives of a FaaSr workflow: edges from InvokeNext, cycles, reachability, order."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prefect_faasr.names import TARGET_RE, json_path


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


def iter_edges(raw: Mapping[str, Any]) -> Iterator[Edge]:
    """Every well-formed edge whose source and target are actions (dangling ones are left out)."""
    actions = raw.get("ActionList")
    if not isinstance(actions, dict):
        return
    for src, spec in actions.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("InvokeNext"), list):
            continue
        for i, item in enumerate(spec["InvokeNext"]):
            if isinstance(item, str):
                yield from _edge(actions, src, item, None, json_path("ActionList", src, "InvokeNext", i))
            elif isinstance(item, dict):
                for key, branch in (("True", True), ("False", False)):
                    targets = item.get(key)
                    if isinstance(targets, list):
                        for j, t in enumerate(targets):
                            if isinstance(t, str):
                                path = json_path("ActionList", src, "InvokeNext", i, key, j)
                                yield from _edge(actions, src, t, branch, path)


def _edge(actions: Mapping[str, Any], src: str, item: str, branch: bool | None, path: str) -> Iterator[Edge]:
    m = TARGET_RE.match(item)
    if m and m["name"] in actions and (not m["rank"] or int(m["rank"]) >= 1):
        yield Edge(src, m["name"], int(m["rank"]) if m["rank"] else 1, branch, path)


def reachable(start: str, succ: Mapping[str, list[Edge]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for e in succ.get(stack.pop(), ()):
            if e.target not in seen:
                seen.add(e.target)
                stack.append(e.target)
    return seen


def find_cycle(names: list[str], succ: Mapping[str, list[Edge]]) -> list[str] | None:
    """One cycle as a path `a -> b -> a`, found with an iterative DFS (no recursion limit)."""
    state: dict[str, int] = {}
    for root in names:
        if root in state:
            continue
        stack: list[tuple[str, Iterator[Edge]]] = [(root, iter(succ.get(root, ())))]
        state[root] = 1
        path = [root]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            t = nxt.target
            if t == node:
                continue
            if state.get(t) == 1:
                return [*path[path.index(t) :], t]
            if t not in state:
                state[t] = 1
                path.append(t)
                stack.append((t, iter(succ.get(t, ()))))
    return None


def topological_order(names: list[str], pred: Mapping[str, list[Edge]]) -> list[str]:
    indeg = {a: len({e.source for e in pred.get(a, ())}) for a in names}
    succ: dict[str, set[str]] = defaultdict(set)
    for a in names:
        for e in pred.get(a, ()):
            succ[e.source].add(a)
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
