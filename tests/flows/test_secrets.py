"""No secret used by a run reaches Prefect: logs, artifacts, parameters, task runs, state messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prefect_aws import AwsCredentials
from pytest_httpserver import HTTPServer
from triggers.standins import GITHUB_SERVER, GITHUB_TOKEN, FakeGitHub, MotoServer, workflow

from prefect_faasr.blocks import FaaSrEnvironment, FaaSrGitHubCredentials
from prefect_faasr.local import LocalFaaSr

from .conftest import EXAMPLE
from .helpers import artifacts, flow_run_record, logs, run, task_runs, write_spec

pytestmark = pytest.mark.integration

S3_KEY, S3_SECRET = "AKIAFAASRSECRETSCAN1", "scanS3secret/0123456789abcdefghijklmnopqrstu"


def everything_prefect_kept(state: Any) -> str:
    """All text the Prefect API holds about a flow run, as one string to search."""
    parts: list[str] = [json.dumps(flow_run_record(state).model_dump(mode="json"), default=str)]
    parts += [f"{e.level} {e.message}" for e in logs(state)]
    parts += [json.dumps(a.model_dump(mode="json"), default=str) for a in artifacts(state)]
    parts += [json.dumps(t.model_dump(mode="json"), default=str) for t in task_runs(state)]
    return "\n".join(parts)


def assert_absent(text: str, secrets: dict[str, str]) -> None:
    found = [name for name, value in secrets.items() if value and value in text]
    assert not found, f"secret values found in what Prefect kept: {found}"


def test_local_run_leaks_no_runtime_secret(runtime: LocalFaaSr, state_file: str, tmp_path: Path) -> None:
    state, report = run(
        spec=str(EXAMPLE / "spec.yaml"), local_state=state_file, report_path=str(tmp_path / "r.json")
    )
    assert report.passed, report.reason
    kept = everything_prefect_kept(state)
    # The scan sees real content: the invocation's id and forwarded remote log lines are there.
    assert report.invocation_id in kept and "Deleted input1.txt" in kept
    password = runtime.api_key.partition(":")[2]
    secrets = {
        "compute API key": runtime.api_key,
        "compute API password": password,
        "S3 access key": runtime.s3_access_key,
        "S3 secret key": runtime.s3_secret_key,
    }
    assert_absent(kept, secrets)
    assert_absent((tmp_path / "r.json").read_text(), secrets)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.client("s3").create_bucket(Bucket="faasr-secret-scan")
    yield server
    server.stop()


def test_block_environment_run_leaks_no_token(
    moto: MotoServer, httpserver: HTTPServer, tmp_path: Path
) -> None:
    github = FakeGitHub(
        httpserver,
        workflows={
            "faasr-owner/faasr-actions": {"ScanWF-start.yml": "active", "ScanWF-finish.yml": "active"}
        },
    )
    stores = {"S3": {"Endpoint": moto.url, "Bucket": "faasr-secret-scan", "Region": "us-east-1"}}
    wf = workflow(GITHUB_SERVER, name="ScanWF", stores=stores)
    (tmp_path / "workflow.json").write_text(json.dumps(wf.raw), encoding="utf-8")
    AwsCredentials(aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET).save("scan-s3", overwrite=True)
    FaaSrGitHubCredentials(token=GITHUB_TOKEN, api_url=github.url).save("scan-gh", overwrite=True)
    FaaSrEnvironment(
        data_stores={"S3": "aws-credentials/scan-s3"},
        compute_servers={"Entry": "faasr-github-credentials/scan-gh"},
    ).save("scan-env", overwrite=True)
    spec = write_spec(
        tmp_path / "spec.yaml",
        name="secret-scan",
        workflow="workflow.json",
        payload_url="faasr-owner/faasr-actions/main/workflow.json",
        timeouts={"run": 20, "start": 3, "execution": 10, "poll": 0.5, "settle": 1},
    )
    state, report = run(spec=str(spec), environment="scan-env", report_path=str(tmp_path / "r.json"))
    # The dispatch reached the stand-in with the harness-made identity; nothing ran, so the entry timed out.
    assert len(github.dispatches) == 1
    sent = json.loads(github.dispatches[0][2]["inputs"]["OVERWRITTEN"])
    assert sent["InvocationID"] == report.invocation_id and sent["FunctionInvoke"] == "start"
    assert state.is_failed() and report.statuses["start"] == "timeout"
    kept = everything_prefect_kept(state)
    assert "scan-env" in kept  # the block NAME is a parameter; its secrets are not
    secrets = {"GitHub token": GITHUB_TOKEN, "S3 secret key": S3_SECRET}
    assert_absent(kept, secrets)
    assert_absent((tmp_path / "r.json").read_text(), secrets)
