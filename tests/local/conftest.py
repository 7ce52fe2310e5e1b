"""Fixtures of the local runtime's tests: one runtime per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prefect_faasr.local import LocalFaaSr


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalFaaSr]:
    with LocalFaaSr(max_workers=6) as env:
        yield env
