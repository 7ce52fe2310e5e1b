"""InvocationObserver: one S3 poller per invocation that derives every function instance's status.

Per poll: the platform probe (if any), ListObjectsV2 of what can still change in the invocation folder
(in the logging store, and `function_completions/` in the default store when that is another store),
then a GET of only the new bytes of the logs worth reading, on a bounded pool of threads and within a
time cap (what is left is read in the next poll). Nothing is polled per function. The status rules live
in `prefect_faasr.derive` (pure); this module gathers the facts they need and keeps the history.

What is listed. An instance is *retired* once it is final and its log settled: its keys are not looked
at again (so a completed instance's later re-run would go unseen). Every poll lists the `.done` keys still
expected; the logs of the other instances that are not retired are listed every `live_read_interval`
seconds, or every poll when that costs less than one more request's worth of keys. `prefect_faasr.listing`
turns that into StartAfter ranges, or one listing of the whole folder when that is cheaper; a folder of
at most `REQUEST_COST` keys is always listed whole. Logs of *finishing* instances (`.done` seen, final,
an error seen, or the platform says its activations ended) are looked at every poll, since their next
change decides a status: listed with the `.done` keys when that costs less than a request for each,
else fetched directly with If-None-Match (a 304 costs no bytes).

What is read. A listed log that changed is read at once when its instance is finishing, and otherwise
when it stopped changing for two poll intervals (e.g. the ERROR flush of a process that then exits) or
was not read for `live_read_interval` seconds: that is when a running action's records reach
`records()`. Those reads of running logs are limited to `live_reads_per_second` on average (longest
unread first), so what live logs cost does not grow with the number of instances running at once: at
1000 running ranks a log is refreshed about every 500 s instead of every 5 s. Reads are plain GETs of
the new bytes (no If-Match: a log often changes between the listing and the GET; the 64-byte overlap
check and the ETag and size the GET returns say which version was read).

S3 trouble (connection errors, 5xx, SlowDown, timeouts, even 403) never changes a status: the poll is
dropped as a whole, the observer logs that it is degraded, keeps what it knew, and retries with backoff.
The time S3 could not be read does not count against any budget (see derive.py).

Thread safety: every public method may be called from any thread (Prefect runs tasks in a thread pool).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from botocore.exceptions import BotoCoreError, ClientError

from prefect_faasr.derive import (
    Budgets,
    Facts,
    LogFacts,
    PlatformFacts,
    Verdict,
    derive,
    invoked_at,
    log_settled,
    trigger_times,
)
from prefect_faasr.listing import REQUEST_COST, KeyRange, KeySpace, list_range
from prefect_faasr.logs import LogRecord, LogTail, errors, function_result, trigger_lines
from prefect_faasr.names import split_instance
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys

__all__ = [
    "Budgets",
    "InstanceState",
    "InvocationObserver",
    "ObserverStats",
    "PlatformEvent",
    "PlatformProbe",
    "StatusChange",
]

OVERLAP = 64  # bytes re-read before the new part of a log, to check it only grew by appending
MAX_BACKOFF = 30.0
READ_WORKERS = 8  # logs read at the same time in one poll
_PERMANENT = frozenset(
    {"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
)


@dataclass(frozen=True)
class PlatformEvent:
    """Something the compute platform reported about one activation of a function instance."""

    instance: str
    kind: Literal["started", "ended"]
    exit_code: int | None = None
    signal: int | None = None
    activation: str | None = None
    detail: str = ""
    at: float | None = None  # when it happened by the platform's clock (epoch seconds), if it says

    @property
    def bad(self) -> bool:
        return self.kind == "ended" and (self.signal is not None or (self.exit_code or 0) != 0)

    def describe(self) -> str:
        if self.kind == "started":
            text = "activation started"
        elif self.signal is not None:
            text = f"activation killed by signal {self.signal}"
        else:
            text = f"activation ended with exit code {self.exit_code if self.exit_code is not None else 0}"
        return f"{text}: {self.detail}" if self.detail else text


@runtime_checkable
class PlatformProbe(Protocol):
    """A compute platform's view of activations (local runtime exit codes, GitHub run conclusions)."""

    def poll(self) -> list[PlatformEvent]:
        """Events since the previous call, oldest first."""
        ...


@dataclass(frozen=True)
class StatusChange:
    status: FunctionStatus
    at: datetime
    message: str


@dataclass(frozen=True)
class InstanceState:
    """What the observer knows about one function instance."""

    instance: str
    status: FunctionStatus
    message: str = ""
    invoked_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None
    result: str | None = None
    errors: tuple[LogRecord, ...] = ()
    log_records: int = 0
    history: tuple[StatusChange, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.status.is_final


@dataclass
class ObserverStats:
    """Counted with botocore event hooks on the observer's own calls (retries included)."""

    requests: Counter[str] = field(default_factory=Counter)  # HTTP attempts by S3 operation
    bytes_downloaded: int = 0  # response bodies: object bytes of GETs, XML of listings and errors
    bytes_by_operation: Counter[str] = field(default_factory=Counter)
    polls: int = 0
    failed_polls: int = 0
    degraded_periods: int = 0
    degraded_seconds: float = 0.0  # of periods that ended
    rereads: int = 0  # logs read whole again because they changed in place or shrank
    listed_keys: int = 0  # keys the listings returned
    platform_events: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


_Listing = dict[str, dict[str, Any]]  # key -> {"size", "etag"}
_Reads = dict[str, tuple[bytes, str, bool]]  # key -> (whole content, its etag, whether read whole again)
_Todo = tuple[str, bytes, str | None, int | None]  # key, content so far, its etag, listed size or None
_UNCHANGED = object()  # a conditional GET answered 304
_Fetched = tuple[bytes, str, bool] | object | None
_UNKNOWN = ("", "")  # classification cache entry of a key that is no FaaSr object of this invocation


class _S3Trouble(Exception):
    """S3 could not be read completely in this poll."""


@dataclass
class _Store:
    """Where one part of the invocation folder is listed."""

    client: Any
    bucket: str
    space: KeySpace
    what: str  # for messages: "logs" or "completions"
    skip: str | None = None  # keys under this prefix belong to the other store


@dataclass
class _Log:
    """One log object as read so far."""

    instance: str
    key: str
    data: bytes = b""
    etag: str | None = None  # version that `data` is
    listed_etag: str | None = None  # newest version known (from a listing, or a GET that found a newer one)
    listed_size: int = 0
    read_at: float | None = None  # when `data` was read
    records: list[LogRecord] = field(default_factory=list)  # of `data`: tail.records + tail.peek()
    tail: LogTail = field(default_factory=LogTail)  # parses only the bytes appended since the last read
    errors: list[LogRecord] = field(default_factory=list)  # of tail.records (final ones)
    result: str | None = None  # of tail.records
    triggers: Counter[str] = field(default_factory=Counter)  # of tail.records: action -> trigger lines
    pending: list[LogRecord] = field(default_factory=list)  # tail.peek(): records that may still grow

    def update(self, data: bytes, workflow_name: str) -> None:
        """Take the log's new content; parse what was appended (all of it when it changed in place)."""
        if not data.startswith(self.data):
            self.tail, self.errors, self.result, self.triggers = LogTail(), [], None, Counter()
            self.data = b""
        final = self.tail.feed(data[len(self.data) :])
        self.data = data
        self.errors += errors(final)
        self.result = self.result or function_result(final)
        self.triggers.update(tl.action for tl in trigger_lines(final, workflow_name))
        pending = self.tail.peek()
        self.records = self.tail.records + pending
        self.pending = pending


class InvocationObserver:
    """Watches one invocation folder and derives every function instance's status.

    Example:
        ```python
        keys = workflow.keys(invocation_id, timestamp)
        obs = InvocationObserver(workflow, keys, log_client=s3, log_bucket="faasr-logs")
        obs.start()
        trigger_entry(...)
        obs.mark_invoked(workflow.entry)
        state = obs.wait("worker(2)", timeout=600)
        obs.stop()
        ```
    """

    def __init__(
        self,
        workflow: FaaSrWorkflow,
        keys: InvocationKeys,
        *,
        log_client: Any,
        log_bucket: str,
        done_client: Any | None = None,
        done_bucket: str | None = None,
        budgets: Budgets | None = None,
        poll_interval: float = 1.0,
        settle: float = 5.0,
        probe: PlatformProbe | None = None,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
        live_read_interval: float = 5.0,
        live_reads_per_second: float | None = 2.0,
        read_workers: int = READ_WORKERS,
        read_cap: float | None = None,
    ) -> None:
        """`live_read_interval`: seconds between reads of a log that keeps changing while its action
        runs; `live_reads_per_second`: how many such reads at most on average (None: no limit; see the
        module docstring); `read_workers`: logs read in parallel; `read_cap`: seconds a poll may spend reading
        logs before it leaves the rest to the next poll (default: the poll interval; the first
        `read_workers` reads always finish)."""
        self.workflow = workflow
        self.keys = keys
        self.budgets = budgets or Budgets()
        self.poll_interval = poll_interval
        self.settle = settle
        self.live_read_interval = live_read_interval
        self.live_reads_per_second = live_reads_per_second
        # A token bucket: reads of running logs spend tokens, time adds them back.
        self._live_burst = max(1.0, (live_reads_per_second or 0) * live_read_interval)
        self._live_tokens = self._live_burst
        self._live_at: float | None = None
        self.read_workers = max(1, read_workers)
        self.read_cap = poll_interval if read_cap is None else read_cap
        self._log_client, self._log_bucket = log_client, log_bucket
        self._done_client = done_client if done_client is not None else log_client
        self._done_bucket = done_bucket or log_bucket
        self._separate_done = not _same_store(
            self._log_client, self._log_bucket, self._done_client, self._done_bucket
        )
        self._probe = probe
        self._clock = clock
        self._logger = logger or logging.getLogger(__name__)
        self._instances = workflow.instances()
        self._known = set(self._instances)
        self._active = list(self._instances)  # instances not retired (see _retire)
        self._inst_keys = {i: (keys.log_key(i), keys.done_key(i)) for i in self._instances}
        folder, done_prefix = keys.folder + "/", keys.folder + "/function_completions/"
        log_keys = [k for k, _ in self._inst_keys.values()]
        done_keys = [k for _, k in self._inst_keys.values()]
        if self._separate_done:
            self._stores = [
                _Store(log_client, log_bucket, KeySpace(folder, log_keys), "logs", skip=done_prefix),
                _Store(self._done_client, self._done_bucket, KeySpace(done_prefix, done_keys), "completions"),
            ]
        else:
            self._stores = [_Store(log_client, log_bucket, KeySpace(folder, log_keys + done_keys), "logs")]

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._poll_lock = threading.Lock()  # one poll at a time (background thread or poll_once)
        self._facts = Facts()
        self._verdicts: dict[str, Verdict] = {}
        self._history: dict[str, list[StatusChange]] = {i: [] for i in self._instances}
        self._logs: dict[str, _Log] = {}
        self._kinds: dict[str, tuple[str, str]] = {}  # key -> keys.classify(key) (or _UNKNOWN)
        self._cold_at: float | None = None  # when the logs of running instances were last listed
        self._listed_cold = False
        self._covered: set[str] = set()  # log keys this poll's listings covered (whether they exist or not)
        self._unknown_keys: set[str] = set()
        self._stats = ObserverStats()
        self._failures = 0
        self._degraded_since: float | None = None
        self._last_problem: str | None = None
        self._probe_problem: str | None = None  # only touched under _poll_lock
        self._stopped = False

        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._counting = threading.local()
        self._hooked: list[Any] = []
        self._hook_id = f"prefect-faasr-observer-{id(self)}"
        for client in {id(c): c for c in (self._log_client, self._done_client)}.values():
            self._hook(client)
        with self._lock:
            self._rederive()

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start polling in a background (daemon) thread; the run budget starts now."""
        with self._lock:
            if self._facts.run_started_at is None:
                self._facts.run_started_at = self._clock()
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._loop, name=f"faasr-observer-{self.keys.invocation_id}", daemon=True
            )
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop polling and remove the request-counting hooks. Statuses stay as they are."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with self._lock:
            self._stopped = True
            self._changed.notify_all()
        for client in self._hooked:
            for event, _ in self._hook_events():
                client.meta.events.unregister(event, unique_id=f"{self._hook_id}-{event}")
        self._hooked = []

    def __enter__(self) -> InvocationObserver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                ok = self.poll_once()
            except Exception:  # a bug must not silently freeze every status (contract §7.4.9)
                self._logger.exception("observer poll failed unexpectedly; retrying")
                ok = False
            if ok and self._finished_reading():
                self._logger.debug("every instance is final and every log settled; polling stops")
                return
            if ok:  # polls start every poll_interval, however long each took (a tenth of it at least between)
                spent = time.monotonic() - began
                delay = max(0.1 * self.poll_interval, self.poll_interval - spent)
            else:
                delay = min(MAX_BACKOFF, self.poll_interval * 2**self._failures)
            self._stop.wait(delay)

    # ---- inputs from the flow --------------------------------------------------------------------

    def mark_invoked(self, instance: str, at: float | None = None) -> None:
        """Record that the harness invoked `instance` (the entry, after a successful trigger)."""
        self._check(instance)
        with self._lock:
            now = self._clock()
            if self._facts.run_started_at is None:
                self._facts.run_started_at = now
            self._facts.marked.setdefault(instance, at if at is not None else now)
            self._rederive()

    def cancel(self, reason: str) -> None:
        """Mark every instance that is not final yet `skipped` with this reason."""
        with self._lock:
            if self._facts.cancelled is None:
                self._facts.cancelled = (reason, self._clock())
                self._logger.info("run cancelled: %s", reason)
            self._rederive()

    # ---- polling ---------------------------------------------------------------------------------

    def poll_once(self) -> bool:
        """One synchronous poll. Returns False when S3 could not be read (statuses then stay unchanged)."""
        with self._poll_lock:
            events = self._poll_probe()
            t = self._clock()
            with self._lock:
                if self._facts.run_started_at is None:
                    self._facts.run_started_at = t
                self._apply_events(events, t)
            self._counting.active = True
            try:
                listing = self._list(t)
                reads = self._read(listing, t)
            except _S3Trouble as exc:
                with self._lock:
                    self._degraded(str(exc), t)
                    self._rederive()
                return False
            finally:
                self._counting.active = False
            with self._lock:
                self._commit(listing, reads, t)
                self._rederive()
            return True

    def _poll_probe(self) -> list[PlatformEvent]:
        if self._probe is None:
            return []
        try:
            events = list(self._probe.poll())
        except Exception as exc:
            # Said once per problem, not on every poll (a compute outage can last the whole run).
            if str(exc) != self._probe_problem:
                self._logger.warning("platform probe failed (%s); continuing with S3 only", exc)
            self._probe_problem = str(exc)
            return []
        if self._probe_problem is not None:
            self._logger.info("platform probe answers again")
            self._probe_problem = None
        return events

    def _apply_events(self, events: Iterable[PlatformEvent], t: float) -> None:
        for ev in events:
            self._stats.platform_events += 1
            if ev.instance not in self._known:
                self._logger.warning("platform event for unknown instance %r ignored", ev.instance)
                continue
            plat = self._facts.platform.setdefault(ev.instance, PlatformFacts())
            if ev.kind == "started":
                plat.started += 1
                plat.started_at = plat.started_at if plat.started_at is not None else t
                if ev.at is not None:
                    plat.first_start = min(ev.at, plat.first_start or ev.at)
            else:
                plat.ended += 1
                plat.ended_at = t
                if ev.at is not None:
                    plat.last_end = max(ev.at, plat.last_end or ev.at)
                if ev.bad and plat.bad is None:
                    plat.bad, plat.bad_at = ev.describe(), t

    def _list(self, t: float) -> _Listing:
        """Size and ETag of every key that can still change soon (and whatever else the planned
        listings return): the invocation folder, and `function_completions/` in the default store when
        that is another store. See "What is listed" in the module docstring."""
        with self._lock:
            due = self._cold_at is None or t - self._cold_at >= self.live_read_interval
            hot, finishing, cold = self._watched()
        plans: list[list[KeyRange] | None] = []
        covered: set[str] = set()
        for store in self._stores:
            fin = {key for key in finishing if store.space.knows(key)}
            all_plan, all_cost = store.space.plan(lambda key: key in hot or key in cold)
            if all_plan == [] or len(store.space.existing) <= REQUEST_COST:
                # nothing to look at here; or a small folder: listing it whole costs about one request
                plans.append(all_plan if all_plan == [] else None)
                covered |= fin
                continue
            hot_plan, hot_cost = store.space.plan(hot.__contains__)
            # The logs of running instances ride along whenever that costs less than one more request.
            if due or all_cost <= hot_cost + REQUEST_COST:
                plans.append(all_plan)
                covered |= fin
                continue
            # Finishing logs are listed with the rest when that costs less than a request for each.
            if fin:
                fin_plan, fin_cost = store.space.plan((hot | fin).__contains__)
                if fin_cost < hot_cost + REQUEST_COST * len(fin):
                    hot_plan = fin_plan
                    covered |= fin
            plans.append(hot_plan)
        self._listed_cold = due
        self._covered = covered
        out: _Listing = {}
        for store, plan in zip(self._stores, plans, strict=True):
            out |= self._list_store(store, plan)
        return out

    def _watched(self) -> tuple[set[str], set[str], set[str]]:
        """Keys the listings must cover: every poll the `.done` keys still expected (hot); the logs of
        finishing instances, every poll, by listing or by a direct fetch, whichever costs less; every
        `live_read_interval` the logs of every instance not retired (cold)."""
        hot: set[str] = set()
        finishing: set[str] = set()
        cold: set[str] = set()
        for inst in self._active:
            log_key, done_key = self._inst_keys[inst]
            if inst not in self._facts.done:
                hot.add(done_key)
            if self._finishing(inst):
                finishing.add(log_key)
            cold.add(log_key)
        return hot, finishing, cold

    def _retire(self) -> None:
        """Instances final and with a settled log are *retired*: nothing of them needs looking at.
        Retired stays retired: their keys are not looked at, so no new fact can undo it."""
        keep = [
            i
            for i in self._active
            if not (self._verdicts[i].status.is_final and self._log_quiet(i, ignore_stop=True))
        ]
        if len(keep) != len(self._active):
            self._active = keep

    def _finishing(self, inst: str, done: set[str] | frozenset[str] = frozenset()) -> bool:
        """Its next log change decides something: `.done` exists, it is final or failed, or the platform
        says its activations ended."""
        if inst in self._facts.done or inst in done:
            return True
        facts = self._facts.logs.get(inst)
        plat = self._facts.platform.get(inst)
        return bool(
            self._verdicts[inst].status.is_final
            or (facts is not None and facts.errors)
            or (plat is not None and plat.all_ended)
        )

    def _list_store(self, store: _Store, ranges: list[KeyRange] | None) -> _Listing:
        space = store.space
        out: _Listing = {}
        for rng in [None] if ranges is None else ranges:
            try:
                objects, through = list_range(store.client, store.bucket, space.prefix, rng)
            except (ClientError, BotoCoreError) as exc:
                where = f"s3://{store.bucket}/{space.prefix}"
                raise _S3Trouble(f"listing the {store.what} of {where} failed: {_describe(exc)}") from exc
            space.seen((o["Key"] for o in objects), rng.start_after if rng else None, through)
            self._stats.listed_keys += len(objects)
            for obj in objects:
                key = obj["Key"]
                if store.skip is None or not key.startswith(store.skip):
                    out[key] = {"size": obj.get("Size", 0), "etag": obj.get("ETag", "")}
        return out

    def _kind(self, key: str) -> tuple[str, str]:
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = self.keys.classify(key) or _UNKNOWN
        return kind

    def _to_read(self, listing: _Listing, t: float) -> list[_Todo]:
        """The logs to read in this poll ("What is read" in the module docstring), those that decide
        statuses first: (key, content so far, its etag, listed size or None when not listed)."""
        with self._lock:
            done = set()
            for key in listing:
                what, inst = self._kind(key)
                if what == "done":
                    done.add(inst)
            urgent: list[_Todo] = []
            live: list[tuple[bool, float, _Todo]] = []
            for key, meta in listing.items():
                what, inst = self._kind(key)
                if what != "log" or inst not in self._known:
                    continue
                log = self._logs.get(key)
                if log is not None and log.etag == meta["etag"]:
                    continue  # read already
                item = (key, log.data if log is not None else b"", log.etag if log else None, meta["size"])
                if self._finishing(inst, done):
                    urgent.append(item)
                    continue
                facts = self._facts.logs.get(inst)
                since = log.read_at if log is not None else None
                if since is None:  # never read: count from when it was first listed
                    since = facts.first_seen if facts is not None else t
                unchanged = log is not None and log.listed_etag == meta["etag"]
                quiet = unchanged and facts is not None and t - facts.changed_at >= 2 * self.poll_interval
                if quiet or t - since >= self.live_read_interval:
                    live.append((not quiet, since, item))
            # Finishing instances whose log this poll's listings did not cover: fetched directly
            # (If-None-Match). A covered log that is not in the listing does not exist (yet).
            for inst in self._active:
                key = self._inst_keys[inst][0]
                if key not in listing and key not in self._covered and self._finishing(inst, done):
                    log = self._logs.get(key)
                    urgent.append((key, log.data if log else b"", log.etag if log else None, None))
        # Quiet logs first (a process that wrote an ERROR and exited looks like that), then the longest
        # unread.
        live.sort(key=lambda x: x[:2])
        return urgent + [item for *_, item in live[: self._live_budget(t, len(live))]]

    def _live_budget(self, t: float, wanted: int) -> int:
        """How many reads of running logs this poll may make (see `live_reads_per_second`)."""
        if self.live_reads_per_second is None:
            return wanted
        if self._live_at is not None:
            gained = max(0.0, t - self._live_at) * self.live_reads_per_second
            self._live_tokens = min(self._live_burst, self._live_tokens + gained)
        self._live_at = t
        n = min(wanted, int(self._live_tokens))
        self._live_tokens -= n
        return n

    def _read(self, listing: _Listing, t: float) -> _Reads:
        """New content of the logs to read: key -> (full bytes, their etag, whether read whole again).
        Logs fetched without a listing entry get one added to `listing` (size and ETag as read).

        Up to `read_workers` threads of this poll take logs from the list in order; once `read_cap`
        seconds have passed they take no more (each reads at least one), and the rest is left to the
        next poll: those logs stay incomplete, which blocks every conclusion drawn from them. The
        threads live for one poll only.
        """
        todo = deque(self._to_read(listing, t))
        if not todo:
            return {}
        deadline = time.monotonic() + self.read_cap
        out: _Reads = {}
        extra: _Listing = {}
        failed: list[Exception] = []

        def drain() -> None:
            self._counting.active = True  # this thread's requests are the observer's own
            try:
                first = True
                while not failed and (first or time.monotonic() < deadline):
                    first = False
                    try:
                        key, data, etag, size = todo.popleft()
                    except IndexError:
                        return
                    got = self._read_one(key, data, etag, size)
                    if got is _UNCHANGED:
                        extra[key] = {"size": len(data), "etag": etag}
                    elif isinstance(got, tuple):
                        out[key] = got
                        if size is None:
                            extra[key] = {"size": len(got[0]), "etag": got[1]}
            except Exception as exc:  # _S3Trouble, or a bug: the poll thread raises it
                failed.append(exc)
            finally:
                self._counting.active = False

        workers = min(self.read_workers, len(todo))
        name = f"faasr-observer-read-{self.keys.invocation_id[:8]}"
        with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
            for _ in range(workers):
                pool.submit(drain)
        if failed:
            raise failed[0]
        listing.update(extra)
        return out

    def _read_one(self, key: str, data: bytes, etag: str | None, size: int | None) -> _Fetched:
        try:
            return self._fetch(key, data, etag, size)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None  # gone since the listing (or not written yet): a later poll sees it
            raise _S3Trouble(f"reading s3://{self._log_bucket}/{key} failed: {_describe(exc)}") from exc
        except BotoCoreError as exc:
            raise _S3Trouble(f"reading s3://{self._log_bucket}/{key} failed: {_describe(exc)}") from exc

    def _fetch(self, key: str, data: bytes, etag: str | None, size: int | None) -> _Fetched:
        """The whole current content of a log and its ETag, fetching only the new bytes when it grew by
        appending (checked on the last `OVERLAP` bytes already read). `size` None: not listed, so ask
        with If-None-Match and get `_UNCHANGED` when `etag` is still the current version."""
        get = self._log_client.get_object
        if data and (size is None or size > len(data)):
            k = min(OVERLAP, len(data))
            ask: dict[str, Any] = {"Range": f"bytes={len(data) - k}-"}
            if size is None and etag:
                ask["IfNoneMatch"] = etag
            try:
                resp = get(Bucket=self._log_bucket, Key=key, **ask)
            except ClientError as exc:
                code = _code(exc)
                if code in ("304", "NotModified"):
                    return _UNCHANGED
                if code not in ("InvalidRange", "416"):
                    raise
                resp = None  # it shrank: read it whole
            if resp is not None:
                body, new = resp["Body"].read(), resp.get("ETag", "")
                total = _range_total(resp.get("ContentRange"))
                if total is None:  # the server ignored the range and sent everything
                    return body, new, body[: len(data)] != data
                if total > len(data) and body[:k] == data[-k:]:
                    return data + body[k:], new, False
        resp = get(Bucket=self._log_bucket, Key=key)
        return resp["Body"].read(), resp.get("ETag", ""), bool(data)

    def _commit(self, listing: _Listing, reads: _Reads, t: float) -> None:
        f = self._facts
        self._stats.polls += 1
        if self._listed_cold:
            self._cold_at = t
        if self._degraded_since is not None:
            lost = t - self._degraded_since
            f.blind[-1] = (self._degraded_since, t)
            self._stats.degraded_seconds += lost
            self._logger.warning(
                "S3 readable again after %.1f s (%d failed polls); statuses resume", lost, self._failures
            )
            self._degraded_since = None
        self._failures = 0
        self._last_problem = None
        for key, meta in listing.items():
            what, inst = self._kind(key)
            if what in ("log", "done") and inst not in self._known:
                if key not in self._unknown_keys:
                    self._unknown_keys.add(key)
                    self._logger.warning("%s is not an instance of %s; ignored", key, self.workflow.name)
                continue
            if what == "done":
                f.done.setdefault(inst, t)
            elif what == "log":
                self._commit_log(key, inst, meta, reads.get(key), t)
        f.listed_at = t

    def _commit_log(
        self, key: str, inst: str, meta: dict[str, Any], read: tuple[bytes, str, bool] | None, t: float
    ) -> None:
        log = self._logs.setdefault(key, _Log(inst, key))
        facts = self._facts.logs.get(inst)
        if facts is None:
            facts = self._facts.logs[inst] = LogFacts(first_seen=t, changed_at=t)
            v = self._verdicts.get(inst)
            if v is not None and v.status in (FunctionStatus.NOT_INVOKED, FunctionStatus.SKIPPED):
                self._logger.warning(
                    "%s wrote a log after it was judged %s (%s); final statuses stay, but this one was "
                    "wrong: a predecessor's final log flush came later than its allowance (raise the "
                    "dispatch timeout)",
                    inst,
                    v.status.value,
                    v.message,
                )
        if meta["etag"] != log.listed_etag:
            facts.changed_at = t
            log.listed_etag, log.listed_size = meta["etag"], meta["size"]
        if read is not None:
            data, etag, whole = read
            if whole:
                self._stats.rereads += 1
                self._logger.info("log %s changed in place or shrank; read it whole again", key)
            if etag != log.listed_etag:  # the GET found a version newer than the listing's
                facts.changed_at = t
                log.listed_etag, log.listed_size = etag, len(data)
            log.update(data, self.workflow.name)
            log.etag, log.read_at = etag, t
            self._parse(log, facts, t)
        facts.complete = log.etag == log.listed_etag

    def _parse(self, log: _Log, facts: LogFacts, t: float) -> None:
        """The facts of a log just read (its records are parsed by `_Log.update`)."""
        errs = (*log.errors, *errors(log.pending))
        if errs and facts.error_seen_at is None:
            facts.error_seen_at = t
        facts.errors = errs
        facts.result = log.result or function_result(log.pending)
        facts.records = len(log.records)
        counts = log.triggers + Counter(tl.action for tl in trigger_lines(log.pending, self.workflow.name))
        for action, n in counts.items():
            times = facts.triggers.setdefault(action, [])
            times.extend([t] * max(0, n - len(times)))

    def _degraded(self, problem: str, t: float) -> None:
        self._stats.failed_polls += 1
        self._failures += 1
        if self._degraded_since is None:
            # Blind since the last successful read: nobody knows when in between S3 went away.
            since = self._facts.listed_at if self._facts.listed_at is not None else t
            self._degraded_since = since
            self._facts.blind.append((since, None))
            self._stats.degraded_periods += 1
            self._logger.warning("S3 degraded, keeping previous statuses and retrying: %s", problem)
        elif problem != self._last_problem:
            self._logger.warning("S3 still degraded: %s", problem)
        self._last_problem = problem

    # ---- derivation ------------------------------------------------------------------------------

    def _rederive(self) -> None:
        verdicts = derive(self.workflow, self._facts, self.budgets, self.settle, self._verdicts)
        now = datetime.fromtimestamp(self._clock(), UTC)
        changed = False
        for inst, v in verdicts.items():
            old = self._verdicts.get(inst)
            if old is None or old.status is not v.status:
                self._history[inst].append(StatusChange(v.status, now, v.message))
                if old is not None:
                    self._logger.info("%s: %s -> %s (%s)", inst, old.status.value, v.status.value, v.message)
                changed = True
        self._verdicts = verdicts
        self._retire()
        if changed:
            self._changed.notify_all()

    def _finished_reading(self) -> bool:
        """All final and nothing left to read: later polls could not change any status or record."""
        with self._lock:
            return not self._active  # every instance retired: final, and its log settled

    def _log_quiet(self, inst: str, ignore_stop: bool = False) -> bool:
        """Final, and its log will not change any more (a completed one settled by definition)."""
        log = self._facts.logs.get(inst)
        if log is None or (self._stopped and not ignore_stop):
            return True
        if not log.complete or not self._verdicts[inst].status.is_final:
            return False
        if self._verdicts[inst].status is FunctionStatus.COMPLETED:
            return True
        return log_settled(self.workflow, self._facts, self.budgets, self.settle, inst)

    # ---- outputs ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Every instance has a final status."""
        with self._lock:
            return all(v.status.is_final for v in self._verdicts.values())

    @property
    def stopped(self) -> bool:
        """`stop()` was called: nothing will change any more."""
        return self._stopped

    @property
    def degraded(self) -> bool:
        """S3 could not be read in the latest poll."""
        with self._lock:
            return self._degraded_since is not None

    @property
    def stats(self) -> ObserverStats:
        with self._lock:
            st = self._stats
            by_op = Counter(st.bytes_by_operation)
            return replace(st, requests=Counter(st.requests), bytes_by_operation=by_op)

    def status(self, instance: str) -> FunctionStatus:
        self._check(instance)
        with self._lock:
            return self._verdicts[instance].status

    def statuses(self) -> dict[str, FunctionStatus]:
        with self._lock:
            return {i: v.status for i, v in self._verdicts.items()}

    def state(self, instance: str) -> InstanceState:
        self._check(instance)
        with self._lock:
            return self._state(instance)

    def snapshot(self) -> dict[str, InstanceState]:
        """Every instance's state, in topological order."""
        with self._lock:
            times: dict[str, list[float]] = {}
            for action in self.workflow.topological_order():
                times[action] = trigger_times(self.workflow, self._facts, action)
            return {i: self._state(i, times) for i in self._instances}

    def _state(self, inst: str, times: dict[str, list[float]] | None = None) -> InstanceState:
        v = self._verdicts[inst]
        log = self._facts.logs.get(inst)
        action = split_instance(inst)[0]
        invoked = invoked_at(self.workflow, self._facts, inst, times.get(action) if times else None)
        plat = self._facts.platform.get(inst)
        # The platform's own start/end times are more precise than when a poll noticed them.
        seen = [t for t in (log.first_seen if log else None, plat.first_start if plat else None) if t]
        started = min(seen) if seen else None
        finished = v.at if v.status.is_final else None
        if finished is not None and plat is not None and plat.all_ended and plat.last_end is not None:
            finished = plat.last_end
        begin = started if started is not None else invoked
        seconds = finished - begin if finished is not None and begin is not None else None
        return InstanceState(
            instance=inst,
            status=v.status,
            message=v.message,
            invoked_at=_dt(invoked),
            started_at=_dt(started),
            finished_at=_dt(finished),
            seconds=round(seconds, 3) if seconds is not None else None,
            result=log.result if log else None,
            errors=log.errors if log else (),
            log_records=log.records if log else 0,
            history=tuple(self._history[inst]),
        )

    def wait(self, instance: str, timeout: float | None = None) -> InstanceState:
        """Block until `instance` is final (or `timeout` seconds pass) and return its state.

        Waits in short steps, so a caller's own deadline or thread interruption is honoured; when the
        timeout passes first the returned state is not final.
        """
        self._check(instance)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                if self._verdicts[instance].status.is_final or self._stopped:
                    return self._state(instance)
                left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
                if left <= 0:
                    return self._state(instance)
                self._changed.wait(left)

    def wait_all(self, timeout: float | None = None) -> dict[str, InstanceState]:
        """Block until every instance is final (or `timeout` seconds pass); return the snapshot."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self.done and not self._stopped:
                left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
                if left <= 0:
                    break
                self._changed.wait(left)
            return self.snapshot()

    def records(self, instance: str, start: int = 0) -> list[LogRecord]:
        """Log records of `instance` from index `start`, in log order, for forwarding.

        The last record is held back until the log is quiet, because it may still get continuation
        lines. If a log is rewritten in place (rare) its records are re-parsed and indices can shift.
        """
        self._check(instance)
        with self._lock:
            log = self._logs.get(self.keys.log_key(instance))
            if log is None:
                return []
            end = len(log.records) if self._log_quiet(instance) else max(0, len(log.records) - 1)
            return log.records[start:end]

    def log_quiet(self, instance: str) -> bool:
        """True once `instance` is final and its log will not change any more (nothing left to forward)."""
        self._check(instance)
        with self._lock:
            return self._log_quiet(instance)

    def _check(self, instance: str) -> None:
        if instance not in self._known:
            raise ValueError(
                f"{instance!r} is not a function instance of {self.workflow.name} "
                f"(instances: {', '.join(self._instances)})"
            )

    # ---- request counting --------------------------------------------------------------------------

    def _hook_events(self) -> list[tuple[str, Callable[..., None]]]:
        return [("before-send.s3", self._on_send), ("after-call.s3", self._on_response)]

    def _hook(self, client: Any) -> None:
        for event, handler in self._hook_events():
            client.meta.events.register(event, handler, unique_id=f"{self._hook_id}-{event}")
        self._hooked.append(client)

    def _on_send(self, event_name: str = "", **_: Any) -> None:
        if getattr(self._counting, "active", False):
            with self._lock:
                self._stats.requests[event_name.rsplit(".", 1)[-1]] += 1

    def _on_response(
        self, http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any
    ) -> None:
        if not getattr(self._counting, "active", False) or http_response is None:
            return
        if model is not None and model.has_streaming_output and http_response.status_code < 300:
            n = int((parsed or {}).get("ContentLength") or 0)
        else:
            n = len(http_response.content or b"")
        with self._lock:
            self._stats.bytes_downloaded += n
            self._stats.bytes_by_operation[model.name if model is not None else "?"] += n


def _same_store(c1: Any, b1: str, c2: Any, b2: str) -> bool:
    if b1 != b2:
        return False
    return c1 is c2 or getattr(c1.meta, "endpoint_url", None) == getattr(c2.meta, "endpoint_url", None)


def _range_total(content_range: str | None) -> int | None:
    """The object size in a `Content-Range: bytes a-b/size` header (None without one)."""
    if not content_range:
        return None
    total = content_range.rpartition("/")[2]
    return int(total) if total.isdigit() else None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = err.get("Code", "?")
        hint = " (check credentials and bucket)" if code in _PERMANENT else ""
        return f"{code} (HTTP {status}){hint}"
    return f"{type(exc).__name__}: {exc}"


def _dt(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None
