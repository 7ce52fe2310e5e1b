"""Fixtures of the flow tests: the session's Prefect API and one local runtime per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_faasr.local import LocalFaaSr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "integration"
REAL_RUN = ROOT.parent / "shared" / "faasr" / "real-run"


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_api: str) -> str:
    return prefect_api


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFaaSr]:
    with LocalFaaSr(max_workers=6) as env:
        yield env
