"""The expected-trace oracle on the golden workflows and on conditional, rank and fan-in shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.oracle import (
    StatusDiff,
    UndeclaredReturnError,
    diff_statuses,
    expected_trace,
    format_diff,
)
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow

S = FunctionStatus
WORKFLOWS = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "faasr" / "real-run" / "workflows" / "workflows"
)
C, N, F, K, T = S.COMPLETED, S.NOT_INVOKED, S.FAILED, S.SKIPPED, S.TIMEOUT


def make(invoke_next: dict[str, list[Any]]) -> FaaSrWorkflow:
    raw = json.loads((WORKFLOWS / "LocalFailWF.json").read_text())
    template = next(iter(raw["ActionList"].values()))
    raw.update(WorkflowName="ShapeWF", FunctionInvoke=next(iter(invoke_next)))
    raw["ActionList"] = {
        a: {**template, "FunctionName": "f", "InvokeNext": n} for a, n in invoke_next.items()
    }
    raw["FunctionGitRepo"] = {"f": "owner/repo/functions"}
    raw["ActionContainers"] = {a: "img" for a in invoke_next}
    return FaaSrWorkflow.parse(raw)


@pytest.fixture(scope="module")
def test_wf() -> FaaSrWorkflow:
    return FaaSrWorkflow.parse(WORKFLOWS / "LocalTestWF.json")


@pytest.fixture(scope="module")
def fail_wf() -> FaaSrWorkflow:
    return FaaSrWorkflow.parse(WORKFLOWS / "LocalFailWF.json")


def test_local_test_wf_true_branch(test_wf: FaaSrWorkflow) -> None:
    trace = expected_trace(test_wf, {"prep": True})
    assert list(trace) == test_wf.instances()  # topological order, ranks expanded
    assert trace == {
        "start": C, "prep": C, "left": C, "right": C, "never": N,
        "join": C, "worker(1)": C, "worker(2)": C, "worker(3)": C, "final": C,
    }  # fmt: skip


def test_local_test_wf_false_branch_leaves_the_join_and_everything_after_it_not_invoked(
    test_wf: FaaSrWorkflow,
) -> None:
    trace = expected_trace(test_wf, {"prep": False})
    assert [i for i, s in trace.items() if s is C] == ["start", "prep", "never"]
    assert {trace[i] for i in ("left", "right", "join", "worker(2)", "final")} == {N}


def test_local_fail_wf_boom_failed_still_lets_the_join_run(fail_wf: FaaSrWorkflow) -> None:
    """Golden run 03: boom raised (row E, .done written), ok triggered fjoin, fjoin ran."""
    assert expected_trace(fail_wf, expect={"boom": "failed"}) == {"fstart": C, "boom": F, "ok": C, "fjoin": C}


def test_a_timed_out_predecessor_blocks_the_join(fail_wf: FaaSrWorkflow) -> None:
    assert expected_trace(fail_wf, expect={"boom": "timeout"}) == {
        "fstart": C,
        "boom": T,
        "ok": C,
        "fjoin": K,
    }


def test_explicit_expectations_win_and_what_follows_is_derived(fail_wf: FaaSrWorkflow) -> None:
    trace = expected_trace(fail_wf, expect={"boom": S.FAILED, "fjoin": "skipped"})
    assert trace == {"fstart": C, "boom": F, "ok": C, "fjoin": K}
    assert expected_trace(fail_wf, expect={"fstart": "failed"}) == {
        "fstart": F,
        "boom": K,
        "ok": K,
        "fjoin": K,
    }


def test_both_join_predecessors_failed_means_no_trigger_so_skipped(fail_wf: FaaSrWorkflow) -> None:
    assert expected_trace(fail_wf, expect={"boom": "failed", "ok": "failed"})["fjoin"] is K


def test_an_undeclared_conditional_is_an_error_listing_every_such_action() -> None:
    wf = make({"a": [{"True": ["b"], "False": ["c"]}], "b": [{"True": ["d"]}], "c": [], "d": []})
    with pytest.raises(UndeclaredReturnError) as info:
        expected_trace(wf)
    assert info.value.actions == ["a", "b"]
    assert "no declared return for conditional actions a, b" in str(info.value)
    assert "`returns: {a: true, b: true}`" in str(info.value)
    assert isinstance(info.value, FaaSrUserError)
    assert expected_trace(wf, default_return=True) == {"a": C, "b": C, "c": N, "d": C}
    # b has no "False" list: FaaSr crashes there after writing .done (contract §8.6), so d is skipped.
    assert expected_trace(wf, {"a": True}, default_return=False) == {"a": C, "b": F, "c": N, "d": K}


def test_only_conditionals_that_run_need_a_declaration() -> None:
    wf = make({"a": [{"True": ["b"], "False": ["c"]}], "b": [], "c": [{"True": ["d"]}], "d": []})
    assert expected_trace(wf, {"a": True}) == {"a": C, "b": C, "c": N, "d": N}


def test_a_join_across_both_branches_of_one_conditional_never_runs() -> None:
    wf = make({"a": [{"True": ["b"], "False": ["c"]}], "b": ["d"], "c": ["d"], "d": ["e"], "e": []})
    assert expected_trace(wf, {"a": True}) == {"a": C, "b": C, "c": N, "d": N, "e": N}


def test_mixed_conditional_and_unconditional_items_and_ranked_branch_targets() -> None:
    wf = make({"a": [{"True": ["b(3)"], "False": ["c"]}, "d"], "b": ["e"], "c": [], "d": [], "e": []})
    trace = expected_trace(wf, {"a": True})
    assert trace == {"a": C, "b(1)": C, "b(2)": C, "b(3)": C, "c": N, "d": C, "e": C}
    trace = expected_trace(wf, {"a": False})
    assert trace == {"a": C, "b(1)": N, "b(2)": N, "b(3)": N, "c": C, "d": C, "e": N}


def test_one_failed_rank_instance_skips_nothing_after_a_fan_in_it_wrote_done_for() -> None:
    wf = make({"a": ["x(3)"], "x": ["y"], "y": ["z"], "z": []})
    assert expected_trace(wf, expect={"x(2)": "failed"}) == {
        "a": C, "x(1)": C, "x(2)": F, "x(3)": C, "y": C, "z": C,
    }  # fmt: skip
    assert expected_trace(wf, expect={"x(2)": "timeout"})["y"] is K
    assert expected_trace(wf, expect={"x": "failed"})["y"] is K  # an action name applies to every rank


def test_ranked_conditional_returns_per_instance() -> None:
    wf = make({"a": ["x(2)"], "x": [{"True": ["y"]}], "y": []})
    assert expected_trace(wf, {"x": False})["y"] is K  # no "False" list: both x crash (contract §8.6)
    assert expected_trace(wf, {"x": False, "x(2)": True})["y"] is C  # the instance key wins


def test_unknown_names_and_non_final_expectations_are_rejected(fail_wf: FaaSrWorkflow) -> None:
    with pytest.raises(
        ValueError, match="'nope' is neither an action nor a function instance of LocalFailWF"
    ):
        expected_trace(fail_wf, expect={"nope": "failed"})
    with pytest.raises(ValueError, match="'running' is not a final status"):
        expected_trace(fail_wf, expect={"ok": "running"})


def test_diff_lists_every_difference_readably(fail_wf: FaaSrWorkflow) -> None:
    expected = expected_trace(fail_wf, expect={"boom": "failed"})
    observed = {"fstart": "completed", "boom": S.COMPLETED, "ok": S.COMPLETED, "extra": S.SKIPPED}
    diffs = diff_statuses(expected, observed)
    assert diffs == [
        StatusDiff("boom", F, C),
        StatusDiff("fjoin", C, None),
        StatusDiff("extra", None, K),
    ]
    assert format_diff(diffs) == (
        "boom: expected failed, observed completed\n"
        "fjoin: expected completed, observed (not observed)\n"
        "extra: expected (not expected), observed skipped"
    )
    assert diff_statuses(expected, dict(expected)) == []
