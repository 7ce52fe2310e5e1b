"""Faults injected into local activations, declared per action (or rank instance) for one invocation.

A fault plan maps a target to a `Fault`: `"test-py-api"` applies to every instance of that action,
`"worker(2)"` only to rank 2 (a rank-specific entry replaces the action-wide one). Plans are
registered with the compute server for one InvocationID before its entry is triggered.

Example:
    ```python
    plan = FaultPlan.parse({"test-py-api": {"raise": "injected"}, "worker(2)": {"kill": True}})
    ```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from prefect_faasr.errors import Problem, ValidationError
from prefect_faasr.names import INSTANCE_RE, NAME_RE, json_path, split_instance

_OUTCOMES = ("raise", "exit", "kill", "hang")


class FaultValidationError(ValidationError):
    """A fault plan that cannot be applied (unknown keys, bad values, targets not in the workflow)."""

    what = "fault plan"


class Fault(BaseModel):
    """What goes wrong in one function instance.

    `raise`, `exit` and `hang` replace the user function (it never runs); `kill` happens after the
    user function returned and before `.done` (the activation process dies: no `.done`, no final
    flush); `delay` waits before the user function runs (its log already exists). `drop_done` skips
    the `.done` PUT. `drop_triggers` loses successor triggers on the platform side: the log still
    says `OpenWhisk: Succesfully invoked X`, but X never starts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    raise_: str | None = Field(
        default=None,
        alias="raise",
        min_length=1,
        description="The user function raises an exception with this message (failure row E).",
    )
    exit: int | None = Field(
        default=None, ge=1, le=255, description="The user process exits with this code (failure row F)."
    )
    kill: bool = Field(default=False, description="Hard-kill the activation mid-run.")
    hang: bool = Field(default=False, description="The user function never returns (until killed).")
    delay: float | None = Field(
        default=None, ge=0, le=3600, description="Seconds to wait before the user function runs."
    )
    drop_done: bool = Field(default=False, description="Do not write the `.done` file.")
    drop_triggers: bool | list[str] = Field(
        default=False, description="Lose the triggers of all successors (true) or of the named actions."
    )

    @field_validator("drop_triggers")
    @classmethod
    def _names(cls, value: bool | list[str]) -> bool | list[str]:
        if isinstance(value, list):
            bad = [v for v in value if not NAME_RE.match(v)]
            if bad:
                raise ValueError(f"not action names: {', '.join(map(repr, bad))}")
        return value

    @model_validator(mode="after")
    def _one_outcome(self) -> Fault:
        chosen = [name for name in _OUTCOMES if self._has(name)]
        if len(chosen) > 1:
            raise ValueError(f"choose at most one of raise, exit, kill, hang (got {', '.join(chosen)})")
        return self

    def _has(self, name: str) -> bool:
        value = {"raise": self.raise_, "exit": self.exit, "kill": self.kill, "hang": self.hang}[name]
        return value is not None and value is not False

    def drops_trigger(self, action: str) -> bool:
        if isinstance(self.drop_triggers, list):
            return action in self.drop_triggers
        return self.drop_triggers

    def to_wire(self) -> dict[str, Any]:
        """The JSON form (aliases, defaults left out) sent to the compute server and to activations."""
        return self.model_dump(by_alias=True, exclude_defaults=True)


class FaultPlan(RootModel[dict[str, Fault]]):
    """Faults of one invocation, keyed by action name or rank instance `name(r)`."""

    root: dict[str, Fault] = Field(default_factory=dict)

    @field_validator("root")
    @classmethod
    def _targets(cls, value: dict[str, Fault]) -> dict[str, Fault]:
        bad = [k for k in value if not INSTANCE_RE.match(k)]
        if bad:
            raise ValueError(
                f"not an action or rank instance name (e.g. 'worker' or 'worker(2)'): {bad[0]!r}"
            )
        return value

    @classmethod
    def parse(cls, data: FaultPlan | Mapping[str, Any] | None, source: str | None = None) -> FaultPlan:
        """Validate a mapping; raises `FaultValidationError` listing every problem with its path."""
        if isinstance(data, FaultPlan):
            return data
        try:
            return cls.model_validate(dict(data or {}))
        except pydantic.ValidationError as exc:
            raise FaultValidationError(_problems(exc), source) from None

    def for_instance(self, action: str, rank: int | None) -> Fault | None:
        """The fault of one instance: `name(r)` if declared, else `name`, else None."""
        if rank and f"{action}({rank})" in self.root:
            return self.root[f"{action}({rank})"]
        return self.root.get(action)

    def check_workflow(self, workflow: Any, source: str | None = None) -> None:
        """Every target must be an action (and rank) of `workflow`, every dropped trigger a successor."""
        problems = []
        for target, fault in self.root.items():
            action, rank = split_instance(target)
            path = json_path(target)
            if action not in workflow.actions:
                problems.append(Problem(path, f"{action!r} is not an action of {workflow.name}"))
                continue
            n = workflow.rank(action)
            if rank and (n == 1 or rank > n):
                problems.append(Problem(path, f"{action!r} has {n} instance(s); rank {rank} does not exist"))
            if isinstance(fault.drop_triggers, list):
                successors = {e.target for e in workflow.successors(action)}
                for name in fault.drop_triggers:
                    if name not in successors:
                        problems.append(
                            Problem(
                                json_path(target, "drop_triggers"),
                                f"{name!r} is not a successor of {action!r}",
                            )
                        )
        if problems:
            raise FaultValidationError(problems, source)

    def to_wire(self) -> dict[str, Any]:
        return {k: v.to_wire() for k, v in self.root.items()}


def _problems(exc: pydantic.ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if p not in ("root",)]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(f.alias or n for n, f in Fault.model_fields.items())
            msg = f"unknown fault {loc[-1]!r} (known: {allowed})"
        out.append(Problem(json_path(*loc), msg))
    return out
