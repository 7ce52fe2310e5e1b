"""TestSpec: loading, defaults, expected statuses, key templates, and every kind of error with its path."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from prefect_faasr.derive import Budgets
from prefect_faasr.errors import FaaSrUserError, SpecValidationError, WorkflowValidationError
from prefect_faasr.spec import TestSpec, render_key, template_fields
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import InvocationKeys

S = FunctionStatus
REAL_RUN = Path(__file__).resolve().parents[2] / ".." / "shared" / "faasr" / "real-run"
WORKFLOWS = REAL_RUN / "workflows" / "workflows"
FINAL = "completed, failed, not_invoked, skipped, timeout"
KEYS = InvocationKeys("FaaSrLog", "LocalTestWF", "2026-11-21T09-47-39", "546cf2f9")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A spec folder: the workflow beside it, functions/ below it (a copy in tmp, not in the repo)."""
    shutil.copy(WORKFLOWS / "LocalTestWF.json", tmp_path / "workflow.json")
    shutil.copy(WORKFLOWS / "LocalFailWF.json", tmp_path / "fail.json")
    (tmp_path / "functions").mkdir()
    return tmp_path


def write(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecValidationError) as info:
        TestSpec.load(path)
    assert str(path) in str(info.value)  # the message names the file
    return [str(p) for p in info.value.problems]


# ---- valid specs -------------------------------------------------------------------------------------------


def test_a_full_spec_loads_with_paths_relative_to_it(project: Path) -> None:
    path = write(
        project,
        """
        name: integration
        workflow: workflow.json
        functions: functions/
        payload_url: owner/repo/main/workflow.json
        timeouts: {run: 120, start: 30, execution: 60, settle: 2, poll: 0.5, dispatch: 0.25}
        returns: {prep: true}
        expect: {never: not_invoked, worker(2): completed}
        objects:
          - {key: "data/{InvocationID}/input.txt", equals: "Test input2"}
          - {key: "data/gone.txt", exists: false, store: S3}
          - {key: "{InvocationFolder}/final.txt", contains: "3"}
        logs:
          - {function: worker, contains: "worker done"}
          - {function: final, contains: "Traceback", absent: true}
        faults: {left: {raise: injected}}
        """,
    )
    spec = TestSpec.load(path)
    assert spec.name == "integration" and spec.source == path
    assert spec.workflow_path == (project / "workflow.json").resolve()
    assert spec.functions_dir == (project / "functions").resolve()
    assert spec.faasr_workflow.name == "LocalTestWF"
    assert spec.timeouts.budgets() == Budgets(start=30, execution=60, run=120, dispatch=0.25)
    assert (spec.timeouts.settle, spec.timeouts.poll) == (2, 0.5)
    assert spec.expect == {"never": S.NOT_INVOKED, "worker(2)": S.COMPLETED}
    assert spec.objects[1].exists is False and spec.objects[1].store == "S3"
    assert spec.objects[0].render_key(KEYS) == "data/546cf2f9/input.txt"
    assert spec.logs[1].absent is True
    assert spec.faults == {"left": {"raise": "injected"}}
    assert spec.expected_statuses()["final"] is S.COMPLETED


def test_defaults(project: Path) -> None:
    spec = TestSpec.load(write(project, "workflow: fail.json\n", name="my-test.yaml"))
    assert spec.name == "my-test"
    assert spec.functions is None and spec.functions_dir is None and spec.payload_url is None
    assert spec.timeouts.budgets() == Budgets(start=300, execution=600, run=900, dispatch=1)
    assert (spec.timeouts.settle, spec.timeouts.poll) == (5, 1)
    assert spec.returns == {} and spec.expect == {} and spec.objects == [] and spec.logs == []
    assert spec.expected_statuses() == {
        "fstart": S.COMPLETED,
        "boom": S.COMPLETED,
        "ok": S.COMPLETED,
        "fjoin": S.COMPLETED,
    }


def test_a_workflow_json_is_a_spec_with_defaults(project: Path) -> None:
    spec = TestSpec.load(project / "fail.json")
    assert spec.name == "LocalFailWF"
    assert spec.workflow_path == (project / "fail.json").resolve()
    assert spec.functions_dir == (project / "functions").resolve()  # found beside the workflow
    spec = TestSpec.load(WORKFLOWS / "LocalFailWF.json")  # read in place: no functions/ beside it
    assert spec.functions is None


def test_expected_failures_become_the_expectation(project: Path) -> None:
    spec = TestSpec.load(write(project, "workflow: fail.json\nexpect: {boom: failed}\n"))
    assert spec.expected_statuses() == {
        "fstart": S.COMPLETED,
        "boom": S.FAILED,
        "ok": S.COMPLETED,
        "fjoin": S.COMPLETED,
    }
    spec = TestSpec.load(write(project, "workflow: fail.json\nexpect: {ok: skipped}\n"))
    assert spec.expected_statuses()["fjoin"] is S.SKIPPED


def test_an_undeclared_conditional_return_names_the_action_and_the_spec_file(project: Path) -> None:
    path = write(project, "workflow: workflow.json\n")
    spec = TestSpec.load(path)
    with pytest.raises(SpecValidationError) as info:
        spec.expected_statuses()
    assert str(path) in str(info.value)
    assert "returns: no declared return for conditional action prep" in str(info.value)
    assert spec.expected_statuses(default_return=True)["never"] is S.NOT_INVOKED


def test_key_templates() -> None:
    assert render_key("{WorkflowName}/{InvocationTimestamp}/{{literal}}", KEYS) == (
        "LocalTestWF/2026-11-21T09-47-39/{literal}"
    )
    assert render_key("{FaaSrLog}", KEYS) == "FaaSrLog"
    assert template_fields("a/{InvocationID}/{InvocationID}") == ["InvocationID", "InvocationID"]
    with pytest.raises(ValueError, match=r"unknown placeholder \{InvocationId\}"):
        render_key("{InvocationId}", KEYS)
    with pytest.raises(ValueError, match="malformed template"):
        template_fields("a/{InvocationID")


# ---- errors ------------------------------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column(project: Path) -> None:
    path = write(project, "workflow: workflow.json\nreturns: {prep: true\nexpect: {}\n")
    [problem] = problems(path)
    assert problem.startswith("(yaml): YAML syntax error:")
    assert "line 3 column" in problem


def test_duplicate_keys_are_an_error_with_the_line(project: Path) -> None:
    path = write(project, "workflow: workflow.json\nreturns:\n  prep: true\n  prep: false\n")
    assert problems(path) == [
        "(yaml): YAML syntax error: key 'prep' appears twice in one mapping at line 4 column 3"
    ]


@pytest.mark.parametrize(("text", "expected"), [("", "this is empty"), ("- a\n- b\n", "this is a list")])
def test_a_spec_must_be_a_mapping(project: Path, text: str, expected: str) -> None:
    [problem] = problems(write(project, text))
    assert problem == f"(root): a test spec must be a mapping, {expected}"


def test_a_missing_spec_file(project: Path) -> None:
    assert problems(project / "nope.yaml") == ["(file): file not found"]


def test_field_errors_each_with_their_yaml_path_and_line(project: Path) -> None:
    path = write(
        project,
        """
        workflow: workflow.json
        timeouts: {run: 0, start: fast, retries: 3}
        returns: {prep: "yes"}
        expect: {never: notinvoked}
        objects:
          - {key: "a"}
          - {key: "b", equals: 42}
          - {key: "c", exists: true, contains: "x"}
        logs:
          - {contains: "x"}
        faults: {left: raise}
        colour: blue
        """,
    )
    assert problems(path) == [
        "timeouts.run: Input should be greater than 0 (line 2)",
        "timeouts.start: Input should be a valid number, unable to parse string as a number (line 2)",
        "timeouts.retries: unknown key 'retries'; allowed: run, start, execution, settle, poll, dispatch "
        "(line 2)",
        "returns.prep: must be true or false, not 'yes' (line 3)",
        f"expect.never: 'notinvoked' is not a function status; expected one of {FINAL} (line 4)",
        "objects[0]: give exactly one of exists, equals, contains (line 6)",
        "objects[1].equals: must be a string, not 42 (quote it in YAML) (line 7)",
        "objects[2]: give exactly one of exists, equals, contains (found exists, contains) (line 8)",
        "logs[0].function: required key is missing (line 10)",
        "faults.left: must be a mapping, not 'raise' (line 11)",
        "colour: unknown key 'colour'; allowed: name, workflow, functions, payload_url, timeouts, returns, "
        "expect, objects, logs, faults (line 12)",
    ]


def test_names_are_checked_against_the_workflow(project: Path) -> None:
    path = write(
        project,
        """
        workflow: workflow.json
        returns: {prep: true, start: true, nope: false}
        expect: {worker(4): failed, join: running}
        objects:
          - {key: "x/{Id}", exists: true, store: Other}
        logs:
          - {function: worker(3), contains: "ok"}
          - {function: workers, contains: "ok"}
        faults: {joiner: {raise: x}}
        """,
    )

    def unknown(path: str, name: str, line: int) -> str:
        actions = "(actions: start, prep, left, right, never, join, worker, final)"
        return (
            f"{path}: {name!r} is not an action or function instance of LocalTestWF {actions} (line {line})"
        )

    assert problems(path) == [
        "returns.start: 'start' has no conditional InvokeNext (True/False), so its return value does not "
        "change the expected trace (line 2)",
        unknown("returns.nope", "nope", 2),
        unknown("expect.worker(4)", "worker(4)", 3),
        f"expect.join: 'running' is not a final status; expected one of {FINAL} (line 3)",
        "objects[0].store: 'Other' is not a DataStore (S3) (line 5)",
        "objects[0].key: unknown placeholder {Id}; use one of {InvocationID}, {InvocationTimestamp}, "
        "{WorkflowName}, {FaaSrLog}, {InvocationFolder} (line 5)",
        unknown("logs[1].function", "workers", 8),
        unknown("faults.joiner", "joiner", 9),
    ]


def test_field_and_name_problems_are_reported_together(project: Path) -> None:
    path = write(
        project, "workflow: workflow.json\nreturns: {prep: maybe}\nlogs: [{function: nope, contains: x}]\n"
    )
    assert problems(path) == [
        "returns.prep: must be true or false, not 'maybe' (line 2)",
        "logs[0].function: 'nope' is not an action or function instance of LocalTestWF (actions: start, "
        "prep, left, right, never, join, worker, final) (line 3)",
    ]


def test_missing_workflow_and_functions_folder(project: Path) -> None:
    path = write(project, "workflow: missing.json\nfunctions: code/\n")
    assert problems(path) == [
        f"workflow: workflow file not found: {(project / 'missing.json').resolve()} (line 1)",
        f"functions: folder not found: {(project / 'code').resolve()} (line 2)",
    ]
    assert problems(write(project, "name: x\n")) == ["workflow: required key is missing (line 1)"]


def test_an_invalid_workflow_reports_the_workflow_problems(project: Path) -> None:
    (project / "bad.json").write_text('{"WorkflowName": "bad_name"}')
    with pytest.raises(WorkflowValidationError) as info:
        TestSpec.load(write(project, "workflow: bad.json\n"))
    assert "bad.json" in str(info.value)
    assert isinstance(info.value, FaaSrUserError)
