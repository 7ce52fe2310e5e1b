"""Drawings of a workflow's DAG: plain text for terminals and Mermaid for Markdown/the Prefect UI.

Both show what matters when reading a FaaSr workflow: the entry, conditional edges with their
True/False branch, ranked actions as `name(N)`, and fan-in actions with what they wait for.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect_faasr.workflow import FaaSrWorkflow


def action_label(wf: FaaSrWorkflow, action: str) -> str:
    """`worker(3)` for an action with 3 instances, else the bare name."""
    n = wf.rank(action)
    return f"{action}({n})" if n > 1 else action


def fan_in_sources(wf: FaaSrWorkflow, action: str) -> list[str]:
    """What a fan-in waits for, ranked predecessors folded: `['left', 'worker(1..3)']`."""
    out = []
    for e in wf.predecessors(action):
        n = wf.rank(e.source)
        out.append(f"{e.source}(1..{n})" if n > 1 else e.source)
    return out


def _notes(wf: FaaSrWorkflow, action: str) -> str:
    notes = []
    if action == wf.entry:
        notes.append("entry")
    if wf.is_conditional(action):
        notes.append("conditional")
    if wf.is_fan_in(action):
        notes.append("fan-in: " + ", ".join(fan_in_sources(wf, action)))
    return "; ".join(notes)


def render_text(wf: FaaSrWorkflow) -> str:
    """One block per action in topological order, its successors indented below it.

    ```
    start      wf_start   Python  OW (OpenWhisk)  entry
      -> prep
    prep       wf_prep    Python  OW (OpenWhisk)  conditional
      -> left [True]
      -> never [False]
    ```
    """
    order = wf.topological_order()
    rows = []
    for a in order:
        act = wf.actions[a]
        server = f"{act.faas_server} ({wf.faas_type(a)})"
        rows.append((action_label(wf, a), act.function_name, act.type, server, _notes(wf, a)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    n_instances = len(wf.instances())
    lines = [
        f"{wf.name}: {len(order)} action{'s' if len(order) != 1 else ''}, {n_instances} function "
        f"instance{'s' if n_instances != 1 else ''}, entry {wf.entry}",
        "",
    ]
    for a, row in zip(order, rows, strict=True):
        cells = [cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
        for e in wf.successors(a):
            branch = f" [{e.branch}]" if e.conditional else ""
            lines.append(f"  -> {e.label}{branch}")
    return "\n".join(lines) + "\n"


def render_mermaid(wf: FaaSrWorkflow) -> str:
    """A Mermaid flowchart: stadium = entry, rhombus = conditional, double box = ranked."""
    order = wf.topological_order()
    ids = {a: f"n{i}" for i, a in enumerate(order)}
    lines = ["---", f"title: {wf.name}", "---", "flowchart TD"]
    for a in order:
        label = action_label(wf, a)
        if a == wf.entry:
            shape = f'(["{label}"])'
        elif wf.is_conditional(a):
            shape = f'{{"{label}"}}'
        elif wf.rank(a) > 1:
            shape = f'[["{label}"]]'
        else:
            shape = f'["{label}"]'
        lines.append(f"    {ids[a]}{shape}")
    for a in order:
        for e in wf.successors(a):
            arrow = f"-->|{e.branch}|" if e.conditional else "-->"
            lines.append(f"    {ids[e.source]} {arrow} {ids[e.target]}")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[FaaSrWorkflow], str]] = {"text": render_text, "mermaid": render_mermaid}


def render(wf: FaaSrWorkflow, fmt: str = "text") -> str:
    """The workflow drawn in `fmt` (one of RENDERERS)."""
    try:
        return RENDERERS[fmt](wf)
    except KeyError:
        raise ValueError(f"unknown graph format {fmt!r}; use one of {', '.join(RENDERERS)}") from None
