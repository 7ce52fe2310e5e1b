"""The workflow model: parsing sources, the graph API, function instances and S3 keys.

LocalTestWF (shared/faasr/real-run) has everything: start -> prep -> {True: [left, right],
False: [never]}; left, right -> join (fan-in); join -> worker(3); worker -> final (fan-in over 3 ranks).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prefect_faasr.graph import Edge
from prefect_faasr.names import TIMESTAMP_FORMAT, instance_name, json_path, parse_target, split_instance
from prefect_faasr.workflow import FaaSrWorkflow, Invocation, InvocationKeys

from .samples import REAL_RUN, REAL_WORKFLOWS, base_workflow, with_graph

LOCAL_TEST = REAL_WORKFLOWS / "LocalTestWF.json"


@pytest.fixture(scope="module")
def wf() -> FaaSrWorkflow:
    return FaaSrWorkflow.parse(LOCAL_TEST)


# ---- sources ------------------------------------------------------------------------------------


def test_parse_from_path_text_and_dict_agree() -> None:
    text = LOCAL_TEST.read_text(encoding="utf-8")
    from_path = FaaSrWorkflow.parse(LOCAL_TEST)
    from_str_path = FaaSrWorkflow.parse(str(LOCAL_TEST))
    from_text = FaaSrWorkflow.parse(text)
    from_dict = FaaSrWorkflow.parse(json.loads(text))
    assert from_path.source == from_str_path.source == str(LOCAL_TEST)
    assert from_text.source is None and from_dict.source is None
    for other in (from_str_path, from_text, from_dict):
        assert other.to_dict() == from_path.to_dict()
        assert other.edges == from_path.edges


def test_model_does_not_share_the_callers_dict() -> None:
    raw = base_workflow()
    wf = FaaSrWorkflow.parse(raw)
    raw["ActionList"]["a"]["InvokeNext"].append("b")
    raw["WorkflowName"] = "changed"
    assert wf.name == "unit-wf"
    assert wf.to_dict()["ActionList"]["a"]["InvokeNext"] == ["join"]
    copy_ = wf.to_dict()
    copy_["WorkflowName"] = "x"
    assert wf.raw["WorkflowName"] == "unit-wf"


def test_origin_names_the_source_in_errors() -> None:
    raw = base_workflow()
    del raw["FaaSrLog"]
    with pytest.raises(Exception) as info:
        FaaSrWorkflow.parse(raw, origin="spec.yaml:workflow")
    assert str(info.value).startswith("spec.yaml:workflow: invalid FaaSr workflow, 1 problem")


# ---- graph API ----------------------------------------------------------------------------------


def test_entry_and_actions(wf: FaaSrWorkflow) -> None:
    assert wf.name == "LocalTestWF"
    assert wf.entry == "start"
    assert list(wf.actions) == ["start", "prep", "left", "right", "never", "join", "worker", "final"]
    start = wf.actions["start"]
    assert (start.function_name, start.faas_server, start.type) == ("wf_start", "OW", "Python")
    assert start.arguments == {"folder": "data", "n": 3}
    assert wf.actions["never"].invoke_next == ()


def test_successors_carry_the_branch(wf: FaaSrWorkflow) -> None:
    assert [(e.target, e.branch) for e in wf.successors("prep")] == [
        ("left", True),
        ("right", True),
        ("never", False),
    ]
    assert [e.path for e in wf.successors("prep")] == [
        "$.ActionList.prep.InvokeNext[0].True[0]",
        "$.ActionList.prep.InvokeNext[0].True[1]",
        "$.ActionList.prep.InvokeNext[0].False[0]",
    ]
    [to_worker] = wf.successors("join")
    assert (to_worker.target, to_worker.rank, to_worker.label, to_worker.conditional) == (
        "worker",
        3,
        "worker(3)",
        False,
    )
    assert wf.successors("final") == ()


def test_predecessors(wf: FaaSrWorkflow) -> None:
    assert [e.source for e in wf.predecessors("join")] == ["left", "right"]
    assert [e.source for e in wf.predecessors("never")] == ["prep"]
    assert wf.predecessors("start") == ()
    assert all(isinstance(e, Edge) for e in wf.edges)
    assert len(wf.edges) == 8


def test_predecessor_instances_expand_ranks(wf: FaaSrWorkflow) -> None:
    assert wf.predecessor_instances("final") == ["worker(1)", "worker(2)", "worker(3)"]
    assert wf.predecessor_instances("join") == ["left", "right"]
    assert wf.predecessor_instances("worker") == ["join"]
    assert wf.predecessor_instances("start") == []


def test_ranks_conditionals_and_fan_ins(wf: FaaSrWorkflow) -> None:
    assert {a: wf.rank(a) for a in wf.actions} == {a: 3 if a == "worker" else 1 for a in wf.actions}
    assert [a for a in wf.actions if wf.is_conditional(a)] == ["prep"]
    # fan-in = more than one .done to wait for (contract §5.3): join (2 actions), final (3 ranks)
    assert [a for a in wf.actions if wf.is_fan_in(a)] == ["join", "final"]


def test_instances(wf: FaaSrWorkflow) -> None:
    assert wf.instances("worker") == ["worker(1)", "worker(2)", "worker(3)"]
    assert wf.instances("final") == ["final"]
    assert wf.instances() == [
        "start", "prep", "left", "right", "never", "join", "worker(1)", "worker(2)", "worker(3)", "final",
    ]  # fmt: skip


def test_topological_order_puts_every_predecessor_first(wf: FaaSrWorkflow) -> None:
    order = wf.topological_order()
    assert sorted(order) == sorted(wf.actions)
    assert all(order.index(e.source) < order.index(e.target) for e in wf.edges)
    assert order == ["start", "prep", "left", "right", "never", "join", "worker", "final"]


def test_topological_order_is_deterministic_and_follows_actionlist_on_ties() -> None:
    raw = with_graph({"s": ["z", "m", "a"], "a": ["end"], "m": ["end"], "z": ["end"], "end": []})
    orders = {tuple(FaaSrWorkflow.parse(copy.deepcopy(raw)).topological_order()) for _ in range(5)}
    assert orders == {("s", "a", "m", "z", "end")}


def test_a_deep_chain_is_fine() -> None:
    """No recursion: a 3000-action chain validates and orders (FaaSr's own check_dag recurses)."""
    n = 3000
    chain = {f"a{i}": [f"a{i + 1}"] for i in range(n - 1)} | {f"a{n - 1}": []}
    wf = FaaSrWorkflow.parse(with_graph(chain))
    assert wf.topological_order()[-1] == f"a{n - 1}"


def test_servers_and_stores(wf: FaaSrWorkflow) -> None:
    assert wf.compute_server("join")["Endpoint"] == "http://127.0.0.1:7070"
    assert wf.faas_type("join") == "OpenWhisk"
    assert (wf.default_store, wf.logging_store) == ("S3", "S3")
    assert wf.data_store("S3")["Bucket"] == "faasr-local"
    assert wf.faasr_log == "FaaSrLog"


def test_empty_faasr_log_means_the_default_folder() -> None:
    raw = base_workflow()
    raw["FaaSrLog"] = ""
    assert FaaSrWorkflow.parse(raw).faasr_log == "FaaSrLog"


# ---- keys ---------------------------------------------------------------------------------------

ID = "546cf2f9-936c-44fe-a59f-bbd68f795a12"
TS = "2026-11-21T09-47-39"


def test_keys_of_one_invocation(wf: FaaSrWorkflow) -> None:
    keys = wf.keys(ID, TS)
    folder = f"FaaSrLog/LocalTestWF/{TS}/{ID}"
    assert keys.folder == folder
    assert keys.log_key("worker(2)") == f"{folder}/worker(2).txt"
    assert keys.log_key("start") == f"{folder}/start.txt"
    assert keys.done_key("worker(2)") == f"{folder}/function_completions/worker.2.done"
    assert keys.done_key("join") == f"{folder}/function_completions/join.done"
    assert keys.candidate_key("join") == f"{folder}/join.candidate"
    assert keys.lock_key("join") == f"{folder}/join/lock"
    assert keys.flag_prefix("join") == f"{folder}/join/flag/"
    assert wf.keys(Invocation(ID, TS)) == keys
    with pytest.raises(ValueError):
        keys.done_key("not an instance")


def test_keys_match_what_the_real_engine_wrote(wf: FaaSrWorkflow) -> None:
    """Every instance's log and .done key is among the objects of the recorded real run (01)."""
    run = REAL_RUN / "01-serial-container"
    overwritten = json.loads((run / "activations" / "002-prep" / "params.json").read_text())["body"][
        "OVERWRITTEN"
    ]
    keys = wf.keys(overwritten["InvocationID"], overwritten["InvocationTimestamp"])
    objects = {o["key"] for o in json.loads((run / "manifest.json").read_text())["objects"]}
    ran = [i for i in wf.instances() if i != "never"]  # prep returned True, so never did not run
    assert {keys.log_key(i) for i in ran} <= objects
    assert {keys.done_key(i) for i in ran} <= objects
    assert keys.log_key("never") not in objects
    assert {keys.candidate_key("join"), keys.candidate_key("final")} <= objects
    in_folder = {k for k in objects if k.startswith(keys.folder + "/")}
    kinds = {k: keys.classify(k) for k in in_folder}
    assert all(kinds.values()), [k for k, v in kinds.items() if v is None]
    assert sorted(v for v in kinds.values() if v[0] == "log") == sorted(("log", i) for i in ran)
    assert sorted(v for v in kinds.values() if v[0] == "done") == sorted(("done", i) for i in ran)


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("start.txt", ("log", "start")),
        ("worker(3).txt", ("log", "worker(3)")),
        ("function_completions/worker.3.done", ("done", "worker(3)")),
        ("function_completions/join.done", ("done", "join")),
        ("join.candidate", ("candidate", "join")),
        ("join/lock", ("lock", "join")),
        ("join/flag/1609538000", ("flag", "join")),
        ("function_completions/worker.0.done", None),
        ("function_completions/worker.x.done", None),
        ("worker(0).txt", None),
        ("notes.md", None),
        ("join/other", None),
        ("a_b.txt", None),
    ],
)
def test_classify(rest: str, expected: tuple[str, str] | None) -> None:
    keys = InvocationKeys("FaaSrLog", "WF", TS, ID)
    assert keys.classify(f"{keys.folder}/{rest}") == expected


def test_classify_ignores_other_folders() -> None:
    keys = InvocationKeys("FaaSrLog", "WF", TS, ID)
    assert keys.classify(f"FaaSrLog/WF/{TS}/other-id/start.txt") is None
    assert keys.classify(f"{keys.folder}x/start.txt") is None


def test_folder_follows_pathlib_like_the_engine() -> None:
    """FaaSr joins the folder with pathlib: a trailing slash or './' in FaaSrLog disappears."""
    assert InvocationKeys("logs/", "WF", TS, ID).folder == f"logs/WF/{TS}/{ID}"
    assert InvocationKeys("./logs", "WF", TS, ID).folder == f"logs/WF/{TS}/{ID}"
    assert InvocationKeys("a//b", "WF", TS, ID).folder == f"a/b/WF/{TS}/{ID}"


# ---- invocation identity ------------------------------------------------------------------------

NOW = datetime(2026, 11, 21, 9, 36, 32, 123456, tzinfo=UTC)


def test_new_invocation_generates_a_uuid(wf: FaaSrWorkflow) -> None:
    first, second = wf.new_invocation(NOW), wf.new_invocation(NOW)
    assert uuid.UUID(first.invocation_id).version == 4
    assert first.invocation_id != second.invocation_id
    assert first.timestamp == "2026-11-21T09-36-32"


def test_new_invocation_timestamp_defaults_to_now_in_utc(wf: FaaSrWorkflow) -> None:
    before = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    ts = datetime.strptime(wf.new_invocation().timestamp, TIMESTAMP_FORMAT)
    after = datetime.now(UTC).replace(tzinfo=None)
    assert before <= ts <= after


def test_new_invocation_keeps_a_fixed_invocation_id() -> None:
    raw = base_workflow()
    raw["InvocationID"] = "  mapreduce "
    assert FaaSrWorkflow.parse(raw).new_invocation(NOW) == Invocation("mapreduce", "2026-11-21T09-36-32")


@pytest.mark.parametrize("fmt", ["%Y%m%d", "%Y-%m-%d-%H-%M-%S", "%j%a%b"])
def test_new_invocation_from_date(fmt: str) -> None:
    raw = base_workflow()
    raw["InvocationIDFromDate"] = fmt
    inv = FaaSrWorkflow.parse(raw).new_invocation(NOW)
    assert inv.invocation_id == NOW.strftime(fmt)
    assert inv.timestamp == NOW.strftime(TIMESTAMP_FORMAT)


def test_new_invocation_from_date_matches_the_real_engine() -> None:
    """engine-scenarios/fromdate: '%Y%m%d' applied to the entry's timestamp gave the folder's ID."""
    scenario = REAL_RUN / "engine-scenarios" / "fromdate"
    raw = json.loads((scenario / "wf.json").read_text())
    keys = re.findall(r"^=== (FaaSrLog/\S+)$", (scenario / "s3dump.txt").read_text(), flags=re.M)
    ts, invocation_id = keys[0].split("/")[2:4]
    engine_now = datetime.strptime(ts, TIMESTAMP_FORMAT)
    assert FaaSrWorkflow.parse(raw).new_invocation(engine_now).invocation_id == invocation_id


# ---- names --------------------------------------------------------------------------------------


def test_names_helpers() -> None:
    assert (
        json_path("ActionList", "a-b", "InvokeNext", 0, "True", 1) == "$.ActionList.a-b.InvokeNext[0].True[1]"
    )
    assert json_path("ComputeServers", "OW", "API.key") == '$.ComputeServers.OW["API.key"]'
    assert json_path("ActionList", "") == '$.ActionList[""]'
    assert instance_name("w", 2) == "w(2)" and instance_name("w") == "w"
    assert split_instance("w(12)") == ("w", 12) and split_instance("w") == ("w", None)
    assert parse_target("w(3)") == ("w", 3) and parse_target("w") == ("w", 1)
    for bad in ("w(0)", "w()", "1w", "w\n"):
        with pytest.raises(ValueError):
            split_instance(bad)
    with pytest.raises(ValueError):
        parse_target("w x")


def test_paths_are_read_in_place(tmp_path: Path) -> None:
    """A workflow written to disk parses the same as the dict it came from."""
    raw: dict[str, Any] = base_workflow()
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert FaaSrWorkflow.parse(path).to_dict() == FaaSrWorkflow.parse(raw).to_dict()
