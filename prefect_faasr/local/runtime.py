"""`LocalFaaSr`: the embedded local FaaSr runtime (local S3 + OpenWhisk-compatible compute server).

Example:
    ```python
    with LocalFaaSr() as env:
        wf = env.deploy("examples/integration/workflow.json", "examples/integration/functions")
        run = env.client.start(wf)
        env.client.wait_idle(run.invocation_id)
        env.s3_client().list_objects_v2(Bucket="faasr-integration-tests", Prefix=run.keys.folder)
    ```
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from prefect_faasr.local import compute
from prefect_faasr.local.client import LocalRuntimeClient
from prefect_faasr.local.pool import StartMethod
from prefect_faasr.local.procs import ServerProcess
from prefect_faasr.local.s3server import S3Server
from prefect_faasr.local.state import RuntimeInfo
from prefect_faasr.workflow import FaaSrWorkflow

logger = logging.getLogger(__name__)


class LocalFaaSr:
    """Starts (and stops) the local S3 and compute server processes; exposes endpoints and a client.

    Args:
        state_dir: where payloads, activation folders and server logs go; default a fresh temporary
            folder, removed on stop.
        namespace: the OpenWhisk namespace of the compute server.
        max_workers: activations that run at once (the rest queue).
        start_method: "forkserver" (warm, fast) or "spawn" (a fresh interpreter per activation).
        secrets: values `faasr_secret(name)` may return inside activations.
        keep_workdirs: keep each activation's working directory and code copy after it ends.
        startup_timeout: seconds to wait for each server to report its port.
    """

    def __init__(
        self,
        state_dir: str | Path | None = None,
        *,
        namespace: str = "guest",
        max_workers: int = 8,
        start_method: StartMethod = "forkserver",
        secrets: Mapping[str, str] | None = None,
        keep_workdirs: bool = False,
        startup_timeout: float = 60.0,
    ) -> None:
        self._given_state_dir = Path(state_dir) if state_dir else None
        self.namespace = namespace
        self.max_workers = max_workers
        self.start_method: StartMethod = start_method
        self._secrets = {k: SecretStr(v) for k, v in (secrets or {}).items()}
        self.keep_workdirs = keep_workdirs
        self.startup_timeout = startup_timeout
        self._s3: S3Server | None = None
        self._compute: ServerProcess | None = None
        self._info: RuntimeInfo | None = None
        self._client: LocalRuntimeClient | None = None
        self.state_dir: Path | None = None

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self) -> LocalFaaSr:
        if self._info is not None:
            return self
        state_dir = self._given_state_dir or Path(tempfile.mkdtemp(prefix="faasr-local-"))
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state_dir = state_dir
        api_key = SecretStr(f"{uuid.uuid4()}:{secrets.token_urlsafe(48)}")
        access_key = SecretStr("LOCAL" + secrets.token_hex(8).upper())
        secret_key = SecretStr(secrets.token_urlsafe(30))
        try:
            self._s3 = S3Server(state_dir / "s3.log", timeout=self.startup_timeout)
            config = compute.ComputeConfig(
                namespace=self.namespace,
                api_key=api_key,
                s3_access_key=access_key,
                s3_secret_key=secret_key,
                secrets=self._secrets,
                state_dir=state_dir,
                max_workers=self.max_workers,
                start_method=self.start_method,
                keep_workdirs=self.keep_workdirs,
            )
            log_file = state_dir / "compute.log"
            self._compute = ServerProcess(
                compute.MODULE,
                {**config.wire(), "log_file": str(log_file)},
                log_file,
                timeout=self.startup_timeout,
            )
        except BaseException:
            self.stop()
            raise
        self._info = RuntimeInfo(
            compute_endpoint=f"http://127.0.0.1:{self._compute.port}",
            namespace=self.namespace,
            api_key=api_key,
            s3_endpoint=self._s3.endpoint,
            s3_access_key=access_key,
            s3_secret_key=secret_key,
            state_dir=state_dir,
        )
        self._client = LocalRuntimeClient(self._info)
        logger.info("local FaaSr runtime: S3 %s, compute %s", self._s3.endpoint, self._info.compute_endpoint)
        return self

    def stop(self) -> None:
        """Stop the compute server (killing its activations) and S3; remove a temporary state dir."""
        if self._client is not None:
            self._client.close()
        if self._compute is not None:
            self._compute.stop()
        if self._s3 is not None:
            self._s3.stop()
        if self.state_dir is not None and self._given_state_dir is None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self._compute = self._s3 = None
        self._info = self._client = None

    def stop_compute(self, *, crash: bool = False) -> None:
        """Stop only the compute server, as in a compute outage; S3 keeps running.

        Its queued and running activations end with it (no process is left behind). From then on
        triggers sent to it fail (connection refused) and `client` calls that need it raise
        `LocalRuntimeError`; objects in S3 stay readable. `crash=True` SIGKILLs the server instead of
        shutting it down (no graceful shutdown, like a crash). The compute server is not started again:
        its endpoint is written into deployed payloads. `stop()` stops the rest as usual.
        """
        if self._compute is None:
            raise RuntimeError("the local FaaSr runtime is not running (use `with LocalFaaSr() as env:`)")
        logger.info("local FaaSr runtime: stopping the compute server%s", " (crash)" if crash else "")
        self._compute.stop(graceful=not crash)

    @property
    def compute_running(self) -> bool:
        """The compute server process is alive (False after `stop_compute()` or `stop()`)."""
        return self._compute is not None and self._compute.alive()

    def __enter__(self) -> LocalFaaSr:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._info is None:
            return "LocalFaaSr(stopped)"
        return f"LocalFaaSr(compute={self._info.compute_endpoint!r}, s3={self._info.s3_endpoint!r})"

    # ---- what callers use -----------------------------------------------------------------------

    @property
    def info(self) -> RuntimeInfo:
        if self._info is None:
            raise RuntimeError("the local FaaSr runtime is not running (use `with LocalFaaSr() as env:`)")
        return self._info

    @property
    def client(self) -> LocalRuntimeClient:
        self.info  # noqa: B018 -- raises when stopped
        assert self._client is not None
        return self._client

    @property
    def compute_endpoint(self) -> str:
        return self.info.compute_endpoint

    @property
    def api_key(self) -> str:
        """The compute server's `uuid:key` (a secret: never log it)."""
        return self.info.api_key.get_secret_value()

    @property
    def s3_endpoint(self) -> str:
        return self.info.s3_endpoint

    @property
    def s3_region(self) -> str:
        return self.info.s3_region

    @property
    def s3_access_key(self) -> str:
        return self.info.s3_access_key.get_secret_value()

    @property
    def s3_secret_key(self) -> str:
        return self.info.s3_secret_key.get_secret_value()

    def s3_client(self) -> Any:
        return self.client.s3_client()

    def deploy(
        self, workflow: FaaSrWorkflow | str | Path | Mapping[str, Any], functions_dir: str | Path
    ) -> FaaSrWorkflow:
        return self.client.deploy(workflow, functions_dir)

    def payload_url(self, workflow: FaaSrWorkflow | str | Path | Mapping[str, Any]) -> str:
        return self.client.payload_url(workflow)

    def write_state_file(self, path: str | Path) -> Path:
        """Write the 0600 state file other processes connect with (`LocalRuntimeClient.from_state_file`)."""
        info = self.info.model_copy(update={"pid": os.getpid()})
        return info.write(path)

    def pids(self) -> dict[str, int]:
        """Process ids of the S3 and compute servers (for leak checks)."""
        out = {}
        if self._s3 is not None:
            out["s3"] = self._s3.pid
        if self._compute is not None:
            out["compute"] = self._compute.pid
        return out
