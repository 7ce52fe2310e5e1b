"""Shared test data for the foundation tests: paths of the shared FaaSr data, workflows to mutate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect_faasr.errors import Problem
from prefect_faasr.validation import validate

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "faasr"
CORPUS = SHARED / "corpus"
REAL_RUN = SHARED / "real-run"
REAL_WORKFLOWS = REAL_RUN / "workflows" / "workflows"


def base_workflow() -> dict[str, Any]:
    """A valid workflow: start -> [a, b]; a, b -> join (fan-in), on GitHub Actions and one S3 store."""
    server = {"FaaSServer": "GH", "Type": "Python"}
    return {
        "WorkflowName": "unit-wf",
        "FunctionInvoke": "start",
        "DefaultDataStore": "S3",
        "LoggingDataStore": "S3",
        "FaaSrLog": "FaaSrLog",
        "InvocationID": "",
        "ComputeServers": {
            "GH": {
                "FaaSType": "GitHubActions",
                "UserName": "owner",
                "ActionRepoName": "repo",
                "Branch": "main",
                "UseSecretStore": True,
            }
        },
        "DataStores": {
            "S3": {"Endpoint": "http://127.0.0.1:9000", "Bucket": "bucket", "Region": "us-east-1"}
        },
        "ActionList": {
            "start": {**server, "FunctionName": "f_start", "InvokeNext": ["a", "b"]},
            "a": {**server, "FunctionName": "f_a", "Arguments": {"x": 1}, "InvokeNext": ["join"]},
            "b": {**server, "FunctionName": "f_b", "InvokeNext": ["join"]},
            "join": {**server, "FunctionName": "f_join", "InvokeNext": []},
        },
        "FunctionGitRepo": {"f_start": "owner/repo/functions"},
    }


def with_graph(invoke_next: dict[str, list[Any]], entry: str | None = None) -> dict[str, Any]:
    """`base_workflow()` with ActionList replaced by actions named in `invoke_next` (name -> InvokeNext)."""
    raw = base_workflow()
    raw["ActionList"] = {
        name: {"FaaSServer": "GH", "Type": "Python", "FunctionName": f"f_{i}", "InvokeNext": nxt}
        for i, (name, nxt) in enumerate(invoke_next.items())
    }
    raw["FunctionInvoke"] = entry or next(iter(invoke_next))
    return raw


def problems(raw: Any, severity: str | None = None) -> list[Problem]:
    found = validate(raw)
    return [p for p in found if severity is None or p.severity == severity]
