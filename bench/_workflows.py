"""Workflow JSON of the benchmarks: Python actions on one GitHubActions server and one S3 data store."""

from __future__ import annotations

from typing import Any

AWS_S3 = "https://s3.us-east-1.amazonaws.com"


def action(function: str, invoke_next: list[str]) -> dict[str, Any]:
    """A Python action of the benchmarks' server that calls `function` and then `invoke_next`."""
    return {
        "FunctionName": function,
        "FaaSServer": "GH",
        "Type": "Python",
        "Arguments": {},
        "InvokeNext": invoke_next,
    }


def bench_workflow(
    name: str, entry: str, actions: dict[str, dict[str, Any]], *, bucket: str, endpoint: str = AWS_S3
) -> dict[str, Any]:
    """A FaaSr 2.x workflow dict named `name`, starting at `entry`, logging to the one data store."""
    return {
        "WorkflowName": name,
        "FunctionInvoke": entry,
        "DefaultDataStore": "S3",
        "LoggingDataStore": "S3",
        "FaaSrLog": "FaaSrLog",
        "ActionList": actions,
        "ComputeServers": {
            "GH": {
                "FaaSType": "GitHubActions",
                "UserName": "bench",
                "ActionRepoName": "bench",
                "Branch": "main",
            }
        },
        "DataStores": {"S3": {"Endpoint": endpoint, "Bucket": bucket, "Region": "us-east-1"}},
    }
