"""Small workflows of given shapes for the pure rule tests: `make({"a": ["b"], "b": []})`."""

from __future__ import annotations

import json
from typing import Any

from prefect_faasr.workflow import FaaSrWorkflow

from .conftest import WORKFLOWS


def make(invoke_next: dict[str, list[Any]], name: str = "ShapeWF") -> FaaSrWorkflow:
    """A valid workflow whose first action is the entry, with these InvokeNext lists."""
    raw = json.loads((WORKFLOWS / "LocalFailWF.json").read_text())
    template = next(iter(raw["ActionList"].values()))
    raw["WorkflowName"] = name
    raw["FunctionInvoke"] = next(iter(invoke_next))
    raw["ActionList"] = {
        a: {**template, "FunctionName": "f", "Arguments": {}, "InvokeNext": nxt}
        for a, nxt in invoke_next.items()
    }
    raw["FunctionGitRepo"] = {"f": "owner/repo/functions"}
    raw["ActionContainers"] = {a: "img" for a in invoke_next}
    return FaaSrWorkflow.parse(raw)


def local_test_wf() -> FaaSrWorkflow:
    return FaaSrWorkflow.parse(WORKFLOWS / "LocalTestWF.json")


def local_fail_wf() -> FaaSrWorkflow:
    return FaaSrWorkflow.parse(WORKFLOWS / "LocalFailWF.json")
