"""Exception types that reach users: each carries a message a FaaSr user understands."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# Characters str.splitlines() breaks on, plus the other C0/C1 controls: a problem prints as one line.
_LINE_BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with line breaks and control characters written as escapes (\\r, \\x1c, ...)."""
    return _LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], text)


class FaaSrUserError(Exception):
    """A problem with the user's input or environment (not a bug): the CLI prints it and exits 2."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One finding of a validator: where it is (a JSON/YAML path) and what is wrong."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __post_init__(self) -> None:
        # Messages quote user values (names, endpoints); the CLI prints one problem per line.
        object.__setattr__(self, "path", one_line(self.path))
        object.__setattr__(self, "message", one_line(self.message))

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
