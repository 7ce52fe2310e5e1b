"""Replays a Timeline against S3 on its schedule, with a thread pool, and measures how late it ran.

Each function instance's writes stay in order (a flush is never sent before the previous one of the
same log returned); different instances run in parallel on `threads` workers. A write is due at
`t0 + write.at` (wall clock, `time.time()`, the clock the watchers report with). Its lag is
`started - due`; a lagging write pushes the rest of its chain back, as a slow engine would.

Only what a watcher can see is replayed: each flush is one PUT of the whole new log body (the engine's
own list/HEAD/GET before it change nothing in S3 and would only load the shared server). Requests go
through urllib3 with an unverified SigV4-shaped Authorization header (moto does not check signatures but
needs the caller's identity to let an object be overwritten); a signed boto3 PUT costs the shared CPU
about three times more, which at N=1000 decides whether the replay keeps up.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

import urllib3

from bench._s3counted import ACCESS_KEY, HEADER
from bench.timelines import Timeline, Write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """What happened to one write: when it was due, sent and acknowledged (seconds since the epoch)."""

    due: float
    started: float
    finished: float
    ok: bool


@dataclass
class ReplayReport:
    """Every write of one replay, per instance in chain order."""

    t0: float
    done: dict[str, list[Done]] = field(default_factory=dict)  # instance -> one per write, chain order

    @property
    def lags(self) -> list[float]:
        return [d.started - d.due for chain in self.done.values() for d in chain]

    @property
    def errors(self) -> int:
        return sum(not d.ok for chain in self.done.values() for d in chain)

    @property
    def end(self) -> float:
        return max(d.finished for chain in self.done.values() for d in chain)


class Replayer:
    """Writes a timeline's objects to `bucket` at the S3 `endpoint`; `tag` names it to the counting server."""

    def __init__(
        self, endpoint: str, bucket: str, timeline: Timeline, *, threads: int = 24, tag: str | None = None
    ) -> None:
        self.timeline = timeline
        self.threads = threads
        self.headers = {
            "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0",
            "x-amz-date": "20260101T000000Z",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        }
        if tag:
            self.headers[HEADER] = tag
        self._http = urllib3.PoolManager(maxsize=threads, retries=urllib3.Retry(2, backoff_factor=0.1))
        self._base = f"{endpoint.rstrip('/')}/{bucket}/"

    def run(self, t0: float) -> ReplayReport:
        """Replay with the harness trigger at `t0`; returns once every write was acknowledged.

        One dispatcher thread hands due writes to the pool; a finished write queues its chain's next one.
        """
        chains = self.timeline.chains
        report = ReplayReport(t0, {inst: [] for inst in chains})
        heap = [(t0 + chain[0].at, inst, 0) for inst, chain in chains.items() if chain]
        heapq.heapify(heap)
        left = self.timeline.writes
        cond = threading.Condition()

        def write(due: float, inst: str, i: int) -> None:
            nonlocal left
            started = time.time()
            ok = self._write(chains[inst][i])
            finished = time.time()
            with cond:
                report.done[inst].append(Done(due, started, finished, ok))
                left -= 1
                if i + 1 < len(chains[inst]):
                    heapq.heappush(heap, (t0 + chains[inst][i + 1].at, inst, i + 1))
                cond.notify()

        with ThreadPoolExecutor(self.threads, thread_name_prefix="replay") as pool, cond:
            while left > 0:
                if not heap:
                    cond.wait()
                    continue
                wait = heap[0][0] - time.time()
                if wait > 0:
                    cond.wait(wait)
                    continue
                pool.submit(write, *heapq.heappop(heap))
        return report

    def _write(self, write: Write) -> bool:
        method = "DELETE" if write.body is None else "PUT"
        try:
            resp = self._http.request(
                method, self._base + quote(write.key, safe="/"), body=write.body, headers=self.headers
            )
            if resp.status not in (200, 204):
                raise RuntimeError(f"HTTP {resp.status}: {resp.data[:200]!r}")
        except Exception as exc:  # a lost write is counted and reported, the replay goes on
            log.warning("replay %s of %s failed: %s", method, write.key, exc)
            return False
        return True
