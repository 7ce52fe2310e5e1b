"""Errors of starting an invocation, and a guard that keeps secrets out of their messages."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import SecretStr

from prefect_faasr.errors import FaaSrUserError

REDACTED = "**********"


class TriggerError(FaaSrUserError):
    """The entry action could not be started; the message says what to check.

    `retryable` is true only when the request surely did not start anything (no connection was made,
    or the service answered 429/5xx), so that sending it again cannot start the invocation twice.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class UnsupportedFaaSTypeError(TriggerError):
    """The entry runs on a FaaSType prefect-faasr cannot trigger yet."""


def scrub(text: str, secrets: Iterable[SecretStr | str | None]) -> str:
    """`text` with every non-empty secret value replaced: a last guard for messages built from replies."""
    for secret in secrets:
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if value:
            text = text.replace(value, REDACTED)
    return text
