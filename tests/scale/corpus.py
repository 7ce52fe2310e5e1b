"""The corpus workflows the dry-run tests use; dry runs of them at the core level (no Prefect) or as a
suite through faasr-regression."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from reliability.matrix_helpers import run_core

from prefect_faasr.dryrun import dry_run_spec
from prefect_faasr.errors import WorkflowValidationError
from prefect_faasr.flows import faasr_regression
from prefect_faasr.local import LocalRuntimeClient
from prefect_faasr.suite_report import SuiteFailed, SuiteReport
from prefect_faasr.workflow import FaaSrWorkflow

from .conftest import CORPUS

# Budgets of a local dry run: activations take a fraction of a second, the platform probe says when
# each one ended, so a short settle window is honest; a long run budget only matters if one hangs.
FAST = {"run": 300.0, "start": 120.0, "execution": 120.0, "settle": 1.0, "poll": 0.5}


def valid_workflows() -> list[Path]:
    """Every corpus workflow JSON that the validator accepts (`FaaSrWorkflow.parse` succeeds)."""
    out = []
    for path in sorted(CORPUS.glob("*.json")):
        try:
            FaaSrWorkflow.parse(path)
        except WorkflowValidationError:
            continue
        out.append(path)
    return out


def label(path: Path) -> str:
    """A short unique spec name for a corpus file (its name without the owner prefix)."""
    return path.stem.split("__", 1)[-1]


def write_suite(folder: Path, entries: list[dict[str, Any]], name: str = "corpus-dry-run") -> Path:
    """A suite file of dry-run entries (`path`, optional `name`, `returns`) with the FAST budgets."""
    specs = [{"dry_run": True, **e, "path": str(e["path"])} for e in entries]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "timeouts": FAST, "specs": specs}, sort_keys=False))
    return path


Statuses = dict[str, str]


def dry_run_core(
    client: LocalRuntimeClient, files: list[Path], folder: Path, *, parallel: int
) -> dict[str, tuple[Statuses, Statuses]]:
    """Dry-run every file on the runtime with the FAST budgets, `parallel` at a time: per label, the
    oracle's expected statuses and the observed ones. Files of one WorkflowName run one after another
    (each deploys `{WorkflowName}-{action}` with its own no-op code), as faasr-regression does."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for f in files:
        groups[FaaSrWorkflow.parse(f).name].append(f)

    def run_group(group: list[Path]) -> dict[str, tuple[Statuses, Statuses]]:
        out = {}
        for f in group:
            work = folder / label(f)
            work.mkdir(parents=True)
            source = work / "spec.yaml"
            source.write_text(yaml.safe_dump({"workflow": str(f), "timeouts": FAST}), encoding="utf-8")
            spec = dry_run_spec(source, None, work / "dry-run")
            expected = {i: s.value for i, s in spec.expected_statuses().items()}
            out[label(f)] = (expected, run_core(client, spec, wait=FAST["run"]).statuses)
        return out

    results: dict[str, tuple[Statuses, Statuses]] = {}
    with ThreadPoolExecutor(parallel) as pool:
        for part in pool.map(run_group, groups.values()):
            results.update(part)
    return results


def run_suite(suite: Path, state_file: str, max_parallel: int) -> SuiteReport:
    state = faasr_regression(
        suite=str(suite), local_state=state_file, max_parallel=max_parallel, return_state=True
    )
    result = state.result(raise_on_failure=False)
    if isinstance(result, SuiteFailed):
        result = result.report
    assert isinstance(result, SuiteReport), f"no suite report: {state.type} {state.message} {result!r}"
    return result


def mismatches(report: SuiteReport) -> list[str]:
    """One line per spec that did not pass: its reason and every instance not in its expected status."""
    lines = []
    for o in report.outcomes:
        if o.passed:
            continue
        wrong = []
        if o.report is not None:
            wrong = [
                f"{i.instance}: expected {i.expected.value if i.expected else '-'}, observed {i.status.value}"
                f" ({i.message})"
                for i in o.report.instances
                if i.status != i.expected
            ]
        lines.append(f"{o.name} [{o.verdict}] {o.reason}" + "".join(f"\n    {w}" for w in wrong[:8]))
    return lines
