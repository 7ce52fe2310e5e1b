"""Terminal output of test runs: a live status table while running, the report at the end (rich)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from prefect_faasr import progress
from prefect_faasr.report import TestRunReport

STYLES = {
    "pending": "dim",
    "invoked": "cyan",
    "running": "bold cyan",
    "completed": "green",
    "not_invoked": "dim green",
    "failed": "bold red",
    "skipped": "yellow",
    "timeout": "bold magenta",
}
MAX_ROWS = 40  # beyond this the live view shows counts only (e.g. a 1000-rank fan-out)


def status_table(title: str, states: Mapping[str, Any]) -> RenderableType:
    """A table of instance states (observer snapshot); counts only when there are many."""
    counts = Counter(s.status.value for s in states.values())
    summary = Text("  ".join(f"{k} {v}" for k, v in sorted(counts.items())), style="bold")
    if len(states) > MAX_ROWS:
        return Group(Text(title, style="bold"), summary)
    table = Table(title=title, title_justify="left", expand=False)
    for col in ("instance", "status", "seconds", "message"):
        table.add_column(col, overflow="fold")
    for name, s in states.items():
        status = s.status.value
        seconds = "" if s.seconds is None else f"{s.seconds:.1f}"
        table.add_row(name, Text(status, style=STYLES.get(status, "")), seconds, s.message)
    return Group(table, summary)


class LiveStatus:
    """A renderable that shows whatever test runs this process is running right now."""

    def __rich__(self) -> RenderableType:
        runs = progress.active()
        if not runs:
            return Text("preparing the test run ...", style="dim")
        return Group(*(status_table(f"FaaSr test run {name}", obs.snapshot()) for name, obs in runs.items()))


def report_view(report: TestRunReport) -> RenderableType:
    """The final table (instance, status, expected, seconds, message) and the verdict."""
    table = Table(title=f"{report.name}: invocation {report.invocation_id}", title_justify="left")
    for col in ("instance", "status", "expected", "seconds", "message"):
        table.add_column(col, overflow="fold")
    rows = (
        report.instances
        if len(report.instances) <= MAX_ROWS
        else [r for r in report.instances if r.expected is not None and r.status != r.expected][:MAX_ROWS]
    )
    for r in rows:
        expected = r.expected.value if r.expected else ""
        mark = "" if not expected or expected == r.status.value else " !"
        seconds = "" if r.seconds is None else f"{r.seconds:.1f}"
        table.add_row(
            r.instance,
            Text(r.status.value + mark, style=STYLES.get(r.status.value, "")),
            expected,
            seconds,
            r.message,
        )
    verdict = Text(
        f"{'PASSED' if report.passed else 'FAILED'}: {report.reason}",
        style="bold green" if report.passed else "bold red",
    )
    lines: list[RenderableType] = [table]
    if len(report.instances) > MAX_ROWS:
        counts = Counter(r.status.value for r in report.instances)
        lines.append(Text("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))))
    for c in report.failed_checks:
        if c.kind != "status":
            lines.append(Text(c.line(), style="red"))
    lines += [Text(f"invocation folder: {report.invocation_folder}", style="dim"), verdict]
    return Group(*lines)
