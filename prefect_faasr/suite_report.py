"""The outcome of a regression suite: one `SpecOutcome` per spec, the verdict, and its renderings
(summary table rows, markdown, JUnit XML with one test suite per spec)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree as ET

from pydantic import BaseModel, Field

from prefect_faasr.report import TestRunReport, _write_atomic, merge_junit
from prefect_faasr.status import FunctionStatus

Verdict = Literal["passed", "failed", "error"]
MAX_REASON = 300


class SpecOutcome(BaseModel):
    """What one spec of the suite gave: `report` when its test run got that far, else only `reason`."""

    name: str
    path: str
    verdict: Verdict
    reason: str
    seconds: float
    flow_run_id: str | None = None
    report: TestRunReport | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @classmethod
    def from_report(
        cls, name: str, path: str, report: TestRunReport, seconds: float, flow_run_id: str | None
    ) -> SpecOutcome:
        return cls(
            name=name,
            path=path,
            verdict="passed" if report.passed else "failed",
            reason=one_line(report.reason),
            seconds=seconds,
            flow_run_id=flow_run_id,
            report=report,
        )

    @classmethod
    def error(
        cls, name: str, path: str, reason: str, seconds: float, flow_run_id: str | None = None
    ) -> SpecOutcome:
        """A spec whose test run ended without a report (invalid spec, unreachable runtime, crash)."""
        reason = reason.removeprefix("Flow run encountered an exception: ")
        return cls(
            name=name,
            path=path,
            verdict="error",
            reason=one_line(reason),
            seconds=seconds,
            flow_run_id=flow_run_id,
        )

    def failing_functions(self) -> str:
        """The instances whose status was not the expected one; skipped ones only counted."""
        if self.report is None:
            return ""
        wrong = [r for r in self.report.instances if r.expected is not None and r.status != r.expected]
        named = [f"{r.instance} ({r.status.value})" for r in wrong if r.status is not FunctionStatus.SKIPPED]
        skipped = len(wrong) - len(named)
        if skipped:
            named.append(f"{skipped} skipped")
        return ", ".join(named)


class SuiteReport(BaseModel):
    """Everything a regression run found; `passed` is the verdict and `reason` names the failed specs."""

    __test__ = False

    suite: str
    source: str | None = None
    environment: str
    started_at: datetime
    finished_at: datetime
    outcomes: list[SpecOutcome] = Field(default_factory=list)

    @property
    def failed(self) -> list[SpecOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def reason(self) -> str:
        n, bad = len(self.outcomes), self.failed
        if not bad:
            return f"all {n} spec{'s' if n != 1 else ''} passed"
        return f"{len(bad)} of {n} specs failed: {', '.join(o.name for o in bad)}"

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def outcome(self, name: str) -> SpecOutcome:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)

    def table_rows(self) -> list[dict[str, Any]]:
        """Rows of the summary table artifact: spec, verdict, duration, failing functions, reason."""
        return [
            {
                "spec": o.name,
                "verdict": o.verdict,
                "seconds": f"{o.seconds:.1f}",
                "failing functions": o.failing_functions(),
                "reason": o.reason,
                "path": o.path,
            }
            for o in self.outcomes
        ]

    def markdown(self, links: dict[str, str] | None = None) -> str:
        """A summary for the flow run's Artifacts tab; `links` maps spec names to their flow run pages."""
        links = links or {}
        mark = {"passed": "passed", "failed": "**FAILED**", "error": "**ERROR**"}
        lines = [
            f"# FaaSr regression `{self.suite}`: {'PASSED' if self.passed else 'FAILED'}",
            "",
            f"- **Verdict:** {self.reason}",
            f"- **Environment:** `{self.environment}`",
            f"- **Duration:** {self.seconds:.1f} s",
            "",
            "| spec | verdict | seconds | failing functions | reason |",
            "|---|---|---|---|---|",
        ]
        for o in self.outcomes:
            name = f"[{o.name}]({links[o.name]})" if o.name in links else o.name
            cells = [name, mark[o.verdict], f"{o.seconds:.1f}", o.failing_functions(), o.reason]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"

    def junit_xml(self) -> str:
        """JUnit XML: one test suite per spec (the spec's checks as test cases; one error case when the
        spec ended without a report)."""
        root = ET.Element("testsuites", name=self.suite)
        for o in self.outcomes:
            if o.report is not None:
                named = o.report.model_copy(update={"name": o.name})  # the suite's name for the spec
                root.extend(ET.fromstring(merge_junit([named]).split("?>", 1)[1]).findall("testsuite"))
                continue
            suite = ET.SubElement(
                root, "testsuite", name=o.name, tests="1", failures="0", errors="1", time=f"{o.seconds:.3f}"
            )
            case = ET.SubElement(suite, "testcase", classname=f"{o.name}.run", name=o.path)
            ET.SubElement(case, "error", message=o.reason).text = o.reason
        totals = {"tests": 0, "failures": 0, "errors": 0}
        for suite in root.findall("testsuite"):
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
        root.attrib.update({k: str(v) for k, v in totals.items()}, time=f"{self.seconds:.3f}")
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def write_junit(self, path: str | Path) -> Path:
        return _write_atomic(Path(path), self.junit_xml())


class SuiteFailed(AssertionError):
    """Raised (and carried by the flow's Failed state) when a spec of the suite did not pass."""

    __test__ = False

    def __init__(self, report: SuiteReport) -> None:
        super().__init__(f"[{report.suite}] {report.reason}")
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        return (SuiteFailed, (self.report,))


def one_line(text: str, limit: int = MAX_REASON) -> str:
    """A message on one line (its lines joined with "; "), cut to `limit` characters."""
    text = "; ".join(x.strip().removeprefix("- ") for x in str(text).splitlines() if x.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"
