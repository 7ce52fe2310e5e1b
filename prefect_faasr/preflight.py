"""Preflight: before triggering, check that every credential and bucket the workflow names is reachable.

Checks (each problem is collected; one `PreflightError` lists them all):
- the entry action can be started here (supported FaaSType, `UseSecretStore: true`);
- every DataStore: `head_bucket` with its credentials (wrong keys, no bucket, endpoint unreachable);
- the entry's ComputeServer credentials, and through them the deployment of every action on that server
  (GitHub: the repository, then `.github/workflows/{WF}-{A}.yml`; OpenWhisk: the action; Lambda: the
  function). Other servers are checked the same way when the environment has credentials for them;
  without credentials they are skipped, since FaaSr starts those actions with its own secret store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from prefect_faasr.environment import CredentialsError, Environment
from prefect_faasr.errors import FaaSrUserError, Problem
from prefect_faasr.names import json_path
from prefect_faasr.triggers import (
    SUPPORTED_FAAS_TYPES,
    Finding,
    GitHubAuth,
    LambdaAuth,
    OpenWhiskAuth,
    deployed_name,
    entry_problems,
    github,
    lambda_,
    openwhisk,
)
from prefect_faasr.triggers.transport import session_scope
from prefect_faasr.workflow import FaaSrWorkflow

if TYPE_CHECKING:
    import requests

Status = Literal["ok", "problem", "skipped"]


@dataclass(frozen=True)
class Check:
    """One thing preflight looked at (a bucket, a server's credentials, an action's deployment)."""

    path: str
    subject: str
    status: Status
    message: str

    def __str__(self) -> str:
        return f"{self.status:<8} {self.subject}: {self.message}"


@dataclass(frozen=True)
class PreflightReport:
    """Every check of one preflight, in order; `problems` is empty when the run may start."""

    workflow: str
    environment: str
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "problem")

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """Text for logs and a markdown artifact: a headline, then one line per check."""
        n = len(self.problems)
        head = f"preflight of workflow {self.workflow!r} in environment {self.environment!r}: " + (
            f"{n} problem{'s' if n != 1 else ''}" if n else f"all {len(self.checks)} checks passed"
        )
        return "\n".join([head, *(f"  {c}" for c in self.checks)])

    def rows(self) -> list[dict[str, str]]:
        """Rows for a Prefect table artifact."""
        return [
            {"status": c.status, "what": c.subject, "where": c.path, "message": c.message}
            for c in self.checks
        ]


class PreflightError(FaaSrUserError):
    """Preflight found problems; the message lists every one with its JSON path and what to check."""

    def __init__(self, report: PreflightReport) -> None:
        self.report = report
        self.problems = [Problem(c.path, f"{c.subject}: {c.message}") for c in report.problems]
        n = len(self.problems)
        head = (
            f"preflight of workflow {report.workflow!r} in environment {report.environment!r} found "
            f"{n} problem{'s' if n != 1 else ''}; nothing was triggered"
        )
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


def preflight(
    workflow: FaaSrWorkflow,
    environment: Environment,
    *,
    session: requests.Session | None = None,
) -> PreflightReport:
    """Check every DataStore and the compute credentials of `workflow` in `environment`.

    Returns the report when everything is reachable; raises `PreflightError` (listing every problem,
    never a secret) otherwise. `session` is the HTTP session for GitHub/OpenWhisk (a new one if None).
    """
    checks: list[Check] = [
        Check(p.path, "entry action", "problem", p.message) for p in entry_problems(workflow)
    ]
    checks.extend(_store_check(workflow, environment, store) for store in workflow.raw["DataStores"])
    with session_scope(session) as http:
        for server_name in _servers_in_use(workflow):
            checks.extend(_server_checks(workflow, environment, server_name, http))
    report = PreflightReport(workflow.name, environment.name, tuple(checks))
    if not report.ok:
        raise PreflightError(report)
    return report


# ---- DataStores -------------------------------------------------------------------------------------


def _store_check(workflow: FaaSrWorkflow, environment: Environment, store: str) -> Check:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    spec = workflow.data_store(store)
    path, subject = json_path("DataStores", store), f"DataStore {store!r}"
    where = f"bucket {spec['Bucket']!r} at {spec.get('Endpoint') or 'AWS S3'}"
    try:
        client = environment.s3_client(store)
        client.head_bucket(Bucket=environment.bucket(store))
    except CredentialsError as exc:
        return Check(path, subject, "problem", exc.detail)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code", "?")
        keys = f"the S3 keys for DataStore {store!r} in environment {environment.name!r}"
        if status == 403:
            text = f"{where}: access denied (403): {keys} are wrong or may not read this bucket"
        elif status == 404:
            bucket_path = json_path("DataStores", store, "Bucket")
            text = f"{where}: no such bucket (404): create it, or correct {bucket_path}"
        elif status in (301, 400) or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
            text = f"{where}: HTTP {status} {code}: is {json_path('DataStores', store, 'Region')} right?"
        else:
            text = f"{where}: HTTP {status} {code}"
        return Check(path, subject, "problem", text)
    except NoCredentialsError:
        text = f"{where}: no S3 keys: the environment gives none and boto3 found none in the environment"
        return Check(path, subject, "problem", text)
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        return Check(path, subject, "problem", f"{where}: endpoint unreachable ({exc})")
    except BotoCoreError as exc:
        return Check(path, subject, "problem", f"{where}: {exc}")
    return Check(path, subject, "ok", f"{where} reachable")


# ---- ComputeServers ---------------------------------------------------------------------------------


def _servers_in_use(workflow: FaaSrWorkflow) -> list[str]:
    """Servers that run actions, the entry's first."""
    names = [workflow.actions[workflow.entry].faas_server]
    for action in workflow.topological_order():
        server = workflow.actions[action].faas_server
        if server not in names:
            names.append(server)
    return names


def _server_checks(
    workflow: FaaSrWorkflow, environment: Environment, server_name: str, http: requests.Session
) -> Iterator[Check]:
    server = workflow.raw["ComputeServers"][server_name]
    faas_type = server["FaaSType"]
    path, subject = json_path("ComputeServers", server_name), f"ComputeServer {server_name!r} ({faas_type})"
    is_entry = server_name == workflow.actions[workflow.entry].faas_server
    actions = [a for a in workflow.topological_order() if workflow.actions[a].faas_server == server_name]
    if faas_type not in SUPPORTED_FAAS_TYPES:
        if not is_entry:  # the entry's case is an entry problem already
            yield Check(path, subject, "skipped", f"not checked: FaaSType {faas_type} is not supported yet")
        return
    try:
        auth = environment.compute_auth(server_name)
    except CredentialsError as exc:
        if is_entry:
            yield Check(path, subject, "problem", f"the entry action needs credentials: {exc.detail}")
        else:
            yield Check(
                path,
                subject,
                "skipped",
                "not checked: no credentials in the environment (FaaSr starts these actions itself)",
            )
        return
    probes = _probes(workflow, server, auth, http)
    server_problem = probes.server()
    if server_problem is not None:
        yield Check(path, subject, "problem", server_problem.message)
        return
    if probes.server_ok:
        yield Check(path, subject, "ok", probes.server_ok)
    for action in actions:
        finding = probes.action(action)
        action_path, action_subject = json_path("ActionList", action), f"action {action!r}"
        if finding is None:
            yield Check(action_path, action_subject, "ok", probes.deployed(action))
            continue
        yield Check(action_path, action_subject, "problem", finding.message)
        if finding.server_wide:  # the rest would repeat the same message
            return


class _Probes:
    """The deployment checks of one FaaSType against one server."""

    server_ok: str | None = None  # what a passed server-level check says, when there is one

    def server(self) -> Finding | None:
        return None

    def action(self, action: str) -> Finding | None:
        raise NotImplementedError

    def deployed(self, action: str) -> str:
        raise NotImplementedError


def _probes(workflow: FaaSrWorkflow, server: dict[str, Any], auth: Any, http: requests.Session) -> _Probes:
    if isinstance(auth, GitHubAuth):
        return _GitHubProbes(workflow, server, auth, http)
    if isinstance(auth, OpenWhiskAuth):
        return _OpenWhiskProbes(workflow, server, auth, http)
    if isinstance(auth, LambdaAuth):
        return _LambdaProbes(workflow, server, auth)
    raise TypeError(f"unexpected credentials {type(auth).__name__}")


class _GitHubProbes(_Probes):
    def __init__(self, workflow: FaaSrWorkflow, server: dict[str, Any], auth: GitHubAuth, http: Any) -> None:
        self.workflow, self.auth, self.http = workflow, auth, http
        self.owner, self.repo = server["UserName"], server["ActionRepoName"]
        self.server_ok = f"repository {self.owner}/{self.repo} visible with {auth.source}"

    def server(self) -> Finding | None:
        return github.check_repository(auth=self.auth, owner=self.owner, repo=self.repo, session=self.http)

    def action(self, action: str) -> Finding | None:
        return github.check_workflow_file(
            auth=self.auth,
            owner=self.owner,
            repo=self.repo,
            workflow_file=github.workflow_file(self.workflow.name, action),
            session=self.http,
        )

    def deployed(self, action: str) -> str:
        return f"workflow {github.workflow_file(self.workflow.name, action)} registered and active"


class _OpenWhiskProbes(_Probes):
    def __init__(
        self, workflow: FaaSrWorkflow, server: dict[str, Any], auth: OpenWhiskAuth, http: Any
    ) -> None:
        self.workflow, self.auth, self.http = workflow, auth, http
        self.endpoint, self.namespace = server["Endpoint"], server["Namespace"]
        self.verify = openwhisk.tls_verify(server)

    def action(self, action: str) -> Finding | None:
        return openwhisk.check_action(
            auth=self.auth,
            endpoint=self.endpoint,
            namespace=self.namespace,
            action_name=deployed_name(self.workflow, action),
            verify=self.verify,
            session=self.http,
        )

    def deployed(self, action: str) -> str:
        return f"OpenWhisk action {deployed_name(self.workflow, action)} exists in {self.namespace!r}"


class _LambdaProbes(_Probes):
    def __init__(self, workflow: FaaSrWorkflow, server: dict[str, Any], auth: LambdaAuth) -> None:
        self.workflow, self.auth = workflow, auth
        self.region = server.get("Region") or None
        self.client = lambda_.lambda_client(auth, self.region)

    def action(self, action: str) -> Finding | None:
        return lambda_.check_function(
            self.client,
            deployed_name(self.workflow, action),
            source=self.auth.source,
            secrets=self.auth.secrets(),
        )

    def deployed(self, action: str) -> str:
        return f"Lambda function {deployed_name(self.workflow, action)} exists"
