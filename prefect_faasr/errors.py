"""Exception types that reach users: each carries a message a FaaSr user understands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


class FaaSrUserError(Exception):
    """A problem with the user's input or environment (not a bug): the CLI prints it and exits 2."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One finding of a validator: where it is (a JSON/YAML path) and what is wrong."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ValidationError(FaaSrUserError):
    """Input that failed validation; carries every problem found, not just the first."""

    what = "input"

    def __init__(self, problems: Iterable[Problem], source: str | None = None) -> None:
        self.problems = [p for p in problems if p.severity == "error"]
        self.warnings = [p for p in problems if p.severity == "warning"]
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.source}: " if self.source else ""
        n = len(self.problems)
        head = f"{where}invalid {self.what}, {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class WorkflowValidationError(ValidationError):
    """A FaaSr workflow JSON that FaaSr would reject or fail on at run time."""

    what = "FaaSr workflow"


class SpecValidationError(ValidationError):
    """A test spec (YAML) that cannot be used."""

    what = "test spec"
