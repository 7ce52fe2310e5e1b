"""Fixtures of preflight tests: moto servers (plain and IAM-checking), GitHub and OpenWhisk stand-ins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from triggers.standins import FakeGitHub, FakeOpenWhisk, IamKeys, MotoServer, moto_with_iam

REPO = "faasr-owner/faasr-actions"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        server.client("s3").create_bucket(Bucket="faasr-bucket")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, IamKeys]]:
    server, keys = moto_with_iam(tmp_path_factory.mktemp("moto-iam"), buckets=("faasr-private",))
    try:
        yield server, keys
    finally:
        server.stop()


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHub:
    files = {"TriggerWF-start.yml": "active", "TriggerWF-finish.yml": "active"}
    return FakeGitHub(httpserver, workflows={REPO: files}, branches={REPO: {"main"}})


@pytest.fixture
def openwhisk(httpserver: HTTPServer) -> FakeOpenWhisk:
    return FakeOpenWhisk(httpserver, actions={"TriggerWF-start", "TriggerWF-finish"})
