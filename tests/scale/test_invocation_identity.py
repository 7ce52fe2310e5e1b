"""The local runtime tells invocations apart by InvocationID *and* InvocationTimestamp.

Many real workflows repeat their InvocationID (a fixed `InvocationID: "1234"`, a coarse
`InvocationIDFromDate`); FaaSr keeps their runs apart through the folder `{WF}/{TS}/{ID}`. The corpus
dry runs found that the runtime keyed activations, kills and faults by the ID alone, so a run saw the
activations of an earlier run of another workflow with the same ID (and a kill or a fault plan of one
run reached the other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prefect_faasr.local import LocalFaaSr

pytestmark = pytest.mark.integration

SHARED_ID = "1234"
NOOP = "def noop():\n    return None\n"


def chain(name: str) -> dict[str, Any]:
    """`first -> second`, with the fixed InvocationID many corpus workflows have."""
    action = {"FunctionName": "noop", "FaaSServer": "GH", "Type": "Python", "Arguments": {}}
    return {
        "WorkflowName": name,
        "FunctionInvoke": "first",
        "InvocationID": SHARED_ID,
        "DefaultDataStore": "S3",
        "LoggingDataStore": "S3",
        "FaaSrLog": "FaaSrLog",
        "ActionList": {
            "first": {**action, "InvokeNext": ["second"]},
            "second": {**action, "InvokeNext": []},
        },
        "ComputeServers": {
            "GH": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r", "Branch": "main"}
        },
        "DataStores": {
            "S3": {"Endpoint": "https://s3.amazonaws.com", "Bucket": "faasr-ids", "Region": "us-east-1"}
        },
    }


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("code") / "noop.py"
    path.write_text(NOOP)
    return path


def test_activations_of_one_invocation_are_those_of_its_timestamp(
    runtime: LocalFaaSr, functions: Path
) -> None:
    one = runtime.deploy(chain("IdsOne"), functions)
    two = runtime.deploy(chain("IdsTwo"), functions)
    first = runtime.client.start(one, timestamp="2026-01-01T00-00-01")
    runtime.client.wait_idle(SHARED_ID, timestamp=first.timestamp)
    second = runtime.client.start(two, timestamp="2026-01-01T00-00-02")
    acts = runtime.client.wait_idle(SHARED_ID, timestamp=second.timestamp)
    assert first.invocation_id == second.invocation_id == SHARED_ID
    assert [(a.name, a.instance, a.state) for a in acts] == [
        ("IdsTwo-first", "first", "succeeded"),
        ("IdsTwo-second", "second", "succeeded"),
    ]
    assert {a.invocation_timestamp for a in acts} == {second.timestamp}
    assert {a.record["faasr"]["workflow"] for a in acts} == {"IdsTwo"}
    # Without a timestamp the ID means every invocation that carries it.
    assert {a.name for a in runtime.client.activations(SHARED_ID, docs=False)} >= {
        "IdsOne-first",
        "IdsTwo-first",
    }
    with pytest.raises(ValueError, match="invocation_id"):
        runtime.client.activations(timestamp=second.timestamp)


def test_kill_and_faults_reach_only_the_invocation_at_that_timestamp(
    runtime: LocalFaaSr, functions: Path
) -> None:
    wf = runtime.deploy(chain("IdsKill"), functions)
    hung = runtime.client.start(wf, timestamp="2026-01-01T00-01-01", faults={"first": {"hang": True}})
    killed = runtime.client.kill(SHARED_ID, timestamp=hung.timestamp)
    assert killed == [hung.activation_id]
    # Another run with the same ID is neither refused as killed nor given the hang fault.
    later = runtime.client.start(wf, timestamp="2026-01-01T00-01-02")
    acts = runtime.client.wait_idle(SHARED_ID, timestamp=later.timestamp)
    assert [(a.instance, a.state, a.killed) for a in acts] == [
        ("first", "succeeded", False),
        ("second", "succeeded", False),
    ]
    gone = runtime.client.activations(SHARED_ID, timestamp=hung.timestamp)
    assert [(a.instance, a.state, a.killed) for a in gone] == [("first", "failed", True)]
    # A trigger that still arrives for the killed invocation is recorded as killed, not run.
    runtime.client.invoke(
        "IdsKill-second",
        {"FunctionInvoke": "second", "InvocationID": SHARED_ID, "InvocationTimestamp": hung.timestamp},
        runtime.client.payload_url(wf),
    )
    late = runtime.client.wait_idle(SHARED_ID, timestamp=hung.timestamp)
    assert [(a.instance, a.killed) for a in late] == [("first", True), ("second", True)]


def test_a_kill_by_id_alone_does_not_stop_a_later_run_that_reuses_the_id(
    runtime: LocalFaaSr, functions: Path
) -> None:
    wf = runtime.deploy(chain("IdsReuse"), functions)
    hung = runtime.client.start(wf, timestamp="2026-01-01T00-02-01", faults={"first": {"hang": True}})
    assert runtime.client.kill(SHARED_ID) == [hung.activation_id]
    later = runtime.client.start(wf, timestamp="2026-01-01T00-02-02")
    acts = runtime.client.wait_idle(SHARED_ID, timestamp=later.timestamp)
    assert [(a.instance, a.state) for a in acts] == [("first", "succeeded"), ("second", "succeeded")]


def test_two_workflows_started_in_the_same_second_with_one_id_are_two_invocations(
    runtime: LocalFaaSr, functions: Path
) -> None:
    """Their folders differ only in the WorkflowName (`{WF}/{TS}/{ID}`): the workflow narrows the scope."""
    stamp = "2026-01-01T00-03-00"
    hung = runtime.deploy(chain("SameSecondA"), functions)
    other = runtime.deploy(chain("SameSecondB"), functions)
    a = runtime.client.start(hung, timestamp=stamp, faults={"first": {"hang": True}})
    b = runtime.client.start(other, timestamp=stamp)
    assert runtime.client.kill(SHARED_ID, timestamp=stamp, workflow=hung) == [a.activation_id]
    acts = runtime.client.wait_idle(SHARED_ID, timestamp=stamp, workflow="SameSecondB")
    assert [(a.name, a.state) for a in acts] == [
        ("SameSecondB-first", "succeeded"),
        ("SameSecondB-second", "succeeded"),
    ]
    assert b.activation_id == acts[0].activation_id
    both = runtime.client.activations(SHARED_ID, timestamp=stamp, docs=False)
    assert {x.name for x in both} == {"SameSecondA-first", "SameSecondB-first", "SameSecondB-second"}
