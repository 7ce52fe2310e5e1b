"""One watcher (InvocationObserver or the framework baseline) alone in a child process.

`python -m bench._watcher` reads a JSON spec line on stdin, builds its S3 client and watcher, answers
`"ready"`, reads `[t0, deadline]`, watches from `t0` until the watcher stops polling by itself (or the
deadline) and answers with what it saw: statuses, when each instance was reported completed, its own
request counts and the process's CPU seconds over the watch window (every thread: psutil).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import psutil

from bench._lines import LineReader, exit_with_parent, send
from bench._s3counted import ACCESS_KEY, SECRET_KEY, tag_client
from bench.baseline import FrameworkBaseline
from bench.timelines import BUCKET
from prefect_faasr.observe import InvocationObserver
from prefect_faasr.s3client import s3_client
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow


class _ClientCounts:
    """Requests and response body bytes of one boto3 client, from botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.requests: Counter[str] = Counter()
        self.bytes = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-send.s3", self._send, unique_id="bench-count-send")
        client.meta.events.register("after-call.s3", self._call, unique_id="bench-count-call")

    def _send(self, event_name: str = "", **_: Any) -> None:
        with self._lock:
            self.requests[event_name.rsplit(".", 1)[-1]] += 1

    def _call(self, http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any) -> None:
        if http_response is None:
            return
        if model is not None and model.has_streaming_output and http_response.status_code < 300:
            n = int((parsed or {}).get("ContentLength") or 0)
        else:
            n = len(http_response.content or b"")
        with self._lock:
            self.bytes += n


def _client(kind: str, endpoint: str) -> Any:
    if kind == "ours":
        return s3_client(endpoint, "us-east-1", ACCESS_KEY, SECRET_KEY)
    # The framework builds a plain boto3 client with default settings (contract §7.1).
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def watch(spec: dict[str, Any], go: Callable[[], tuple[float, float]]) -> dict[str, Any]:
    """Build the watcher, wait for the trigger time `go()` returns, watch, return what it saw."""
    wf = FaaSrWorkflow.parse(spec["workflow"])
    keys = wf.keys(spec["invocation_id"], spec["timestamp"])
    client = _client(spec["kind"], spec["endpoint"])
    tag_client(client, spec["tag"])
    counts = _ClientCounts(client)
    interval = spec["interval"]
    if spec["kind"] == "ours":
        watcher: Any = InvocationObserver(
            wf, keys, log_client=client, log_bucket=BUCKET, poll_interval=interval, settle=spec["settle"]
        )
    else:
        watcher = FrameworkBaseline(
            wf.instances(), keys, client=client, bucket=BUCKET, entry=wf.entry, interval=interval
        )
    t0, deadline = go()
    time.sleep(max(0.0, t0 - time.time()))
    me = psutil.Process()
    cpu0, w0 = sum(me.cpu_times()[:2]), time.time()
    out = _run_ours(watcher, wf, t0, deadline) if spec["kind"] == "ours" else _run_baseline(watcher, deadline)
    out["cpu_s"] = sum(me.cpu_times()[:2]) - cpu0
    out["window_s"] = out.pop("end") - w0
    out["hook_requests"] = dict(counts.requests)
    out["hook_bytes"] = counts.bytes
    return out


def _run_ours(obs: InvocationObserver, wf: FaaSrWorkflow, t0: float, deadline: float) -> dict[str, Any]:
    obs.start()
    obs.mark_invoked(wf.entry, at=t0)
    obs.wait_all(timeout=max(0.0, deadline - time.time()))
    # The observer stops polling by itself once every status is final and every log settled.
    name = f"faasr-observer-{obs.keys.invocation_id}"
    while time.time() < deadline and any(t.name == name for t in threading.enumerate()):
        time.sleep(0.05)
    end = time.time()
    stopped_by_itself = not any(t.name == name for t in threading.enumerate())
    snap = obs.snapshot()
    obs.stop()
    completed = {}
    for inst, state in snap.items():
        at = next((c.at for c in state.history if c.status is FunctionStatus.COMPLETED), None)
        if at is not None:
            completed[inst] = at.timestamp()
    st = obs.stats
    return {
        "statuses": {i: s.status.value for i, s in snap.items()},
        "completed_at": completed,
        "end": end,
        "stopped_by_itself": stopped_by_itself,
        "own_stats": {
            "requests": st.total_requests,
            "bytes": st.bytes_downloaded,
            "polls": st.polls,
            "failed_polls": st.failed_polls,
            "rereads": st.rereads,
            "listed_keys": st.listed_keys,
            "requests_by_op": dict(st.requests),
            "bytes_by_op": dict(st.bytes_by_operation),
        },
    }


def _run_baseline(base: FrameworkBaseline, deadline: float) -> dict[str, Any]:
    base.start()
    stopped_by_itself = base.join(max(0.0, deadline - time.time()))
    end = time.time()
    if not stopped_by_itself:
        base.stop()
        base.join(10)
    return {
        "statuses": {i: s.value for i, s in base.statuses().items()},
        "completed_at": base.completed_at(),
        "end": end,
        "stopped_by_itself": stopped_by_itself,
        "own_stats": {
            "cycles": base.cycles,
            "threads_died": len(base.died),
            "died_of": dict(Counter(why.split(":", 1)[0] for why in base.died.values())),
        },
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    exit_with_parent()
    stdin = LineReader(sys.stdin.buffer, "the benchmark")
    spec = stdin.read(60)

    def go() -> tuple[float, float]:
        send(sys.stdout.buffer, "ready")
        t0, deadline = stdin.read(120)
        return t0, deadline

    send(sys.stdout.buffer, watch(spec, go))


if __name__ == "__main__":
    main()
