"""A real Prefect API for the block tests: one `prefect_test_harness` per session, in its own PREFECT_HOME."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from triggers.standins import MotoServer


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_api: str) -> str:
    """Every block test talks to the session's Prefect API (tests/conftest.py)."""
    return prefect_api


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()
