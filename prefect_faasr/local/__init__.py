"""The embedded local FaaSr runtime: local S3 (moto) + OpenWhisk-compatible compute server running real
FaaSr Python functions, with faults for reliability tests. See runtime.py (`LocalFaaSr`) and client.py.

Names are imported on first use, so activation processes (which import submodules only) stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ActivationInfo": "client",
    "LocalRuntimeClient": "client",
    "LocalRuntimeError": "client",
    "StartedInvocation": "client",
    "Fault": "faults",
    "FaultPlan": "faults",
    "FaultValidationError": "faults",
    "LocalFaaSr": "runtime",
    "RuntimeInfo": "state",
    "StateFileError": "state",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from prefect_faasr.local.client import (  # noqa: F401
        ActivationInfo,
        LocalRuntimeClient,
        LocalRuntimeError,
        StartedInvocation,
    )
    from prefect_faasr.local.faults import Fault, FaultPlan, FaultValidationError  # noqa: F401
    from prefect_faasr.local.runtime import LocalFaaSr  # noqa: F401
    from prefect_faasr.local.state import RuntimeInfo, StateFileError  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"prefect_faasr.local.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
