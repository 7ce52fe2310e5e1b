"""The plugin as users run it: pytest subprocesses (pytester) against this session's Prefect API."""

from __future__ import annotations

import ast
import json
import uuid
from xml.etree import ElementTree as ET

import pytest
import yaml
from prefect.client.orchestration import get_client

from .conftest import EXAMPLE, marked_processes, plugin_args

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE_TESTS = (EXAMPLE / "test_integration.py").read_text(encoding="utf-8")


def example_spec(**changes: object) -> str:
    """The example's spec with absolute paths (so a copy works from any folder), plus `changes`."""
    spec = yaml.safe_load((EXAMPLE / "spec.yaml").read_text(encoding="utf-8"))
    spec.update(workflow=str(EXAMPLE / "workflow.json"), functions=str(EXAMPLE / "functions"), **changes)
    return yaml.safe_dump(spec, sort_keys=False)


def reversed_tests(source: str) -> str:
    """The same module with its test functions in the opposite order."""
    tree = ast.parse(source)
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    others = [n for n in tree.body if n not in tests]
    tree.body = others + tests[::-1]
    return ast.unparse(tree)


def summary_flow_run_ids(output: str) -> list[str]:
    """Flow run ids from the plugin's "prefect-faasr test runs" summary lines."""
    ids = []
    for line in output.splitlines():
        if "(flow run " in line:
            ids.append(line.split("(flow run ", 1)[1].split(",", 1)[0].split()[1])
    return ids


def test_example_passes_in_either_order_and_writes_reports(
    pytester: pytest.Pytester, subprocess_env: str
) -> None:
    copy = pytester.mkdir("reversed_copy")
    (copy / "spec.yaml").write_text(example_spec(), encoding="utf-8")
    (copy / "test_reversed.py").write_text(reversed_tests(EXAMPLE_TESTS), encoding="utf-8")
    reports = pytester.path / "reports"

    result = pytester.runpytest_subprocess(
        *plugin_args(), str(EXAMPLE), str(copy), "--faasr-report-dir", str(reports), "-v"
    )

    result.assert_outcomes(passed=12)
    # The copy ran its tests last-first, against its own run.
    ran = [line for line in result.outlines if "test_reversed.py::" in line and "PASSED" in line]
    assert ran[0].split("::")[1].split()[0] == "test_whole_run_matches_the_expected_trace"
    assert ran[-1].split("::")[1].split()[0] == "test_create_input_writes_the_inputs"
    # One JSON report and one JUnit XML per run; each run had its own InvocationID.
    saved = [json.loads(p.read_text()) for p in sorted(reports.glob("*.json"))]
    assert len(saved) == 2 and all(r["passed"] for r in saved)
    assert len({r["invocation_id"] for r in saved}) == 2
    xml = sorted(reports.glob("*.xml"))
    assert len(xml) == 2
    suite = ET.parse(xml[0]).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "integration" and suite.get("failures") == "0"
    # Each run is a flow run of the Prefect API the subprocess was given.
    ids = summary_flow_run_ids(result.stdout.str())
    assert len(ids) == 2
    with get_client(sync_client=True) as client:
        runs = [client.read_flow_run(uuid.UUID(i)) for i in ids]
    assert [r.state.type.value for r in runs] == ["COMPLETED", "COMPLETED"]
    assert {r.parameters["spec"] for r in runs} == {str(EXAMPLE / "spec.yaml"), str(copy / "spec.yaml")}
    # The session's local runtime and its activations are gone with the session.
    assert marked_processes(subprocess_env) == []


def test_a_raising_function_fails_the_tests_naming_it(pytester: pytest.Pytester, subprocess_env: str) -> None:
    pytester.makefile(".yaml", spec=example_spec(faults={"test-py-api": {"raise": "boom"}}))
    extra = """

def test_the_failure_can_be_expected(run):
    assert run.wait_for("test-py-api", should_fail=True) == "failed"
"""
    pytester.makepyfile(test_faulty=EXAMPLE_TESTS + extra)

    result = pytester.runpytest_subprocess(*plugin_args(), "--faasr-local")

    # create-input still completes; everything downstream of test-py-api fails its test.
    result.assert_outcomes(passed=2, failed=5)
    out = result.stdout.str()
    assert "test-py-api failed" in out and "boom" in out
    result.stdout.fnmatch_lines(
        [
            "*expected test-py-api to be completed, it failed*boom*",
            "*expected sync1 to be completed, it was skipped*",
            "*test-py-api: expected completed, observed failed*",
            "*integration: FAILED*test-py-api*",
        ]
    )
    assert marked_processes(subprocess_env) == []


def test_a_missing_environment_block_is_one_clear_error(
    pytester: pytest.Pytester, subprocess_env: str
) -> None:
    result = pytester.runpytest_subprocess(
        *plugin_args(), str(EXAMPLE), "--faasr-env", "no-such-block", "-p", "no:cacheprovider"
    )

    result.assert_outcomes(errors=6)
    message = "faasr_workflow(spec.yaml): no FaaSrEnvironment block named 'no-such-block': create it *"
    result.stdout.fnmatch_lines([message] * 6)
    result.stdout.fnmatch_lines(
        ["integration: did not start: no FaaSrEnvironment block named 'no-such-block'*"]
    )
    out = result.stdout.str()
    assert "Traceback" not in out and "During handling" not in out


def test_stopping_early_with_x_cancels_the_workflow(pytester: pytest.Pytester, subprocess_env: str) -> None:
    pytester.makefile(".yaml", spec=example_spec(faults={"create-input": {"hang": True}}))
    pytester.makepyfile(
        test_stops="""
import pytest

@pytest.fixture(scope="module")
def run(faasr_workflow):
    with faasr_workflow("spec.yaml") as run:
        yield run

def test_fails_at_once(run):
    assert run.status("create-input") == "completed"

def test_never_runs(run):
    run.assert_expected_trace()
"""
    )
    reports = pytester.path / "reports"

    result = pytester.runpytest_subprocess(*plugin_args(), "-x", "--faasr-report-dir", str(reports))

    result.assert_outcomes(failed=1)
    (saved,) = [json.loads(p.read_text()) for p in reports.glob("*.json")]
    entry = next(i for i in saved["instances"] if i["instance"] == "create-input")
    assert entry["status"] == "skipped"
    assert entry["message"] == "run cancelled: pytest is stopping (stopping after 1 failures)"
    assert marked_processes(subprocess_env) == []
