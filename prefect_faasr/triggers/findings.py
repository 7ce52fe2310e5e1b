"""What a deployment check found (used by preflight)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A problem a check found; `server_wide` when the credentials or the service itself are at fault,
    so that checking further actions on the same server would only repeat it."""

    message: str
    server_wide: bool = False

    def __str__(self) -> str:
        return self.message
