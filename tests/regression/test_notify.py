"""Webhook resolution, redaction and the notification body (the hook itself runs in
test_regression_flow.py through real flow runs)."""

from __future__ import annotations

import socket
import uuid

import pytest
from prefect.blocks.system import Secret
from prefect.client.schemas.objects import FlowRun
from prefect.states import Crashed
from pytest_httpserver import HTTPServer

from prefect_faasr.notify import WEBHOOK_ENV, failure_body, post_json, redact, resolve_webhook


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/…"),
        ("http://user:pw@127.0.0.1:8123/hook?token=abc", "http://127.0.0.1:8123/…"),
    ],
)
def test_redact_keeps_only_scheme_host_and_port(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_the_parameter_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    assert resolve_webhook(None) is None
    monkeypatch.setenv(WEBHOOK_ENV, "https://env.example/hook")
    assert resolve_webhook(None) == "https://env.example/hook"
    assert resolve_webhook("http://param.example/hook") == "http://param.example/hook"


def test_a_secret_block_must_hold_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    Secret(value="https://block.example/hook").save("faasr-hook-ok", overwrite=True)
    Secret(value="not a url").save("faasr-hook-bad", overwrite=True)
    assert resolve_webhook("faasr-hook-ok") == "https://block.example/hook"
    monkeypatch.setenv(WEBHOOK_ENV, "faasr-hook-ok")
    assert resolve_webhook(None) == "https://block.example/hook"
    with pytest.raises(ValueError, match="'faasr-hook-bad' does not hold an http"):
        resolve_webhook("faasr-hook-bad")


def test_post_json_reports_what_went_wrong_without_the_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok/SECRET", method="POST", json={"a": 1}).respond_with_data("ok")
    httpserver.expect_request("/down/SECRET", method="POST").respond_with_data("no", status=503)
    assert post_json(httpserver.url_for("/ok/SECRET"), {"a": 1}) is None
    problem = post_json(httpserver.url_for("/down/SECRET"), {"a": 1})
    assert problem == f"{redact(httpserver.url_for('/'))} answered HTTP 503"
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = post_json(f"http://127.0.0.1:{port}/gone/SECRET", {"a": 1}, timeout=2)
    assert unreachable == f"http://127.0.0.1:{port}/… not reached (ConnectionError)"


def test_a_crash_without_a_report_still_says_what_happened() -> None:
    run = FlowRun(id=uuid.uuid4(), name="nightly-x", flow_id=uuid.uuid4(), parameters={"suite": "s.yaml"})
    body = failure_body(run, Crashed(message="Execution was aborted by an interrupt signal."), "http://ui/x")
    assert body["state"] == "Crashed" and body["suite"] == "s.yaml" and body["suite_file"] == "s.yaml"
    assert body["failed"] == [] and body["passed"] == []
    assert (
        body["text"]
        == "FaaSr regression s.yaml crashed: Execution was aborted by an interrupt signal. http://ui/x"
    )
