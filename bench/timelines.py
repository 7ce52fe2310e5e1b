"""Synthetic FaaSr invocation timelines for the watcher benchmark (no I/O apart from reading real-run).

A timeline is every S3 write one invocation of a fan-out workflow makes, in order and with its time:
`entry -> worker(N-2) -> sink` (the sink is a fan-in over every worker rank), i.e. N function instances.
Each action's log is rewritten whole on every flush, growing by appends (contract §4.2), `.done` is PUT
before the last two flushes (the get-return echo and the final flush that holds the result line and
the trigger lines), and the sink's fan-in gate writes its flag, lock and candidate objects first.

The flush pattern of every synthetic log (number of flushes, relative gaps, growth per flush, where
`.done` falls) is taken from one successful log of the real engine, `shared/faasr/real-run/*/
s3_requests.jsonl`, then stretched in size (`Pace.final_size`) and, for the user-work phase only, in
time (`Pace.life`): the real actions there are trivial (0.3-1.4 s, 1.6-3 KB), real workloads run longer
and log more, while the engine's tail after `.done` keeps its real gaps (tens of ms) plus the time it
takes to send the triggers (`Pace.dispatch` each).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench._workflows import action, bench_workflow
from prefect_faasr.names import split_instance
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys

REAL_RUN = Path(__file__).resolve().parents[1] / ".." / "shared" / "faasr" / "real-run"
BUCKET = "faasr-bench"


@dataclass(frozen=True)
class FlushProfile:
    """Flush pattern of one real action log: when each whole-object PUT came and the size after it."""

    source: str
    times: tuple[float, ...]  # seconds after the first flush
    sizes: tuple[int, ...]  # object size after each flush
    done_at: float  # seconds after the first flush at which `.done` was PUT

    @property
    def flushes(self) -> int:
        return len(self.times)

    @property
    def done_after(self) -> int:
        """Number of flushes that came before `.done`."""
        return sum(1 for t in self.times if t < self.done_at)


# Two logs of real-run/01-serial-container (start.txt and worker(2).txt), for when real-run is absent.
FALLBACK_PROFILES = (
    FlushProfile(
        "fallback:start",
        (0.0, 0.203, 0.262, 0.307, 0.389, 0.428, 0.47, 0.586, 0.651, 0.722),
        (401, 597, 674, 1000, 1236, 1251, 1573, 1673, 1773, 2234),
        0.607,
    ),
    FlushProfile(
        "fallback:worker",
        (0.0, 0.092, 0.151, 0.182, 0.209, 0.24, 0.296, 0.329),
        (401, 576, 812, 856, 1182, 1280, 1380, 1848),
        0.26,
    ),
)


def load_profiles(real_run: Path = REAL_RUN) -> list[FlushProfile]:
    """Flush profiles of every successful action log in the real-run recordings (fallback if absent)."""
    profiles: list[FlushProfile] = []
    for trace in sorted(real_run.glob("*/s3_requests.jsonl")):
        profiles += _profiles_of(trace)
    return profiles or list(FALLBACK_PROFILES)


def _profiles_of(trace: Path) -> Iterator[FlushProfile]:
    puts: dict[str, list[tuple[float, int, str]]] = {}
    done: dict[str, float] = {}
    for line in trace.read_text(encoding="utf-8").splitlines():
        req = json.loads(line)
        if req.get("method") != "PUT":
            continue
        key = req["path"].split("/", 2)[-1]
        if not key.startswith("FaaSrLog/"):
            continue
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".txt"):
            puts.setdefault(name[:-4], []).append((req["t0"], req["req_bytes"], req.get("body") or ""))
        elif name.endswith(".done"):
            done[name[:-5]] = req["t0"]
    for inst, seq in puts.items():
        action, rank = split_instance(inst)
        done_t = done.get(f"{action}.{rank}" if rank else action)
        if done_t is None or "[ERROR]" in seq[-1][2] or len(seq) < 4:
            continue  # failed or incomplete logs are not the pattern of a completing action
        t0 = seq[0][0]
        yield FlushProfile(
            f"{trace.parent.name}:{inst}",
            tuple(round(t - t0, 4) for t, _, _ in seq),
            tuple(size for _, size, _ in seq),
            round(done_t - t0, 4),
        )


@dataclass(frozen=True)
class Pace:
    """How the synthetic invocation unfolds in time and size (ranges are drawn uniformly per action)."""

    life: tuple[float, float] = (2.0, 6.0)  # an action's first flush -> its last flush before `.done`
    start_delay: tuple[float, float] = (1.0, 2.5)  # trigger -> first flush (container start, installs)
    dispatch: float = 0.03  # seconds per trigger request an action sends (Lambda/OpenWhisk-like)
    final_size: tuple[int, int] = (2000, 6000)  # log bytes without the trigger lines
    entry_delay: float = 0.5  # harness trigger -> entry's first flush

    def faster(self, factor: float) -> Pace:
        """The same shape, `factor` times quicker (for smoke tests)."""
        return replace(
            self,
            life=(self.life[0] / factor, self.life[1] / factor),
            start_delay=(self.start_delay[0] / factor, self.start_delay[1] / factor),
            dispatch=self.dispatch / factor,
            entry_delay=self.entry_delay / factor,
        )


# Named paces. "fast": Lambda/OpenWhisk-like containers that start in a second or two and short
# functions. "github": GitHub Actions, FaaSr's most used platform: a dispatched workflow waits for a
# runner and pulls the FaaSr container before the engine's first flush (15-45 s), functions install
# their packages and work for 20-60 s, and each trigger is a REST call (50 ms here, on the quick side
# of what api.github.com answers in, which shortens the run and so favours the baseline).
PACES = {
    "fast": Pace(),
    "github": Pace(life=(20.0, 60.0), start_delay=(15.0, 45.0), dispatch=0.05, entry_delay=20.0),
}


@dataclass(frozen=True)
class Write:
    """One S3 write of the invocation, `at` seconds after the harness triggered the entry."""

    at: float
    key: str
    body: bytes | None  # None: DELETE
    instance: str
    kind: str  # "log", "done" or "fanin"
    final: bool = False  # the final flush of a log (result and trigger lines)


@dataclass
class Timeline:
    """Every write of one invocation, as one ordered chain per function instance."""

    workflow: FaaSrWorkflow
    keys: InvocationKeys
    chains: dict[str, list[Write]] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return sum(len(c) for c in self.chains.values())

    @property
    def span(self) -> float:
        return max(w.at for c in self.chains.values() for w in c)

    def index(self, instance: str, kind: str, *, final: bool = False) -> int:
        """Position in the instance's chain of its `.done` write ("done") or final flush ("log", final)."""
        chain = self.chains[instance]
        return next(i for i, w in enumerate(chain) if w.kind == kind and (w.final or not final))


def fan_out_workflow(n: int, endpoint: str, bucket: str = BUCKET) -> FaaSrWorkflow:
    """`entry -> worker(n-2) -> sink` (n function instances), validated by FaaSrWorkflow.parse."""
    if n < 4:
        raise ValueError(f"a fan-out benchmark needs at least 4 instances (2 worker ranks), got {n}")

    actions = {
        "entry": action("bench_entry", [f"worker({n - 2})"]),
        "worker": action("bench_worker", ["sink"]),
        "sink": action("bench_sink", []),
    }
    return FaaSrWorkflow.parse(
        bench_workflow(f"BenchFanOut{n}", "entry", actions, bucket=bucket, endpoint=endpoint),
        origin=f"<fan-out benchmark, {n} instances>",
    )


def synthesize(
    workflow: FaaSrWorkflow,
    keys: InvocationKeys,
    profiles: list[FlushProfile],
    pace: Pace,
    rng: random.Random,
) -> Timeline:
    """The writes of one invocation of a fan-out workflow; the same seed gives the same timeline."""
    entry, worker, sink = workflow.entry, "worker", "sink"
    workers = workflow.instances(worker)
    timeline = Timeline(workflow, keys)

    plan = _plan(profiles, pace, rng)
    entry_first = pace.entry_delay
    # The entry dispatches one trigger per worker rank after its get-return flush; the final flush waits.
    dispatch_from = entry_first + plan.times[-2] + 0.05
    triggers = [dispatch_from + (r + 1) * pace.dispatch for r in range(len(workers))]
    entry_final = max(entry_first + plan.times[-1], triggers[-1] + 0.02)
    timeline.chains[entry] = _log_chain(
        workflow, keys, entry, plan, entry_first, entry_final, [worker] * len(workers), rng
    )

    last_done = 0.0
    sink_triggers = []
    for inst, trig in zip(workers, triggers, strict=True):
        plan = _plan(profiles, pace, rng)
        first = trig + rng.uniform(*pace.start_delay)
        chain = _log_chain(workflow, keys, inst, plan, first, first + plan.times[-1], [sink], rng)
        timeline.chains[inst] = chain
        last_done = max(last_done, chain[timeline.index(inst, "done")].at)
        sink_triggers.append(chain[-1].at - 0.01)

    # FaaSr's fan-in gate lets through the first sink invocation that sees every `.done` (contract §5.3).
    gate = min(t for t in sink_triggers if t >= last_done) + rng.uniform(*pace.start_delay)
    plan = _plan(profiles, pace, rng)
    first = gate + 0.1
    fanin = _fan_in_writes(keys, sink, gate, rng)
    chain = _log_chain(workflow, keys, sink, plan, first, first + plan.times[-1], [], rng)
    timeline.chains[sink] = fanin + chain
    return timeline


@dataclass(frozen=True)
class _Plan:
    times: tuple[float, ...]  # scaled flush times after the first flush
    grow: tuple[int, ...]  # bytes each flush appends
    done_after: int
    done_at: float


def _plan(profiles: list[FlushProfile], pace: Pace, rng: random.Random) -> _Plan:
    """One action's flush times and growth: the user-work phase stretched to `life`, the engine's tail
    (`.done`, get-return echo flush, final flush) kept at its real pace, since no user code runs there."""
    p = rng.choice(profiles)
    work = p.times[p.done_after - 1]  # the last flush before `.done`
    k = rng.uniform(*pace.life) / work if work > 0 else 1.0
    times = tuple(t * k if i < p.done_after else t - work + work * k for i, t in enumerate(p.times))
    size = rng.uniform(*pace.final_size) / p.sizes[-1]
    grow = tuple(round((b - a) * size) for a, b in zip((0, *p.sizes), p.sizes, strict=False))
    return _Plan(times, grow, p.done_after, p.done_at - work + work * k)


def _fan_in_writes(keys: InvocationKeys, action: str, at: float, rng: random.Random) -> list[Write]:
    """The winning fan-in invocation: flag, lock, candidate list, then flag and lock removed."""
    mine = rng.randint(1, 2**31 - 1)
    flag = f"{keys.flag_prefix(action)}{mine}"
    return [
        Write(at, flag, b"", action, "fanin"),
        Write(at + 0.02, keys.lock_key(action), str(mine).encode(), action, "fanin"),
        Write(at + 0.04, keys.candidate_key(action), f"{mine}\n".encode(), action, "fanin"),
        Write(at + 0.06, flag, None, action, "fanin"),
        Write(at + 0.08, keys.lock_key(action), None, action, "fanin"),
    ]


def _log_chain(
    workflow: FaaSrWorkflow,
    keys: InvocationKeys,
    inst: str,
    plan: _Plan,
    first: float,
    final: float,
    targets: list[str],
    rng: random.Random,
) -> list[Write]:
    """An action's log flushes (each the whole object so far) with its `.done` in between."""
    text = _LogText(workflow, inst, rng)
    n = len(plan.times)
    times = [first + t for t in plan.times[:-1]] + [final]
    out: list[Write] = []
    body = ""
    for i, t in enumerate(times):
        rel = t - first + 0.15  # the handler started a moment before the first flush
        if i == 0:
            chunk = text.installs(rel)
        elif i == n - 1:
            chunk = text.final(rel, targets)
        elif i < plan.done_after:
            chunk = text.work(rel, plan.grow[i])
        else:
            chunk = text.echo(rel)
        body += chunk
        out.append(Write(t, keys.log_key(inst), body.encode(), inst, "log", final=i == n - 1))
        if i == plan.done_after - 1:
            done_t = first + plan.done_at
            next_t = times[i + 1] if i + 1 < n else final
            done_t = min(max(done_t, t + 0.005), next_t - 0.005)
            out.append(Write(done_t, keys.done_key(inst), b"True", inst, "done"))
    if not any(w.kind == "done" for w in out):
        raise ValueError(f"profile of {inst} puts .done after the final flush")
    return out


_RPC = ("faasr_get_file", "faasr_put_file", "faasr_log", "faasr_rank", "faasr_get_folder_list")


class _LogText:
    """Lines in the engine's format (contract §4.1-§4.3), echo and duplicate quirks included."""

    def __init__(self, workflow: FaaSrWorkflow, inst: str, rng: random.Random) -> None:
        self.wf = workflow
        self.inst = inst
        self.action, self.rank = split_instance(inst)
        self.fn = workflow.actions[self.action].function_name
        self.rng = rng
        self.flushed_at: list[float] = []

    @staticmethod
    def _line(t: float, level: str, file: str, msg: str) -> str:
        return f"[{round(t, 3)}] [{level}] [{file}] {msg}\n"

    def installs(self, t: float) -> str:
        self.flushed_at.append(t)
        return "".join(
            self._line(t - 0.1, lv, f, m)
            for lv, f, m in (
                ("DEBUG", "executor.py", "Starting dependency install"),
                (
                    "INFO",
                    "faasr_start_invoke_helper.py",
                    "Get git repo files: bench/bench-functions/functions",
                ),
                (
                    "INFO",
                    "faasr_start_invoke_helper.py",
                    "Successfully downloaded GitHub repo sub folder: functions",
                ),
                ("DEBUG", "executor.py", "Finished installing dependencies"),
                ("INFO", "executor.py", "Starting server on localhost port 8000"),
            )
        )

    def echo(self, t: float) -> str:
        """What the previous flush logged about itself (twice: the forked server's duplicate handler)."""
        prev = self.flushed_at[-1] if self.flushed_at else t
        self.flushed_at.append(t)
        return self._line(prev, "DEBUG", "log.py", "Log succesfully uploaded") * 2

    def work(self, t: float, grow: int) -> str:
        """One RPC call of the user function, with raw `faasr_log` lines up to about `grow` bytes."""
        out = (
            self.echo(t)
            + self._line(t - 0.01, "INFO", "faasr_server.py", f"Processing request: {self.rng.choice(_RPC)}")
            * 2
        )
        while len(out) < grow:
            rows = self.rng.randint(100, 99_999)
            out += (
                f"{self.fn}: rank {self.rank or 1} chunk {self.rng.randint(1, 999)} processed {rows} rows\n"
            )
        return out

    def final(self, t: float, targets: list[str]) -> str:
        """The parent process's buffer: earlier timestamps, `.done` note, result, then the triggers."""
        start = self.flushed_at[0] if self.flushed_at else t
        stem = f"{self.action}.{self.rank}" if self.rank else self.action
        out = self.echo(t)
        out += self._line(start + 0.006, "DEBUG", "executor.py", "Polling localhost")
        out += self._line(start + 0.05, "INFO", "executor.py", f"Starting function: {self.fn} (Python)")
        out += self._line(
            t - 0.05, "DEBUG", "executor.py", f"Put function_completions/{stem}.done file in S3"
        )
        out += self._line(t - 0.02, "DEBUG", "exec", f"Finished execution of {self.action} with result None")
        if not targets:
            return out + self._line(t - 0.02, "INFO", "scheduler.py", f"no triggers for {self.action}")
        for target in targets:
            out += self._line(
                t - 0.01,
                "DEBUG",
                "scheduler.py",
                f"Prepending workflow name. Full function: {self.wf.name}-{target}",
            )
            out += self._line(
                t - 0.01, "INFO", "scheduler.py", f"GitHub Action: Successfully invoked: {target}"
            )
        return out


__all__ = [
    "BUCKET",
    "FALLBACK_PROFILES",
    "REAL_RUN",
    "FlushProfile",
    "Pace",
    "Timeline",
    "Write",
    "fan_out_workflow",
    "load_profiles",
    "synthesize",
]
