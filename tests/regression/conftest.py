"""Fixtures of the regression-suite tests: the session's Prefect API, a local runtime per module,
and a suite folder whose specs use the real engine's test workflows (read in place from shared/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from prefect_faasr.local import LocalFaaSr

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT.parent / "shared" / "faasr" / "real-run" / "workflows"
FAST = {"run": 120, "start": 60, "execution": 60, "settle": 1, "poll": 0.3}


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_api: str) -> str:
    return prefect_api


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalFaaSr]:
    with LocalFaaSr(max_workers=4) as env:
        yield env


def write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def spec(name: str, workflow: str, **fields: object) -> dict[str, object]:
    """A spec of one of the real engine's test workflows (LocalTestWF, LocalFailWF)."""
    return {
        "name": name,
        "workflow": str(WORKFLOWS / "workflows" / f"{workflow}.json"),
        "functions": str(WORKFLOWS / "functions"),
        "timeouts": FAST,
        **fields,
    }


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """specs/: `serial` passes, `left-raises` fails (an injected fault), `boom-expected` passes (the
    workflow's own failure is expected), `broken` is not a valid spec. suite.yaml lists all four."""
    root = tmp_path_factory.mktemp("suite")
    write_yaml(root / "specs" / "serial.yaml", spec("serial", "LocalTestWF", returns={"prep": True}))
    write_yaml(
        root / "specs" / "left-raises.yaml",
        spec(
            "left-raises",
            "LocalTestWF",
            returns={"prep": True},
            faults={"left": {"raise": "injected in left"}},
        ),
    )
    # fjoin runs only if boom's .done (written although boom raises) exists when ok's trigger reaches
    # the fan-in gate, as in the real engine; ok waits so that a loaded machine cannot turn that around.
    write_yaml(
        root / "specs" / "boom-expected.yaml",
        spec("boom-expected", "LocalFailWF", expect={"boom": "failed"}, faults={"ok": {"delay": 5}}),
    )
    write_yaml(root / "specs" / "broken.yaml", {**spec("broken", "LocalTestWF"), "retries": 3})
    write_yaml(
        root / "suite.yaml",
        {
            "name": "regression-test",
            "specs": [
                "specs/serial.yaml",
                {"path": "specs/left-raises.yaml", "tags": ["faults"]},
                {"path": "specs/boom-expected.yaml", "tags": ["faults"]},
                {"path": "specs/broken.yaml", "timeouts": {"run": 30}},
            ],
        },
    )
    return root
