"""Faults injected per action or rank instance for one invocation (prefect_faasr/local/faults.py)."""

from __future__ import annotations

import pytest
from local_helpers import (
    RUN_WORKFLOWS,
    SCENARIOS,
    bucket_of,
    by_instance,
    chain,
    done_set,
    hanging_user_process,
    logs_of,
    objects,
    process_alive,
    run_workflow,
    wait_gone,
)

from prefect_faasr.local import FaultPlan, FaultValidationError, LocalFaaSr, LocalRuntimeError
from prefect_faasr.logs import errors, triggered
from prefect_faasr.workflow import FaaSrWorkflow

FUNCTIONS = SCENARIOS / "functions.py"


def run_chain(env: LocalFaaSr, faults: dict, n: int = 3, **kw: bool) -> tuple:
    wf, started, acts = run_workflow(
        env, chain(f"Faults{n}{'Fan' if kw else ''}", n, **kw), FUNCTIONS, faults=faults
    )
    return wf, started, acts, logs_of(env, wf, started), done_set(env, wf, started)


# ---- validation (no servers) ----------------------------------------------------------------------


def test_plan_parses_the_spec_form() -> None:
    plan = FaultPlan.parse({"a2": {"raise": "injected"}, "worker(2)": {"kill": True}, "a3": {"delay": 0.5}})
    assert plan.for_instance("a2", None).raise_ == "injected"
    assert plan.for_instance("worker", 2).kill
    assert plan.for_instance("worker", 1) is None
    assert plan.to_wire() == {"a2": {"raise": "injected"}, "worker(2)": {"kill": True}, "a3": {"delay": 0.5}}


def test_rank_specific_fault_replaces_the_action_wide_one() -> None:
    plan = FaultPlan.parse({"w": {"delay": 1}, "w(2)": {"exit": 3}})
    assert plan.for_instance("w", 2).exit == 3 and plan.for_instance("w", 2).delay is None
    assert plan.for_instance("w", 1).delay == 1


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ({"a": {"explode": True}}, "$.a.explode: unknown fault 'explode'"),
        ({"a": {"raise": "x", "exit": 2}}, "choose at most one of raise, exit, kill, hang (got raise, exit)"),
        ({"a": {"exit": 0}}, "$.a.exit: Input should be greater than or equal to 1"),
        ({"a": {"raise": ""}}, "$.a.raise"),
        ({"a_b": {"kill": True}}, "not an action or rank instance name"),
        ({"a": {"drop_triggers": ["b c"]}}, "not action names: 'b c'"),
        ({"a": {"delay": -1}}, "$.a.delay"),
    ],
)
def test_invalid_plans_are_rejected_with_paths(plan: dict, expected: str) -> None:
    with pytest.raises(FaultValidationError) as err:
        FaultPlan.parse(plan)
    assert expected in str(err.value)
    assert "invalid fault plan" in str(err.value)


def test_plan_is_checked_against_the_workflow() -> None:
    wf = FaaSrWorkflow.parse(RUN_WORKFLOWS / "workflows" / "LocalTestWF.json")
    FaultPlan.parse({"worker(3)": {"kill": True}, "prep": {"drop_triggers": ["left"]}}).check_workflow(wf)
    plan = FaultPlan.parse({"nope": {"kill": True}, "worker(4)": {"kill": True}, "prep(2)": {"exit": 1},
                            "join": {"drop_triggers": ["final"]}})  # fmt: skip
    with pytest.raises(FaultValidationError) as err:
        plan.check_workflow(wf)
    msg = str(err.value)
    assert "4 problems" in msg
    assert "'nope' is not an action of LocalTestWF" in msg
    assert "'worker' has 3 instance(s); rank 4 does not exist" in msg
    assert "'prep' has 1 instance(s); rank 2 does not exist" in msg
    assert "'final' is not a successor of 'join'" in msg


def test_compute_server_rejects_an_invalid_plan(runtime: LocalFaaSr) -> None:
    resp = runtime.client._http.put(
        f"{runtime.compute_endpoint}/faasr/invocations/x/faults", json={"a": {"hang": True, "kill": True}}
    )
    assert resp.status_code == 400
    assert "choose at most one of raise, exit, kill, hang" in resp.json()["error"]


def test_start_rejects_faults_for_unknown_actions(runtime: LocalFaaSr) -> None:
    wf = runtime.deploy(chain("FaultsUnknown", 2), FUNCTIONS)
    with pytest.raises(FaultValidationError, match="'zz' is not an action"):
        runtime.client.start(wf, faults={"zz": {"kill": True}})
    with pytest.raises(LocalRuntimeError, match="answered 404"):
        runtime.client.invoke("FaultsUnknown-zz", {}, runtime.payload_url(wf))


# ---- each fault kind ------------------------------------------------------------------------------


@pytest.mark.integration
def test_raise_is_row_e(runtime: LocalFaaSr) -> None:
    _, _, acts, logs, done = run_chain(runtime, {"a2": {"raise": "injected failure"}})
    assert [(a.action, a.exit_code) for a in acts] == [("a1", 0), ("a2", 1)]
    assert done == {"a1", "a2"}  # .done is written before the error is noticed
    assert [r.message for r in errors(logs["a2"])][::2] == ["injected failure", "injected failure"]
    assert "InjectedFault: injected failure" in errors(logs["a2"])[1].text
    assert not triggered(logs["a2"])


@pytest.mark.integration
def test_exit_is_row_f(runtime: LocalFaaSr) -> None:
    _, _, acts, logs, done = run_chain(runtime, {"a2": {"exit": 7}})
    assert [(a.action, a.exit_code) for a in acts] == [("a1", 0), ("a2", 1)]
    assert done == {"a1"}
    assert [r.message for r in errors(logs["a2"])] == ["non-zero exit code (7) from user function"]


@pytest.mark.integration
def test_kill_stops_the_activation_mid_run(runtime: LocalFaaSr) -> None:
    _, _, acts, logs, done = run_chain(runtime, {"a2": {"kill": True}})
    a2 = by_instance(acts)["a2"][0]
    assert a2.exit_code == -9 and a2.state == "failed"
    assert [a.action for a in acts] == ["a1", "a2"]
    assert done == {"a1"}
    messages = [r.message for r in logs["a2"]]
    assert "user: s2 ok" in messages  # the log exists and has the user's lines ...
    assert not any(m.startswith("Starting function") for m in messages)  # ... but no final flush
    assert not errors(logs["a2"])
    assert not process_alive(a2.record["faasr"]["pid"])


@pytest.mark.integration
def test_hang_runs_until_killed(runtime: LocalFaaSr) -> None:
    wf = runtime.deploy(chain("FaultsHang", 2), FUNCTIONS)
    started = runtime.client.start(wf, faults={"a2": {"hang": True}})
    action_pid, user_pid = hanging_user_process(runtime, started.invocation_id, "a2")
    running = [a for a in runtime.client.activations(started.invocation_id) if a.state == "running"]
    assert [a.action for a in running] == ["a2"]  # a1 ended: hanging is a2 only
    killed = runtime.client.kill(started.invocation_id)
    assert killed == [running[0].activation_id]
    acts = runtime.client.wait_idle(started.invocation_id)
    a2 = by_instance(acts)["a2"][0]
    assert a2.state == "failed" and a2.killed and a2.exit_code == -9
    assert a2.record["response"]["status"] == "whisk internal error"
    assert a2.record["faasr"]["pid"] == action_pid
    wait_gone([action_pid, user_pid])
    assert not process_alive(action_pid) and not process_alive(user_pid)
    assert done_set(runtime, wf, started) == {"a1"}
    # A trigger that arrives for a killed invocation is recorded, not run.
    late = runtime.client.invoke(
        "FaultsHang-a2",
        {
            "FunctionInvoke": "a2",
            "InvocationID": started.invocation_id,
            "InvocationTimestamp": started.timestamp,
        },
        runtime.payload_url(wf),
    )
    rec = runtime.client.activation(late)
    assert rec.state == "failed" and rec.killed and rec.exit_code is None


@pytest.mark.integration
def test_delay_waits_before_the_user_function(runtime: LocalFaaSr) -> None:
    _, _, acts, logs, done = run_chain(runtime, {"a2": {"delay": 1.5}}, n=2)
    assert [a.exit_code for a in acts] == [0, 0] and done == {"a1", "a2"}
    started_at = next(r.time for r in logs["a2"] if r.message.startswith("Starting function"))
    done_at = next(r.time for r in logs["a2"] if r.message.startswith("Put function_completions/a2.done"))
    assert done_at - started_at >= 1.5  # sleep never returns early


@pytest.mark.integration
def test_drop_done(runtime: LocalFaaSr) -> None:
    _, _, acts, logs, done = run_chain(runtime, {"a2": {"drop_done": True}})
    assert [(a.action, a.exit_code) for a in acts] == [("a1", 0), ("a2", 0), ("a3", 0)]
    assert done == {"a1", "a3"}
    assert triggered(logs["a2"]) == {"a3": 1}
    assert not errors(logs["a2"])


@pytest.mark.integration
def test_drop_all_triggers_is_a_lost_trigger(runtime: LocalFaaSr) -> None:
    _, _, acts, logs, done = run_chain(runtime, {"a1": {"drop_triggers": True}})
    assert [a.action for a in acts] == ["a1"]
    assert triggered(logs["a1"]) == {"a2": 1}  # the log says invoked; nothing runs
    assert done == {"a1"}


@pytest.mark.integration
def test_drop_named_triggers(runtime: LocalFaaSr) -> None:
    _, _, acts, logs, done = run_chain(runtime, {"a1": {"drop_triggers": ["a3"]}}, n=3, fan_out=True)
    assert sorted(a.action for a in acts) == ["a1", "a2"]
    assert triggered(logs["a1"]) == {"a2": 1, "a3": 1}
    assert done == {"a1", "a2"}


@pytest.mark.integration
def test_faults_apply_to_one_invocation_and_one_rank(runtime: LocalFaaSr) -> None:
    path = RUN_WORKFLOWS / "workflows" / "LocalTestWF.json"
    wf, started, acts = run_workflow(
        runtime, path, RUN_WORKFLOWS / "functions", faults={"worker(2)": {"exit": 4}}
    )
    inst = by_instance(acts)
    assert [a.exit_code for a in inst["worker(2)"]] == [1]
    assert [a.exit_code for a in inst["worker(1)"] + inst["worker(3)"]] == [0, 0]
    assert done_set(runtime, wf, started) >= {"worker(1)", "worker(3)"}
    assert "worker(2)" not in done_set(runtime, wf, started)
    # final is triggered by workers 1 and 3 but never passes the fan-in gate
    assert [a.outcome for a in inst["final"]] == ["fan-in: predecessors not done"] * 2
    assert all("Missing .done file for predecessor: worker.2" in a.stdout for a in inst["final"])
    # Another invocation of the same workflow has no faults.
    again = runtime.client.start(wf)
    assert all(a.exit_code == 0 for a in runtime.client.wait_idle(again.invocation_id))
    assert "final" in done_set(runtime, wf, again)
    assert objects(runtime, bucket_of(wf), "data/worker-")  # the workers' data
