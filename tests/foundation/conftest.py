"""Fixtures for the foundation tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from prefect_faasr.errors import WorkflowValidationError
from prefect_faasr.workflow import FaaSrWorkflow

from .samples import base_workflow


@pytest.fixture
def base() -> dict[str, Any]:
    return copy.deepcopy(base_workflow())


@pytest.fixture
def expect_invalid() -> Callable[..., WorkflowValidationError]:
    """Parse and return the WorkflowValidationError, failing the test if parsing succeeds."""

    def check(source: Any) -> WorkflowValidationError:
        with pytest.raises(WorkflowValidationError) as info:
            FaaSrWorkflow.parse(source)
        return info.value

    return check
