"""prefect.yaml without a server: every entrypoint loads, parameters validate, paths exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in CONFIG["deployments"]}


def test_two_deployments_of_the_regression_flow_on_one_process_pool() -> None:
    assert set(DEPLOYMENTS) == {"nightly", "on-demand"}
    assert {d["work_pool"]["name"] for d in DEPLOYMENTS.values()} == {"faasr-pool"}
    assert CONFIG["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}
    ]
    nightly = DEPLOYMENTS["nightly"]
    assert nightly["schedules"] == [{"cron": "0 3 * * *", "timezone": "UTC", "active": True}]
    assert "schedules" not in DEPLOYMENTS["on-demand"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_entrypoint_loads_and_parameters_validate(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = DEPLOYMENTS[name]
    monkeypatch.chdir(ROOT)  # entrypoints and parameter paths are relative to the project root
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert flow.name == "faasr-regression"
    params = flow.validate_parameters(deployment["parameters"])
    for key in ("suite", "spec"):
        if key in deployment["parameters"]:
            assert (ROOT / params[key]).is_file(), f"{name}: {key} {params[key]} not found"
