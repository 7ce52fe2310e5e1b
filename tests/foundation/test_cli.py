"""`prefect-faasr validate` and `prefect-faasr graph`: exit codes and output.

Exit codes and "no traceback" are checked on the installed console script in a subprocess;
output details through typer's CliRunner (same app object, in process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prefect_faasr.cli import app
from prefect_faasr.errors import FaaSrUserError, WorkflowValidationError
from prefect_faasr.render import render_mermaid, render_text
from prefect_faasr.workflow import FaaSrWorkflow

from .samples import REAL_WORKFLOWS, base_workflow

SCRIPT = Path(sys.executable).parent / "prefect-faasr"
GOOD = REAL_WORKFLOWS / "LocalTestWF.json"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def write(tmp_path: Path, name: str, raw: Any) -> Path:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw), encoding="utf-8")
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    raw = base_workflow()
    del raw["LoggingDataStore"]
    raw["ActionList"]["join"]["InvokeNext"] = ["ghost"]
    raw["InvocationID"] = "fixed"
    return write(tmp_path, "bad.json", raw)


def test_console_script_is_installed() -> None:
    assert SCRIPT.exists(), "run `pip install -e .` so the prefect-faasr script exists"


def test_validate_exit_codes_and_summary(bad: Path, tmp_path: Path) -> None:
    ok = run("validate", GOOD)
    assert (ok.returncode, ok.stderr) == (0, "")
    assert ok.stdout.splitlines() == [f"{GOOD}: valid", "1 file checked: 1 valid, 0 invalid"]

    mixed = run("validate", GOOD, bad, tmp_path / "missing.json")
    assert mixed.returncode == 2
    out = mixed.stdout
    assert f"{bad}: invalid (2 errors, 1 warning)" in out
    assert "error   $.LoggingDataStore: required at run time" in out
    assert "error   $.ActionList.join.InvokeNext[0]: 'ghost' is not an action in ActionList" in out
    assert "warning $.InvocationID: every run reuses the fixed InvocationID 'fixed'" in out
    assert f"{tmp_path / 'missing.json'}: invalid (1 error)" in out
    assert out.splitlines()[-1] == "3 files checked: 1 valid, 2 invalid"
    assert "Traceback" not in out + mixed.stderr


def test_validate_not_json_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.json", '{\n  "WorkflowName": TRUE\n}')
    result = run("validate", path)
    assert result.returncode == 2
    assert "$: not valid JSON at line 2, column 19: Expecting value" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_graph_of_an_invalid_file_is_one_message_and_exit_2(bad: Path) -> None:
    result = run("graph", bad)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {bad}: invalid FaaSr workflow, 2 problems\n")
    assert "$.ActionList.join.InvokeNext[0]" in result.stderr
    assert "Traceback" not in result.stderr


def test_graph_mermaid_on_the_console(tmp_path: Path) -> None:
    result = run("graph", "--format", "mermaid", GOOD)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == render_mermaid(FaaSrWorkflow.parse(GOOD))


def test_usage_errors_exit_2_without_traceback() -> None:
    for args in (("graph", "--format", "svg", str(GOOD)), ("validate",), ("no-such-command",)):
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stdout + result.stderr


# ---- in process (CliRunner) ---------------------------------------------------------------------

runner = CliRunner()


def test_validate_strict_and_quiet(tmp_path: Path) -> None:
    raw = base_workflow()
    raw["DataStores"]["S3"]["Anonymous"] = "FALSE"
    warned = write(tmp_path, "warned.json", raw)
    result = runner.invoke(app, ["validate", str(warned)])
    assert result.exit_code == 0
    assert f"{warned}: valid (1 warning)" in result.output
    assert "warning $.DataStores.S3.Anonymous: 'FALSE' turns anonymous access ON" in result.output

    strict = runner.invoke(app, ["validate", "--strict", str(warned)])
    assert strict.exit_code == 2
    assert f"{warned}: invalid (1 warning, --strict)" in strict.output
    assert strict.output.splitlines()[-1] == "1 file checked: 0 valid, 1 invalid"

    quiet = runner.invoke(app, ["validate", "-q", str(GOOD), str(warned)])
    assert quiet.exit_code == 0
    assert f"{GOOD}" not in quiet.output and f"{warned}: valid (1 warning)" in quiet.output


def test_validate_a_directory(tmp_path: Path, bad: Path) -> None:
    write(tmp_path, "good.json", base_workflow())
    write(tmp_path, "notes.txt", "not a workflow")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "2 files checked: 1 valid, 1 invalid"
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["validate", str(empty)])
    assert isinstance(result.exception, FaaSrUserError)
    assert str(result.exception) == f"{empty}: no *.json files in this directory"


def test_graph_text_is_the_default() -> None:
    result = runner.invoke(app, ["graph", str(GOOD)])
    assert result.exit_code == 0
    assert result.output == render_text(FaaSrWorkflow.parse(GOOD))
    assert runner.invoke(app, ["graph", "-f", "text", str(GOOD)]).output == result.output


def test_graph_raises_the_user_error_for_main_to_print(bad: Path) -> None:
    result = runner.invoke(app, ["graph", str(bad)])
    assert isinstance(result.exception, WorkflowValidationError)
    assert [p.path for p in result.exception.problems] == [
        "$.LoggingDataStore",
        "$.ActionList.join.InvokeNext[0]",
    ]
