"""preflight() against moto S3 (plain and IAM-checking) and the GitHub/OpenWhisk stand-ins."""

from __future__ import annotations

import pytest
from prefect_aws import AwsCredentials, MinIOCredentials
from prefect_aws.client_parameters import AwsClientParameters
from triggers.standins import (
    GITHUB_SERVER,
    GITHUB_TOKEN,
    OPENWHISK_KEY,
    FakeGitHub,
    FakeOpenWhisk,
    IamKeys,
    MotoServer,
    closed_port,
    create_lambda_function,
    lambda_server,
    openwhisk_server,
    workflow,
)

from prefect_faasr.blocks import FaaSrGitHubCredentials, FaaSrOpenWhiskCredentials
from prefect_faasr.environment import BlockEnvironment
from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.preflight import PreflightError, PreflightReport, preflight

pytestmark = pytest.mark.integration  # moto servers and HTTP stand-ins


S3_SECRET = "preflightS3secret/0123456789abcdefghijklmnop"


def s3_keys(key: str = "AKIAFAASRPREFLIGHT01", secret: str = S3_SECRET) -> AwsCredentials:
    return AwsCredentials(aws_access_key_id=key, aws_secret_access_key=secret)


def gh_block(github: FakeGitHub, token: str = GITHUB_TOKEN) -> FaaSrGitHubCredentials:
    return FaaSrGitHubCredentials(token=token, api_url=github.url)


def store(moto: MotoServer, bucket: str = "faasr-bucket", **extra: str) -> dict[str, str]:
    return {"Endpoint": moto.url, "Bucket": bucket, "Region": "us-east-1", **extra}


def run(wf, **blocks) -> PreflightReport:
    return preflight(wf, BlockEnvironment.from_blocks(wf, name="test-env", **blocks))


def test_everything_reachable(moto: MotoServer, github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER, stores={"S3": store(moto)})
    report = run(wf, data_stores={"S3": s3_keys()}, compute_servers={"Entry": gh_block(github)})

    assert report.ok and report.problems == ()
    assert [(c.path, c.status) for c in report.checks] == [
        ("$.DataStores.S3", "ok"),
        ("$.ComputeServers.Entry", "ok"),
        ("$.ActionList.start", "ok"),
        ("$.ActionList.finish", "ok"),
    ]
    assert "all 4 checks passed" in report.summary()
    assert github.requests_seen == [
        ("GET", "/repos/faasr-owner/faasr-actions"),
        ("GET", "/repos/faasr-owner/faasr-actions/actions/workflows/TriggerWF-start.yml"),
        ("GET", "/repos/faasr-owner/faasr-actions/actions/workflows/TriggerWF-finish.yml"),
    ]
    assert github.dispatches == []
    assert [r["status"] for r in report.rows()] == ["ok"] * 4


def test_every_problem_is_listed_in_one_error(moto: MotoServer, github: FakeGitHub) -> None:
    stores = {
        "S3": store(moto),
        "Gone": store(moto, bucket="no-such-bucket"),
        "Down": {"Endpoint": f"http://127.0.0.1:{closed_port()}", "Bucket": "b", "Region": "us-east-1"},
        "NoKeys": store(moto),
    }
    wf = workflow(GITHUB_SERVER, stores=stores)
    wrong_token = "ghp_WRONGwrongWRONG000000000000000000"
    env = BlockEnvironment.from_blocks(
        wf,
        name="broken-env",
        data_stores={"S3": s3_keys(), "Gone": s3_keys(), "Down": s3_keys()},
        compute_servers={"Entry": gh_block(github, wrong_token)},
    )

    with pytest.raises(PreflightError) as exc:
        preflight(wf, env)

    error = exc.value
    assert isinstance(error, FaaSrUserError)
    assert [p.path for p in error.problems] == [
        "$.DataStores.Gone",
        "$.DataStores.Down",
        "$.DataStores.NoKeys",
        "$.ComputeServers.Entry",
    ]
    message = str(error)
    assert "found 4 problems; nothing was triggered" in message
    assert "bucket 'no-such-bucket' at" in message and "no such bucket (404)" in message
    assert "endpoint unreachable" in message
    assert "environment 'broken-env' has no credentials for DataStore 'NoKeys'" in message
    assert "GitHub rejected" in message and "401" in message
    for secret in (wrong_token, GITHUB_TOKEN, S3_SECRET):
        assert secret not in message
    assert error.report.checks[0].status == "ok"  # the good store was checked too
    assert github.requests_seen == [("GET", "/repos/faasr-owner/faasr-actions")], (
        "no per-action checks after 401"
    )


def test_s3_access_denied_for_wrong_keys_and_missing_permission(moto_iam: tuple[MotoServer, IamKeys]) -> None:
    moto, keys = moto_iam
    stores = {
        "Allowed": store(moto, bucket="faasr-private"),
        "WrongSecret": store(moto, bucket="faasr-private"),
        "NoPolicy": store(moto, bucket="faasr-private"),
    }
    wf = workflow(GITHUB_SERVER | {"UseSecretStore": True}, stores=stores)
    env = BlockEnvironment.from_blocks(
        wf,
        name="iam-env",
        data_stores={
            "Allowed": s3_keys(*keys.allowed),
            "WrongSecret": s3_keys(keys.allowed[0], "not-the-secret"),
            "NoPolicy": MinIOCredentials(minio_root_user=keys.denied[0], minio_root_password=keys.denied[1]),
        },
    )
    with pytest.raises(PreflightError) as exc:
        preflight(wf, env)
    checks = {c.subject: c for c in exc.value.report.checks}
    assert checks["DataStore 'Allowed'"].status == "ok"
    for name in ("WrongSecret", "NoPolicy"):
        check = checks[f"DataStore {name!r}"]
        assert check.status == "problem"
        assert "access denied (403)" in check.message
        assert f"the S3 keys for DataStore {name!r} in environment 'iam-env'" in check.message
    assert keys.allowed[1] not in str(exc.value) and keys.denied[1] not in str(exc.value)


def test_anonymous_store_needs_no_keys(moto: MotoServer) -> None:
    wf = workflow(lambda_server(), stores={"Public": store(moto, Anonymous="TRUE")})
    moto.set_lambda_docker(False)
    create_lambda_function(moto, "TriggerWF-start")
    create_lambda_function(moto, "TriggerWF-finish")
    lambda_keys = AwsCredentials(
        aws_access_key_id="AKIAFAASRLAMBDA00002",
        aws_secret_access_key="x",
        aws_client_parameters=AwsClientParameters(endpoint_url=moto.url),
    )
    report = run(wf, compute_servers={"Entry": lambda_keys})
    assert [(c.subject, c.status) for c in report.checks] == [
        ("DataStore 'Public'", "ok"),
        ("action 'start'", "ok"),
        ("action 'finish'", "ok"),
    ]
    assert report.checks[1].message == "Lambda function TriggerWF-start exists"


def test_missing_lambda_function(moto: MotoServer) -> None:
    moto.set_lambda_docker(False)
    create_lambda_function(moto, "HalfWF-start")
    wf = workflow(lambda_server(), name="HalfWF", stores={"S3": store(moto)})
    lambda_keys = AwsCredentials(
        aws_access_key_id="AKIAFAASRLAMBDA00003",
        aws_secret_access_key="x",
        aws_client_parameters=AwsClientParameters(endpoint_url=moto.url),
    )
    with pytest.raises(PreflightError) as exc:
        run(wf, data_stores={"S3": s3_keys()}, compute_servers={"Entry": lambda_keys})
    assert [p.path for p in exc.value.problems] == ["$.ActionList.finish"]
    assert "no Lambda function HalfWF-finish in region us-east-1" in str(exc.value)


def test_unregistered_github_workflow_file(moto: MotoServer, github: FakeGitHub) -> None:
    del github.workflows["faasr-owner/faasr-actions"]["TriggerWF-finish.yml"]
    wf = workflow(GITHUB_SERVER, stores={"S3": store(moto)})
    with pytest.raises(PreflightError) as exc:
        run(wf, data_stores={"S3": s3_keys()}, compute_servers={"Entry": gh_block(github)})
    assert [p.path for p in exc.value.problems] == ["$.ActionList.finish"]
    assert "no workflow TriggerWF-finish.yml in faasr-owner/faasr-actions (404)" in str(exc.value)


def test_unknown_github_repository(moto: MotoServer, github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER | {"ActionRepoName": "typo-repo"}, stores={"S3": store(moto)})
    with pytest.raises(PreflightError, match=r"repository faasr-owner/typo-repo not found \(404\)"):
        run(wf, data_stores={"S3": s3_keys()}, compute_servers={"Entry": gh_block(github)})


def test_openwhisk_actions_and_keys(moto: MotoServer, openwhisk: FakeOpenWhisk) -> None:
    openwhisk.actions.discard("TriggerWF-finish")
    wf = workflow(openwhisk_server(openwhisk.endpoint), stores={"S3": store(moto)})
    good = FaaSrOpenWhiskCredentials(api_key=OPENWHISK_KEY)
    with pytest.raises(PreflightError) as exc:
        run(wf, data_stores={"S3": s3_keys()}, compute_servers={"Entry": good})
    assert [(c.path, c.status) for c in exc.value.report.checks[1:]] == [
        ("$.ActionList.start", "ok"),
        ("$.ActionList.finish", "problem"),
    ]
    assert "no action TriggerWF-finish in namespace 'guest'" in str(exc.value)

    bad = FaaSrOpenWhiskCredentials(api_key="23bc46b1-71f6-4ed5-8c54-816aa4f8c502:notTheKey")
    with pytest.raises(PreflightError) as exc:
        run(wf, data_stores={"S3": s3_keys()}, compute_servers={"Entry": bad})
    assert len(exc.value.problems) == 1, "a rejected key is reported once, not once per action"
    assert "401 The supplied authentication is invalid." in str(exc.value)
    assert "notTheKey" not in str(exc.value)


def test_entry_problems_and_servers_without_credentials(moto: MotoServer, github: FakeGitHub) -> None:
    wf = workflow(
        GITHUB_SERVER | {"UseSecretStore": False},
        stores={"S3": store(moto)},
        second_server=openwhisk_server("https://openwhisk.example.org"),
    )
    with pytest.raises(PreflightError) as exc:
        run(wf, data_stores={"S3": s3_keys()})
    problems = {p.path: p.message for p in exc.value.problems}
    assert set(problems) == {"$.ComputeServers.Entry.UseSecretStore", "$.ComputeServers.Entry"}
    assert "the entry action needs credentials" in problems["$.ComputeServers.Entry"]
    skipped = [c for c in exc.value.report.checks if c.status == "skipped"]
    assert [c.path for c in skipped] == ["$.ComputeServers.Next"]
    assert "FaaSr starts these actions itself" in skipped[0].message


def test_unsupported_entry_faas_type(moto: MotoServer) -> None:
    wf = workflow(
        {"FaaSType": "Kubernetes", "Endpoint": "https://k8s", "UseSecretStore": True},
        stores={"S3": store(moto)},
    )
    with pytest.raises(PreflightError) as exc:
        run(wf, data_stores={"S3": s3_keys()})
    assert [p.path for p in exc.value.problems] == ["$.ComputeServers.Entry.FaaSType"]
    assert "FaaSType Kubernetes is not supported yet" in str(exc.value)
