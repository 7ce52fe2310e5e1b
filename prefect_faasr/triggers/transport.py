"""Shared HTTP plumbing of the GitHub and OpenWhisk triggers (requests, with timeouts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

# (connect, read) seconds: a trigger is one small request; a hung service must not hang the flow.
DEFAULT_TIMEOUT = (5.0, 30.0)
_OBJECT_PREFIX = re.compile(r"<[^>]*>:\s*")


@contextmanager
def session_scope(session: requests.Session | None) -> Iterator[requests.Session]:
    """The caller's session, or a new one closed on exit."""
    if session is not None:
        yield session
        return
    with requests.Session() as own:
        yield own


def connection_reason(exc: requests.RequestException) -> str:
    """A short, secret-free reason for a request that got no HTTP answer."""
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out while connecting"
    if isinstance(exc, requests.ReadTimeout):
        return "connected, but no answer before the read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (certificate not trusted?)"
    reason: Any = exc
    # requests wraps urllib3's MaxRetryError, which wraps the socket error: report the innermost one.
    for _ in range(3):
        inner = getattr(reason, "reason", None) or (reason.args[0] if getattr(reason, "args", None) else None)
        if inner is None or isinstance(inner, str):
            break
        reason = inner
    text = _OBJECT_PREFIX.sub("", str(reason)).strip()
    return text or type(exc).__name__


def undelivered(exc: requests.RequestException) -> bool:
    """True when the request never reached the service (refused or timed out while connecting)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: Any = exc
    for _ in range(4):
        if isinstance(reason, NewConnectionError | ConnectTimeoutError):
            return True
        reason = getattr(reason, "reason", None) or (
            reason.args[0] if getattr(reason, "args", None) else None
        )
        if reason is None or isinstance(reason, str):
            return False
    return False


def retryable_status(status: int) -> bool:
    """Answers after which the request was not acted on: rate limited or the service is unavailable."""
    return status == 429 or status in (500, 502, 503, 504)


def reply_message(response: requests.Response, key: str) -> str:
    """The service's own error text: `key` of a JSON body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get(key), str):
        return body[key]
    text = (response.text or "").strip()
    return text[:200] if text else (response.reason or "")
