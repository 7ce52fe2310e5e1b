"""The environment a test run uses: S3 clients per DataStore and the trigger of the entry action.

`Environment` is what flows and preflight talk to. `BlockEnvironment` resolves a `FaaSrEnvironment`
block (or credential blocks given directly) for one workflow; the local runtime provides another
implementation. Endpoints, regions and buckets always come from the workflow, keys from the blocks,
so the harness reaches exactly what the FaaSr functions reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import SecretStr

from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.names import json_path
from prefect_faasr.s3client import s3_client
from prefect_faasr.triggers import ComputeAuth, LambdaAuth, TriggerReceipt, entry_server, trigger_entry
from prefect_faasr.workflow import FaaSrWorkflow, Invocation

if TYPE_CHECKING:
    import requests
    from prefect.blocks.core import Block

    from prefect_faasr.blocks import FaaSrEnvironment

DATA_STORES = "DataStores"
COMPUTE_SERVERS = "ComputeServers"


class CredentialsError(FaaSrUserError):
    """The environment has no usable credentials for a DataStore or ComputeServer of the workflow."""

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"{path}: {detail}")


class EnvironmentNotFoundError(FaaSrUserError):
    """No FaaSrEnvironment block has the given name."""


@runtime_checkable
class Environment(Protocol):
    """What a test run needs from where it runs (real backends through blocks, or the local runtime)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def s3_client(self, store_name: str) -> Any:
        """A boto3 S3 client for a DataStore of the workflow."""
        ...

    def bucket(self, store_name: str) -> str:
        """The bucket of a DataStore of the workflow."""
        ...

    def compute_auth(self, server_name: str) -> ComputeAuth:
        """Credentials for a ComputeServer; raises `CredentialsError` when there are none."""
        ...

    def trigger_entry(
        self, workflow: FaaSrWorkflow, invocation: Invocation, payload_url: str
    ) -> TriggerReceipt:
        """Start the entry action as `invocation`."""
        ...


@dataclass(frozen=True)
class S3Keys:
    """Keys of one DataStore (None: boto3's default chain) and where they come from, for messages."""

    access_key: SecretStr | None
    secret_key: SecretStr | None
    source: str


class BlockEnvironment:
    """An `Environment` for one workflow, with credentials taken from Prefect blocks.

    Example:
        ```python
        env = BlockEnvironment.load("nightly", workflow)      # a saved FaaSrEnvironment block
        env.s3_client("My_S3_Bucket").list_objects_v2(Bucket=env.bucket("My_S3_Bucket"))
        receipt = env.trigger_entry(workflow, workflow.new_invocation(), payload_url)
        ```
    Credentials that could not be resolved (no entry, a missing or wrong block) are kept as messages
    and raised as `CredentialsError` when used, so that preflight can list all of them at once.
    """

    def __init__(
        self,
        workflow: FaaSrWorkflow,
        *,
        name: str,
        description: str = "",
        s3_keys: Mapping[str, S3Keys] | None = None,
        compute: Mapping[str, ComputeAuth] | None = None,
        unresolved: Mapping[tuple[str, str], str] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.workflow = workflow
        self._name = name
        self._description = description
        self._s3_keys = dict(s3_keys or {})
        self._compute = dict(compute or {})
        self._unresolved = dict(unresolved or {})
        self._session = session

    # ---- construction ----------------------------------------------------------------------------

    @classmethod
    def load(
        cls, block_name: str, workflow: FaaSrWorkflow, *, session: requests.Session | None = None
    ) -> BlockEnvironment:
        """Load the FaaSrEnvironment block `block_name` and resolve its references for `workflow`."""
        from prefect_faasr.blocks import FaaSrEnvironment

        try:
            block = FaaSrEnvironment.load(block_name, _sync=True)
        except ValueError:
            raise EnvironmentNotFoundError(
                f"no FaaSrEnvironment block named {block_name!r}: create it with "
                f"FaaSrEnvironment(data_stores=..., compute_servers=...).save({block_name!r})"
            ) from None
        return cls.from_block(block, workflow, name=block_name, session=session)

    @classmethod
    def from_block(
        cls,
        block: FaaSrEnvironment,
        workflow: FaaSrWorkflow,
        *,
        name: str | None = None,
        session: requests.Session | None = None,
    ) -> BlockEnvironment:
        """Resolve the block references of a FaaSrEnvironment for the stores and servers of `workflow`."""
        from prefect.blocks.core import Block

        name = name or getattr(block, "_block_document_name", None) or "unsaved FaaSrEnvironment"
        loaded: dict[tuple[str, str], Block] = {}
        unresolved: dict[tuple[str, str], str] = {}
        for section, refs in ((DATA_STORES, block.data_stores), (COMPUTE_SERVERS, block.compute_servers)):
            for item, ref in refs.items():
                if item not in workflow.raw[section]:
                    continue  # one environment may serve many workflows
                try:
                    loaded[(section, item)] = Block.load(ref, _sync=True)
                except Exception as exc:  # missing document, unknown type, unreachable API
                    unresolved[(section, item)] = _load_problem(name, section, item, ref, exc)
        return cls._from_loaded(workflow, name, block.description, loaded, unresolved, session)

    @classmethod
    def from_blocks(
        cls,
        workflow: FaaSrWorkflow,
        *,
        data_stores: Mapping[str, Block] | None = None,
        compute_servers: Mapping[str, Block] | None = None,
        name: str = "in-memory environment",
        description: str = "",
        session: requests.Session | None = None,
    ) -> BlockEnvironment:
        """An environment from credential blocks given directly (unsaved blocks work: no Prefect API)."""
        given = [(DATA_STORES, data_stores or {}), (COMPUTE_SERVERS, compute_servers or {})]
        loaded = {
            (section, k): v
            for section, blocks in given
            for k, v in blocks.items()
            if k in workflow.raw[section]
        }
        return cls._from_loaded(workflow, name, description, loaded, {}, session)

    @classmethod
    def _from_loaded(
        cls,
        workflow: FaaSrWorkflow,
        name: str,
        description: str,
        loaded: Mapping[tuple[str, str], Block],
        unresolved: dict[tuple[str, str], str],
        session: requests.Session | None,
    ) -> BlockEnvironment:
        s3_keys: dict[str, S3Keys] = {}
        compute: dict[str, ComputeAuth] = {}
        for (section, item), block in loaded.items():
            source = _block_source(block, name, section, item)
            try:
                if section == DATA_STORES:
                    s3_keys[item] = _s3_keys(block, source)
                else:
                    server = workflow.raw[COMPUTE_SERVERS].get(item, {})
                    compute[item] = _compute_auth(block, server.get("FaaSType", "?"), source)
            except _WrongBlockError as exc:
                unresolved[(section, item)] = str(exc)
        return cls(
            workflow,
            name=name,
            description=description,
            s3_keys=s3_keys,
            compute=compute,
            unresolved=unresolved,
            session=session,
        )

    # ---- Environment --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description or f"FaaSr environment {self._name!r} (Prefect blocks)"

    def s3_client(self, store_name: str) -> Any:
        """A boto3 client for DataStore `store_name`: its Endpoint and Region, the keys from the blocks."""
        store = self._store(store_name)
        endpoint, region = store.get("Endpoint") or None, store.get("Region") or None
        if store.get("Anonymous"):  # FaaSr tests truthiness, so any non-empty string means anonymous
            return s3_client(endpoint, region, anonymous=True)
        keys = self._s3_keys.get(store_name)
        if keys is None:
            raise self._missing(DATA_STORES, store_name)
        return s3_client(endpoint, region, _value(keys.access_key), _value(keys.secret_key))

    def bucket(self, store_name: str) -> str:
        return self._store(store_name)["Bucket"]

    def compute_auth(self, server_name: str) -> ComputeAuth:
        auth = self._compute.get(server_name)
        if auth is None:
            raise self._missing(COMPUTE_SERVERS, server_name)
        return auth

    def trigger_entry(
        self, workflow: FaaSrWorkflow, invocation: Invocation, payload_url: str
    ) -> TriggerReceipt:
        server_name, _ = entry_server(workflow)
        auth = self.compute_auth(server_name)
        return trigger_entry(workflow, invocation, payload_url, auth, session=self._session)

    def __repr__(self) -> str:
        return f"BlockEnvironment({self._name!r}, workflow={self.workflow.name!r})"

    # ---- helpers ----------------------------------------------------------------------------------

    def _store(self, store_name: str) -> Mapping[str, Any]:
        stores = self.workflow.raw[DATA_STORES]
        if store_name not in stores:
            raise CredentialsError(
                json_path(DATA_STORES, store_name), f"workflow {self.workflow.name!r} has no such DataStore"
            )
        return stores[store_name]

    def _missing(self, section: str, item: str) -> CredentialsError:
        path = json_path(section, item)
        if (section, item) in self._unresolved:
            return CredentialsError(path, self._unresolved[(section, item)])
        field = "data_stores" if section == DATA_STORES else "compute_servers"
        kind = "DataStore" if section == DATA_STORES else "ComputeServer"
        return CredentialsError(
            path,
            f"environment {self._name!r} has no credentials for {kind} {item!r}: "
            f"add {field}={{{item!r}: '<block-type>/<block-name>'}} to the FaaSrEnvironment block",
        )


class _WrongBlockError(Exception):
    """A referenced block exists but cannot serve that DataStore or ComputeServer."""


def _value(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _block_source(block: Block, env_name: str, section: str, item: str) -> str:
    doc = getattr(block, "_block_document_name", None)
    what = f"block {block.get_block_type_slug()}/{doc}" if doc else f"the {block.get_block_type_name()} block"
    return f"{what} ({section} {item!r} of environment {env_name!r})"


def _load_problem(env_name: str, section: str, item: str, ref: str, exc: Exception) -> str:
    field = "data_stores" if section == DATA_STORES else "compute_servers"
    slug, _, doc = ref.partition("/")
    if type(exc).__name__ == "UnknownBlockType":
        reason = f"block type {slug!r} is not installed here"
    elif isinstance(exc, ValueError):
        reason = f"no block {doc!r} of type {slug!r}"
    else:  # e.g. the Prefect API is unreachable; the exception text may hold URLs, so name its type only
        reason = type(exc).__name__
    return f"environment {env_name!r} names block {ref!r} in {field}, which cannot be loaded: {reason}"


def _s3_keys(block: Block, source: str) -> S3Keys:
    from prefect_aws import AwsCredentials, MinIOCredentials

    if isinstance(block, AwsCredentials):
        key_id = block.aws_access_key_id
        return S3Keys(SecretStr(key_id) if key_id else None, block.aws_secret_access_key, source)
    if isinstance(block, MinIOCredentials):
        return S3Keys(SecretStr(block.minio_root_user), block.minio_root_password, source)
    raise _WrongBlockError(
        f"{source} is a {block.get_block_type_slug()} block; a DataStore needs aws-credentials or "
        f"minio-credentials"
    )


def _compute_auth(block: Block, faas_type: str, source: str) -> ComputeAuth:
    from prefect_aws import AwsCredentials

    from prefect_faasr.blocks import FaaSrGitHubCredentials, FaaSrOpenWhiskCredentials

    if faas_type == "GitHubActions" and isinstance(block, FaaSrGitHubCredentials):
        return block.to_auth(source)
    if faas_type == "OpenWhisk" and isinstance(block, FaaSrOpenWhiskCredentials):
        return block.to_auth(source)
    if faas_type == "Lambda" and isinstance(block, AwsCredentials):
        key_id, token = block.aws_access_key_id, block.aws_session_token
        return LambdaAuth(
            access_key_id=SecretStr(key_id) if key_id else None,
            secret_access_key=block.aws_secret_access_key,
            session_token=SecretStr(token) if token else None,
            endpoint_url=block.aws_client_parameters.endpoint_url,
            source=source,
        )
    wanted = {
        "GitHubActions": "faasr-github-credentials",
        "OpenWhisk": "faasr-openwhisk-credentials",
        "Lambda": "aws-credentials",
    }.get(faas_type)
    if wanted is None:
        raise _WrongBlockError(f"{source}: FaaSType {faas_type} is not supported yet by prefect-faasr")
    raise _WrongBlockError(
        f"{source} is a {block.get_block_type_slug()} block; a {faas_type} server needs {wanted}"
    )
