"""The outcome of one FaaSr test run: per-instance results, checks, verdict, and their renderings."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree as ET

from pydantic import BaseModel, Field

from prefect_faasr.status import FunctionStatus

CheckKind = Literal["status", "trace", "object", "log", "run"]


class InstanceResult(BaseModel):
    """What happened to one function instance."""

    instance: str
    status: FunctionStatus
    expected: FunctionStatus | None = None
    invoked_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None
    message: str = ""
    log_excerpt: list[str] = Field(default_factory=list)


class CheckResult(BaseModel):
    """One expectation or assertion and whether it held."""

    kind: CheckKind
    subject: str
    passed: bool
    expected: str = ""
    observed: str = ""
    message: str = ""

    def line(self) -> str:
        mark = "ok" if self.passed else "FAILED"
        text = self.message or f"expected {self.expected}, found {self.observed}"
        return f"[{mark}] {self.kind} {self.subject}: {text}"


class TestRunReport(BaseModel):
    """Everything a test run found; `passed` is the verdict and `reason` says why in one line."""

    __test__ = False  # not a pytest test class

    name: str
    workflow: str
    environment: str
    invocation_id: str
    invocation_timestamp: str
    invocation_folder: str
    passed: bool
    reason: str
    started_at: datetime
    finished_at: datetime
    instances: list[InstanceResult] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def statuses(self) -> dict[str, str]:
        return {r.instance: r.status.value for r in self.instances}

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def instance(self, name: str) -> InstanceResult:
        for r in self.instances:
            if r.instance == name:
                return r
        raise KeyError(name)

    # ---- renderings -----------------------------------------------------------------------------

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["seconds"] = round(self.seconds, 3)
        data["statuses"] = self.statuses
        data["failed_checks"] = [c.model_dump(mode="json") for c in self.failed_checks]
        return data

    def write_json(self, path: str | Path) -> Path:
        return _write_atomic(Path(path), json.dumps(self.to_json_dict(), indent=2) + "\n")

    def table_rows(self) -> list[dict[str, Any]]:
        """Rows of the Prefect table artifact: instance, status, times, seconds, message."""
        return [
            {
                "instance": r.instance,
                "status": r.status.value,
                "expected": r.expected.value if r.expected else "",
                "invoked": _clock(r.invoked_at),
                "started": _clock(r.started_at),
                "finished": _clock(r.finished_at),
                "seconds": "" if r.seconds is None else f"{r.seconds:.2f}",
                "message": r.message,
            }
            for r in self.instances
        ]

    def markdown(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"# FaaSr test run `{self.name}`: {verdict}",
            "",
            f"- **Verdict:** {self.reason}",
            f"- **Workflow:** `{self.workflow}` on `{self.environment}`",
            f"- **Invocation folder:** `{self.invocation_folder}`",
            f"- **InvocationID:** `{self.invocation_id}`  **Timestamp:** `{self.invocation_timestamp}`",
            f"- **Duration:** {self.seconds:.1f} s",
            "",
        ]
        counts: dict[str, int] = {}
        for r in self.instances:
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
        lines.append("**Statuses:** " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        lines.append("")
        failed = self.failed_checks
        if failed:
            lines += [f"## Failures ({len(failed)})", ""]
            for c in failed:
                lines.append(f"- `{c.kind}` **{c.subject}**: {c.message or c.expected + ' vs ' + c.observed}")
                excerpt = self._excerpt_for(c.subject)
                if excerpt:
                    lines += ["", "  ```text", *(f"  {x}" for x in excerpt), "  ```"]
            lines.append("")
        else:
            lines += [f"All {len(self.checks)} checks held.", ""]
        return "\n".join(lines)

    def _excerpt_for(self, subject: str) -> list[str]:
        for r in self.instances:
            if r.instance == subject:
                return r.log_excerpt
        return []

    def junit_xml(self) -> str:
        """JUnit XML: one test case per check, named after its subject, failures with messages."""
        suite = ET.Element(
            "testsuite",
            name=self.name,
            tests=str(len(self.checks)),
            failures=str(len(self.failed_checks)),
            errors="0",
            time=f"{self.seconds:.3f}",
            timestamp=self.started_at.isoformat(),
        )
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("workflow", self.workflow),
            ("environment", self.environment),
            ("invocation_id", self.invocation_id),
            ("invocation_folder", self.invocation_folder),
        ):
            ET.SubElement(props, "property", name=key, value=value)
        for c in self.checks:
            case = ET.SubElement(suite, "testcase", classname=f"{self.name}.{c.kind}", name=c.subject)
            if not c.passed:
                failure = ET.SubElement(case, "failure", message=c.line())
                excerpt = self._excerpt_for(c.subject)
                failure.text = "\n".join([c.line(), *excerpt])
        root = ET.Element("testsuites")
        root.append(suite)
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

    def write_junit(self, path: str | Path) -> Path:
        return _write_atomic(Path(path), self.junit_xml())


def merge_junit(reports: list[TestRunReport]) -> str:
    """One JUnit document with a test suite per report (for a regression suite)."""
    root = ET.Element("testsuites")
    for report in reports:
        root.extend(ET.fromstring(report.junit_xml().split("?>", 1)[1]).findall("testsuite"))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _clock(t: datetime | None) -> str:
    return t.strftime("%H:%M:%S.%f")[:-3] if t else ""


def _write_atomic(path: Path, text: str) -> Path:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


class TestRunFailed(AssertionError):
    """Raised (and carried by the flow's Failed state) when a test run did not pass; holds the report."""

    __test__ = False

    def __init__(self, report: TestRunReport) -> None:
        super().__init__(f"[{report.name}] {report.reason}")
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        return (TestRunFailed, (self.report,))
