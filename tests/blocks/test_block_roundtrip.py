"""Save/load against a real Prefect API, and what the API, reprs and dumps show of the secrets."""

from __future__ import annotations

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from pydantic import SecretStr, ValidationError

from prefect_faasr.blocks import FaaSrEnvironment, FaaSrGitHubCredentials, FaaSrOpenWhiskCredentials

pytestmark = pytest.mark.integration  # the Prefect API


TOKEN = "ghp_roundTRIPtoken0123456789abcdefABCD"
OW_KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:roundTRIPowSECRET"


def api_data(name: str, slug: str, include_secrets: bool) -> dict:
    with get_client(sync_client=True) as client:
        return client.read_block_document_by_name(name, slug, include_secrets=include_secrets).data


def test_github_credentials_round_trip_and_redaction() -> None:
    FaaSrGitHubCredentials(token=TOKEN, api_url="https://ghe.example.com/api/v3").save(
        "gh-rt", overwrite=True
    )

    loaded = FaaSrGitHubCredentials.load("gh-rt")
    assert loaded.token.get_secret_value() == TOKEN
    assert loaded.api_url == "https://ghe.example.com/api/v3"
    generic = Block.load("faasr-github-credentials/gh-rt")
    assert isinstance(generic, FaaSrGitHubCredentials)

    for text in (repr(loaded), str(loaded), str(loaded.model_dump()), loaded.model_dump_json()):
        assert TOKEN not in text
    assert api_data("gh-rt", "faasr-github-credentials", include_secrets=False)["token"] == "********"
    assert api_data("gh-rt", "faasr-github-credentials", include_secrets=True)["token"] == TOKEN


def test_github_auth_names_the_block_and_keeps_the_secret_secret() -> None:
    FaaSrGitHubCredentials(token=TOKEN).save("gh-auth", overwrite=True)
    auth = FaaSrGitHubCredentials.load("gh-auth").to_auth()
    assert auth.source == "block faasr-github-credentials/gh-auth"
    assert auth.api_url == "https://api.github.com"
    assert auth.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(auth)


def test_openwhisk_credentials_round_trip_and_redaction() -> None:
    FaaSrOpenWhiskCredentials(api_key=OW_KEY).save("ow-rt", overwrite=True)
    loaded = FaaSrOpenWhiskCredentials.load("ow-rt")
    assert loaded.api_key.get_secret_value() == OW_KEY
    assert loaded.to_auth().basic_auth() == tuple(OW_KEY.split(":"))
    assert OW_KEY not in repr(loaded) and OW_KEY.split(":")[1] not in str(loaded.model_dump())
    assert api_data("ow-rt", "faasr-openwhisk-credentials", include_secrets=False)["api_key"] == "********"


def test_environment_round_trip_holds_only_references() -> None:
    env = FaaSrEnvironment(
        description="nightly on GitHub",
        data_stores={"My_S3": "minio-credentials/osn"},
        compute_servers={"My_GitHub": "faasr-github-credentials/bot"},
    )
    env.save("env-rt", overwrite=True)
    loaded = FaaSrEnvironment.load("env-rt")
    assert loaded.data_stores == {"My_S3": "minio-credentials/osn"}
    assert loaded.compute_servers == {"My_GitHub": "faasr-github-credentials/bot"}
    assert loaded.description == "nightly on GitHub"
    schema = FaaSrEnvironment.model_json_schema()
    assert schema["secret_fields"] == []
    assert schema["block_schema_references"] == {}


def test_environment_rejects_values_that_are_not_block_references() -> None:
    with pytest.raises(ValidationError, match="is not a block reference"):
        FaaSrEnvironment(data_stores={"S3": "just-a-name"})
    with pytest.raises(ValidationError, match="is not a block reference"):
        FaaSrEnvironment(compute_servers={"GH": "Faasr-GitHub/x"})


def test_secret_fields_are_secretstr() -> None:
    assert FaaSrGitHubCredentials.model_fields["token"].annotation is SecretStr
    assert FaaSrOpenWhiskCredentials.model_fields["api_key"].annotation is SecretStr
    assert FaaSrGitHubCredentials.model_json_schema()["secret_fields"] == ["token"]
