"""A real Prefect API for the block tests: one `prefect_test_harness` per session, in its own PREFECT_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_HOME,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    temporary_settings,
)
from prefect.testing.utilities import prefect_test_harness
from triggers.standins import MotoServer


@pytest.fixture(scope="session", autouse=True)
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    old = os.environ.get("DO_NOT_TRACK")
    os.environ["DO_NOT_TRACK"] = "1"
    updates = {
        PREFECT_HOME: tmp_path_factory.mktemp("prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
    }
    try:
        with temporary_settings(updates=updates), prefect_test_harness(server_startup_timeout=60):
            yield
    finally:
        if old is None:
            os.environ.pop("DO_NOT_TRACK", None)
        else:
            os.environ["DO_NOT_TRACK"] = old


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()
