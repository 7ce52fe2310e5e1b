"""Fixtures of the dry-run and scale tests: the session's Prefect API and one local runtime per module,
which every flow run of the module shares through its state file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_faasr.local import LocalFaaSr

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / ".." / "shared" / "faasr" / "corpus" / "workflows"
WORKERS = 4  # activations at once: 2 cores, and dry-run activations are short


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalFaaSr]:
    with LocalFaaSr(max_workers=WORKERS) as env:
        yield env
