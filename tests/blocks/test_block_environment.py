"""BlockEnvironment: a saved FaaSrEnvironment resolved for a workflow, used against moto and stand-ins."""

from __future__ import annotations

import json

import pytest
from prefect_aws import AwsCredentials, MinIOCredentials
from prefect_aws.client_parameters import AwsClientParameters
from pytest_httpserver import HTTPServer
from triggers.standins import (
    GITHUB_SERVER,
    GITHUB_TOKEN,
    FakeGitHub,
    MotoServer,
    create_lambda_function,
    lambda_server,
    workflow,
)

from prefect_faasr.blocks import FaaSrEnvironment, FaaSrGitHubCredentials, FaaSrOpenWhiskCredentials
from prefect_faasr.environment import (
    BlockEnvironment,
    CredentialsError,
    Environment,
    EnvironmentNotFoundError,
)
from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.triggers import GitHubAuth, LambdaAuth

pytestmark = pytest.mark.integration  # the Prefect API and a moto server

S3_KEY, S3_SECRET = "AKIAFAASRS3KEY000001", "faasrS3secret/abcdefghijklmnopqrstuvwxyz01"
MINIO_USER, MINIO_PASSWORD = "faasr-minio-user", "faasrMinioPassword0123456789"


def stores(moto: MotoServer) -> dict:
    return {
        "S3": {"Endpoint": moto.url, "Bucket": "faasr-env-a", "Region": "us-east-1"},
        "Minio": {"Endpoint": moto.url, "Bucket": "faasr-env-b", "Region": ""},
        "Public": {
            "Endpoint": moto.url,
            "Bucket": "faasr-env-public",
            "Region": "us-east-1",
            "Anonymous": "TRUE",
        },
    }


@pytest.fixture(scope="module")
def saved_blocks(moto: MotoServer) -> None:
    AwsCredentials(aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET).save("env-s3", overwrite=True)
    MinIOCredentials(minio_root_user=MINIO_USER, minio_root_password=MINIO_PASSWORD).save(
        "env-minio", overwrite=True
    )
    FaaSrGitHubCredentials(token=GITHUB_TOKEN).save("env-gh", overwrite=True)
    FaaSrOpenWhiskCredentials(api_key="u:p").save("env-ow", overwrite=True)
    AwsCredentials(
        aws_access_key_id="AKIAFAASRLAMBDA00001",
        aws_secret_access_key="lambdaSecret",
        aws_client_parameters=AwsClientParameters(endpoint_url=moto.url),
    ).save("env-lambda", overwrite=True)
    FaaSrEnvironment(
        description="GitHub + two S3 stores",
        data_stores={"S3": "aws-credentials/env-s3", "Minio": "minio-credentials/env-minio"},
        compute_servers={
            "Entry": "faasr-github-credentials/env-gh",
            "Unused": "faasr-github-credentials/absent",
        },
    ).save("env-github", overwrite=True)


def test_load_resolves_references_and_is_an_environment(saved_blocks: None, moto: MotoServer) -> None:
    wf = workflow(GITHUB_SERVER, stores=stores(moto))
    env = BlockEnvironment.load("env-github", wf)

    assert isinstance(env, Environment)
    assert env.name == "env-github"
    assert env.description == "GitHub + two S3 stores"
    assert env.bucket("Minio") == "faasr-env-b"
    auth = env.compute_auth("Entry")
    assert isinstance(auth, GitHubAuth)
    assert auth.token.get_secret_value() == GITHUB_TOKEN
    assert (
        auth.source
        == "block faasr-github-credentials/env-gh (ComputeServers 'Entry' of environment 'env-github')"
    )


def test_s3_clients_use_the_workflow_endpoint_and_the_block_keys(
    saved_blocks: None, moto: MotoServer
) -> None:
    wf = workflow(GITHUB_SERVER, stores=stores(moto))
    env = BlockEnvironment.load("env-github", wf)
    with moto.record() as seen:
        for store in ("S3", "Minio", "Public"):
            client = env.s3_client(store)
            client.create_bucket(Bucket=env.bucket(store))
            client.head_bucket(Bucket=env.bucket(store))
    auth = [e["headers"].get("Authorization", "") for e in seen]
    assert len(auth) == 6
    assert all(f"Credential={S3_KEY}/" in a for a in auth[0:2])
    assert all(f"Credential={MINIO_USER}/" in a for a in auth[2:4])
    assert auth[4:6] == ["", ""], "an Anonymous DataStore is reached unsigned, as FaaSr does"


def test_missing_and_wrong_credentials_are_reported_when_used(saved_blocks: None, moto: MotoServer) -> None:
    FaaSrEnvironment(
        data_stores={"S3": "aws-credentials/no-such-block", "Minio": "faasr-github-credentials/env-gh"},
        compute_servers={"Entry": "no-such-type/x"},
    ).save("env-broken", overwrite=True)
    wf = workflow(GITHUB_SERVER, stores=stores(moto))
    env = BlockEnvironment.load("env-broken", wf)

    with pytest.raises(CredentialsError) as exc:
        env.s3_client("S3")
    assert "names block 'aws-credentials/no-such-block' in data_stores" in str(exc.value)
    assert "no block 'no-such-block' of type 'aws-credentials'" in str(exc.value)
    assert "$.DataStores.S3" in str(exc.value)
    with pytest.raises(CredentialsError, match="is a faasr-github-credentials block; a DataStore needs"):
        env.s3_client("Minio")
    with pytest.raises(CredentialsError, match="no block 'x' of type 'no-such-type'"):
        env.compute_auth("Entry")
    assert isinstance(exc.value, FaaSrUserError)


def test_no_entry_for_a_store(moto: MotoServer) -> None:
    FaaSrEnvironment(compute_servers={}).save("env-empty", overwrite=True)
    env = BlockEnvironment.load("env-empty", workflow(GITHUB_SERVER, stores=stores(moto)))
    with pytest.raises(CredentialsError) as exc:
        env.s3_client("S3")
    assert "environment 'env-empty' has no credentials for DataStore 'S3'" in str(exc.value)
    assert "data_stores={'S3': '<block-type>/<block-name>'}" in str(exc.value)
    with pytest.raises(CredentialsError, match="no credentials for ComputeServer 'Entry'"):
        env.compute_auth("Entry")


def test_unknown_environment() -> None:
    with pytest.raises(EnvironmentNotFoundError, match="no FaaSrEnvironment block named 'never-saved'"):
        BlockEnvironment.load("never-saved", workflow(GITHUB_SERVER))


def test_trigger_entry_through_the_environment(
    saved_blocks: None, httpserver: HTTPServer, moto: MotoServer
) -> None:

    repo = "faasr-owner/faasr-actions"
    github = FakeGitHub(httpserver, workflows={repo: {"TriggerWF-start.yml": "active"}})
    FaaSrGitHubCredentials(token=GITHUB_TOKEN, api_url=github.url).save("env-gh-standin", overwrite=True)
    FaaSrEnvironment(compute_servers={"Entry": "faasr-github-credentials/env-gh-standin"}).save(
        "env-standin", overwrite=True
    )
    wf = workflow(GITHUB_SERVER, stores=stores(moto))
    invocation = wf.new_invocation()

    receipt = BlockEnvironment.load("env-standin", wf).trigger_entry(wf, invocation, "o/r/main/wf.json")

    assert receipt.status_code == 204
    (_, headers, body) = github.dispatches[0]
    assert headers["Authorization"] == f"token {GITHUB_TOKEN}"
    assert json.loads(body["inputs"]["OVERWRITTEN"])["InvocationID"] == invocation.invocation_id


def test_lambda_credentials_come_from_aws_credentials(saved_blocks: None, moto: MotoServer) -> None:
    moto.set_lambda_docker(False)
    create_lambda_function(moto, "TriggerWF-start")
    FaaSrEnvironment(compute_servers={"Entry": "aws-credentials/env-lambda"}).save(
        "env-lambda", overwrite=True
    )
    wf = workflow(lambda_server())
    env = BlockEnvironment.load("env-lambda", wf)
    auth = env.compute_auth("Entry")
    assert isinstance(auth, LambdaAuth) and auth.endpoint_url == moto.url

    with moto.record() as seen:
        receipt = env.trigger_entry(wf, wf.new_invocation(), "o/r/main/wf.json")

    assert receipt.status_code == 202
    invokes = [e for e in seen if e["url"].endswith("/functions/TriggerWF-start/invocations")]
    assert len(invokes) == 1
    assert "Credential=AKIAFAASRLAMBDA00001/" in invokes[0]["headers"]["Authorization"]


def test_from_blocks_needs_no_api(moto: MotoServer) -> None:
    wf = workflow(GITHUB_SERVER, stores=stores(moto))
    env = BlockEnvironment.from_blocks(
        wf,
        data_stores={"S3": MinIOCredentials(minio_root_user=MINIO_USER, minio_root_password=MINIO_PASSWORD)},
        compute_servers={"Entry": FaaSrOpenWhiskCredentials(api_key="u:p")},
        name="pytest",
    )
    env.s3_client("S3").list_buckets()
    with pytest.raises(
        CredentialsError, match="is a faasr-openwhisk-credentials block; a GitHubActions server needs"
    ):
        env.compute_auth("Entry")
    assert MINIO_PASSWORD not in repr(env)
