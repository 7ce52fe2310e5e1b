"""Every real workflow in the shared corpus is classified, and the verdict per file is pinned.

Expectations: tests/data/corpus_expectations.yaml (its header explains the format and where we
disagree with the corpus INDEX.md). The test fails when any file's verdict, first-error path or
message changes, and prints the new verdict in the YAML's format.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from prefect_faasr.errors import WorkflowValidationError
from prefect_faasr.workflow import FaaSrWorkflow

from .samples import CORPUS, REPO

EXPECTATIONS = REPO / "tests" / "data" / "corpus_expectations.yaml"
WORKFLOWS = CORPUS / "workflows"


@functools.cache
def _expectations() -> dict[str, Any]:
    return yaml.safe_load(EXPECTATIONS.read_text(encoding="utf-8"))


def _files() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.json"))


def _as_yaml(name: str, exc: WorkflowValidationError | None) -> str:
    if exc is None:
        return f"{name}: valid"
    first = exc.problems[0]
    return f"{name}:\n  path: {json.dumps(first.path)}\n  message: {json.dumps(first.message)}"


def test_every_corpus_file_has_an_expectation() -> None:
    files, expected = _files(), _expectations()
    assert len(files) == 243, "the shared corpus changed; regenerate the expectations"
    assert sorted(expected) == files


@pytest.mark.parametrize("name", _files())
def test_corpus_file_verdict(name: str) -> None:
    expected = _expectations()[name]
    try:
        wf = FaaSrWorkflow.parse(WORKFLOWS / name)
        exc = None
    except WorkflowValidationError as error:
        exc = error
    verdict = _as_yaml(name, exc)
    if expected == "valid":
        assert exc is None, f"expected valid, now:\n{verdict}"
        assert wf.name and wf.entry in wf.actions
        return
    assert exc is not None, f"expected {expected['path']} to be rejected, now valid"
    first = exc.problems[0]
    assert first.path == expected["path"], f"first error moved; now:\n{verdict}"
    assert expected["message"] in first.message, f"first error changed; now:\n{verdict}"
    for also in expected.get("also", ()):
        assert any(p.path == also["path"] and also["message"] in p.message for p in exc.problems), (
            f"{name}: no error at {also['path']} containing {also['message']!r}; errors: "
            + "; ".join(str(p) for p in exc.problems)
        )


def test_verdicts_agree_with_index_where_faasr_rejects() -> None:
    """Whatever FaaSr's schema or check_dag rejects (corpus_index.json), we reject too."""
    index = json.loads((CORPUS / "corpus_index.json").read_text(encoding="utf-8"))
    expected = _expectations()
    rejected_by_faasr = [
        Path(e["file"]).name
        for e in index
        if e.get("parse_error")
        or (e.get("analysis") or {}).get("schema_ok") is False
        or str((e.get("analysis") or {}).get("faasr_check_dag", "")).startswith(("REJECT", "CRASH"))
    ]
    assert rejected_by_faasr
    assert [n for n in rejected_by_faasr if expected[n] == "valid"] == []
