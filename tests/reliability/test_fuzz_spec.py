"""Property-based fuzzing of `TestSpec.load`: random YAML, a valid spec mutated at random paths and
as text, and workflow JSON loaded as a spec. The loader returns a spec or raises our validation
error naming the file, with a path and a message per problem; it never hangs.

The loader crashes fuzzing found (control characters, collection keys, deep nesting, huge integers,
alias-expanded messages, unquoted keys in paths) are fixed; their minimal inputs are pinned below.
"""

from __future__ import annotations

import shutil
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings

from prefect_faasr.errors import SpecValidationError, ValidationError, WorkflowValidationError
from prefect_faasr.spec import TestSpec
from prefect_faasr.workflow import InvocationKeys

from .fuzzing import (
    FUZZ,
    SPEC_WORKFLOW,
    YAML_SYNTAX,
    corpus_texts,
    examples,
    mutated,
    mutated_text,
    random_specs,
    record,
    to_yaml,
    valid_spec,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("hypothesis_home")]

KEYS = InvocationKeys("FaaSrLog", "LocalTestWF", "2026-11-21T09-47-39", "id")
_names = count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spec folder: LocalTestWF.json as workflow.json, functions/ (copies in tmp, not in the repo)."""
    path = tmp_path_factory.mktemp("fuzz-specs")
    shutil.copy(SPEC_WORKFLOW, path / "workflow.json")
    (path / "functions").mkdir()
    return path


def write(folder: Path, data: bytes | str, suffix: str = ".yaml") -> Path:
    path = folder / f"spec-{next(_names)}{suffix}"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def check(path: Path) -> TestSpec | ValidationError:
    """The property: a usable spec, or our error naming a file, with a path and message per problem."""
    try:
        spec = TestSpec.load(path)
    except (SpecValidationError, WorkflowValidationError) as exc:
        assert exc.problems, f"raised without a problem: {exc}"
        for problem in [*exc.problems, *exc.warnings]:
            assert problem.path.strip() and problem.message.strip(), problem
        if isinstance(exc, SpecValidationError):
            assert exc.source == str(path)
        assert exc.source and str(exc).startswith(f"{exc.source}: invalid "), str(exc)[:200]
        assert len(str(exc)) < 100_000, f"a {len(str(exc))}-character message"
        record(f"invalid: {type(exc).__name__}")
        return exc
    record("valid")
    spec.expected_statuses(default_return=True)
    for obj in spec.objects:
        obj.render_key(KEYS)
    assert spec.timeouts.budgets()
    return spec


def test_the_valid_spec_loads(folder: Path) -> None:
    assert isinstance(check(write(folder, to_yaml(valid_spec()))), TestSpec)


@settings(FUZZ, max_examples=examples(150))
@given(random_specs)
@example({"workflow": "workflow.json", "returns": {"prep": "yes"}, "expect": {"ghost": "done"}})
@example({"name": None, "workflow": ["workflow.json"], "timeouts": {"run": -1, "poll": "1"}})
@example({"functions": "\x00", "workflow": "work\x00flow.json"})  # NUL in paths: was a ValueError
def test_random_specs(folder: Path, data: Any) -> None:
    check(write(folder, to_yaml(data)))


@settings(FUZZ, max_examples=examples(200))
@given(mutated(valid_spec()))
def test_mutated_valid_spec(folder: Path, data: Any) -> None:
    check(write(folder, to_yaml(data)))


@settings(FUZZ, max_examples=examples(150))
@given(mutated_text(to_yaml(valid_spec()), syntax=YAML_SYNTAX))
def test_mutated_spec_text(folder: Path, data: bytes) -> None:
    check(write(folder, data))


@settings(FUZZ, max_examples=examples(50))
@given(corpus_texts.flatmap(lambda doc: mutated_text(doc[1])))
def test_workflow_json_loaded_as_a_spec(folder: Path, data: bytes) -> None:
    check(write(folder, data, suffix=".json"))


# ---- what fuzzing found in spec.py: minimal inputs of the crashes, now clear problems -----------

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcde", "bcdef", strict=True)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "name: x\x07\nworkflow: workflow.json\n",
            "character U+0007 is not allowed in YAML (line 1 column 8)",
            id="control-character",
        ),
        pytest.param(
            "? [a, b]\n: 1\nworkflow: workflow.json\n",
            "a key must be a plain value, not a list at line 1 column 3",
            id="complex-key",
        ),
        pytest.param(
            "workflow: workflow.json\nreturns: {{a: 1}: true}\n",
            "a key must be a plain value, not a mapping at line 2 column 11",
            id="flow-complex-key",
        ),
        pytest.param(
            "name: " + "[" * 1500 + "]" * 1500 + "\n", "nested more than 50 levels", id="deep-nesting"
        ),
        pytest.param(
            "name: " + "[" * 51 + "]" * 51 + "\n",
            "nested more than 50 levels deep at line 1 column 56",
            id="nesting-past-the-limit",
        ),
        pytest.param(
            "workflow: workflow.json\ntimeouts: {run: " + "9" * 5000 + "}\n",
            "an integer of more than 100 digits at line 2 column 17",
            id="long-int",
        ),
    ],
)
def test_loader_crash_inputs_are_problems(folder: Path, text: str, message: str) -> None:
    path = write(folder, text)
    with pytest.raises(SpecValidationError) as info:
        TestSpec.load(path)
    (problem,) = info.value.problems
    assert problem.path == "(yaml)" and message in problem.message, problem
    assert info.value.source == str(path)


def test_nesting_within_the_limit_loads_as_data(folder: Path) -> None:
    """50 levels are still read: the problem is then the value's type, not the nesting."""
    path = write(folder, "workflow: workflow.json\nname: " + "[" * 49 + "]" * 49 + "\n")
    with pytest.raises(SpecValidationError) as info:
        TestSpec.load(path)
    (problem,) = info.value.problems
    assert problem.path == "name" and problem.message.startswith("must be a string, not [[["), problem


def test_alias_expanded_values_stay_short_in_messages(folder: Path) -> None:
    """Six YAML aliases of nine made a 2-MB message out of a 200-byte spec (eight levels: 200 MB)."""
    path = write(folder, LAUGHS + "name: *f\nworkflow: workflow.json\n")
    with pytest.raises(SpecValidationError) as info:
        TestSpec.load(path)
    assert len(str(info.value)) < 2_000
    name = next(p for p in info.value.problems if p.path == "name")
    assert name.message.startswith("must be a string, not [[[") and "..." in name.message, name


@pytest.mark.parametrize(
    ("key", "path"),
    [(" ", '[" "]'), ("", '[""]'), ("a.b", '["a.b"]'), ("x[0]", '["x[0]"]'), ("a\nb", '["a\\nb"]')],
)
def test_keys_that_are_not_names_are_quoted_in_paths(folder: Path, key: str, path: str) -> None:
    with pytest.raises(SpecValidationError) as info:
        TestSpec.load(write(folder, to_yaml({key: 1, "workflow": "workflow.json"})))
    (problem,) = info.value.problems
    assert problem.path == path and problem.message.startswith(f"unknown key {key!r}"), problem


def test_instance_names_stay_plain_in_paths(folder: Path) -> None:
    text = to_yaml({"workflow": "workflow.json", "expect": {"worker(9)": "completed", "a.b": "completed"}})
    with pytest.raises(SpecValidationError) as info:
        TestSpec.load(write(folder, text))
    assert sorted(p.path for p in info.value.problems) == ["expect.worker(9)", 'expect["a.b"]']
