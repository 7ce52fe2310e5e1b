"""Failure notifications: a JSON POST to a webhook when a regression run ends Failed or Crashed.

Where the webhook URL comes from (the first that is set):
1. the flow's `webhook` parameter;
2. the environment variable `PREFECT_FAASR_WEBHOOK` of the process running the flow (the worker).
Either holds an http(s) URL, or the name of a Prefect `Secret` block whose value is the URL. Prefer
the block: flow parameters show in plain text in the UI, and a webhook URL often carries a token.
The URL is never logged in full (`redact`); a webhook that fails is logged as a warning and never
changes the flow run's outcome.

Body (JSON; `text` makes it readable as a Slack / Mattermost / Teams incoming-webhook message):

    {"text": "FaaSr regression nightly failed: 1 of 3 specs failed: faults <link>",
     "flow_run": {"id": "...", "name": "nightly-20261121-030000", "url": "http://host/v2/runs/flow-run/..."},
     "state": "Failed", "suite": "nightly", "suite_file": "examples/suite.yaml",
     "message": "1 of 3 specs failed: faults",
     "failed": [{"spec": "faults", "verdict": "failed", "reason": "...", "url": "..."}],
     "passed": ["integration", "dry-run"]}
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

import requests

from prefect_faasr.suite_report import SuiteFailed, SuiteReport, one_line

WEBHOOK_ENV = "PREFECT_FAASR_WEBHOOK"
TIMEOUT = 10.0

logger = logging.getLogger(__name__)


def redact(url: str) -> str:
    """Scheme and host of a URL, never its path or query (where webhook tokens live)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def resolve_webhook(value: str | None) -> str | None:
    """The webhook URL: `value` (a URL or a Secret block name), else $PREFECT_FAASR_WEBHOOK, else None."""
    value = (value or os.environ.get(WEBHOOK_ENV) or "").strip()
    if not value:
        return None
    if is_url(value):
        return value
    from prefect.blocks.system import Secret

    secret = Secret.load(value).get()
    url = str(secret).strip()
    if not is_url(url):
        raise ValueError(f"the Secret block {value!r} does not hold an http(s) URL")
    return url


def post_json(url: str, body: dict[str, Any], *, session: Any = None, timeout: float = TIMEOUT) -> str | None:
    """POST `body`; None when the receiver answered 2xx, else what went wrong (never the full URL)."""
    http = session or requests
    try:
        response = http.post(url, json=body, timeout=timeout)
    except requests.RequestException as exc:
        return f"{redact(url)} not reached ({type(exc).__name__})"
    if not response.ok:
        return f"{redact(url)} answered HTTP {response.status_code}"
    return None


def failure_body(flow_run: Any, state: Any, flow_run_url: str | None) -> dict[str, Any]:
    """The notification of a failed regression run (its report when the state carries one)."""
    params = dict(getattr(flow_run, "parameters", None) or {})
    report = _report_of(state)
    message = one_line(state.message or state.name)
    suite = report.suite if report else ("adhoc" if params.get("spec") else str(params.get("suite") or ""))
    failed, passed = [], []
    if report is not None:
        from prefect.utilities.urls import url_for

        for o in report.outcomes:
            if o.passed:
                passed.append(o.name)
                continue
            link = url_for("flow-run", obj_id=o.flow_run_id) if o.flow_run_id else None
            failed.append({"spec": o.name, "verdict": o.verdict, "reason": o.reason, "url": link})
    text = f"FaaSr regression {suite} {state.name.lower()}: {message}"
    if flow_run_url:
        text += f" {flow_run_url}"
    return {
        "text": text,
        "flow_run": {"id": str(flow_run.id), "name": flow_run.name, "url": flow_run_url},
        "state": state.name,
        "suite": suite,
        "suite_file": report.source if report else params.get("suite"),
        "message": message,
        "failed": failed,
        "passed": passed,
    }


def _report_of(state: Any) -> SuiteReport | None:
    try:
        data = state.result(raise_on_failure=False)
    except Exception:  # no result to read (crashed before returning one); the message still goes out
        return None
    return data.report if isinstance(data, SuiteFailed) else None


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook (on_failure, on_crashed): post the failure to the configured webhook, if any."""
    from prefect.utilities.urls import url_for

    log = _run_logger()
    try:
        url = resolve_webhook((flow_run.parameters or {}).get("webhook"))
    except Exception as exc:  # a missing block must not hide the suite's own result
        log.warning("no failure notification sent: %s", one_line(str(exc)))
        return
    if url is None:
        return
    problem = post_json(url, failure_body(flow_run, state, url_for(flow_run)))
    if problem:
        log.warning("the failure notification was not delivered: %s", problem)
    else:
        log.info("failure notification sent to %s", redact(url))


def _run_logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logger
