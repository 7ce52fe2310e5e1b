"""Shared fixtures: one real Prefect API (prefect_test_harness) per session, used by the test
directories that need Prefect, in its own PREFECT_HOME; heartbeats off (prefect-notes §7)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect API for the session; yields its URL. Uses $PREFECT_API_URL when one is set."""
    from prefect.settings import (
        PREFECT_API_DATABASE_TIMEOUT,
        PREFECT_API_URL,
        PREFECT_CLIENT_MAX_RETRIES,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    updates = {
        PREFECT_HOME: tmp_path_factory.mktemp("prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        # The test server keeps its data in SQLite: while many subflows write at once, a writer waits
        # for the lock (10 s by default, then 503 "database is locked", which the client retries
        # 5 times). A loaded 2-core CI machine was seen to run out of both.
        PREFECT_API_DATABASE_TIMEOUT: 60.0,
        PREFECT_CLIENT_MAX_RETRIES: 8,
    }
    with temporary_settings(updates=updates):
        if os.environ.get("PREFECT_API_URL"):
            yield os.environ["PREFECT_API_URL"]
            return
        with prefect_test_harness(server_startup_timeout=60):
            yield PREFECT_API_URL.value()


@pytest.fixture(scope="module")
def state_file(runtime: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The state file of the module's `runtime` (a LocalFaaSr each test directory or module defines with
    its own worker count), as `prefect-faasr local serve` writes it: flows connect with it."""
    return str(runtime.write_state_file(tmp_path_factory.mktemp("local") / "state.json"))
