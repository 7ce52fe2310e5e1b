"""Fixes of the local runtime found at scale (each test fails on the code before the fix)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.utils import parse_to_aware_datetime

from prefect_faasr.local import LocalFaaSr, fanin
from prefect_faasr.local.actionlog import ActionLog
from prefect_faasr.local.compute import listening_socket
from prefect_faasr.local.s3server import iso_first
from prefect_faasr.local.stores import Stores
from prefect_faasr.s3client import parse_timestamp

from .shapes import fan_out

pytestmark = pytest.mark.integration


def test_compute_server_connections_have_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on sockets created as IPPROTO_TCP; with Nagle on, each small
    response (every trigger's 202) waited for the client's delayed ACK."""

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        sock = listening_socket()
        server = await asyncio.start_server(on_connect, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            value = await asyncio.wait_for(seen, 10)
            writer.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0


class CountingClient:
    """Forwards to a boto3 client and records the operations the gate used."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self._client, name)


def test_fan_in_gate_aborts_without_listing_when_a_late_predecessor_is_not_done(
    runtime: LocalFaaSr, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = runtime.s3_client()
    s3.create_bucket(Bucket="faasr-gate")
    folder = "FaaSrLog/GateCheck/2026-01-01T00-00-00/id"
    for r in (1, 2, 3):
        s3.put_object(Bucket="faasr-gate", Key=f"{folder}/function_completions/work.{r}.done", Body=b"True")
    log = ActionLog(0.0)
    counting = CountingClient(s3)
    with pytest.raises(fanin.GateClosed) as closed:
        fanin.gate(counting, "faasr-gate", folder, "sink", [f"work.{r}" for r in (1, 2, 3, 4)], log)
    assert closed.value.code == 0 and closed.value.reason == "fan-in: predecessors not done"
    assert counting.calls == ["head_object"]  # work.4 is missing: no listing of the folder
    # All done: the engine's single listing decides, then the candidate race under the lock.
    s3.put_object(Bucket="faasr-gate", Key=f"{folder}/function_completions/work.4.done", Body=b"True")
    counting.calls.clear()
    fanin.gate(counting, "faasr-gate", folder, "sink", [f"work.{r}" for r in (1, 2, 3, 4)], log)
    assert counting.calls[:4] == ["head_object"] * 3 + ["list_objects_v2"]
    candidate = s3.get_object(Bucket="faasr-gate", Key=f"{folder}/sink.candidate")["Body"].read()
    assert len(candidate.decode().splitlines()) == 1
    # A small fan-in lists exactly as the engine does (and names the first missing predecessor).
    counting.calls.clear()
    with pytest.raises(fanin.GateClosed):
        fanin.gate(counting, "faasr-gate", folder, "small", ["work.1", "work.9", "work.8"], log)
    assert counting.calls == ["list_objects_v2"]
    assert "Missing .done file for predecessor: work.9 \u2014 aborting." in capsys.readouterr().out


def test_fan_in_still_runs_the_join_exactly_once(runtime: LocalFaaSr, tmp_path: Path) -> None:
    (tmp_path / "noop.py").write_text("def noop():\n    return None\n")
    wf = runtime.deploy(fan_out(12, "GateCheck12", "faasr-gate"), tmp_path / "noop.py")
    started = runtime.client.start(wf)
    acts = runtime.client.wait_idle(started.invocation_id, timeout=300, timestamp=started.timestamp)
    sinks = [a for a in acts if a.action == "sink"]
    assert len(sinks) == 12 and all(a.exit_code == 0 for a in acts)
    assert [a.outcome for a in sinks].count("completed") == 1
    assert {a.outcome for a in sinks} <= {
        "completed",
        "fan-in: predecessors not done",
        "fan-in: lost the candidate race",
    }


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-21T12:39:10.000Z",
        "2026-11-21T12:39:10Z",
        "2026-11-21T12:39:10.123456Z",
        "2026-11-21T12:39:10+02:00",
        "2026-11-21T12:39:10",
        "2026-11-21 12:39:10",
        "20261121",
        "1700000000",
        "1700000000.5",
        "Sat, 21 Nov 2026 12:39:10 GMT",
        datetime(2026, 11, 21, 12, 39, 10, tzinfo=UTC),
        1700000000,
    ],
)
def test_s3_server_timestamps_parse_as_botocore_does(value: object) -> None:
    """The local S3 server's faster timestamp parsing gives what botocore's parser gives."""
    assert iso_first(parse_to_aware_datetime)(value) == parse_to_aware_datetime(value)


WRITER = """
def write_note():
    with open("note.txt", "w") as f:
        f.write("anonymous write")
    faasr_put_file(local_file="note.txt", remote_folder="notes", remote_file="note.txt")  # noqa: F821
    faasr_log("wrote the note")  # noqa: F821
"""


def test_an_anonymous_data_store_gets_a_bucket_unsigned_requests_can_use(
    runtime: LocalFaaSr, tmp_path: Path
) -> None:
    """The engine sends unsigned S3 requests to an `Anonymous` store; deploy makes its bucket public,
    the only set-up in which such a workflow runs (before: 403 on the first log append)."""
    (tmp_path / "writer.py").write_text(WRITER)
    wf = fan_out(1, "AnonStore", "faasr-anon")
    wf["ActionList"] = {
        "entry": {"FunctionName": "write_note", "FaaSServer": "GH", "Type": "Python", "InvokeNext": []}
    }
    wf["DataStores"]["S3"]["Anonymous"] = "true"
    deployed = runtime.deploy(wf, tmp_path / "writer.py")
    started = runtime.client.start(deployed)
    acts = runtime.client.wait_idle(started.invocation_id, timestamp=started.timestamp, workflow=deployed)
    assert [(a.instance, a.exit_code, a.outcome) for a in acts] == [("entry", 0, "completed")], acts[0].stdout
    s3 = runtime.s3_client()
    assert s3.get_object(Bucket="faasr-anon", Key="notes/note.txt")["Body"].read() == b"anonymous write"
    log = s3.get_object(Bucket="faasr-anon", Key=f"{started.keys.folder}/entry.txt")["Body"].read().decode()
    assert "wrote the note" in log


def test_activation_clients_parse_listing_timestamps_cheaply(runtime: LocalFaaSr) -> None:
    """The runtime's own S3 clients (fan-in listings) parse ISO text with the stdlib, still aware."""
    store = {"Endpoint": runtime.s3_endpoint, "Region": "us-east-1", "Bucket": "faasr-stamps"}
    store |= {"AccessKey": runtime.s3_access_key, "SecretKey": runtime.s3_secret_key}
    client = Stores({"S3": store}).client("S3")
    factory = client._endpoint._response_parser_factory  # what parses every response of the client
    assert factory.create_parser("rest-xml")._timestamp_parser is parse_timestamp
    client.create_bucket(Bucket="faasr-stamps")
    client.put_object(Bucket="faasr-stamps", Key="k", Body=b"x")
    listed = client.list_objects_v2(Bucket="faasr-stamps")["Contents"][0]["LastModified"]
    assert listed.utcoffset() is not None
    assert listed == client.head_object(Bucket="faasr-stamps", Key="k")["LastModified"]
