"""What watching an invocation costs: InvocationObserver vs the FaaSr test framework's per-function polling.

For each pace and size N, a synthetic invocation of `entry -> worker(N-2) -> sink` (bench/timelines.py:
flush patterns of the real engine, logs rewritten whole on every flush, `.done` before the final flush)
is replayed into a local moto S3 twice with the same seed: once watched by InvocationObserver, once by
the framework-style baseline (bench/baseline.py, one thread per function), both at the same poll
interval. Two paces (timelines.PACES): "fast" (Lambda/OpenWhisk-like, functions live 2-6 s) and
"github" (GitHub Actions: 15-45 s to a runner, functions live 20-60 s). What a per-function poller costs
grows with how long functions wait and run; what the observer costs mostly does not.

Why twice and not both at once: the baseline at N=1000 asks for more requests per second than the
shared 2-core machine serves, so a concurrent run would slow the observer and the replay with load that
is not theirs. Each watcher runs alone in its own child process, which also makes its CPU figure
sound: the process's CPU time (psutil, every thread) from the trigger to the moment it stopped polling
(bench/_watcher.py).

Figures per watcher and N:
- requests, bytes: counted by the S3 server per client (bench/_s3counted.py) and cross-checked with
  botocore hooks on the watcher's client (and, for the observer, against its own `stats`);
- req/s: requests over the watch window (trigger -> the watcher stopped polling by itself);
- detection latency per instance: the watcher's status change to completed minus the moment its rule
  became satisfiable in S3. Baseline: the `.done` PUT returned (its rule: a cycle with new entries and a
  HEAD of `.done` that succeeds). Observer: the final flush PUT returned (`.done` plus the log's
  `Finished execution` line), or `.done`/the last log change + the settle window when that comes first;
- CPU: seconds and % of one core over the window; replay lag (write started - due) p95/max.

Run: `python -m bench.watch_cost [--pace fast,github] [--sizes 10,100,1000] [--interval 1.0] [--seed 7]`,
or via `python -m bench` (fast: N = 10, 100, 1000; github: N = 100, 1000; about 25 minutes in all).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from bench._lines import LineReader, send
from bench._s3counted import ACCESS_KEY, SECRET_KEY, CountingS3
from bench.replayer import Replayer, ReplayReport
from bench.timelines import BUCKET, PACES, Pace, Timeline, fan_out_workflow, load_profiles, synthesize
from prefect_faasr.s3client import s3_client

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (10, 100, 1000)
DEFAULT_RUNS = {"fast": DEFAULT_SIZES, "github": (100, 1000)}  # pace -> sizes
KINDS = ("ours", "baseline")
REPLAY_THREADS = 24
SETTLE = 5.0  # the observer's settle window (its default), also used to define its latency
TARGETS = {"requests": {100: 0.1, 1000: 0.02}, "bytes": 0.2, "latency_slack": 0.5, "cpu_pct_1000": 5.0}


def run_watcher(
    server: CountingS3, kind: str, n: int, interval: float, pace: Pace, seed: int, grace: float | None = None
) -> dict[str, Any]:
    """Replay one invocation of size `n` (same `seed`, same timeline) watched by `kind`; its figures."""
    wf = fan_out_workflow(n, server.endpoint)
    inv = wf.new_invocation()
    keys = wf.keys(inv)
    timeline = synthesize(wf, keys, load_profiles(), pace, random.Random(seed))
    tag = f"{kind}-{n}-{inv.invocation_id[:8]}"
    spec = {
        "kind": kind,
        "tag": tag,
        "endpoint": server.endpoint,
        "workflow": wf.to_dict(),
        "invocation_id": inv.invocation_id,
        "timestamp": inv.timestamp,
        "interval": interval,
        "settle": SETTLE,
    }
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench._watcher"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert proc.stdin is not None and proc.stdout is not None
        child = LineReader(proc.stdout, f"the {kind} watcher process")
        try:
            send(proc.stdin, spec)
            if child.read(120) != "ready":
                raise RuntimeError(f"the {kind} watcher process did not get ready")
            t0 = time.time() + 0.3
            deadline = t0 + timeline.span + (grace if grace is not None else 30 + 10 * interval)
            server_proc = psutil.Process(server.pid)
            server_cpu0 = sum(server_proc.cpu_times()[:2])
            psutil.cpu_percent(None)  # starts the machine-wide measurement that the next call reads
            send(proc.stdin, [t0, deadline])
            replayer = Replayer(
                server.endpoint, BUCKET, timeline, threads=REPLAY_THREADS, tag=f"replay-{tag}"
            )
            report = replayer.run(t0)
            seen = child.read(max(1.0, deadline - time.time()) + 30)
            server_cpu = sum(server_proc.cpu_times()[:2]) - server_cpu0
            machine = {"cpu_pct": psutil.cpu_percent(None), "load1": os.getloadavg()[0]}
        except Exception as exc:
            errors.seek(0)
            tail = errors.read()[-3000:].decode(errors="replace")
            raise RuntimeError(f"{kind} watcher at N={n}: {exc}\n{tail}".rstrip()) from exc
        finally:
            _end(proc)
    counters = server.counters()
    return _figures(kind, timeline, report, seen, counters.get(tag, {}), interval) | {
        "replay": _replay_figures(timeline, report, counters.get(f"replay-{tag}", {})),
        "server_cpu_s": server_cpu,
        "machine": machine,
    }


def _end(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _figures(
    kind: str,
    timeline: Timeline,
    report: ReplayReport,
    seen: dict[str, Any],
    server_counts: dict[str, Any],
    interval: float,
    settle: float = SETTLE,
) -> dict[str, Any]:
    latencies, premature, by_settle = [], 0, 0
    for inst in timeline.workflow.instances():
        chain = report.done[inst]
        done_end = chain[timeline.index(inst, "done")].finished
        final_i = timeline.index(inst, "log", final=True)
        final_end = chain[final_i].finished
        at = seen["completed_at"].get(inst)
        if at is None:
            continue
        if kind == "ours":
            before_final = max(
                d.finished
                for w, d in zip(timeline.chains[inst][:final_i], chain, strict=False)
                if w.kind in ("log", "done")
            )
            ready = min(final_end, max(done_end, before_final) + settle)
            by_settle += at < final_end
        else:
            ready = done_end
            premature += at < final_end
        latencies.append(at - ready)
    requests = sum((server_counts.get("requests") or {}).values())
    window = seen["window_s"]
    expected = {i: "completed" for i in timeline.workflow.instances()}
    wrong = {i: s for i, s in seen["statuses"].items() if s != expected[i]}
    return {
        "requests": requests,
        "requests_by_op": server_counts.get("requests") or {},
        "req_per_s": requests / window if window > 0 else float("nan"),
        "bytes": server_counts.get("bytes", 0),
        "bytes_by_op": server_counts.get("bytes_by_op") or {},
        "error_answers": server_counts.get("errors") or {},
        "hook_requests": sum(seen["hook_requests"].values()),
        "hook_bytes": seen["hook_bytes"],
        **{f"latency_{k}": v for k, v in summary(latencies).items()},
        "detected": len(latencies),
        "completed_before_final_flush": premature if kind == "baseline" else by_settle,
        "cpu_s": seen["cpu_s"],
        "cpu_pct": 100 * seen["cpu_s"] / window if window > 0 else float("nan"),
        "window_s": window,
        "statuses": seen["statuses"],
        "wrong_statuses": wrong,
        "stopped_by_itself": seen["stopped_by_itself"],
        "own_stats": seen["own_stats"],
        "interval": interval,
    }


def summary(values: list[float]) -> dict[str, float]:
    """p50 (median), p95 (nearest rank) and max; NaN when there is nothing to summarise."""
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def _replay_figures(timeline: Timeline, report: ReplayReport, counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "writes": timeline.writes,
        "server_requests": sum((counts.get("requests") or {}).values()),
        "errors": report.errors,
        "scheduled_span_s": timeline.span,
        "actual_span_s": report.end - report.t0,
        "lag": summary(report.lags),
    }


# ---- all sizes -------------------------------------------------------------------------------------------


def measure_size(
    server: CountingS3,
    n: int,
    interval: float,
    pace: Pace,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Both watchers on the same replay of size `n`, and the ratios ours/baseline."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        out[kind] = f = run_watcher(server, kind, n, interval, pace, seed)
        if progress is not None:
            lag = f["replay"]["lag"]["p95"]
            progress(
                f"  N={n} {kind}: {f['requests']} requests, {len(f['wrong_statuses'])} wrong statuses, "
                f"replay lag p95 {lag:.2f} s, machine CPU {f['machine']['cpu_pct']:.0f}%"
            )
    ours, base = out["ours"], out["baseline"]
    out["ratios"] = {
        "requests": _ratio(ours["requests"], base["requests"]),
        "req_per_s": _ratio(ours["req_per_s"], base["req_per_s"]),
        "bytes": _ratio(ours["bytes"], base["bytes"]),
        "latency_p95": _ratio(ours["latency_p95"], base["latency_p95"]),
        "cpu_s": _ratio(ours["cpu_s"], base["cpu_s"]),
    }
    return out


def measure(
    sizes: Sequence[int] = DEFAULT_SIZES,
    interval: float = 1.0,
    pace: Pace | None = None,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every size with both watchers on one local S3 server: {"interval", "pace", "sizes": {N: ...}}."""
    pace = pace or Pace()
    results: dict[str, Any] = {"interval": interval, "pace": pace, "seed": seed, "sizes": {}}
    with CountingS3() as server:
        setup = s3_client(server.endpoint, "us-east-1", ACCESS_KEY, SECRET_KEY)
        setup.create_bucket(Bucket=BUCKET)
        for n in sizes:
            results["sizes"][n] = measure_size(server, n, interval, pace, seed, progress)
    return results


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# ---- printing --------------------------------------------------------------------------------------------


def format_table(results: dict[str, Any]) -> str:
    """The compact table: one row per watcher and N, then the ratios and the targets."""
    interval = results["interval"]
    head = (
        f"{'N':>5} {'watcher':<9}{'requests':>9}{'req/s':>8}{'MB down':>9}{'lat p50':>8}{'lat p95':>8}"
        f"{'seen':>6}{'CPU s':>7}{'CPU %':>7}{'window':>8}  {'statuses':<22}"
        f"{'replay lag p95/max':>19}{'machine':>9}"
    )
    lines = [head, "-" * len(head)]
    for n, r in results["sizes"].items():
        for kind in KINDS:
            f = r[kind]
            lag = f["replay"]["lag"]
            lines.append(
                f"{n:>5} {kind:<9}{f['requests']:>9}{f['req_per_s']:>8.1f}{f['bytes'] / 1e6:>9.2f}"
                f"{f['latency_p50']:>8.2f}{f['latency_p95']:>8.2f}{f['detected']:>6}{f['cpu_s']:>7.2f}"
                f"{f['cpu_pct']:>6.1f}%{f['window_s']:>7.1f}s  {_statuses(f):<22}"
                f"{lag['p95']:>9.2f}/{lag['max']:<6.2f} s{f['machine']['cpu_pct']:>8.0f}%"
            )
        q = r["ratios"]
        lines.append(
            f"{n:>5} {'ratio':<9}{q['requests']:>9.3f}{q['req_per_s']:>8.3f}{q['bytes']:>9.3f}"
            f"{'':>8}{q['latency_p95']:>8.2f}{'':>6}{q['cpu_s']:>7.2f}"
        )
    lines.append("")
    lines += [f"  {line}" for line in breakdown(results)]
    lines.append("")
    lines += [f"  {line}" for line in verdicts(results)]
    lines.append(
        f"  poll interval {interval:g} s for both; latency in s (seen = instances reported completed); "
        "ratio = ours / baseline; machine = CPU busy of the whole 2-core machine during the run"
    )
    return "\n".join(lines)


def breakdown(results: dict[str, Any]) -> list[str]:
    """Where each watcher's requests and bytes went (server counts), and error answers."""
    out = []
    for n, r in results["sizes"].items():
        for kind in KINDS:
            f = r[kind]
            total = f["bytes"] or 1
            ops = ", ".join(
                f"{op} {k} req {f['bytes_by_op'].get(op, 0) / 1e6:.2f} MB "
                f"({100 * f['bytes_by_op'].get(op, 0) / total:.0f}%)"
                for op, k in sorted(f["requests_by_op"].items())
            )
            errors = ", ".join(f"{what} x{k}" for what, k in sorted(f["error_answers"].items()))
            died = ", ".join(f"{why} x{k}" for why, k in f["own_stats"].get("died_of", {}).items())
            extra = "".join(
                [f"; error answers: {errors}" if errors else "", f"; threads died: {died}" if died else ""]
            )
            out.append(f"N={n} {kind}: {ops}{extra}")
    return out


def _statuses(f: dict[str, Any]) -> str:
    text = "all completed" if not f["wrong_statuses"] else f"{len(f['wrong_statuses'])} wrong"
    died = f["own_stats"].get("threads_died")
    return f"{text}, {died} died" if died else text


def verdicts(results: dict[str, Any]) -> list[str]:
    """One line per target of the issue, with the measured value and whether it held."""
    out = []
    interval = results["interval"]
    sizes = results["sizes"]
    for n, limit in TARGETS["requests"].items():
        if n in sizes:
            out.append(_verdict(f"requests ratio at N={n}", sizes[n]["ratios"]["requests"], limit, ".3f"))
    for n, r in sizes.items():
        out.append(_verdict(f"bytes ratio at N={n}", r["ratios"]["bytes"], TARGETS["bytes"], ".3f"))
    for n, r in sizes.items():
        limit = interval + TARGETS["latency_slack"]
        out.append(_verdict(f"observer latency p95 at N={n}", r["ours"]["latency_p95"], limit, ".2f", " s"))
    if 1000 in sizes and interval == 1.0:
        out.append(
            _verdict(
                "observer CPU at N=1000", sizes[1000]["ours"]["cpu_pct"], TARGETS["cpu_pct_1000"], ".1f", "%"
            )
        )
    return out


def _verdict(what: str, value: float, limit: float, fmt: str, unit: str = "") -> str:
    mark = "ok  " if value <= limit else "MISS"
    return f"{mark} {what}: {value:{fmt}}{unit} (target <= {limit:g}{unit})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.watch_cost", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pace",
        default=",".join(DEFAULT_RUNS),
        help=f"paces to run, of {', '.join(PACES)} (default %(default)s)",
    )
    parser.add_argument(
        "--sizes",
        help="instances per run (default: 10,100,1000 at the fast pace, 100,1000 at the github pace)",
    )
    parser.add_argument(
        "--interval", type=float, default=1.0, help="poll interval of both watchers, s (default 1)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic timelines (default 7)")
    parser.add_argument("--life", help="action life range in s, e.g. 2,6 (first flush -> final flush)")
    parser.add_argument("--dispatch", type=float, help="seconds per trigger an action sends")
    args = parser.parse_args([] if argv is None else argv)
    names = [name.strip() for name in args.pace.split(",") if name.strip()]
    unknown = [name for name in names if name not in PACES]
    if unknown:
        parser.error(f"unknown pace {', '.join(unknown)}; choose from {', '.join(PACES)}")
    for name in names:
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()] if args.sizes else DEFAULT_RUNS[name]
        pace = PACES[name]
        if args.life:
            lo, hi = (float(x) for x in args.life.split(","))
            pace = replace(pace, life=(lo, hi))
        if args.dispatch is not None:
            pace = replace(pace, dispatch=args.dispatch)
        print(
            f"watch cost, {name} pace: entry -> worker(N-2) -> sink, "
            f"action life {pace.life[0]:g}-{pace.life[1]:g} s, "
            f"start delay {pace.start_delay[0]:g}-{pace.start_delay[1]:g} s, "
            f"{pace.dispatch * 1000:g} ms per trigger; each N replayed twice (same seed), once per watcher",
            flush=True,
        )
        results = measure(
            sizes, args.interval, pace, args.seed, progress=lambda line: print(line, flush=True)
        )
        print(format_table(results), flush=True)
        print(flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
