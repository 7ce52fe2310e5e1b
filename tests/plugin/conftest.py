"""Fixtures of the plugin tests: the session's Prefect API, one local runtime per module, and what a
pytest subprocess needs to use that same API (so it starts no Prefect server of its own).

`pytester` is enabled in the test modules that use it (`pytest_plugins = ["pytester"]` there):
pytest refuses `pytest_plugins` in a conftest below the rootdir when the whole suite runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import psutil
import pytest

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.testrun import STATE_FILE_ENV

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "integration"
PLUGIN = "prefect_faasr.testing.plugin"
LEAK_MARK = "PREFECT_FAASR_PLUGIN_TEST_MARK"


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_api: str) -> str:
    return prefect_api


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalFaaSr]:
    with LocalFaaSr(max_workers=6) as env:
        yield env


def plugin_args() -> list[str]:
    """`-p` for the plugin unless the installed pytest11 entry point loads it already (twice fails)."""
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]


@pytest.fixture
def subprocess_env(monkeypatch: pytest.MonkeyPatch, prefect_api: str, tmp_path: Path) -> str:
    """Environment of pytest subprocesses: this session's Prefect API, their own PREFECT_HOME, and a
    mark their child processes inherit (to find strays afterwards). Returns the mark."""
    mark = uuid.uuid4().hex
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    monkeypatch.delenv(STATE_FILE_ENV, raising=False)
    monkeypatch.setenv(LEAK_MARK, mark)
    return mark


def marked_processes(mark: str) -> list[psutil.Process]:
    """Live processes whose environment carries `mark` (children of a pytest subprocess)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(LEAK_MARK) == mark and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
