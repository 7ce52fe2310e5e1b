"""Scale of one test run through the `faasr-test-run` flow, in dry-run, on the local runtime.

Scenarios:
- fanout-N: `entry -> work(N) -> sink` (default N=1000), generated here. Over more than ~500 ranks
  FaaSr 2.1.0's fan-in gate (one listing, at most 1000 keys) never sees every `.done`, so `sink` never
  runs, on the real engine as on the local runtime; the run then fails on `sink` saying so, and the
  figures still measure the flow at that size;
- corpus-303: the corpus's 303-action / 900-edge workflow
  (Ashish-Ramrakhiani__FaaSr-workflow-public__test-exp-final--33241ae.json). It has one schema error,
  `ComputeServers.OW["API.Key"]` (FaaSr's schema spells it `API.key`); the bench renames that key in a
  copy written to a temporary folder and runs the copy.

Printed per scenario: the run's verdict and how many instances ended as the oracle says; wall time of
the flow; the runtime's span (first activation start to last activation end, from the local runtime's
activation records); Prefect overhead (wall minus span: validation, deploy, trigger, the watch tasks,
the settle window, checks and report); peak RSS of the flow process (this one), of the runtime's process
tree (S3 server, compute server, forkserver, activations and their user processes) and of the Prefect
API server, sampled with psutil every 0.25 s (a tree's RSS is the sum of its processes', so pages shared
after fork count once per process: an upper bound); activations; the observer's S3 requests and polls.

The flow uses the Prefect API named by $PREFECT_API_URL, or a temporary one (prefect_test_harness).

Run: `python -m bench scale` (both scenarios) or
`python -m bench.scale [--ranks 1000] [--only fanout|corpus] [--workers 8] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench._workflows import action, bench_workflow

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "faasr" / "corpus" / "workflows"
CORPUS_303 = CORPUS / "Ashish-Ramrakhiani__FaaSr-workflow-public__test-exp-final--33241ae.json"
RSS_TARGET = 2 * 1024**3  # the 1000-rank run's peak RSS target (flow process + runtime tree)
SAMPLE_EVERY = 0.25
WORKERS = 8  # activations at once on the local runtime (2 cores: more only adds contention)
# Budgets of a dry run at scale: polls every second, a 2 s settle window, hours for the whole run.
TIMEOUTS = {"poll": 1.0, "settle": 2.0, "run": 3 * 3600.0, "start": 3 * 3600.0, "execution": 600.0}


def fanout_workflow(n: int, name: str | None = None) -> dict[str, Any]:
    """`entry -> work(n) -> sink`: Python actions on one GitHubActions server, one S3 data store."""
    actions = {
        "entry": action("entry", [f"work({n})"]),
        "work": action("work", ["sink"]),
        "sink": action("sink", []),
    }
    return bench_workflow(name or f"ScaleFanout{n}", "entry", actions, bucket="faasr-scale")


def corpus_303(folder: Path) -> Path:
    """A copy of the 303-action corpus workflow with its one schema error fixed (`API.Key` -> `API.key`)."""
    raw = json.loads(CORPUS_303.read_text(encoding="utf-8"))
    server = raw["ComputeServers"]["OW"]
    server["API.key"] = server.pop("API.Key")
    path = folder / "test-exp-final-fixed.json"
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return path


# ---- measuring ---------------------------------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants (0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


@dataclass
class Peaks:
    """Peak RSS (bytes) seen by the sampler, per group of processes."""

    flow: int = 0
    runtime: int = 0
    prefect: int = 0
    total: int = 0  # flow + runtime at the same instant
    samples: int = 0


class RssSampler:
    """Samples RSS in a background thread: this process, the runtime's trees, the Prefect server's."""

    def __init__(self, runtime_pids: list[int], every: float = SAMPLE_EVERY) -> None:
        self.runtime_pids = runtime_pids
        self.every = every
        self.peaks = Peaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._me = psutil.Process()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        flow = self._me.memory_info().rss
        runtime = sum(tree_rss(pid) for pid in self.runtime_pids)
        others = [c.pid for c in self._me.children() if c.pid not in self.runtime_pids]
        prefect = sum(tree_rss(pid) for pid in others)
        p = self.peaks
        p.flow, p.runtime, p.prefect = max(p.flow, flow), max(p.runtime, runtime), max(p.prefect, prefect)
        p.total = max(p.total, flow + runtime)
        p.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)


@dataclass
class ScaleResult:
    scenario: str
    instances: int
    passed: bool
    reason: str
    as_expected: int
    wall_s: float
    span_s: float
    overhead_s: float
    activations: int
    s3_requests: int
    s3_by_operation: dict[str, int]
    polls: int
    peak_rss: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)


def activation_span(activations: list[Any]) -> float:
    """First activation start to last activation end, in seconds (0 without activations)."""
    starts = [a.start for a in activations if a.start]
    ends = [a.end for a in activations if a.end]
    if not starts or not ends:
        return 0.0
    return (max(ends) - min(starts)).total_seconds()


def run_scenario(
    name: str, workflow: Path, state_file: str, runtime: Any, *, timeouts: dict[str, float] | None = None
) -> ScaleResult:
    """Run `workflow` in dry-run through the flow on the runtime of `state_file`, sampling RSS."""
    from prefect_faasr.flows import faasr_test_run
    from prefect_faasr.report import TestRunFailed, TestRunReport

    pids = list(runtime.pids().values())
    with RssSampler(pids) as sampler:
        t0 = time.perf_counter()
        state = faasr_test_run(
            spec=str(workflow),
            local_state=state_file,
            dry_run=True,
            timeouts=timeouts or TIMEOUTS,
            return_state=True,
        )
        wall = time.perf_counter() - t0
    report = state.result(raise_on_failure=False)
    if isinstance(report, TestRunFailed):
        report = report.report
    if not isinstance(report, TestRunReport):
        raise RuntimeError(f"{name}: the flow ended {state.type.value} without a report: {state.message}")
    acts = runtime.client.activations(report.invocation_id, docs=False)
    span = activation_span(acts)
    wrong = [
        f"{i.instance}: expected {i.expected.value if i.expected else '-'}, observed {i.status.value}"
        for i in report.instances
        if i.expected is not None and i.status != i.expected
    ]
    p = sampler.peaks
    return ScaleResult(
        scenario=name,
        instances=len(report.instances),
        passed=report.passed,
        reason=report.reason,
        as_expected=len(report.instances) - len(wrong),
        wall_s=wall,
        span_s=span,
        overhead_s=wall - span,
        activations=len(acts),
        s3_requests=int(report.stats.get("s3_requests", 0)),
        s3_by_operation=dict(report.stats.get("s3_requests_by_operation", {})),
        polls=int(report.stats.get("polls", 0)),
        peak_rss={"flow": p.flow, "runtime": p.runtime, "flow+runtime": p.total, "prefect_server": p.prefect},
        mismatches=wrong[:20],
    )


@contextlib.contextmanager
def prefect_api() -> Iterator[str]:
    """$PREFECT_API_URL when set, else a temporary Prefect server for this process."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=120),
    ):
        yield PREFECT_API_URL.value()


def _mb(n: int) -> str:
    return f"{n / 1024**2:,.0f} MB"


def describe(r: ScaleResult) -> list[str]:
    verdict = "PASSED" if r.passed else "FAILED"
    ops = ", ".join(f"{k} {v}" for k, v in sorted(r.s3_by_operation.items()))
    rss = r.peak_rss
    lines = [
        f"{r.scenario}: {verdict}, {r.as_expected}/{r.instances} instances as the oracle says ({r.reason})",
        f"  wall {r.wall_s:.1f} s = runtime span {r.span_s:.1f} s + Prefect overhead {r.overhead_s:.1f} s"
        f" ({r.activations} activations)",
        f"  peak RSS: flow process {_mb(rss['flow'])}, runtime tree {_mb(rss['runtime'])}, together "
        f"{_mb(rss['flow+runtime'])}; Prefect API server {_mb(rss['prefect_server'])}",
        f"  observer: {r.s3_requests} S3 requests in {r.polls} polls ({ops})",
    ]
    lines += [f"  mismatch {m}" for m in r.mismatches]
    return lines


def run(ranks: int, only: str | None, workers: int) -> list[ScaleResult]:
    from prefect_faasr.local import LocalFaaSr
    from prefect_faasr.workflow import FaaSrWorkflow

    results = []
    with (
        prefect_api(),
        tempfile.TemporaryDirectory(prefix="faasr-scale-") as tmp,
        LocalFaaSr(max_workers=workers) as runtime,
    ):
        folder = Path(tmp)
        state_file = str(runtime.write_state_file(folder / "local-runtime.json"))
        scenarios: list[tuple[str, Path]] = []
        if only in (None, "fanout"):
            path = folder / f"fanout-{ranks}.json"
            path.write_text(json.dumps(fanout_workflow(ranks)), encoding="utf-8")
            scenarios.append((f"fanout-{ranks}", path))
        if only in (None, "corpus"):
            scenarios.append(("corpus-303", corpus_303(folder)))
        for name, path in scenarios:
            print(f"running {name} ({workers} activations at once) ...", flush=True)
            # e.g. FaaSr's fan-in gate reads one listing of <= 1000 keys: a 1000-rank fan-in never runs
            for warning in FaaSrWorkflow.parse(path).warnings:
                print(f"  validator warning {warning}", flush=True)
            result = run_scenario(name, path, state_file, runtime)
            results.append(result)
            print("\n".join(describe(result)), flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--ranks", type=int, default=1000, help="ranks of the fan-out (default 1000)")
    parser.add_argument("--only", choices=("fanout", "corpus"), help="run one scenario only")
    parser.add_argument("--workers", type=int, default=WORKERS, help="activations at once (default 8)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON there")
    args = parser.parse_args(argv if argv is not None else [])
    results = run(args.ranks, args.only, args.workers)
    for r in results:
        if r.scenario.startswith("fanout-") and args.ranks >= 1000:
            total = r.peak_rss["flow+runtime"]
            mark = "ok  " if total < RSS_TARGET else "MISS"
            print(f"{mark} peak RSS of {r.scenario} (flow + runtime) {_mb(total)} < {_mb(RSS_TARGET)}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
