"""Workflow shapes the scale tests generate."""

from __future__ import annotations

from typing import Any


def fan_out(n: int, name: str | None = None, bucket: str = "faasr-scale") -> dict[str, Any]:
    """`entry -> work(n) -> sink`: Python actions on one server, one data store (sink is a fan-in of n)."""
    action = {"FunctionName": "noop", "FaaSServer": "GH", "Type": "Python", "Arguments": {}}
    return {
        "WorkflowName": name or f"FanOut{n}",
        "FunctionInvoke": "entry",
        "DefaultDataStore": "S3",
        "LoggingDataStore": "S3",
        "FaaSrLog": "FaaSrLog",
        "ActionList": {
            "entry": {**action, "InvokeNext": [f"work({n})"]},
            "work": {**action, "InvokeNext": ["sink"]},
            "sink": {**action, "InvokeNext": []},
        },
        "ComputeServers": {
            "GH": {"FaaSType": "GitHubActions", "UserName": "u", "ActionRepoName": "r", "Branch": "main"}
        },
        "DataStores": {
            "S3": {"Endpoint": "https://s3.amazonaws.com", "Bucket": bucket, "Region": "us-east-1"}
        },
    }
