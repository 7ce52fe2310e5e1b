"""Replay a recorded run of the real FaaSr engine (real-run/<scenario>) into S3, in recorded order."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from prefect_faasr.names import instance_name
from prefect_faasr.observe import PlatformEvent


@dataclass(frozen=True)
class Mutation:
    at: float  # when the engine's request completed
    method: str  # PUT or DELETE
    key: str
    body: bytes | None


@dataclass(frozen=True)
class Recording:
    folder: Path
    bucket: str
    mutations: list[Mutation]
    activations: list[dict[str, Any]]

    @property
    def invocation(self) -> tuple[str, str]:
        """(InvocationID, InvocationTimestamp) read from the recorded keys."""
        for m in self.mutations:
            parts = m.key.split("/")
            if parts[0] == "FaaSrLog" and len(parts) >= 5:
                return parts[3], parts[2]
        raise AssertionError("no invocation folder in the recording")

    @property
    def first_at(self) -> float:
        return min(self.mutations[0].at, *(a["started_at"] for a in self.activations))


def load(scenario: str, real_run: Path) -> Recording:
    folder = real_run / scenario
    manifest = json.loads((folder / "manifest.json").read_text())
    bucket = manifest["bucket"]
    history: dict[str, list[Path]] = defaultdict(list)
    root = folder / "put_history" / bucket
    for f in root.rglob("*@*"):
        key, _, n = str(f.relative_to(root)).rpartition("@")
        history[key].append((int(n), f))  # type: ignore[arg-type]
    bodies = {k: [f for _, f in sorted(v)] for k, v in history.items()}
    used: dict[str, int] = defaultdict(int)
    mutations = []
    for line in (folder / "s3_requests.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["method"] not in ("PUT", "DELETE") or r["status"] >= 300:
            continue
        path = unquote(r["path"]).lstrip("/")
        b, _, key = path.partition("/")
        if b != bucket or not key:
            continue
        body = None
        if r["method"] == "PUT":
            body = bodies[key][used[key]].read_bytes()
            used[key] += 1
        mutations.append(Mutation(r["t1"], r["method"], key, body))
    assert all(used[k] == len(v) for k, v in bodies.items()), "PUT history does not match the request log"
    return Recording(folder, bucket, mutations, manifest["activations"])


def apply(
    mutation: Mutation, s3: Any, bucket: str, *, done_s3: Any = None, done_bucket: str | None = None
) -> None:
    """Do one recorded write; `.done` keys go to the done store when one is given."""
    client, target = s3, bucket
    if done_s3 is not None and "/function_completions/" in mutation.key:
        client, target = done_s3, done_bucket
    if mutation.method == "PUT":
        client.put_object(Bucket=target, Key=mutation.key, Body=mutation.body)
    else:
        client.delete_object(Bucket=target, Key=mutation.key)


def steps(recording: Recording, cadence: float | None) -> Iterator[tuple[float, list[Mutation]]]:
    """(poll time, writes to do before it): one poll after each write, or every `cadence` seconds."""
    if cadence is None:
        for m in recording.mutations:
            yield m.at + 0.001, [m]
        return
    pending = list(recording.mutations)
    t = recording.mutations[0].at
    while pending:
        batch = []
        while pending and pending[0].at <= t:
            batch.append(pending.pop(0))
        yield t, batch
        t += cadence


class ManifestProbe:
    """The compute platform as the recording saw it: activation starts and ends with exit codes."""

    def __init__(self, recording: Recording, clock: Any) -> None:
        self._clock = clock
        events = []
        for a in recording.activations:
            inst = instance_name(a["function_invoke"], a["rank"])
            act = a["activationId"]
            events.append((a["started_at"], PlatformEvent(inst, "started", activation=act)))
            events.append(
                (a["ended_at"], PlatformEvent(inst, "ended", exit_code=a["exit_code"], activation=act))
            )
        self._events = sorted(events, key=lambda e: e[0])

    def poll(self) -> list[PlatformEvent]:
        due = [e for t, e in self._events if t <= self._clock()]
        self._events = [(t, e) for t, e in self._events if t > self._clock()]
        return due
