"""Local stand-ins for the services triggers talk to, shared by tests/triggers and tests/preflight.

`FakeGitHub` and `FakeOpenWhisk` run on pytest-httpserver, check every request the way the real service
does (auth, path, query, headers, body) and answer with the real services' status codes and JSON
error bodies. `MotoServer` is moto in server mode in a child process (real HTTP, a free port).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from prefect_faasr.workflow import FaaSrWorkflow

GITHUB_TOKEN = "ghp_standinTOKEN0123456789abcdefABCDEF"
OPENWHISK_KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:standinOWsecretKEY0123456789"
DOCS = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"


def github_error(status: int, message: str) -> Response:
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


@dataclass
class FakeGitHub:
    """The parts of the GitHub REST API FaaSr and preflight use, for one token and known repositories.

    `workflows` maps "owner/repo" to {workflow file: state}; `branches` maps "owner/repo" to branch names.
    Every dispatch that GitHub would accept is recorded in `dispatches` as (path, headers, body).
    """

    server: HTTPServer
    token: str = GITHUB_TOKEN
    workflows: dict[str, dict[str, str]] = field(default_factory=dict)
    branches: dict[str, set[str]] = field(default_factory=dict)
    dispatches: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    requests_seen: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(r"^/repos/.*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def handle(self, request: Request) -> Response:
        self.requests_seen.append((request.method, request.path))
        if request.headers.get("Authorization") != f"token {self.token}":
            return github_error(401, "Bad credentials")
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/actions/workflows/([^/]+?)(/dispatches)?)?", request.path)
        if not m or f"{m[1]}/{m[2]}" not in self.workflows:
            return github_error(404, "Not Found")
        repo, wf_file, dispatch = f"{m[1]}/{m[2]}", m[4], m[5]
        if wf_file is None:
            if request.method != "GET":
                return github_error(404, "Not Found")
            return Response(
                json.dumps({"full_name": repo, "private": True}), 200, content_type="application/json"
            )
        state = self.workflows[repo].get(wf_file)
        if state is None:
            return github_error(404, "Not Found")
        if not dispatch:
            body = {
                "id": 161335,
                "name": wf_file[:-4],
                "path": f".github/workflows/{wf_file}",
                "state": state,
            }
            return Response(json.dumps(body), 200, content_type="application/json")
        if request.method != "POST":
            return github_error(404, "Not Found")
        if request.headers.get("Accept") != "application/vnd.github.v3+json":
            return github_error(415, "Unsupported 'Accept' header")
        if request.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return github_error(400, "Unsupported API version")
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return github_error(400, "Problems parsing JSON")
        if not isinstance(body.get("ref"), str):
            return github_error(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        if body["ref"] not in self.branches.get(repo, {"main"}):
            return github_error(422, f"No ref found for: {body['ref']}")
        inputs = body.get("inputs", {})
        unexpected = sorted(set(inputs) - {"OVERWRITTEN", "PAYLOAD_URL"})
        if unexpected:
            return github_error(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
        if state != "active":
            return github_error(422, "Cannot trigger a 'workflow_dispatch' on a disabled workflow")
        self.dispatches.append((request.path, dict(request.headers), body))
        return Response("", status=204)


@dataclass
class FakeOpenWhisk:
    """OpenWhisk's REST API for one namespace: POST (non-blocking) and GET of known actions."""

    server: HTTPServer
    namespace: str = "guest"
    api_key: str = OPENWHISK_KEY
    actions: set[str] = field(default_factory=set)
    invocations: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(r"^/api/v1/.*")).respond_with_handler(self.handle)

    @property
    def endpoint(self) -> str:
        return self.server.url_for("").rstrip("/")

    @staticmethod
    def error(status: int, message: str) -> Response:
        body = {"error": message, "code": uuid.uuid4().hex}
        return Response(json.dumps(body), status=status, content_type="application/json")

    def handle(self, request: Request) -> Response:
        user, _, password = self.api_key.partition(":")
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self.error(401, "The supplied authentication is invalid.")
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/actions/([^/]+)", request.path)
        if not m:
            return self.error(404, "The requested resource does not exist.")
        if m[1] not in (self.namespace, "_"):
            return self.error(403, "The supplied authentication is not authorized to access 'other'.")
        if m[2] not in self.actions:
            return self.error(404, "The requested resource does not exist.")
        if request.method == "GET":
            body = {
                "namespace": self.namespace,
                "name": m[2],
                "version": "0.0.1",
                "exec": {"kind": "blackbox"},
            }
            return Response(json.dumps(body), 200, content_type="application/json")
        if request.method != "POST":
            return self.error(405, "Method not allowed.")
        if request.content_type != "application/json":
            return self.error(415, "The request content type is not supported.")
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return self.error(400, "The request content was malformed.")
        self.invocations.append((request.full_path, dict(request.headers), body))
        if request.args.get("blocking") == "true":
            return Response(json.dumps({"activationId": uuid.uuid4().hex, "response": {}}), 200)
        return Response(json.dumps({"activationId": uuid.uuid4().hex}), 202, content_type="application/json")


class MotoServer:
    """moto in server mode in a child process on a free port (it reports the port it bound)."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.recording = workdir / "moto-recording.jsonl"
        log = workdir / "moto.log"
        child_env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(self.recording), **(env or {})}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=child_env,
            )
        deadline = time.monotonic() + 60
        while True:
            m = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if m:
                self.url = m[1]
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self, service: str, key: str = "testing", secret: str = "testing", region: str = "us-east-1"):
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def set_lambda_docker(self, use_docker: bool) -> None:
        """moto 5 runs Lambda without Docker when its config says so (settable over HTTP in server mode)."""
        r = requests.post(
            f"{self.url}/moto-api/config", json={"lambda": {"use_docker": use_docker}}, timeout=10
        )
        r.raise_for_status()
        assert r.json()["lambda"]["use_docker"] is use_docker

    @contextmanager
    def record(self) -> Iterator[list[dict[str, Any]]]:
        """Record the requests moto receives inside the block; the list is filled on exit."""
        requests.post(f"{self.url}/moto-api/recorder/reset-recording", timeout=10).raise_for_status()
        requests.post(f"{self.url}/moto-api/recorder/start-recording", timeout=10).raise_for_status()
        seen: list[dict[str, Any]] = []
        try:
            yield seen
        finally:
            requests.post(f"{self.url}/moto-api/recorder/stop-recording", timeout=10).raise_for_status()
            text = requests.get(f"{self.url}/moto-api/recorder/download-recording", timeout=10).text
            for line in text.splitlines():
                entry = json.loads(line)
                if entry.get("body_encoded"):
                    entry["body"] = base64.b64decode(entry["body"])
                seen.append(entry)


def create_lambda_function(moto: MotoServer, name: str, region: str = "us-east-1", **keys: str) -> str:
    """Create a Lambda function in moto (any zip: without Docker moto never runs it); returns its ARN."""
    import io
    import zipfile

    iam = moto.client("iam", **keys)
    try:
        role = iam.get_role(RoleName="faasr-lambda")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="faasr-lambda", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    lam = moto.client("lambda", region=region, **keys)
    fn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return fn["FunctionArn"]


def workflow(
    server: dict[str, Any],
    *,
    name: str = "TriggerWF",
    stores: dict[str, dict[str, Any]] | None = None,
    second_server: dict[str, Any] | None = None,
) -> FaaSrWorkflow:
    """A valid two-action workflow `start -> finish`; `finish` runs on `second_server` when given."""
    stores = stores or {
        "S3": {"Endpoint": "http://127.0.0.1:9", "Bucket": "faasr-bucket", "Region": "us-east-1"}
    }
    servers = {"Entry": server}
    if second_server is not None:
        servers["Next"] = second_server
    raw = {
        "WorkflowName": name,
        "FunctionInvoke": "start",
        "DefaultDataStore": next(iter(stores)),
        "LoggingDataStore": next(iter(stores)),
        "FaaSrLog": "FaaSrLog",
        "ComputeServers": servers,
        "DataStores": stores,
        "ActionList": {
            "start": {
                "FaaSServer": "Entry",
                "Type": "Python",
                "FunctionName": "f_start",
                "InvokeNext": ["finish"],
            },
            "finish": {
                "FaaSServer": "Next" if second_server is not None else "Entry",
                "Type": "Python",
                "FunctionName": "f_finish",
                "InvokeNext": [],
            },
        },
        "FunctionGitRepo": {"f_start": "owner/functions", "f_finish": "owner/functions"},
        "ActionContainers": {"start": "ghcr.io/faasr/github-actions-python:latest"},
    }
    return FaaSrWorkflow.parse(raw)


GITHUB_SERVER = {
    "FaaSType": "GitHubActions",
    "UserName": "faasr-owner",
    "ActionRepoName": "faasr-actions",
    "Branch": "main",
    "UseSecretStore": True,
}


def openwhisk_server(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "FaaSType": "OpenWhisk",
        "Endpoint": endpoint,
        "Namespace": "guest",
        "UseSecretStore": True,
        **extra,
    }


def lambda_server(region: str = "us-east-1", **extra: Any) -> dict[str, Any]:
    return {"FaaSType": "Lambda", "Region": region, "UseSecretStore": True, **extra}


def closed_port() -> int:
    """A port nothing listens on (bound, then released): connections to it are refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class IamKeys:
    allowed: tuple[str, str]
    denied: tuple[str, str]


def moto_with_iam(workdir: Path, buckets: tuple[str, ...]) -> tuple[MotoServer, IamKeys]:
    """A moto server that checks signatures and IAM policies (as AWS does) once it is set up.

    moto serves INITIAL_NO_AUTH_ACTION_COUNT requests unauthenticated; the setup (users, keys, buckets)
    uses some, then requests with an unknown key use up the rest until moto starts refusing them.
    """
    from botocore.exceptions import ClientError

    server = MotoServer(workdir, env={"INITIAL_NO_AUTH_ACTION_COUNT": "50"})
    iam = server.client("iam")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    keys = []
    for user in ("faasr-allowed", "faasr-denied"):
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys.append((key["AccessKeyId"], key["SecretAccessKey"]))
    iam.put_user_policy(UserName="faasr-allowed", PolicyName="s3", PolicyDocument=json.dumps(policy))
    s3 = server.client("s3")
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    unknown = server.client("s3", key="AKIAFAASRUNKNOWN0000", secret="unknown")
    for _ in range(60):
        try:
            unknown.list_buckets()
        except ClientError:
            return server, IamKeys(keys[0], keys[1])
    server.stop()
    raise RuntimeError("moto never started to check credentials")
