"""TestSpec: one FaaSr integration test as YAML (design.md "Test spec").

```yaml
name: integration
workflow: workflow.json          # relative to this file
functions: functions/            # local runtime: where FunctionName code lives
payload_url: owner/repo/main/workflow.json
timeouts: {run: 900, start: 300, execution: 600, settle: 5, poll: 1, dispatch: 1}
returns: {sync1: true}           # declared conditional outcomes
expect: {test-dontrun-false: not_invoked}
objects:
  - {key: "integration-tests/{InvocationID}/input2.txt", equals: "Test input2"}
logs:
  - {function: test-py-api, contains: "Deleted input1"}
faults: {}                       # local runtime only, validated by it
```

`TestSpec.load(path)` reads a spec or a workflow JSON (a spec with defaults). A spec that cannot be used
raises `SpecValidationError` listing every problem with its YAML path (`objects[1].equals`) and line.
"""

from __future__ import annotations

import re
import reprlib
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PrivateAttr,
    StrictBool,
    ValidationError,
    model_validator,
)

from prefect_faasr.derive import Budgets
from prefect_faasr.errors import Problem, SpecValidationError, WorkflowValidationError
from prefect_faasr.names import json_text, split_instance
from prefect_faasr.oracle import EXPECTABLE, UndeclaredReturnError, expected_trace
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+(?:\([0-9]+\))?").fullmatch  # names and instances: worker(2)
KEY_FIELDS = ("InvocationID", "InvocationTimestamp", "WorkflowName", "FaaSrLog", "InvocationFolder")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Model):
    """Seconds: whole run, invocation to first log, first log to `.done`, log settle window, poll interval,
    and per trigger request an action sends after `.done` (a log without its final flush must stay quiet
    for settle + dispatch x its trigger requests before it counts as settled; see prefect_faasr.derive)."""

    run: PositiveFloat = 900.0
    start: PositiveFloat = 300.0
    execution: PositiveFloat = 600.0
    settle: PositiveFloat = 5.0
    poll: PositiveFloat = 1.0
    dispatch: PositiveFloat = 1.0

    def budgets(self) -> Budgets:
        return Budgets(start=self.start, execution=self.execution, run=self.run, dispatch=self.dispatch)


class ObjectCheck(_Model):
    """An S3 object to check after the run: exactly one of `exists`, `equals`, `contains`."""

    key: str = Field(min_length=1)
    store: str | None = None
    exists: StrictBool | None = None
    equals: str | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _one_check(self) -> ObjectCheck:
        given = [k for k in ("exists", "equals", "contains") if getattr(self, k) is not None]
        if len(given) != 1:
            found = f" (found {', '.join(given)})" if given else ""
            raise ValueError(f"give exactly one of exists, equals, contains{found}")
        return self

    def render_key(self, keys: InvocationKeys) -> str:
        return render_key(self.key, keys)


class LogCheck(_Model):
    """A line a function instance's log (or every instance of an action) must contain, or must not."""

    function: str = Field(min_length=1)
    contains: str = Field(min_length=1)
    absent: StrictBool = False


class TestSpec(_Model):
    """A loaded, validated test spec; `faasr_workflow` is the parsed workflow it refers to."""

    __test__ = False  # not a pytest test class

    name: str = Field(min_length=1)
    workflow: str = Field(min_length=1)
    functions: str | None = None
    payload_url: str | None = None
    timeouts: Timeouts = Timeouts()
    returns: dict[str, StrictBool] = {}
    expect: dict[str, FunctionStatus] = {}
    objects: list[ObjectCheck] = []
    logs: list[LogCheck] = []
    faults: dict[str, dict[str, Any]] = {}

    _source: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default=Path("."))
    _workflow: FaaSrWorkflow | None = PrivateAttr(default=None)

    # ---- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> TestSpec:
        """Load a YAML spec, or a workflow JSON as a spec with defaults."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            return cls.from_workflow(path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecValidationError([Problem("(file)", "file not found")], source) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecValidationError([Problem("(file)", f"cannot read file: {exc}")], source) from None
        data, node = _load_yaml(text, source)
        return cls.from_mapping(data, base_dir=path.parent, source=source, _node=node)

    @classmethod
    def from_workflow(cls, path: str | Path, **fields: Any) -> TestSpec:
        """A spec with defaults for a workflow JSON: every action expected to complete or not run."""
        path = Path(path)
        wf = FaaSrWorkflow.parse(path)
        functions = path.parent / "functions"
        data = {"name": wf.name, "workflow": path.name, **fields}
        if "functions" not in fields and functions.is_dir():
            data["functions"] = "functions"
        return cls.from_mapping(data, base_dir=path.parent, source=str(path))

    @classmethod
    def from_mapping(
        cls,
        data: Any,
        *,
        base_dir: str | Path = ".",
        source: str | None = None,
        _node: yaml.Node | None = None,
    ) -> TestSpec:
        """Validate a spec given as a mapping (what the YAML holds); relative paths start at `base_dir`."""
        base = Path(base_dir)
        if not isinstance(data, Mapping):
            what = "empty" if data is None else f"a {type(data).__name__}"
            problem = Problem("(root)", f"a test spec must be a mapping, this is {what}")
            raise SpecValidationError([problem], source)
        data = dict(data)
        if "name" not in data and (source or isinstance(data.get("workflow"), str)):
            data["name"] = Path(source or data["workflow"]).stem
        problems: list[Problem] = []
        spec: TestSpec | None = None
        try:
            spec = cls.model_validate(data)
        except ValidationError as exc:
            problems += _problems(exc, _node)
        # Names are checked against the workflow even when other fields are wrong: every problem at once.
        wf: FaaSrWorkflow | None = None
        if isinstance(data.get("workflow"), str) and "\0" in data["workflow"]:
            problems.append(_at("workflow", "a path cannot contain a NUL character", _node))
        elif isinstance(data.get("workflow"), str) and data["workflow"]:
            wf_path = (base / data["workflow"]).resolve()
            if not wf_path.is_file():
                problems.append(_at("workflow", f"workflow file not found: {wf_path}", _node))
            else:
                try:
                    wf = FaaSrWorkflow.parse(wf_path)
                except WorkflowValidationError:
                    if not problems:
                        raise  # it names the workflow file and lists the workflow's own problems
        functions = data.get("functions")
        if isinstance(functions, str) and "\0" in functions:
            problems.append(_at("functions", "a path cannot contain a NUL character", _node))
        elif isinstance(functions, str) and not (base / functions).is_dir():
            problems.append(_at("functions", f"folder not found: {(base / functions).resolve()}", _node))
        if wf is not None:
            problems += _cross_check(data, wf, _node)
        if problems or spec is None:
            raise SpecValidationError(problems, source)
        spec._source = Path(source) if source else None
        spec._base_dir = base
        spec._workflow = wf
        return spec

    # ---- derived values --------------------------------------------------------------------------

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def workflow_path(self) -> Path:
        return (self._base_dir / self.workflow).resolve()

    @property
    def functions_dir(self) -> Path | None:
        return (self._base_dir / self.functions).resolve() if self.functions is not None else None

    @property
    def faasr_workflow(self) -> FaaSrWorkflow:
        if self._workflow is None:  # only for specs built with model_validate directly
            self._workflow = FaaSrWorkflow.parse(self.workflow_path)
        return self._workflow

    def expected_statuses(self, default_return: bool | None = None) -> dict[str, FunctionStatus]:
        """Expected final status of every instance: the oracle with `returns`, overlaid with `expect`.

        A conditional action without a declared return is an error naming it, unless `default_return`.
        """
        try:
            wf = self.faasr_workflow
            return expected_trace(wf, self.returns, self.expect, default_return=default_return)
        except UndeclaredReturnError as exc:
            where = str(self._source) if self._source else None
            raise SpecValidationError([Problem("returns", str(exc))], where) from None


def render_key(template: str, keys: InvocationKeys) -> str:
    """An object-key template for one invocation: `{InvocationID}`, `{InvocationTimestamp}`,
    `{WorkflowName}`, `{FaaSrLog}` and `{InvocationFolder}` are replaced; `{{`/`}}` are literal braces."""
    values = {
        "InvocationID": keys.invocation_id,
        "InvocationTimestamp": keys.timestamp,
        "WorkflowName": keys.workflow_name,
        "FaaSrLog": keys.faasr_log,
        "InvocationFolder": keys.folder,
    }
    template_fields(template)
    return template.format_map(values)


def template_fields(template: str) -> list[str]:
    """Placeholders of a key template; ValueError when one is unknown or the braces are malformed."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed template ({exc}); write a literal brace as {{{{ or }}}}") from None
    names = []
    for _, name, spec, conv in parts:
        if name is None:
            continue
        if name not in KEY_FIELDS or spec or conv:
            known = ", ".join("{" + f + "}" for f in KEY_FIELDS)
            raise ValueError(f"unknown placeholder {{{name}}}; use one of {known}")
        names.append(name)
    return names


# ---- YAML with positions -----------------------------------------------------------------------


MAX_DEPTH = 50  # nesting levels of YAML collections a spec may have (a real one has four)
MAX_INT_DIGITS = 100  # longer integers are refused while loading (Python caps int() at 4300 digits)


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML would keep the last one silently), keys that
    are collections, and integers too long to be a number of anything."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain value, not a {kind}", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {_short(key)} appears twice in one mapping", key_node.start_mark
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if sum(c.isdigit() for c in str(node.value)) > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of more than {MAX_INT_DIGITS} digits", node.start_mark
            )
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    def fail(message: str) -> SpecValidationError:
        return SpecValidationError([Problem("(yaml)", message)], source)

    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader refuses control characters here already
        node = loader.get_single_node()
        _check_depth(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        raise fail(f"YAML syntax error: {what}{_where(mark)}") from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise fail(
            f"YAML error: character {char} is not allowed in YAML (line {line} column {column})"
        ) from None
    except RecursionError:
        raise fail(f"YAML error: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        raise fail(f"YAML error: {_short(str(exc), 300)}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def _where(mark: yaml.Mark | None) -> str:
    return f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _check_depth(root: yaml.Node | None) -> None:
    """Refuse collections nested deeper than MAX_DEPTH (construction and validation recurse)."""
    stack = [(root, 1)] if root is not None else []
    seen: set[int] = set()  # aliases share nodes: visit each once
    while stack:
        node, depth = stack.pop()
        if isinstance(node, yaml.ScalarNode) or id(node) in seen:
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise yaml.constructor.ConstructorError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", node.start_mark
            )
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
        stack.extend((child, depth + 1) for child in children)


def _short(value: Any, limit: int = 80) -> str:
    """`repr(value)` cut to about `limit` characters (a YAML alias can expand to megabytes)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxdict = _REPR.maxset = _REPR.maxtuple = 4
_REPR.maxlevel = 2


def _node_at(node: yaml.Node | None, loc: tuple[str | int, ...]) -> yaml.Node | None:
    """The YAML node at a path, or its deepest existing ancestor."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            value = next((v for k, v in node.value if k.value == str(part)), None)
            if value is None:
                return node
            node = value
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _path(loc: tuple[str | int, ...]) -> str:
    """`objects[1].equals`; a key that is not a plain name is quoted: `expect["a.b"]`, `[" "]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY(part):
            out += f".{part}" if out else part
        else:
            out += "[" + json_text(_short(part, 60) if len(part) > 60 else part) + "]"
    return out or "(root)"


def _at(loc: str | tuple[str | int, ...], message: str, root: yaml.Node | None) -> Problem:
    loc = (loc,) if isinstance(loc, str) else loc
    node = _node_at(root, loc)
    line = f" (line {node.start_mark.line + 1})" if node is not None else ""
    return Problem(_path(loc), message + line)


_ALLOWED = {
    (): TestSpec.model_fields,
    ("timeouts",): Timeouts.model_fields,
    ("objects", 0): ObjectCheck.model_fields,
    ("logs", 0): LogCheck.model_fields,
}


def _problems(exc: ValidationError, root: yaml.Node | None) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = tuple(0 if isinstance(p, int) else p for p in loc[:-1])
            allowed = ", ".join(_ALLOWED.get(parent, {}))
            msg = f"unknown key {_short(loc[-1])}" + (f"; allowed: {allowed}" if allowed else "")
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "bool_type":
            msg = f"must be true or false, not {_short(err['input'])}"
        elif kind == "enum":
            allowed = ", ".join(s.value for s in EXPECTABLE)
            msg = f"{_short(err['input'])} is not a function status; expected one of {allowed}"
        elif kind == "string_type":
            msg = f"must be a string, not {_short(err['input'])} (quote it in YAML)"
        elif kind == "dict_type":
            msg = f"must be a mapping, not {_short(err['input'])}"
        elif kind == "list_type":
            msg = f"must be a list, not {_short(err['input'])}"
        elif kind == "value_error":
            msg = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        else:
            msg = err["msg"]
        out.append(_at(loc, msg, root))
    return out


def _cross_check(data: Mapping[str, Any], wf: FaaSrWorkflow, root: yaml.Node | None) -> list[Problem]:
    """Names in the (raw) spec that must exist in the workflow, statuses that must be final, templates.

    Works on the raw mapping so that it can run next to the field validation; values of the wrong
    shape are left to that validation.
    """
    names = set(wf.actions) | set(wf.instances())
    listed = ", ".join(wf.actions)
    problems = []

    def check_name(loc: tuple[str | int, ...], name: Any) -> bool:
        if isinstance(name, str) and name not in names:
            msg = f"{_short(name)} is not an action or function instance of {wf.name} (actions: {listed})"
            problems.append(_at(loc, msg, root))
            return False
        return True

    def mapping(key: str) -> Mapping[Any, Any]:
        value = data.get(key)
        return value if isinstance(value, Mapping) else {}

    def items(key: str) -> list[tuple[int, Mapping[Any, Any]]]:
        value = data.get(key)
        seq = value if isinstance(value, list) else []
        return [(i, v) for i, v in enumerate(seq) if isinstance(v, Mapping)]

    for key in mapping("returns"):
        known = check_name(("returns", key), key) and isinstance(key, str)
        if known and not wf.is_conditional(split_instance(key)[0]):
            msg = (
                f"{_short(key)} has no conditional InvokeNext (True/False), so its return value does not "
                "change the expected trace"
            )
            problems.append(_at(("returns", key), msg, root))
    statuses = {s.value for s in FunctionStatus}
    for key, status in mapping("expect").items():
        check_name(("expect", key), key)
        if isinstance(status, str) and status in statuses and FunctionStatus(status) not in EXPECTABLE:
            allowed = ", ".join(s.value for s in EXPECTABLE)
            msg = f"{status!r} is not a final status; expected one of {allowed}"
            problems.append(_at(("expect", key), msg, root))
    stores = wf.raw["DataStores"]
    for i, obj in items("objects"):
        store = obj.get("store")
        if isinstance(store, str) and store not in stores:
            msg = f"{_short(store)} is not a DataStore ({', '.join(stores)})"
            problems.append(_at(("objects", i, "store"), msg, root))
        if isinstance(obj.get("key"), str):
            try:
                template_fields(obj["key"])
            except ValueError as exc:
                problems.append(_at(("objects", i, "key"), str(exc), root))
    for i, check in items("logs"):
        check_name(("logs", i, "function"), check.get("function"))
    for key in mapping("faults"):
        check_name(("faults", key), key)
    return problems
