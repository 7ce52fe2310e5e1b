"""Every validation rule has an example that triggers it; the JSON path of each problem is asserted.

Each case mutates a valid workflow and lists *all* the errors it must produce, as (path, fragment):
so a rule that fires at the wrong place, or drags in unrelated errors, fails the test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from prefect_faasr.workflow import FaaSrWorkflow

from .samples import base_workflow, problems, with_graph

Mutation = Callable[[dict[str, Any]], Any]


def drop(*keys: str) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]

    return mutate


def put(*keys: str | int, value: Any) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return mutate


def server(**fields: Any) -> Mutation:
    """Replace the GH compute server with one of the given fields."""
    return put("ComputeServers", "GH", value=fields)


def graph(invoke_next: dict[str, list[Any]], entry: str | None = None) -> Mutation:
    """Replace the whole workflow by one with this graph."""

    def mutate(raw: dict[str, Any]) -> None:
        raw.clear()
        raw.update(with_graph(invoke_next, entry))

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        for m in mutations:
            m(raw)

    return mutate


OW = {"FaaSType": "OpenWhisk", "Endpoint": "https://ow.example", "Namespace": "guest"}
S = "$.ActionList.start"

ERROR_CASES: list[tuple[str, Mutation, list[tuple[str, str]]]] = [
    # ---- top-level shape
    ("not-an-object", lambda raw: [1, 2], [("$", "must be a JSON object")]),
    (
        "faasr-1x",
        lambda raw: {"FunctionList": {"a": {}}, "FunctionInvoke": "a"},
        [("$.FunctionList", "FaaSr 1.x format is not supported")],
    ),
    ("no-WorkflowName", drop("WorkflowName"), [("$.WorkflowName", "required key WorkflowName is missing")]),
    (
        "FunctionInvoke-unknown-hint",
        put("FunctionInvoke", value="go"),
        [("$.FunctionInvoke", "the action no other action invokes is 'start'")],
    ),
    ("no-FunctionInvoke", drop("FunctionInvoke"), [("$.FunctionInvoke", "required key FunctionInvoke")]),
    (
        "no-DefaultDataStore",
        drop("DefaultDataStore"),
        [("$.DefaultDataStore", "required key DefaultDataStore")],
    ),
    ("no-ActionList", drop("ActionList"), [("$.ActionList", "required key ActionList")]),
    ("no-ComputeServers", drop("ComputeServers"), [("$.ComputeServers", "required key ComputeServers")]),
    ("no-DataStores", drop("DataStores"), [("$.DataStores", "required key DataStores")]),
    (
        "WorkflowName-underscore",
        put("WorkflowName", value="my_wf"),
        [("$.WorkflowName", "'my_wf' is not a valid workflow name")],
    ),
    ("WorkflowName-empty", put("WorkflowName", value=""), [("$.WorkflowName", "must be a non-empty string")]),
    ("FunctionInvoke-number", put("FunctionInvoke", value=3), [("$.FunctionInvoke", "non-empty string")]),
    ("ActionList-empty", put("ActionList", value={}), [("$.ActionList", "at least one action")]),
    ("DataStores-list", put("DataStores", value=[]), [("$.DataStores", "must be an object of data stores")]),
    (
        "RerunOnMatched-string",
        put("RerunOnMatchedInvocationID", value="yes"),
        [("$.RerunOnMatchedInvocationID", "true or false")],
    ),
    ("FunctionRank-string", put("FunctionRank", value="2"), [("$.FunctionRank", "whole number")]),
    # ---- keys FaaSr reads at run time although the schema does not require them
    ("no-LoggingDataStore", drop("LoggingDataStore"), [("$.LoggingDataStore", "required at run time")]),
    (
        "LoggingDataStore-empty",
        put("LoggingDataStore", value=""),
        [("$.LoggingDataStore", "must name a data store")],
    ),
    ("no-FaaSrLog", drop("FaaSrLog"), [("$.FaaSrLog", "required at run time")]),
    ("FaaSrLog-null", put("FaaSrLog", value=None), [("$.FaaSrLog", "must be a string")]),
    ("no-Type", drop("ActionList", "a", "Type"), [("$.ActionList.a.Type", "required at run time")]),
    (
        "Type-Agent",
        put("ActionList", "a", "Type", value="Agent"),
        [("$.ActionList.a.Type", "'Agent' is not a function type")],
    ),
    ("no-Region", drop("DataStores", "S3", "Region"), [("$.DataStores.S3.Region", "required at run time")]),
    (
        "no-Branch",
        drop("ComputeServers", "GH", "Branch"),
        [("$.ComputeServers.GH.Branch", "required at run time")],
    ),
    (
        "no-FaaSType",
        drop("ComputeServers", "GH", "FaaSType"),
        [("$.ComputeServers.GH.FaaSType", "required at run time")],
    ),
    # ---- compute servers
    (
        "FaaSType-typo",
        put("ComputeServers", "GH", "FaaSType", value="GithubActions"),
        [("$.ComputeServers.GH.FaaSType", "did you mean 'GitHubActions'")],
    ),
    (
        "GH-no-UserName",
        drop("ComputeServers", "GH", "UserName"),
        [("$.ComputeServers.GH.UserName", "required key UserName is missing for FaaSType GitHubActions")],
    ),
    (
        "Lambda-no-Region",
        both(server(FaaSType="Lambda")),
        [("$.ComputeServers.GH.Region", "required key Region")],
    ),
    (
        "OpenWhisk-no-Namespace",
        server(FaaSType="OpenWhisk", Endpoint="https://x"),
        [("$.ComputeServers.GH.Namespace", "required key Namespace")],
    ),
    (
        "OpenWhisk-APIkey",
        server(**OW, APIkey="u:p"),
        [("$.ComputeServers.GH.APIkey", "spells the OpenWhisk key 'API.key'")],
    ),
    (
        "API.Key-case",
        server(**OW, **{"API.Key": "u:p"}),
        [('$.ComputeServers.GH["API.Key"]', "did you mean 'API.key'")],
    ),
    (
        "GoogleCloud-SSL",
        server(FaaSType="GoogleCloud", Namespace="p", ClientEmail="e", TokenUri="t", Region="r", SSL="false"),
        [("$.ComputeServers.GH.SSL", "its schema rejects the key")],
    ),
    (
        "GoogleCloud-no-keys",
        server(FaaSType="GoogleCloud", Namespace="p"),
        [
            ("$.ComputeServers.GH.ClientEmail", "required key ClientEmail"),
            ("$.ComputeServers.GH.TokenUri", "required key TokenUri"),
            ("$.ComputeServers.GH.Region", "required key Region"),
        ],
    ),
    (
        "SLURM-no-keys",
        server(FaaSType="SLURM", Endpoint="https://s", UserName="u"),
        [
            ("$.ComputeServers.GH.APIVersion", "required key APIVersion"),
            ("$.ComputeServers.GH.Partition", "required key Partition"),
        ],
    ),
    (
        "Kubernetes-no-Endpoint",
        server(FaaSType="Kubernetes"),
        [("$.ComputeServers.GH.Endpoint", "required key Endpoint")],
    ),
    (
        "UseSecretStore-string",
        put("ComputeServers", "GH", "UseSecretStore", value="true"),
        [("$.ComputeServers.GH.UseSecretStore", "must be true or false")],
    ),
    (
        "AllowSelfSigned-string",
        server(**OW, AllowSelfSignedCertificate="False"),
        [("$.ComputeServers.GH.AllowSelfSignedCertificate", "true or false")],
    ),
    (
        "Endpoint-empty",
        server(FaaSType="OpenWhisk", Endpoint="", Namespace="g"),
        [("$.ComputeServers.GH.Endpoint", "must not be empty")],
    ),
    (
        "NumberOfRetries-negative",
        server(FaaSType="Kubernetes", Endpoint="https://k", NumberOfRetries=-1),
        [("$.ComputeServers.GH.NumberOfRetries", "at least 0")],
    ),
    (
        "SecretsList-values",
        server(**OW, SecretsList={"A": 1}),
        [("$.ComputeServers.GH.SecretsList", "secret names to strings")],
    ),
    (
        "server-not-object",
        put("ComputeServers", "GH", value="GitHubActions"),
        [("$.ComputeServers.GH", "must be an object")],
    ),
    # ---- data stores
    ("no-Bucket", drop("DataStores", "S3", "Bucket"), [("$.DataStores.S3.Bucket", "required key Bucket")]),
    (
        "Bucket-empty",
        put("DataStores", "S3", "Bucket", value=""),
        [("$.DataStores.S3.Bucket", "must not be empty")],
    ),
    (
        "Writable-bool",
        put("DataStores", "S3", "Writable", value=True),
        [("$.DataStores.S3.Writable", "must be a string, found true")],
    ),
    (
        "Anonymous-bool",
        put("DataStores", "S3", "Anonymous", value=False),
        [("$.DataStores.S3.Anonymous", "must be a string")],
    ),
    (
        "Endpoint-no-scheme",
        put("DataStores", "S3", "Endpoint", value="minio:9000"),
        [("$.DataStores.S3.Endpoint", "must start with http")],
    ),
    (
        "store-unknown-key",
        put("DataStores", "S3", "Secure", value="x"),
        [("$.DataStores.S3.Secure", "unknown key 'Secure' in a data store")],
    ),
    (
        "DefaultDataStore-unknown",
        put("DefaultDataStore", value="S4"),
        [
            ("$.DefaultDataStore", "names data store 'S4', which is not in DataStores"),
        ],
    ),
    (
        "LoggingDataStore-unknown",
        put("LoggingDataStore", value="Logs"),
        [("$.LoggingDataStore", "'Logs', which is not in DataStores")],
    ),
    (
        "stores-differ-with-fan-in",
        both(
            put("DataStores", "Logs", value={"Bucket": "other", "Region": ""}),
            put("LoggingDataStore", value="Logs"),
        ),
        [("$.LoggingDataStore", "fan-in actions ('join') look for them in LoggingDataStore")],
    ),
    # ---- actions
    (
        "action-underscore",
        both(
            put("ActionList", "c_d", value={"FaaSServer": "GH", "FunctionName": "f", "Type": "R"}),
            put("ActionList", "join", "InvokeNext", value=["c_d"]),
        ),
        [
            ("$.ActionList.join.InvokeNext[0]", "'c_d' is not a valid InvokeNext target"),
            ("$.ActionList.c_d", "'c_d' is not a valid action name"),
        ],
    ),
    (
        "action-not-object",
        put("ActionList", "join", value=[]),
        [("$.ActionList.join", "an action must be an object")],
    ),
    (
        "no-FunctionName",
        drop("ActionList", "a", "FunctionName"),
        [("$.ActionList.a.FunctionName", "required key FunctionName")],
    ),
    (
        "no-FaaSServer",
        drop("ActionList", "a", "FaaSServer"),
        [("$.ActionList.a.FaaSServer", "required key FaaSServer")],
    ),
    (
        "FunctionName-hyphen",
        put("ActionList", "a", "FunctionName", value="f-a"),
        [("$.ActionList.a.FunctionName", "e.g. 'f_a'")],
    ),
    (
        "FaaSServer-unknown",
        put("ActionList", "a", "FaaSServer", value="AWS"),
        [("$.ActionList.a.FaaSServer", "names compute server 'AWS', which is not in ComputeServers")],
    ),
    (
        "FunctionInvoke-unknown",
        put("FunctionInvoke", value="begin"),
        [
            ("$.FunctionInvoke", "'begin' is not an action in ActionList, so FaaSr has nothing to start"),
        ],
    ),
    (
        "action-unknown-key",
        put("ActionList", "a", "Actioncontainer", value="img"),
        [("$.ActionList.a.Actioncontainer", "unknown key 'Actioncontainer' in an action")],
    ),
    (
        "Arguments-null",
        put("ActionList", "a", "Arguments", value=None),
        [("$.ActionList.a.Arguments", "must be an object, found null")],
    ),
    (
        "MaxMemory-zero",
        put("ActionList", "a", "MaxMemory", value=0),
        [("$.ActionList.a.MaxMemory", "at least 1")],
    ),
    (
        "Resources-Nodes",
        put("ActionList", "a", "Resources", value={"Nodes": 1.5}),
        [("$.ActionList.a.Resources.Nodes", "whole number")],
    ),
    (
        "Resources-unknown",
        put("ActionList", "a", "Resources", value={"GPUs": 1}),
        [("$.ActionList.a.Resources.GPUs", "unknown key 'GPUs' in Resources")],
    ),
    (
        "RequiresVM-string",
        put("ActionList", "a", "RequiresVM", value="TRUE"),
        [("$.ActionList.a.RequiresVM", "true or false")],
    ),
    # ---- InvokeNext forms
    (
        "InvokeNext-string",
        put("ActionList", "start", "InvokeNext", value="a"),
        [
            (f"{S}.InvokeNext", "a bare string"),
            ("$.ActionList.a", "no action invokes 'a'"),
            ("$.ActionList.b", "no action invokes 'b'"),
        ],
    ),
    (
        "InvokeNext-null",
        put("ActionList", "join", "InvokeNext", value=None),
        [("$.ActionList.join.InvokeNext", "use [] for no successors")],
    ),
    (
        "InvokeNext-number",
        put("ActionList", "join", "InvokeNext", value=[7]),
        [("$.ActionList.join.InvokeNext[0]", "must be an action name or a conditional object")],
    ),
    (
        "target-bad-name",
        put("ActionList", "join", "InvokeNext", value=["x y"]),
        [("$.ActionList.join.InvokeNext[0]", "'x y' is not a valid InvokeNext target")],
    ),
    (
        "target-dangling",
        put("ActionList", "join", "InvokeNext", value=["final"]),
        [("$.ActionList.join.InvokeNext[0]", "'final' is not an action in ActionList")],
    ),
    (
        "rank-zero",
        put("ActionList", "start", "InvokeNext", value=["a(0)", "b"]),
        [
            (f"{S}.InvokeNext[0]", "the rank N in name(N) must be at least 1"),
            ("$.ActionList.a", "no action invokes 'a'"),
        ],
    ),
    (
        "two-conditionals",
        graph({"s": [{"True": ["a"]}, {"False": ["b"]}], "a": [], "b": []}),
        [
            ("$.ActionList.s.InvokeNext[1]", "a second conditional object"),
        ],
    ),
    (
        "conditional-lowercase-key",
        graph({"s": [{"true": ["a"], "False": []}], "a": []}),
        [
            ("$.ActionList.s.InvokeNext[0].true", "did you mean 'True'"),
            ("$.ActionList.a", "no action invokes 'a'"),
        ],
    ),
    (
        "conditional-TRUE-key",
        graph({"s": [{"TRUE": ["a"], "FALSE": []}], "a": []}),
        [
            ("$.ActionList.s.InvokeNext[0].TRUE", 'only have the keys "True" and "False"'),
            ("$.ActionList.s.InvokeNext[0].FALSE", 'only have the keys "True" and "False"'),
            ("$.ActionList.a", "no action invokes 'a'"),
        ],
    ),
    ("conditional-empty", graph({"s": [{}]}), [("$.ActionList.s.InvokeNext[0]", "an empty conditional")]),
    (
        "conditional-branch-string",
        graph({"s": [{"True": "a", "False": []}], "a": []}),
        [
            ("$.ActionList.s.InvokeNext[0].True", "a bare string"),
            ("$.ActionList.a", "no action invokes 'a'"),
        ],
    ),
    (
        "conditional-target-dangling",
        graph({"s": [{"True": ["a"], "False": ["z"]}], "a": []}),
        [
            ("$.ActionList.s.InvokeNext[0].False[0]", "'z' is not an action in ActionList"),
        ],
    ),
    # ---- graph rules (check_dag)
    ("self-loop", graph({"s": ["a"], "a": ["a"]}), [("$.ActionList.a.InvokeNext[0]", "'a' invokes itself")]),
    (
        "cycle",
        graph({"s": ["a"], "a": ["b"], "b": ["c"], "c": ["a"]}),
        [
            ("$.ActionList.c.InvokeNext[0]", "closes the cycle a -> b -> c -> a"),
        ],
    ),
    (
        "no-root",
        graph({"a": ["b"], "b": ["a"]}),
        [
            ("$.ActionList.b.InvokeNext[0]", "closes the cycle a -> b -> a"),
            ("$.ActionList", "no initial action"),
        ],
    ),
    (
        "entry-has-predecessor",
        graph({"s": ["a"], "a": []}, entry="a"),
        [
            ("$.ActionList.s.InvokeNext[0]", "invokes the entry action 'a'"),
            ("$.ActionList.s", "no action invokes 's' and it is not the entry 'a'"),
        ],
    ),
    (
        "second-root",
        graph({"s": ["a"], "a": [], "lone": ["tail"], "tail": []}),
        [
            (
                "$.ActionList.lone",
                "no action invokes 'lone' and it is not the entry 's', so it never runs (nor the 1 action",
            ),
        ],
    ),
    (
        "unreachable-cycle",
        graph({"s": ["a"], "a": [], "x": ["y"], "y": ["x"]}),
        [
            ("$.ActionList.y.InvokeNext[0]", "closes the cycle x -> y -> x"),
            ("$.ActionList.x", "only invoked from inside a cycle"),
            ("$.ActionList.y", "only invoked from inside a cycle"),
        ],
    ),
    (
        "ranked-two-predecessors",
        graph({"s": ["a", "b"], "a": ["w(3)"], "b": ["w"], "w": []}),
        [
            (
                "$.ActionList.a.InvokeNext[0]",
                "'w(3)' is ranked, so 'w' must have exactly one predecessor, but it is also invoked by 'b' "
                "at $.ActionList.b.InvokeNext[0]",
            ),
        ],
    ),
    (
        "ranked-listed-twice",
        graph({"s": ["w(2)", "w(2)"], "w": []}),
        [
            ("$.ActionList.s.InvokeNext[0]", "'w(2)' is ranked, so 'w' must have exactly one predecessor"),
        ],
    ),
    (
        "ranked-after-ranked",
        graph({"s": ["a(2)"], "a": ["b(3)"], "b": []}),
        [
            ("$.ActionList.a.InvokeNext[0]", "'b(3)' is ranked and so is its predecessor 'a' (2 instances)"),
        ],
    ),
    (
        "mixed-predecessors",
        graph({"s": [{"True": ["t"], "False": ["f"]}], "t": [], "f": ["t"]}),
        [
            (
                "$.ActionList.f.InvokeNext[0]",
                "'t' is invoked unconditionally here but on the True branch of 's' "
                "($.ActionList.s.InvokeNext[0].True[0])",
            ),
        ],
    ),
    (
        "two-conditional-sources",
        graph(
            {
                "s": ["a", "b"],
                "a": [{"True": ["j"], "False": []}],
                "b": [{"True": [], "False": ["j"]}],
                "j": [],
            }
        ),
        [
            ("$.ActionList.b.InvokeNext[0].False[0]", "'j' is a conditional target of 'a' and also of 'b'"),
        ],
    ),
    # ---- invocation identity, secrets, VM, code
    (
        "IDFromDate-underscore",
        put("InvocationIDFromDate", value="%Y_%m"),
        [("$.InvocationIDFromDate", "not a format FaaSr accepts")],
    ),
    (
        "Timestamp-bad-with-IDFromDate",
        both(put("InvocationIDFromDate", value="%Y%m%d"), put("InvocationTimestamp", value="123")),
        [
            ("$.InvocationTimestamp", "crashes deriving the InvocationID"),
        ],
    ),
    ("InvocationID-number", put("InvocationID", value=7), [("$.InvocationID", "must be a string")]),
    ("Secrets-lowercase", put("Secrets", value=["MY_KEY", "token"]), [("$.Secrets[1]", "not a secret name")]),
    ("Secrets-string", put("Secrets", value="MY_KEY"), [("$.Secrets", "must be a list")]),
    (
        "VMConfig-incomplete",
        put("VMConfig", value={"Name": "vm", "Provider": "GCP"}),
        [
            ("$.VMConfig.InstanceId", "required key InstanceId"),
            ("$.VMConfig.Region", "required key Region"),
            ("$.VMConfig.Provider", 'FaaSr knows only "AWS"'),
        ],
    ),
    (
        "code-map-empty",
        put("PyPIPackageDownloads", value={}),
        [("$.PyPIPackageDownloads", "must not be empty")],
    ),
    (
        "code-map-number",
        put("FunctionGitRepo", "f_a", value=3),
        [("$.FunctionGitRepo.f_a", "a string or a list")],
    ),
    (
        "LocalFile-empty",
        put("FunctionLocalFile", value={"f_a": ""}),
        [("$.FunctionLocalFile.f_a", "non-empty file path")],
    ),
    (
        "Git-and-LocalFile",
        put("FunctionLocalFile", value={"f_start": "start.py"}),
        [("$.FunctionLocalFile.f_start", "Cannot have both")],
    ),
    (
        "ActionContainers-empty",
        put("ActionContainers", value={}),
        [("$.ActionContainers", "must not be empty")],
    ),
    (
        "ActionContainers-null-image",
        put("ActionContainers", value={"a": None}),
        [("$.ActionContainers.a", "container image name")],
    ),
]


def test_base_workflow_is_valid() -> None:
    """The control: every case below differs from this valid workflow by its mutation only."""
    assert problems(base_workflow()) == []
    FaaSrWorkflow.parse(base_workflow())


@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_rule(mutate: Mutation, expected: list[tuple[str, str]]) -> None:
    raw = copy.deepcopy(base_workflow())
    replaced = mutate(raw)
    raw = raw if replaced is None else replaced
    errors = problems(raw, "error")
    assert [p.path for p in errors] == [path for path, _ in expected], [str(p) for p in errors]
    for problem, (path, fragment) in zip(errors, expected, strict=True):
        assert fragment in problem.message, f"{path}: expected {fragment!r} in {problem.message!r}"


def test_errors_carry_every_problem(expect_invalid: Callable[..., Any]) -> None:
    raw = base_workflow()
    del raw["LoggingDataStore"]
    raw["ActionList"]["a"]["FaaSServer"] = "nope"
    raw["ActionList"]["join"]["InvokeNext"] = ["ghost"]
    exc = expect_invalid(raw)
    assert [p.path for p in exc.problems] == [
        "$.LoggingDataStore",
        "$.ActionList.a.FaaSServer",
        "$.ActionList.join.InvokeNext[0]",
    ]
    text = str(exc)
    assert text.splitlines()[0] == "invalid FaaSr workflow, 3 problems"
    assert all(str(p) in text for p in exc.problems)


def test_json_syntax_error_names_line_and_column(expect_invalid: Callable[..., Any]) -> None:
    exc = expect_invalid('{\n  "WorkflowName": "x",\n  "Writable": TRUE\n}')
    [problem] = exc.problems
    assert problem.path == "$"
    assert "line 3, column 15" in problem.message
    assert "Expecting value" in problem.message
    assert '"Writable": TRUE' in problem.message


def test_control_character_message_reads_well(expect_invalid: Callable[..., Any]) -> None:
    exc = expect_invalid('{"a": "tab\there"}')
    assert "Invalid control character; near" in exc.problems[0].message


def test_missing_file_is_a_user_error(tmp_path: Any, expect_invalid: Callable[..., Any]) -> None:
    exc = expect_invalid(tmp_path / "absent.json")
    assert exc.source == str(tmp_path / "absent.json")
    assert exc.problems[0].message == "file not found"


def test_non_utf8_file(tmp_path: Any, expect_invalid: Callable[..., Any]) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"WorkflowName": "caf\u00e9"}'.encode("latin-1"))
    assert "not UTF-8" in expect_invalid(path).problems[0].message


def test_non_json_values_do_not_crash_the_validator() -> None:
    raw = base_workflow()
    raw["ActionList"]["a"]["Arguments"] = {"when": object()}
    raw["ActionList"]["a"]["MaxMemory"] = object()
    [problem] = problems(raw, "error")
    assert problem.path == "$.ActionList.a.MaxMemory"


# ---- warnings: things that work but bite ---------------------------------------------------------

WARNING_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "Anonymous-FALSE",
        put("DataStores", "S3", "Anonymous", value="FALSE"),
        "$.DataStores.S3.Anonymous",
        "'FALSE' turns anonymous access ON",
    ),
    (
        "Anonymous-TRUE",
        put("DataStores", "S3", "Anonymous", value="TRUE"),
        "$.DataStores.S3.Anonymous",
        "unsigned S3 requests",
    ),
    (
        "fixed-InvocationID",
        put("InvocationID", value="run-1"),
        "$.InvocationID",
        "every run reuses the fixed InvocationID 'run-1'",
    ),
    (
        "fixed-InvocationTimestamp",
        put("InvocationTimestamp", value="2026-01-02T03-04-05"),
        "$.InvocationTimestamp",
        "same log folder",
    ),
    (
        "odd-InvocationTimestamp",
        put("InvocationTimestamp", value="123"),
        "$.InvocationTimestamp",
        "not even in FaaSr's format",
    ),
    ("FunctionRank-in-file", put("FunctionRank", value=2), "$.FunctionRank", "captured run-time payload"),
    (
        "PyPI-string",
        put("PyPIPackageDownloads", value={"f_a": "numpy"}),
        "$.PyPIPackageDownloads.f_a",
        'write ["numpy"]',
    ),
    (
        "CRAN-string",
        put("FunctionCRANPackage", value={"f_a": "dplyr"}),
        "$.FunctionCRANPackage.f_a",
        "character by character",
    ),
    (
        "one-branch-conditional",
        put("ActionList", "join", "InvokeNext", value=[{"True": []}]),
        "$.ActionList.join.InvokeNext[0]",
        'add "False": []',
    ),
    (
        "duplicate-edge",
        put("ActionList", "start", "InvokeNext", value=["a", "b", "a"]),
        "$.ActionList.start.InvokeNext[2]",
        "lists 'a' twice",
    ),
    (
        "ActionContainers-unknown",
        put("ActionContainers", value={"start": "img", "gone": "img"}),
        "$.ActionContainers.gone",
        "never used",
    ),
    (
        "top-level-typo",
        put("LogingDataStore", value="S3"),
        "$.LogingDataStore",
        "did you mean 'LoggingDataStore'",
    ),
    (
        "ranked-R",
        both(
            put("ActionList", "start", "InvokeNext", value=["a(3)"]),
            put("ActionList", "a", "Type", value="R"),
            put("ActionList", "b", "InvokeNext", value=[]),
            drop("ActionList", "b"),
        ),
        "$.ActionList.a.Type",
        "faasr_rank() is broken for R",
    ),
    (
        "branch-merge",
        graph({"s": [{"True": ["t"], "False": ["f"]}], "t": ["j"], "f": ["j"], "j": []}),
        "$.ActionList.j",
        "joins actions from both branches of conditional 's'",
    ),
    (
        "folder-over-listing-limit",
        graph({"s": ["w(600)"], "w": ["j"], "j": []}),
        "$.ActionList",
        "first 1000 keys",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"), [c[1:] for c in WARNING_CASES], ids=[c[0] for c in WARNING_CASES]
)
def test_warning(mutate: Mutation, path: str, fragment: str) -> None:
    raw = copy.deepcopy(base_workflow())
    mutate(raw)
    wf = FaaSrWorkflow.parse(raw)  # warnings never make a workflow invalid
    matching = [w for w in wf.warnings if w.path == path]
    assert matching, [str(w) for w in wf.warnings]
    assert fragment in matching[0].message
    assert all(w.severity == "warning" for w in wf.warnings)


def test_duplicate_json_key_is_a_warning_at_its_object() -> None:
    text = json.dumps(base_workflow()).replace('"f_a", ', '"f_a", "Type": "R", ', 1)
    wf = FaaSrWorkflow.parse(text)
    [warning] = wf.warnings
    assert warning.path == "$.ActionList.a.Type"
    assert "appears twice" in warning.message
    assert wf.actions["a"].type == "R"  # the last value wins, as in FaaSr


def test_different_stores_without_fan_in_are_fine() -> None:
    raw = with_graph({"s": ["a"], "a": []})
    raw["DataStores"]["Logs"] = {"Bucket": "other", "Region": ""}
    raw["LoggingDataStore"] = "Logs"
    assert problems(raw) == []


def test_same_bucket_under_two_names_is_fine_with_fan_in() -> None:
    raw = base_workflow()
    raw["DataStores"]["Logs"] = dict(raw["DataStores"]["S3"])
    raw["LoggingDataStore"] = "Logs"
    assert problems(raw) == []
