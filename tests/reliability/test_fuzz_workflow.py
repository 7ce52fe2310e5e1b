"""Property-based fuzzing of `FaaSrWorkflow.parse`: random JSON, workflow-shaped JSON, the corpus
mutated at random paths and as text. Whatever the input, parse returns a model (whose graph API and
rendering then work) or raises WorkflowValidationError whose problems each name a JSON path."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings

from prefect_faasr.errors import WorkflowValidationError
from prefect_faasr.render import render
from prefect_faasr.workflow import FaaSrWorkflow

from .fuzzing import (
    FUZZ,
    corpus_docs,
    corpus_texts,
    examples,
    json_values,
    mutated,
    mutated_text,
    record,
    valid_corpus_docs,
    workflowish,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("hypothesis_home")]

_names = count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-workflows")


def write(folder: Path, data: bytes | str) -> Path:
    path = folder / f"wf-{next(_names)}.json"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def check(source: Any) -> FaaSrWorkflow | WorkflowValidationError:
    """The property: a working model, or our error with a `$` path and a message per problem."""
    try:
        wf = FaaSrWorkflow.parse(source)
    except WorkflowValidationError as exc:
        assert exc.problems, f"raised without an error: {exc}"
        for problem in [*exc.problems, *exc.warnings]:
            assert problem.path.startswith("$"), problem
            assert problem.message.strip(), problem
            assert len(str(problem).splitlines()) == 1, problem  # one line each (the CLI prints them so)
        if isinstance(source, Path):
            assert str(exc).startswith(f"{source}: invalid FaaSr workflow"), str(exc)[:200]
        record("invalid")
        return exc
    record("valid")
    assert all(w.path.startswith("$") and w.message for w in wf.warnings)
    order = wf.topological_order()
    assert sorted(order) == sorted(wf.actions)  # a valid workflow is acyclic
    for action in wf.actions:
        wf.successors(action), wf.predecessors(action), wf.is_fan_in(action), wf.faas_type(action)
    instances = wf.instances()
    keys = wf.keys(wf.new_invocation())
    assert all(keys.classify(keys.log_key(i)) == ("log", i) for i in instances)
    assert all(keys.classify(keys.done_key(i)) == ("done", i) for i in instances)
    assert render(wf, "text") and render(wf, "mermaid")
    return wf


def check_all_ways(folder: Path, value: Any) -> None:
    """As a dict (when it is one) and as a file of JSON text: the same verdict."""
    from_file = check(write(folder, json.dumps(value)))
    if isinstance(value, dict):
        from_dict = check(value)
        assert type(from_dict) is type(from_file)
        if isinstance(from_dict, WorkflowValidationError):
            assert isinstance(from_file, WorkflowValidationError)
            assert from_dict.problems == from_file.problems


@settings(FUZZ, max_examples=examples(200))
@given(json_values)
@example(float("nan"))
@example({"ActionList": {"a": {"InvokeNext": [{"True": None}]}}})
@example(
    {"ActionList": {"s": {"InvokeNext": ["a\u2028"]}, "a\u2028": {"InvokeNext": ["b\n", "s"]}, "b\n": {}}}
)
def test_random_json(folder: Path, value: Any) -> None:
    check_all_ways(folder, value)


@settings(FUZZ, max_examples=examples(300))
@given(workflowish)
@example({"DataStores": {"\r": {"Endpoint": "start"}}})  # a message quoting a name with a line break
def test_workflow_shaped_json(folder: Path, value: dict[str, Any]) -> None:
    check_all_ways(folder, value)


@settings(FUZZ, max_examples=examples(300))
@given(corpus_docs.flatmap(lambda doc: mutated(doc[1]).map(lambda m: (doc[0], m))))
def test_mutated_corpus(folder: Path, case: tuple[str, Any]) -> None:
    check_all_ways(folder, case[1])


@settings(FUZZ, max_examples=examples(100))
@given(valid_corpus_docs.flatmap(lambda doc: mutated(doc[1], 2, ("rewire",)).map(lambda m: (doc[0], m))))
def test_rewired_valid_corpus(folder: Path, case: tuple[str, Any]) -> None:
    """Valid workflows with InvokeNext rewired: cycles, self-loops, ranks, branches, fan-ins."""
    check_all_ways(folder, case[1])


@settings(FUZZ, max_examples=examples(200))
@given(corpus_texts.flatmap(lambda doc: mutated_text(doc[1]).map(lambda m: (doc[0], m))))
def test_mutated_corpus_text(folder: Path, case: tuple[str, bytes]) -> None:
    check(write(folder, case[1]))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="deeply-nested-array"),
        pytest.param('{"a":' * 5000 + "1" + "}" * 5000, id="deeply-nested-object"),
        pytest.param('{"WorkflowName": ' + "9" * 5000 + "}", id="5000-digit-integer"),
        pytest.param('{"WorkflowName": 1e999, "FunctionInvoke": -Infinity, "X": NaN}', id="non-finite"),
        pytest.param('{"WorkflowName": "\ud800"}', id="lone-surrogate"),
        pytest.param("\ufeff{}", id="byte-order-mark"),
        pytest.param("", id="empty"),
    ],
)
def test_pathological_text(folder: Path, text: str) -> None:
    result = check(write(folder, text.encode("utf-8", "surrogatepass")))
    assert isinstance(result, WorkflowValidationError)


def test_a_nul_in_a_path_is_a_user_error() -> None:
    assert isinstance(check("no\0such.json"), WorkflowValidationError)


def test_nesting_near_the_recursion_limit() -> None:
    """JSON just shallow enough to decode, nested where the validator describes or walks it."""
    templates = [
        '{"WorkflowName": %s}',
        '{"ActionList": {"a": {"InvokeNext": [%s]}}}',
        '{"ActionList": {"a": {"InvokeNext": [{"True": %s}]}}}',
        '{"DataStores": {"S3": {"Bucket": %s}}, "ActionList": %s}',
    ]
    for depth in range(900, 1000, 3):
        for value in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            for template in templates:
                assert isinstance(check(template.replace("%s", value)), WorkflowValidationError)
