"""Fixtures of the trigger tests: GitHub/OpenWhisk stand-ins (pytest-httpserver) and moto servers."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from triggers.standins import FakeGitHub, FakeOpenWhisk, MotoServer

REPO = "faasr-owner/faasr-actions"


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHub:
    files = {"TriggerWF-start.yml": "active", "TriggerWF-finish.yml": "active"}
    return FakeGitHub(httpserver, workflows={REPO: files}, branches={REPO: {"main"}})


@pytest.fixture
def openwhisk(httpserver: HTTPServer) -> FakeOpenWhisk:
    return FakeOpenWhisk(httpserver, actions={"TriggerWF-start", "TriggerWF-finish"})


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for 127.0.0.1, as small OpenWhisk installs have."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openwhisk.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


@pytest.fixture
def tls_server(tls_context: ssl.SSLContext) -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=tls_context)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
