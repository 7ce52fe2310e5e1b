"""GitHub Actions trigger against a stand-in that checks requests the way GitHub does."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.triggers import GitHubAuth, OpenWhiskAuth, TriggerError, trigger_entry
from prefect_faasr.triggers import github as gh
from triggers.standins import GITHUB_SERVER, GITHUB_TOKEN, FakeGitHub, closed_port, workflow

PAYLOAD_URL = "faasr-owner/faasr-actions/main/tests/TriggerWF.json"


def auth(github: FakeGitHub, token: str = GITHUB_TOKEN) -> GitHubAuth:
    return GitHubAuth(token=SecretStr(token), api_url=github.url, source="block faasr-github-credentials/ci")


def test_dispatch_sends_exactly_what_faasr_sends(github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER)
    invocation = wf.new_invocation()

    receipt = trigger_entry(wf, invocation, PAYLOAD_URL, auth(github))

    assert len(github.dispatches) == 1
    path, headers, body = github.dispatches[0]
    assert path == "/repos/faasr-owner/faasr-actions/actions/workflows/TriggerWF-start.yml/dispatches"
    assert headers["Authorization"] == f"token {GITHUB_TOKEN}"
    assert headers["Accept"] == "application/vnd.github.v3+json"
    assert headers["X-Github-Api-Version"] == "2022-11-28"
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"ref", "inputs"}
    assert body["ref"] == "main"
    assert set(body["inputs"]) == {"OVERWRITTEN", "PAYLOAD_URL"}
    assert body["inputs"]["PAYLOAD_URL"] == PAYLOAD_URL
    overwritten = body["inputs"]["OVERWRITTEN"]
    assert isinstance(overwritten, str), "GitHub inputs are strings: OVERWRITTEN must be JSON text"
    assert json.loads(overwritten) == {
        "FunctionInvoke": "start",
        "InvocationID": invocation.invocation_id,
        "InvocationTimestamp": invocation.timestamp,
    }
    assert receipt.faas_type == "GitHubActions"
    assert receipt.status_code == 204
    assert receipt.target == "TriggerWF-start.yml"
    assert receipt.url == f"{github.url}{path}"


def test_api_url_with_trailing_slash(github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER)
    a = GitHubAuth(token=SecretStr(GITHUB_TOKEN), api_url=github.url + "/")
    trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, a)
    assert github.dispatches[0][0].startswith("/repos/faasr-owner/")


def test_bad_token_says_check_the_token_and_hides_it(github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER)
    wrong = "ghp_WRONGtoken000000000000000000000000"
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(github, wrong))
    message = str(exc.value)
    assert "401" in message and "Bad credentials" in message
    assert "block faasr-github-credentials/ci" in message
    assert "entry action 'start' on ComputeServers 'Entry'" in message
    assert wrong not in message and GITHUB_TOKEN not in message
    assert github.dispatches == []


def test_unknown_repository_names_repo_workflow_and_branch(github: FakeGitHub) -> None:
    wf = workflow({**GITHUB_SERVER, "ActionRepoName": "no-such-repo"})
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(github))
    message = str(exc.value)
    assert "404" in message
    assert "faasr-owner/no-such-repo" in message
    assert "TriggerWF-start.yml" in message
    assert "'main'" in message
    assert "UserName and ActionRepoName" in message


def test_unregistered_workflow_file(github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER, name="OtherWF")
    with pytest.raises(
        TriggerError, match=r"no workflow OtherWF-start\.yml in faasr-owner/faasr-actions \(404\)"
    ):
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(github))


def test_unknown_branch_includes_githubs_message(github: FakeGitHub) -> None:
    wf = workflow({**GITHUB_SERVER, "Branch": "dev"})
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(github))
    assert "422 No ref found for: dev" in str(exc.value)
    assert "branch 'dev'" in str(exc.value)


def test_disabled_workflow_422(github: FakeGitHub) -> None:
    github.workflows["faasr-owner/faasr-actions"]["TriggerWF-start.yml"] = "disabled_manually"
    wf = workflow(GITHUB_SERVER)
    with pytest.raises(TriggerError, match="422 Cannot trigger a 'workflow_dispatch' on a disabled workflow"):
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(github))


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (403, "Resource not accessible by personal access token", "'workflow' scope"),
        (500, "Server Error", "GitHub answered HTTP 500"),
        (503, "Service Unavailable", "GitHub answered HTTP 503"),
    ],
)
def test_other_answers_carry_githubs_message(httpserver, status: int, message: str, expected: str) -> None:
    path = "/repos/faasr-owner/faasr-actions/actions/workflows/TriggerWF-start.yml/dispatches"
    httpserver.expect_request(path, method="POST").respond_with_json(
        {"message": message, "documentation_url": "https://docs.github.com/rest"}, status=status
    )
    wf = workflow(GITHUB_SERVER)
    a = GitHubAuth(token=SecretStr(GITHUB_TOKEN), api_url=httpserver.url_for("").rstrip("/"))
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, a)
    assert message in str(exc.value) and expected in str(exc.value)
    assert GITHUB_TOKEN not in str(exc.value)


def test_unreachable_api() -> None:
    wf = workflow(GITHUB_SERVER)
    url = f"http://127.0.0.1:{closed_port()}"
    a = GitHubAuth(token=SecretStr(GITHUB_TOKEN), api_url=url)
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, a)
    assert f"cannot reach the GitHub API at {url}" in str(exc.value)
    assert "refused" in str(exc.value).lower()


def test_entry_server_must_use_secret_store(github: FakeGitHub) -> None:
    wf = workflow({**GITHUB_SERVER, "UseSecretStore": False})
    with pytest.raises(TriggerError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, auth(github))
    assert "$.ComputeServers.Entry.UseSecretStore" in str(exc.value)
    assert '"UseSecretStore": true' in str(exc.value)
    assert github.requests_seen == []


def test_credentials_of_the_wrong_kind(github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER)
    with pytest.raises(TriggerError, match="needs GitHubAuth"):
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, OpenWhiskAuth(api_key=SecretStr("u:p")))
    assert github.requests_seen == []


def test_empty_payload_url_is_refused(github: FakeGitHub) -> None:
    wf = workflow(GITHUB_SERVER)
    with pytest.raises(TriggerError, match="payload_url is empty"):
        trigger_entry(wf, wf.new_invocation(), " ", auth(github))


@pytest.mark.parametrize(
    "server",
    [
        {
            "FaaSType": "GoogleCloud",
            "Namespace": "p",
            "ClientEmail": "a@b.c",
            "TokenUri": "https://t",
            "Region": "r",
        },
        {
            "FaaSType": "SLURM",
            "Endpoint": "http://slurm",
            "UserName": "u",
            "APIVersion": "v0.0.37",
            "Partition": "p",
        },
        {"FaaSType": "Kubernetes", "Endpoint": "https://k8s"},
    ],
    ids=["GoogleCloud", "SLURM", "Kubernetes"],
)
def test_other_faas_types_are_not_supported_yet(server: dict) -> None:
    from prefect_faasr.triggers import UnsupportedFaaSTypeError

    wf = workflow({**server, "UseSecretStore": True})
    with pytest.raises(UnsupportedFaaSTypeError) as exc:
        trigger_entry(wf, wf.new_invocation(), PAYLOAD_URL, GitHubAuth(token=SecretStr("x")))
    assert isinstance(exc.value, FaaSrUserError)
    assert f"FaaSType {server['FaaSType']} is not supported yet" in str(exc.value)
    assert "$.ComputeServers.Entry.FaaSType" in str(exc.value)


def test_auth_repr_hides_the_token() -> None:
    a = GitHubAuth(token=SecretStr(GITHUB_TOKEN))
    assert GITHUB_TOKEN not in repr(a) and GITHUB_TOKEN not in str(a)


def test_check_repository_and_workflow_file(github: FakeGitHub) -> None:
    a = auth(github)
    repo = {"owner": "faasr-owner", "repo": "faasr-actions"}
    assert gh.check_repository(auth=a, **repo) is None
    missing = gh.check_repository(auth=a, owner="faasr-owner", repo="nope")
    assert missing is not None and missing.server_wide
    assert "faasr-owner/nope not found (404)" in missing.message
    bad = gh.check_repository(auth=auth(github, "ghp_bad"), **repo)
    assert bad is not None and "401" in bad.message and "ghp_bad" not in bad.message
    assert gh.check_workflow_file(auth=a, workflow_file="TriggerWF-start.yml", **repo) is None
    gone = gh.check_workflow_file(auth=a, workflow_file="X-y.yml", **repo)
    assert gone is not None and "no workflow X-y.yml" in gone.message and not gone.server_wide
    github.workflows["faasr-owner/faasr-actions"]["TriggerWF-finish.yml"] = "disabled_inactivity"
    off = gh.check_workflow_file(auth=a, workflow_file="TriggerWF-finish.yml", **repo)
    assert off is not None and "is disabled_inactivity" in off.message
    assert (
        "GET",
        "/repos/faasr-owner/faasr-actions/actions/workflows/TriggerWF-start.yml",
    ) in github.requests_seen
