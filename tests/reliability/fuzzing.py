"""Hypothesis strategies for fuzzing the workflow parser and the spec loader.

Inputs come in three kinds: random JSON (shaped like a workflow, with FaaSr's real key names so that
the deeper rules run), the corpus of real workflows mutated at random paths (keys deleted, values
replaced or retyped, InvokeNext rewired into cycles, ranks and branches), and text mutations of any
of them (truncated, bytes injected, syntax characters sprinkled in).
"""

from __future__ import annotations

import copy
import json
import math
import os
import string
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st

from prefect_faasr.validation import (
    ACTION_FIELDS,
    COMPUTE_SERVER_FIELDS,
    DATA_STORE_FIELDS,
    FAAS_TYPES,
    TOP_LEVEL_KEYS,
    validate,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "faasr"
CORPUS = SHARED / "corpus" / "workflows"
WORKFLOWS = SHARED / "real-run" / "workflows" / "workflows"

# FUZZ_SCALE=20 runs twenty times as many examples (a deeper search, by hand or nightly).
SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))


def examples(n: int) -> int:
    return n * SCALE


# Generous per-example deadline (a hang is what it catches, not slowness); no example database, so
# nothing is written into the repository. Each test sets its own max_examples.
FUZZ = settings(
    deadline=2000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _errors(doc: Any) -> bool:
    return any(p.severity == "error" for p in validate(doc))


def record(what: str) -> None:
    """Count an outcome in Hypothesis's statistics (`--hypothesis-show-statistics`), in a given test."""
    if currently_in_test_context():
        event(what)


def _corpus() -> tuple[list[tuple[str, str]], list[tuple[str, dict[str, Any]]]]:
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.json"))]
    docs = []
    for name, text in texts:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict):
            docs.append((name, data))
    return texts, docs


CORPUS_TEXTS, CORPUS_DOCS = _corpus()

# ---- random JSON --------------------------------------------------------------------------------

NAMES = ["start", "a", "b", "c-1", "join", "x(2)", "bad_name", "", " ", "1a", "A" * 70, "ü", "S3", "GH"]
STRINGS = [*NAMES, "True", "False", "TRUE", "false", "null", "0", "-1", "1e9", "$", "{InvocationID}", "\n"]
KNOWN_KEYS = sorted(
    {*TOP_LEVEL_KEYS, *ACTION_FIELDS, *COMPUTE_SERVER_FIELDS, *DATA_STORE_FIELDS, "True", "False", "SSL"}
)

# A fixed alphabet (ASCII, control characters, a few multi-byte and invisible ones) rather than all of
# Unicode: as likely to break a parser, and Hypothesis need not build its Unicode tables (seconds).
ALPHABET = string.printable + "\x00\x01\x07\x1b\x7f\x85\xa0üß日本\u2028\u200b\ufeff😀"
texts = st.sampled_from(STRINGS) | st.text(ALPHABET, max_size=12)
keys = st.sampled_from(KNOWN_KEYS) | texts
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)

small_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=2), max_leaves=3)
names = st.sampled_from(NAMES) | st.text(ALPHABET, max_size=6)
targets = st.tuples(names, st.sampled_from(["", "(2)", "(0)", "(x)", "(3"])).map("".join)
target_lists = st.lists(targets, max_size=3)
branches = st.fixed_dictionaries({}, optional={"True": target_lists | small_values, "False": target_lists})
invoke_next = st.lists(targets | branches | small_values, max_size=4) | small_values | targets


def _object(fields: dict[str, Any], **special: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with any subset of `fields`, random values, plus a few stray keys."""
    optional = {k: special.get(k, small_values) for k in fields}
    known = st.fixed_dictionaries({}, optional=optional)
    extra = st.dictionaries(keys, small_values, max_size=2)
    return st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]})


actions = _object(
    ACTION_FIELDS,
    InvokeNext=invoke_next,
    FaaSServer=st.sampled_from(["GH", "OW", "nope"]) | json_values,
    Type=st.sampled_from(["Python", "R", "Julia", "Go"]) | json_values,
)
servers = _object(COMPUTE_SERVER_FIELDS, FaaSType=st.sampled_from(FAAS_TYPES) | json_values)
stores = _object(DATA_STORE_FIELDS)
by_name = st.dictionaries(names, small_values, max_size=3)
workflowish = _object(
    dict.fromkeys(TOP_LEVEL_KEYS),
    ActionList=st.dictionaries(names, actions | small_values, max_size=6) | small_values,
    ComputeServers=st.dictionaries(st.sampled_from(["GH", "OW"]) | names, servers, max_size=2) | small_values,
    DataStores=st.dictionaries(st.sampled_from(["S3", "My_S3"]) | names, stores, max_size=2) | json_values,
    FunctionInvoke=names | json_values,
    DefaultDataStore=st.sampled_from(["S3", "My_S3"]) | json_values,
    LoggingDataStore=st.sampled_from(["S3", "My_S3"]) | json_values,
    FunctionGitRepo=by_name,
    ActionContainers=by_name,
)

# ---- mutations of a JSON-like document ---------------------------------------------------------


def paths(value: Any) -> list[tuple[Any, ...]]:
    """Every path into a JSON-like value (dict keys, list indexes), the root `()` first."""
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        out.append(path)
        if isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def retype(value: Any) -> Any:
    """The same content as another JSON type."""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, int | float):
        return str(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return int(value) if value.isdigit() and len(value) < 100 else [value]
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return ""


MUTATIONS = ("delete", "replace", "retype", "rename", "rewire", "empty", "wrap")


@st.composite
def mutated(draw: st.DrawFn, doc: Any, max_mutations: int = 4, ops: tuple[str, ...] = MUTATIONS) -> Any:
    """`doc` with 1..max_mutations random edits (`ops`) at random paths."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_mutations))):
        all_paths = paths(doc)
        path = all_paths[draw(st.integers(0, len(all_paths) - 1))]
        op = draw(st.sampled_from(ops))
        target = _get(doc, path)
        if op == "rewire":  # InvokeNext of a random action: existing names, ranks, branches, itself
            action_list = doc.get("ActionList") if isinstance(doc, dict) else None
            if isinstance(action_list, dict) and action_list:
                action = draw(st.sampled_from(sorted(action_list, key=str)))
                known = st.sampled_from(sorted(action_list, key=str))
                item = known | st.tuples(known, st.integers(0, 5)).map(lambda t: f"{t[0]}({t[1]})")
                branch = st.fixed_dictionaries({"True": st.lists(item, max_size=2), "False": st.lists(item)})
                if isinstance(action_list[action], dict):
                    action_list[action]["InvokeNext"] = draw(st.lists(item | branch, max_size=3))
                continue
            op = "replace"
        if not path:  # the root itself
            doc = draw(json_values) if op in ("delete", "replace") else retype(doc)
            continue
        parent, last = _get(doc, path[:-1]), path[-1]
        if op == "delete":
            del parent[last]
        elif op == "replace":
            parent[last] = draw(json_values)
        elif op == "retype":
            parent[last] = retype(target)
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(keys)] = parent.pop(last)
        elif op == "empty":
            parent[last] = type(target)() if isinstance(target, dict | list | str) else None
        else:
            parent[last] = [target] if op == "wrap" else draw(json_values)
    return doc


@st.composite
def mutated_text(draw: st.DrawFn, text: str, syntax: str = '{}[]",:\\') -> bytes:
    """`text` as UTF-8 with 1..3 byte-level edits: truncation, injected bytes, cut or doubled slices."""
    data = text.encode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["truncate", "inject", "syntax", "cut", "double"]))
        if op == "truncate":
            data = data[:at]
        elif op == "inject":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif op == "syntax":
            data = data[:at] + draw(st.sampled_from(syntax)).encode() + data[at:]
        else:
            end = draw(st.integers(at, min(len(data), at + 200)))
            data = data[:at] + (data[at:end] * 2 if op == "double" else b"") + data[end:]
    return data


corpus_docs = st.sampled_from(CORPUS_DOCS)
valid_corpus_docs = st.sampled_from([(n, d) for n, d in CORPUS_DOCS if not _errors(d)])
corpus_texts = st.sampled_from(CORPUS_TEXTS)

# ---- test specs ---------------------------------------------------------------------------------

SPEC_WORKFLOW = WORKFLOWS / "LocalTestWF.json"  # start -> prep (conditional) -> ...; worker(3); final


def valid_spec() -> dict[str, Any]:
    """A spec that loads, for LocalTestWF.json saved as `workflow.json` beside it."""
    return {
        "name": "fuzz",
        "workflow": "workflow.json",
        "functions": "functions",
        "payload_url": "owner/repo/main/workflow.json",
        "timeouts": {"run": 60, "start": 10, "execution": 30, "settle": 1, "poll": 0.5},
        "returns": {"prep": True},
        "expect": {"never": "not_invoked", "worker(2)": "completed"},
        "objects": [
            {"key": "{FaaSrLog}/{InvocationID}/out.txt", "equals": "x"},
            {"key": "in.txt", "exists": False, "store": "S3"},
        ],
        "logs": [
            {"function": "worker", "contains": "done"},
            {"function": "start", "contains": "x", "absent": True},
        ],
        "faults": {"left": {"raise": "boom"}},
    }


SPEC_KEYS = [*sorted(valid_spec()), "exists", "equals", "contains", "key", "store", "function", "absent"]
spec_keys = st.sampled_from(SPEC_KEYS) | keys
spec_values = st.recursive(
    scalars | st.sampled_from(["workflow.json", "functions", "prep", "worker(2)", "completed", "pending"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(spec_keys, inner, max_size=4),
    max_leaves=15,
)
random_specs = st.dictionaries(spec_keys, spec_values, max_size=8) | spec_values


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


YAML_SYNTAX = ":-{}[],&*!|>?#%@`'\"\t\n"
