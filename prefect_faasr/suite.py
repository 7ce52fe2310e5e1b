"""A regression suite: a YAML list of test specs that `faasr-regression` runs as one flow.

```yaml
name: nightly
description: FaaSr regression suite, run every night.
timeouts: {run: 300}              # optional, for every spec (each spec's own timeouts are the base)
specs:
  - integration/spec.yaml         # paths are relative to this file
  - path: faults/raise.yaml
    tags: [faults]                # `only:` selects specs by name or tag
    timeouts: {run: 120}          # overrides for this spec
    cleanup: true                 # delete the invocation's objects afterwards
  - {path: ../workflows/x.json, dry_run: true, returns: {check: true}}
```

`Suite.load(path)` raises `SuiteValidationError` listing every problem with its YAML path
(`specs[1].timeouts.run`) and line. `Suite.plan(only)` resolves the entries into `PlannedSpec`s
with their names (the spec's own `name:`, unless the entry gives one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, StrictBool, ValidationError, field_validator

from prefect_faasr.errors import FaaSrUserError, Problem
from prefect_faasr.errors import ValidationError as FaaSrValidationError
from prefect_faasr.spec import TestSpec, _at, _load_yaml


class SuiteValidationError(FaaSrValidationError):
    """A regression suite file that cannot be used."""

    what = "regression suite"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutOverrides(_Model):
    """Budgets (seconds) that replace the spec's own; unset ones keep the spec's value."""

    run: PositiveFloat | None = None
    start: PositiveFloat | None = None
    execution: PositiveFloat | None = None
    settle: PositiveFloat | None = None
    poll: PositiveFloat | None = None

    def given(self) -> dict[str, float]:
        return self.model_dump(exclude_none=True)


class SuiteEntry(_Model):
    """One spec of the suite and how to run it."""

    path: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1)
    tags: list[str] = []
    timeouts: TimeoutOverrides = TimeoutOverrides()
    cleanup: StrictBool | None = None
    dry_run: StrictBool = False
    returns: dict[str, StrictBool] | None = None


class PlannedSpec(_Model):
    """An entry ready to run: its name, its spec path as given to the subflow, and the overrides."""

    name: str
    path: str
    tags: list[str] = []
    timeouts: dict[str, float] = {}
    cleanup: bool | None = None
    dry_run: bool = False
    returns: dict[str, bool] | None = None
    workflow: str | None = None  # its WorkflowName (None when the spec does not load)
    problem: str | None = None  # the spec does not load; its subflow will fail saying why


class Suite(_Model):
    """A loaded regression suite; `source` is the file it came from (relative paths start there)."""

    name: str = Field(min_length=1)
    description: str = ""
    timeouts: TimeoutOverrides = TimeoutOverrides()
    specs: list[SuiteEntry] = Field(min_length=1)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("specs", mode="before")
    @classmethod
    def _paths_as_entries(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"path": v} if isinstance(v, str) else v for v in value]
        return value

    @classmethod
    def load(cls, path: str | Path) -> Suite:
        """Read and validate a suite file; every entry's spec file must exist."""
        path = Path(path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SuiteValidationError([Problem("(file)", "file not found")], source) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SuiteValidationError([Problem("(file)", f"cannot read file: {exc}")], source) from None
        try:
            data, node = _load_yaml(text, source)
        except FaaSrValidationError as exc:
            raise SuiteValidationError(exc.problems, source) from None
        if not isinstance(data, dict):
            what = "empty" if data is None else f"a {type(data).__name__}"
            raise SuiteValidationError(
                [Problem("(root)", f"a suite must be a mapping, this is {what}")], source
            )
        data.setdefault("name", path.stem)
        try:
            suite = cls.model_validate({**data, "source": source})
        except ValidationError as exc:
            raise SuiteValidationError(_problems(exc, node), source) from None
        missing = [
            _at(("specs", i, "path"), f"spec file not found: {suite.resolve(e.path)}", node)
            for i, e in enumerate(suite.specs)
            if not Path(suite.resolve(e.path)).is_file()
        ]
        if missing:
            raise SuiteValidationError(missing, source)
        return suite

    @classmethod
    def adhoc(cls, specs: list[str], name: str = "adhoc") -> Suite:
        """A suite of spec paths given directly (relative to the working directory)."""
        missing = [
            Problem(f"spec[{i}]", f"spec file not found: {p}")
            for i, p in enumerate(specs)
            if not Path(p).is_file()
        ]
        if missing:
            raise SuiteValidationError(missing, "spec parameter")
        return cls(name=name, specs=[SuiteEntry(path=p) for p in specs])

    def resolve(self, spec_path: str) -> str:
        """A spec path as the subflow gets it: relative to the suite file's folder, normalised."""
        base = Path(self.source).parent if self.source else Path(".")
        return os.path.normpath(base / Path(spec_path).expanduser())

    def plan(self, only: list[str] | None = None) -> list[PlannedSpec]:
        """The entries to run, in suite order; `only` keeps those whose name or a tag it lists."""
        planned = [self._planned(e) for e in self.specs]
        seen: dict[str, int] = {}
        problems = []
        for i, p in enumerate(planned):
            if p.name in seen:
                problems.append(
                    Problem(
                        f"specs[{i}]", f"name {p.name!r} is also specs[{seen[p.name]}]; give one a `name:`"
                    )
                )
            seen.setdefault(p.name, i)
        if problems:
            raise SuiteValidationError(problems, self.source)
        if not only:
            return planned
        wanted = set(only)
        known = {p.name for p in planned} | {t for p in planned for t in p.tags}
        unknown = sorted(wanted - known)
        if unknown:
            raise FaaSrUserError(
                f"{self.source or self.name}: `only` names {', '.join(map(repr, unknown))}, which is no spec "
                f"name or tag of the suite (names and tags: {', '.join(sorted(known))})"
            )
        return [p for p in planned if p.name in wanted or wanted & set(p.tags)]

    def _planned(self, entry: SuiteEntry) -> PlannedSpec:
        path = self.resolve(entry.path)
        name, workflow, problem = entry.name, None, None
        try:
            loaded = TestSpec.load(path)
        except FaaSrUserError as exc:
            problem = "; ".join(line.strip() for line in str(exc).splitlines())
        else:
            name, workflow = name or loaded.name, loaded.faasr_workflow.name
        return PlannedSpec(
            name=name or _label(path),
            path=path,
            tags=entry.tags,
            timeouts={**self.timeouts.given(), **entry.timeouts.given()},
            cleanup=entry.cleanup,
            dry_run=entry.dry_run,
            returns=entry.returns,
            workflow=workflow,
            problem=problem,
        )


def suite_name(path: str | Path) -> str:
    """The `name:` of a suite file, else its file name's stem (never raises: for run names)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        name = None
    return name if isinstance(name, str) and name else Path(path).stem


def _label(path: str) -> str:
    p = Path(path)
    return p.parent.name if p.stem in ("spec", "test", "workflow") and p.parent.name else p.stem


_ALLOWED = {
    (): [f for f in Suite.model_fields if f != "source"],
    ("timeouts",): list(TimeoutOverrides.model_fields),
    ("specs", 0): list(SuiteEntry.model_fields),
    ("specs", 0, "timeouts"): list(TimeoutOverrides.model_fields),
}


def _problems(exc: ValidationError, root: yaml.Node | None) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            parent = tuple(0 if isinstance(p, int) else p for p in loc[:-1])
            allowed = ", ".join(_ALLOWED.get(parent, []))
            msg = f"unknown key {loc[-1]!r}" + (f"; allowed: {allowed}" if allowed else "")
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "too_short" and loc == ("specs",):
            msg = "a suite needs at least one spec"
        else:
            msg = err["msg"]
            if "input" in err and not isinstance(err["input"], dict | list):
                msg += f", not {err['input']!r}"
        out.append(_at(loc, msg, root))
    return out
