"""Failure rows of contract §5.6 on the local runtime, against the real engine's scenario runs.

Each scenario of shared/faasr/real-run/engine-scenarios (GitHub Actions workflows, localized on
deploy) runs with the scenario functions unchanged. Expectations come from the golden S3 dump and
exit codes at test time: keys of the invocation folder, `.done` set, trigger lines per log, ERROR
messages, user lines and the exit code of every activation.

One deliberate difference: for a non-zero user exit (row F) the real engine logs the NameError of
its own bug (`name 'func_stdout' is not defined`); the local runtime logs the intended message
`non-zero exit code (N) from user function`. Both are one ERROR record without `.done`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from local_helpers import (
    SCENARIOS,
    bucket_of,
    by_instance,
    objects,
    run_workflow,
    single_action,
    wait_activation,
)

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.logs import errors, function_result, parse_log, triggered
from prefect_faasr.workflow import FaaSrWorkflow

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FUNCTIONS = SCENARIOS / "functions.py"
ROW_F_GOLDEN = "name 'func_stdout' is not defined"
ROW_F_LOCAL = re.compile(r"^non-zero exit code \(-?\d+\) from user function$")
# Lines whose content depends on how concurrent branches interleave (not on the engine).
TIMING_DEPENDENT = ("user: side sees",)


def golden_dump(scenario: str) -> dict[str, str]:
    text = (SCENARIOS / scenario / "s3dump.txt").read_text()
    out: dict[str, str] = {}
    for block in re.split(r"^=== ", text, flags=re.M)[1:]:
        key, _, body = block.partition("\n")
        out[key] = body.rstrip("\n")
    return out


def golden_exits(scenario: str) -> Counter:
    results = json.loads((SCENARIOS / scenario / "results.json").read_text())
    out: Counter = Counter()
    for name, (code, _) in results.items():
        action = name.split("-", 1)[1]
        base, _, rank = action.partition(".")
        out[(f"{base}({rank})" if rank else base, code)] += 1
    return out


def folder_of(dump: dict[str, str]) -> str:
    key = next(k for k in dump if k.startswith("FaaSrLog/"))
    return "/".join(key.split("/")[:4])


def normalized(objs: dict[str, str], folder: str, endpoint: str, golden_endpoint: str) -> dict[str, str]:
    iid = folder.rsplit("/", 1)[1]
    return {
        k.replace(folder, "{F}"): v.replace(iid, "{ID}").replace(endpoint, golden_endpoint)
        for k, v in objs.items()
        if k.startswith(folder + "/")
    }


def evidence(objs: dict[str, str]) -> dict[str, dict]:
    out = {}
    for key, text in objs.items():
        if not key.endswith(".txt"):
            continue
        records = parse_log(text)
        out[key] = {
            "triggered": Counter(triggered(records)),
            "errors": [
                "ROW-F" if ROW_F_LOCAL.match(r.message) or r.message == ROW_F_GOLDEN else r.message
                for r in errors(records)
            ],
            "user": [r.message for r in records if r.is_user and not r.message.startswith(TIMING_DEPENDENT)],
            "result": function_result(records),
        }
    return out


def run_scenario(env: LocalFaaSr, scenario: str) -> tuple[FaaSrWorkflow, str, list]:
    """Run a scenario; the entry generates its own InvocationID/Timestamp, as with invoke_workflow."""
    wf = env.deploy(SCENARIOS / scenario / "wf.json", FUNCTIONS)
    entry = env.client.invoke(f"{wf.name}-{wf.entry}", {"FunctionInvoke": wf.entry}, env.payload_url(wf))
    first = wait_activation(env, entry)
    assert first.invocation_id, first.stdout
    acts = env.client.wait_idle(first.invocation_id, timeout=120)
    folder = next(iter({a.record["faasr"]["invocationId"] for a in acts}))
    return wf, folder, acts


COMPARED = [
    "happy",
    "happylifo",
    "fail",
    "condnone",
    "retstr",
    "retint",
    "noinject",
    "sysexit",
    "missingbranch",
    "fromdate",
]


@pytest.mark.parametrize("scenario", COMPARED)
def test_scenario_matches_real_engine(runtime: LocalFaaSr, scenario: str) -> None:
    wf, invocation_id, acts = run_scenario(runtime, scenario)
    golden = golden_dump(scenario)
    golden_folder = folder_of(golden)
    golden_endpoint = json.loads((SCENARIOS / scenario / "wf.json").read_text())["DataStores"]["S3"][
        "Endpoint"
    ]
    assert {a.invocation_id for a in acts} == {invocation_id}
    local_objs = objects(runtime, bucket_of(wf), "FaaSrLog/")
    local_folder = next(k for k in local_objs if f"/{invocation_id}/" in k).rsplit(f"/{invocation_id}/", 1)[0]
    local = normalized(local_objs, f"{local_folder}/{invocation_id}", runtime.s3_endpoint, golden_endpoint)
    gold = normalized(golden, golden_folder, golden_endpoint, golden_endpoint)

    assert sorted(local) == sorted(gold)
    assert evidence(local) == evidence(gold)
    assert Counter((a.instance, a.exit_code) for a in acts) == golden_exits(scenario)


def test_row_c_duplicate_invocation_id(runtime: LocalFaaSr) -> None:
    wf, started, acts = run_workflow(runtime, SCENARIOS / "dup" / "wf.json", FUNCTIONS)
    assert [a.exit_code for a in acts] == [0]
    before = objects(runtime, bucket_of(wf), started.keys.folder)
    again = runtime.client.invoke(
        f"{wf.name}-{wf.entry}",
        {
            "FunctionInvoke": wf.entry,
            "InvocationID": started.invocation_id,
            "InvocationTimestamp": started.timestamp,
        },
        runtime.payload_url(wf),
    )
    acts = runtime.client.wait_idle(started.invocation_id)
    second = next(a for a in acts if a.activation_id == again)
    assert second.exit_code == 1
    assert f"InvocationID already exists: {started.invocation_id}" in second.stdout
    assert objects(runtime, bucket_of(wf), started.keys.folder) == before  # nothing written
    golden = json.loads((SCENARIOS / "dup" / "results.json").read_text())
    assert [code for code, _ in golden.values()] == [0, 1]


def test_row_i_trigger_failure(runtime: LocalFaaSr) -> None:
    """The successor's action is gone (404): ERROR with the OpenWhisk wording after `.done`, exit 1."""
    wf = runtime.deploy(SCENARIOS / "trigfail" / "wf.json", FUNCTIONS)
    runtime.client.delete_action(f"{wf.name}-bad")
    started = runtime.client.start(wf)
    acts = runtime.client.wait_idle(started.invocation_id)
    assert [(a.action, a.exit_code) for a in acts] == [("s2", 1)]
    bucket = bucket_of(wf)
    objs = objects(runtime, bucket, started.keys.folder + "/")
    assert started.keys.done_key("s2") in objs
    records = parse_log(objs[started.keys.log_key("s2")])
    assert [r.message for r in errors(records)] == ["OpenWhisk: Error invoking bad: status code: 404"]
    assert not triggered(records)
    # The real engine's evidence for the same row: one ERROR after .done, exit 1.
    gold = golden_dump("trigfail")
    gold_log = next(v for k, v in gold.items() if k.endswith("/s2.txt"))
    assert len(errors(parse_log(gold_log))) == 1
    assert any(k.endswith("/s2.done") for k in gold)


def test_r_action_needs_the_real_engine(runtime: LocalFaaSr, tmp_path: Path) -> None:
    wf, started, acts = run_workflow(runtime, single_action("RAction", "r_func", type="R"), FUNCTIONS)
    assert [a.exit_code for a in acts] == [1]
    objs = objects(runtime, bucket_of(wf), started.keys.folder + "/")
    assert started.keys.done_key("only") not in objs
    records = parse_log(objs[started.keys.log_key("only")])
    msgs = [r.message for r in errors(records)]
    assert len(msgs) == 1 and "R functions need the real FaaSr engine" in msgs[0] and "r_func" in msgs[0]


def test_row_a_payload_not_found(runtime: LocalFaaSr) -> None:
    wf = runtime.deploy(SCENARIOS / "fail" / "wf.json", FUNCTIONS)
    aid = runtime.client.invoke(
        f"{wf.name}-{wf.entry}", {"FunctionInvoke": wf.entry}, "owner/FaaSr-workflow/main/wf.json"
    )
    act = wait_activation(runtime, aid)
    assert act.exit_code == 1
    assert "Failed to fetch raw file from GitHub: owner/FaaSr-workflow/main/wf.json" in act.stdout


def test_ranked_instances_and_fan_in_over_ranks(runtime: LocalFaaSr) -> None:
    wf, _, acts = run_workflow(runtime, SCENARIOS / "happy" / "wf.json", FUNCTIONS)
    inst = by_instance(acts)
    assert sorted(inst) == ["join", "ranked(1)", "ranked(2)", "ranked(3)", "side", "start"]
    assert len(inst["join"]) == 4  # one trigger per predecessor instance
    assert [a.outcome for a in inst["join"]].count("completed") == 1
    objs = objects(runtime, bucket_of(wf), "emu/")
    assert objs["emu/rank2.txt"] == "{'max_rank': 3, 'rank': 2}"
