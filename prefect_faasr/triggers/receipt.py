"""What a successful trigger reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class TriggerReceipt:
    """A request that started an action: where it went and what the service answered (no secrets)."""

    faas_type: str
    target: str
    url: str
    status_code: int
    activation_id: str | None = None
    triggered_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def describe(self) -> str:
        """One line for logs and reports, e.g. `GitHubActions: wf-start.yml accepted (HTTP 204)`."""
        extra = f", activation {self.activation_id}" if self.activation_id else ""
        return f"{self.faas_type}: {self.target} accepted (HTTP {self.status_code}{extra})"
