"""`prefect-faasr run WORKFLOW --dry-run --returns ...` in a subprocess, on the session's Prefect API
(no second server) and the module's local runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = str(Path(sys.executable).parent / "prefect-faasr")


def test_cli_dry_run_of_a_corpus_workflow_takes_the_branch_given(
    prefect_api: str, state_file: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    workflow = CORPUS / "JStover95__FaaSr-Testing-Workflow__conditional.json"
    args = [
        CLI,
        "run",
        str(workflow),
        "--dry-run",
        "--returns",
        "return-true=false",
        "--local-state",
        state_file,
    ]
    args += ["--timeout", "poll=0.5", "--timeout", "settle=1", "--report", str(report)]
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout
    data = json.loads(report.read_text())
    assert data["passed"] is True
    statuses = data["statuses"]
    assert statuses["return-true"] == statuses["return-false"] == "completed"
    assert statuses["dont-run-on-true"] == statuses["dont-run-on-false"] == "completed"
    assert statuses["run-on-true"] == statuses["run-on-false"] == "not_invoked"
