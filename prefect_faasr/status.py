"""Function statuses (the lower-case strings of design.md)."""

from __future__ import annotations

from enum import StrEnum


class FunctionStatus(StrEnum):
    """Status of one function instance in one invocation."""

    PENDING = "pending"
    INVOKED = "invoked"
    NOT_INVOKED = "not_invoked"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"

    @property
    def is_final(self) -> bool:
        return self in FINAL

    @property
    def is_bad(self) -> bool:
        """Statuses that make downstream instances skipped."""
        return self in (FunctionStatus.FAILED, FunctionStatus.TIMEOUT, FunctionStatus.SKIPPED)


FINAL = frozenset(
    {
        FunctionStatus.NOT_INVOKED,
        FunctionStatus.COMPLETED,
        FunctionStatus.FAILED,
        FunctionStatus.SKIPPED,
        FunctionStatus.TIMEOUT,
    }
)
