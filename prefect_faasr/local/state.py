"""How to reach a running local runtime: endpoints and credentials, and the state file that holds them.

State file (JSON, mode 0600, written by `prefect-faasr local serve`):

    {"version": 1, "pid": 1234, "state_dir": "/tmp/faasr-local-x",
     "compute": {"endpoint": "http://127.0.0.1:41234", "namespace": "guest", "api_key": "<uuid>:<key>"},
     "s3": {"endpoint": "http://127.0.0.1:40321", "region": "us-east-1",
            "access_key": "...", "secret_key": "..."}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from prefect_faasr.errors import FaaSrUserError

STATE_VERSION = 1


class StateFileError(FaaSrUserError):
    """The state file of a local runtime is missing or unreadable."""


class RuntimeInfo(BaseModel):
    """Endpoints and credentials of one local runtime. Secrets are `SecretStr`: reprs never show them."""

    model_config = ConfigDict(frozen=True)

    compute_endpoint: str
    namespace: str = "guest"
    api_key: SecretStr
    s3_endpoint: str
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr
    s3_secret_key: SecretStr
    state_dir: Path
    pid: int | None = None

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "pid": self.pid,
            "state_dir": str(self.state_dir),
            "compute": {
                "endpoint": self.compute_endpoint,
                "namespace": self.namespace,
                "api_key": self.api_key.get_secret_value(),
            },
            "s3": {
                "endpoint": self.s3_endpoint,
                "region": self.s3_region,
                "access_key": self.s3_access_key.get_secret_value(),
                "secret_key": self.s3_secret_key.get_secret_value(),
            },
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> RuntimeInfo:
        compute, s3 = data["compute"], data["s3"]
        return cls(
            compute_endpoint=compute["endpoint"],
            namespace=compute.get("namespace", "guest"),
            api_key=compute["api_key"],
            s3_endpoint=s3["endpoint"],
            s3_region=s3.get("region", "us-east-1"),
            s3_access_key=s3["access_key"],
            s3_secret_key=s3["secret_key"],
            state_dir=data["state_dir"],
            pid=data.get("pid"),
        )

    def write(self, path: str | Path) -> Path:
        """Write the state file atomically with mode 0600."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_state(), f, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: str | Path) -> RuntimeInfo:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            return cls.from_state(data)
        except FileNotFoundError:
            raise StateFileError(
                f"{path}: no local runtime state file (start one with `prefect-faasr local serve`)"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateFileError(f"{path}: not a local runtime state file ({exc})") from None
