"""The installed `prefect-faasr` command on fuzzed files, in a subprocess: exit 0 or 2, never a
traceback, and every invalid file reported by name with the JSON (or YAML) path of each problem."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from itertools import count
from pathlib import Path

import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from prefect_faasr.errors import ValidationError

from .fuzzing import (
    FUZZ,
    YAML_SYNTAX,
    corpus_docs,
    corpus_texts,
    examples,
    json_values,
    mutated,
    mutated_text,
    to_yaml,
    valid_spec,
    workflowish,
)
from .test_fuzz_spec import check as check_spec
from .test_fuzz_spec import folder as spec_folder  # noqa: F401 -- the spec folder fixture

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("hypothesis_home")]

SCRIPT = Path(sys.executable).parent / "prefect-faasr"
# A subprocess per example: no deadline (pytest-timeout guards against hangs) and no shrinking,
# which would take minutes; a failure shows the generated files as they were.
CLI = settings(FUZZ, deadline=None, phases=[Phase.explicit, Phase.generate])
_names = count()

workflow_files = st.one_of(
    corpus_docs.flatmap(lambda doc: mutated(doc[1])).map(lambda d: json.dumps(d).encode()),
    corpus_texts.flatmap(lambda doc: mutated_text(doc[1])),
    json_values.map(lambda v: json.dumps(v).encode()),
    workflowish.map(lambda v: json.dumps(v, indent=1).encode()),
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-cli")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode in (0, 2), (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-2000:]
    return result


@settings(CLI, max_examples=examples(3))
@given(st.lists(workflow_files, min_size=12, max_size=12))
def test_validate_many_fuzzed_files(folder: Path, contents: list[bytes]) -> None:
    files = []
    for data in contents:
        files.append(folder / f"wf-{next(_names)}.json")
        files[-1].write_bytes(data)
    result = run("validate", *files)
    lines = result.stdout.splitlines()
    starts = [next(i for i, line in enumerate(lines) if line.startswith(f"{f}: ")) for f in files]
    invalid = 0
    for f, start, end in zip(files, starts, [*starts[1:], len(lines) - 1], strict=True):
        head, details = lines[start], lines[start + 1 : end]
        assert re.fullmatch(
            rf"{re.escape(str(f))}: (valid|invalid \(\d+ errors?.*\))( \(\d+ warnings?\))?", head
        )
        if "invalid" in head:
            invalid += 1
            assert any(line.startswith("  error   $") for line in details), details
        # One line per problem: what the input holds (newlines, U+2028, ...) is escaped.
        assert all(re.match(r"  (error  |warning) \$.*: \S", line) for line in details), details
    assert lines[-1] == f"12 files checked: {12 - invalid} valid, {invalid} invalid"
    assert result.returncode == (2 if invalid else 0)


@settings(CLI, max_examples=examples(4))
@given(workflow_files)
def test_graph_of_a_fuzzed_file(folder: Path, data: bytes) -> None:
    path = folder / f"graph-{next(_names)}.json"
    path.write_bytes(data)
    result = run("graph", path)
    if result.returncode == 0:
        assert result.stdout.strip() and result.stderr == ""
    else:
        assert result.stderr.startswith(f"Error: {path}: invalid FaaSr workflow, ")
        assert re.search(r"^  - \$\S*: \S", result.stderr, re.MULTILINE), result.stderr


specs = st.one_of(
    mutated(valid_spec()).map(lambda d: to_yaml(d).encode()),
    mutated_text(to_yaml(valid_spec()), syntax=YAML_SYNTAX),
)


@settings(CLI, max_examples=examples(3))
@given(specs)
def test_run_stops_on_a_fuzzed_invalid_spec(spec_folder: Path, data: bytes) -> None:  # noqa: F811
    path = spec_folder / f"cli-spec-{next(_names)}.yaml"
    path.write_bytes(data)
    verdict = check_spec(path)  # in process first: a valid spec would start a real run
    assume(isinstance(verdict, ValidationError))
    assert isinstance(verdict, ValidationError)
    result = run("run", path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"Error: {verdict.source}: invalid "), result.stderr[:300]
    assert re.search(r"^  - \S+: \S", result.stderr, re.MULTILINE), result.stderr
